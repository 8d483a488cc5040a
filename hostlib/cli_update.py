"""hbctl commands for the production line and field updates: bundle, flash (docs/update.md)."""

from __future__ import annotations

import datetime
import json
import os
import sys
import time
from pathlib import Path

from . import bundle as bundles
from . import flash
from .errors import HbError
from .link import Link
from .paths import DEFAULT_BOARD


def _print_json(doc) -> None:
    json.dump(doc, sys.stdout)
    sys.stdout.write("\n")


def cmd_bundle(args) -> int:
    b = bundles.build(args.board, args.arch)
    out = Path(args.out or f"bundle-{b.manifest['board']}-{b.version}")
    bundles.write(b, out)
    if args.json:
        _print_json({"dir": str(out), **{k: b.manifest[k] for k in ("version", "board", "arch", "bundle")},
                     "files": len(b.files) + len(b.loader), "bytes": b.size()})
    else:
        print(f"{out}: {b.manifest['board']} {b.version} ({b.manifest['arch']}), "
              f"{len(b.files)} app files + {len(b.loader)} loader files, {b.size() / 1024:.1f} KB, "
              f"bundle {b.bundle_hash[:16]}")
    return 0


def _port(args) -> str:
    port = args.port or os.environ.get("HB_PORT")
    if not port:
        raise HbError("no port given: use --port PORT (a serial device, pty or pyserial URL)")
    return port


def wait_outcome(port: str, slot: str, bundle_hash: str, wait_s: float) -> dict:
    """After the reset: poll `info` until the trial app confirmed itself, was reverted, or the
    wait ran out. Returns the last `firmware` block seen (or {})."""
    end = time.monotonic() + wait_s
    fw: dict = {}
    while time.monotonic() < end:
        try:
            with Link(port, timeout=3.0) as link:
                fw = link.request("info")["firmware"]
        except HbError:
            time.sleep(0.5)
            continue
        if fw.get("reverted") == slot or (fw.get("bundle") == bundle_hash and not fw.get("trial")):
            return fw
        time.sleep(0.5)
    return fw


def cmd_flash(args) -> int:
    port = _port(args)
    b = bundles.read(Path(args.bundle)) if args.bundle else bundles.build(args.board, args.arch)
    progress = None if args.json or args.quiet else flash.bar
    rep = flash.deploy(port, b, progress=progress, force=args.force)
    if progress is not None:
        sys.stderr.write("\n")
    outcome = "not waited"
    fw: dict = {}
    if rep.up_to_date:
        outcome = "up to date"
    elif args.wait > 0:
        fw = wait_outcome(port, rep.slot, b.bundle_hash, args.wait)
        if fw.get("reverted") == rep.slot:
            outcome = "reverted"
        elif fw.get("bundle") == b.bundle_hash:
            outcome = "on trial" if fw.get("trial") else "confirmed"
        else:
            outcome = "no answer"
    doc = {"files_sent": len(rep.sent), "files_skipped": len(rep.skipped) + len(rep.copied),
           "slot": rep.slot, "previous": rep.previous, "version": b.version, "bundle": b.bundle_hash,
           "sent": rep.sent, "copied": rep.copied, "skipped": rep.skipped, "removed": rep.removed,
           "repaired": rep.repaired, "loader": rep.loader_sent, "bytes_sent": rep.bytes_sent,
           "seconds": round(rep.seconds, 2), "outcome": outcome}
    if args.json:
        _print_json(doc)
    else:
        print(f"slot {rep.slot}: {b.version} bundle {b.bundle_hash[:16]} — sent {len(rep.sent)} "
              f"({rep.bytes_sent / 1024:.1f} KB), copied on board {len(rep.copied)}, unchanged "
              f"{len(rep.skipped)}, removed {len(rep.removed)} in {rep.seconds:.1f} s")
        if rep.repaired:
            print(f"repaired (hash mismatch on the board): {', '.join(rep.repaired)}")
        print("board already runs this bundle, every file intact" if rep.up_to_date else f"trial app: {outcome}")
    return 0 if outcome in ("confirmed", "not waited", "on trial", "up to date") else 1


def parse_date(text: str | None) -> datetime.date:
    """--date YYYY-MM-DD, default today (the MCU has no trusted clock: dates come from the host)."""
    try:
        return datetime.date.today() if text is None else datetime.date.fromisoformat(text)
    except ValueError:
        raise HbError(f"--date {text!r}: expected YYYY-MM-DD") from None


def _date(text: str | None) -> list[int]:
    d = parse_date(text)
    if not 2000 <= d.year <= 2099:
        raise HbError(f"--date {text}: year must be 2000..2099")
    return [d.year - 2000, d.month, d.day]


def cmd_provision(args) -> int:
    req: dict = {"target": args.target, "serial": args.serial, "date": _date(args.date), "force": args.force}
    if args.model:
        req["model"] = args.model
    if args.target == "module":
        if args.module is None:
            raise HbError("provision module needs the slot: hbctl provision module M --serial S")
        req["module"] = args.module
        if args.grade is not None:
            req["grade"] = args.grade
        if args.vout_mv is not None:
            req["vout_mv"] = args.vout_mv
    with Link(_port(args), timeout=max(args.timeout, 5.0)) as link:
        out = link.request("provision", req)
    if args.json:
        _print_json(out)
    elif args.target == "board":
        b = out["board"]
        print(f"board identity written and verified: serial {b['serial']} (model {b['model']})")
    else:
        print(f"module {out['module']} identity written and verified: serial {out['serial']} "
              f"(model {out['model']}, record #{out['seq']}); identifying it again")
    return 0


def add_parsers(sub) -> None:
    bu = sub.add_parser("bundle", help="build the app bundle (.mpy + manifest) for a board")
    bu.add_argument("--board", default=DEFAULT_BOARD, help="board name or board JSON path")
    bu.add_argument("--arch", help="override the board's mpy-cross architecture")
    bu.add_argument("--out", help="output directory (default bundle-BOARD-VERSION)")
    bu.add_argument("--json", action="store_true")
    bu.set_defaults(func=cmd_bundle)
    fl = sub.add_parser("flash", help="install the app over the raw REPL (A/B slots, trial + rollback)")
    fl.add_argument("--board", default=DEFAULT_BOARD, help="board name or board JSON path")
    fl.add_argument("--arch", help="override the board's mpy-cross architecture")
    fl.add_argument("--bundle", help="a bundle directory from `hbctl bundle` instead of building")
    fl.add_argument("--wait", type=float, default=60.0,
                    help="seconds to wait for the trial app to confirm itself (0: do not wait)")
    fl.add_argument("--force", action="store_true", help="send every file (no skipping, no on-board copies)")
    fl.add_argument("--quiet", action="store_true", help="no progress bar")
    fl.add_argument("--json", action="store_true")
    fl.set_defaults(func=cmd_flash)
    pv = sub.add_parser("provision", help="write the board identity or a module's identity EEPROM (once)")
    pv.add_argument("target", choices=["board", "module"])
    pv.add_argument("module", type=int, nargs="?", help="slot, for target module")
    pv.add_argument("--serial", required=True)
    pv.add_argument("--model", help="default: the board name / the board's module model")
    pv.add_argument("--date", help="manufacture date YYYY-MM-DD (default today)")
    pv.add_argument("--grade", type=int, help="module bin / grade 0..255")
    pv.add_argument("--vout-mv", type=int, help="module nominal string voltage, mV")
    pv.add_argument("--force", action="store_true", help="replace a valid identity")
    pv.add_argument("--json", action="store_true")
    pv.set_defaults(func=cmd_provision)
