"""hbctl commands for the production line and field updates: bundle, flash (docs/update.md)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from hashboard import argcheck

from . import bundle as bundles
from . import boards, checks, flash, signing
from .cli_base import UsageError, add_json, integer, link, non_negative, parse_date, port_of, secret_of, timeout_of
from .cli_base import print_json as _print_json
from .cli_security import new_secret
from .errors import HbError
from .link import Link
from .paths import DEFAULT_BOARD


def cmd_bundle(args) -> int:
    boards.path_of(args.board)  # an unknown board is a usage error (exit 2), before any build
    key = signing.load_private(Path(args.sign)) if args.sign else None  # a bad key fails before the build
    b = bundles.build(args.board, args.arch, seq=args.seq)
    if key is not None:
        bundles.sign(b, key)
    out = Path(args.out or f"bundle-{b.manifest['board']}-{b.version}")
    bundles.write(b, out)
    if args.json:
        _print_json({"dir": str(out), "signed": b.signature is not None,
                     **{k: b.manifest[k] for k in ("version", "board", "arch", "bundle", "seq")},
                     "files": len(b.files) + len(b.loader), "bytes": b.size()})
    else:
        print(f"{out}: {b.manifest['board']} {b.version} ({b.manifest['arch']}), "
              f"{len(b.files)} app files + {len(b.loader)} loader files, {b.size() / 1024:.1f} KB, "
              f"bundle {b.bundle_hash[:16]}")
    return 0


def wait_outcome(port: str, slot: str, bundle_hash: str, wait_s: float) -> dict:
    """After the reset: poll `info` until the trial app confirmed itself, was reverted, or the
    wait ran out. Returns the last `firmware` block seen (or {})."""
    end = time.monotonic() + wait_s
    fw: dict = {}
    while time.monotonic() < end:
        try:
            with Link(port, timeout=3.0) as ln:
                fw = ln.request("info")["firmware"]
        except HbError:
            time.sleep(0.5)
            continue
        if fw.get("reverted") == slot or (fw.get("bundle") == bundle_hash and not fw.get("trial")):
            return fw
        time.sleep(0.5)
    return fw


def cmd_flash(args) -> int:
    port = port_of(args)
    if not args.bundle:
        boards.path_of(args.board)
    b = bundles.read(Path(args.bundle)) if args.bundle else bundles.build(args.board, args.arch)
    progress = None if args.json or args.quiet else flash.bar
    rep = flash.deploy(port, b, progress=progress, force=args.force, secret=secret_of(args),
                       repl_timeout=timeout_of(args, flash.REPL_TIMEOUT))
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


def _date(text: str | None) -> list[int]:
    d = parse_date(text)
    if not 2000 <= d.year <= 2099:  # the identity record holds the year as yy
        raise UsageError(f"--date {d.isoformat()}: an identity's date must be 2000-01-01 .. 2099-12-31")
    return [d.year - 2000, d.month, d.day]


def cmd_provision(args) -> int:
    module = args.target == "module"
    if module and args.module is None:
        raise UsageError("provision module needs the slot: hbctl provision module M --serial S")
    if not module and (args.module is not None or args.grade is not None or args.vout_mv is not None
                       or args.vout_max_mv is not None):
        raise UsageError("the slot, --grade, --vout-mv and --vout-max-mv are for provision module")
    req: dict = {"target": args.target, "serial": checks.text("serial", args.serial, argcheck.SERIAL_LEN),
                 "date": _date(args.date), "force": args.force}
    if args.model is not None:
        req["model"] = checks.text("model", args.model, argcheck.MODEL_LEN if module else argcheck.BOARD_MODEL_LEN)
    if args.grade is not None:
        req["grade"] = checks._ok(argcheck.integer, "grade", args.grade, 0, 255)
    if args.new_secret is not None:
        if module:
            raise UsageError("--new-secret is for provision board")
        req["secret"] = new_secret(args.new_secret)  # written to FILE first: never lost on the way
    with link(args, default=5.0) as ln:
        if module:
            lim = checks.BoardLimits.of(ln)
            req["module"] = lim.module(args.module)
            if args.vout_mv is not None:
                req["vout_mv"] = lim.vout_mv(args.vout_mv)
            if args.vout_max_mv == 0:
                req["vout_max_mv"] = 0  # no rating above the nominal (clears a kept one)
            elif args.vout_max_mv is not None:  # from the nominal up to the board's maximum
                nominal = req.get("vout_mv", int(lim.vout["default"] * 1000 + 0.5))
                req["vout_max_mv"] = checks._ok(argcheck.integer, "--vout-max-mv", args.vout_max_mv, nominal,
                                                int(lim.vout["max"] * 1000 + 0.5), " mV")
            checks.present(ln, args.module)
        out = ln.request("provision", req)
    if args.json:
        _print_json(out)
    elif not module:
        b = out["board"]
        print(f"board identity written and verified: serial {b['serial']} (model {b['model']})")
        if args.new_secret is not None:
            print(f"board secret stored on the board and in {args.new_secret} (mode 600); the board "
                  "never gives it back: keep a copy where the farm keeps its keys (docs/security.md)")
    else:
        print(f"module {out['module']} identity written and verified: serial {out['serial']} "
              f"(model {out['model']}, record #{out['seq']}, nominal {out['vout_mv'] / 1000:g} V, "
              f"rated up to {out['vout_max_mv'] / 1000:g} V); identifying it again")
    return 0


def add_parsers(sub) -> None:
    bu = sub.add_parser("bundle", help="build the app bundle (.mpy + manifest) for a board")
    bu.add_argument("--board", default=DEFAULT_BOARD, help="board name or board JSON path")
    bu.add_argument("--arch", choices=bundles.ARCHES, help="override the board's mpy-cross architecture")
    bu.add_argument("--out", help="output directory (default bundle-BOARD-VERSION)")
    bu.add_argument("--sign", metavar="KEY.pem", help="sign the manifest with this key (hbctl keygen): a board "
                                                      "that trusts its public part boots only signed bundles")
    bu.add_argument("--seq", type=integer, help="security counter (default from the version a.b.c: "
                                               "a*1000000 + b*1000 + c); a signed board takes no lower one")
    add_json(bu, "what was built")
    bu.set_defaults(func=cmd_bundle)
    fl = sub.add_parser("flash", help="install the app over the raw REPL (A/B slots, trial + rollback)")
    fl.add_argument("--board", default=DEFAULT_BOARD, help="board name or board JSON path")
    fl.add_argument("--arch", choices=bundles.ARCHES, help="override the board's mpy-cross architecture")
    fl.add_argument("--bundle", help="a bundle directory from `hbctl bundle` instead of building")
    fl.add_argument("--wait", type=non_negative, default=60.0,
                    help="seconds to wait for the trial app to confirm itself (0: do not wait)")
    fl.add_argument("--force", action="store_true", help="send every file (no skipping, no on-board copies)")
    fl.add_argument("--quiet", action="store_true", help="no progress bar")
    add_json(fl, "the report")
    fl.set_defaults(func=cmd_flash)
    pv = sub.add_parser("provision", help="write the board identity or a module's identity EEPROM (once)")
    pv.add_argument("target", choices=["board", "module"])
    pv.add_argument("module", type=integer, nargs="?", help="slot, for target module")
    pv.add_argument("--serial", required=True, help="1..16 printable ASCII characters")
    pv.add_argument("--model", help="printable ASCII, 1..16 for a module, 1..32 for the board "
                                    "(default: the board name / the board's module model)")
    pv.add_argument("--date", help="manufacture date YYYY-MM-DD, 2000..2099 (default today)")
    pv.add_argument("--grade", type=integer, help="module bin / grade 0..255 (default 0)")
    pv.add_argument("--vout-mv", type=integer, help="module nominal string voltage, mV, within the board's "
                                                    "vout limits (default: the board's default)")
    pv.add_argument("--vout-max-mv", type=integer, help="the highest string voltage the module is rated "
                                                        "for, mV, nominal..the board's vout max; 0: none, the "
                                                        "tuner stays at or below the nominal (default: none; "
                                                        "with --force, the stored identity's rating is kept)")
    pv.add_argument("--force", action="store_true", help="replace a valid identity")
    pv.add_argument("--new-secret", metavar="FILE",
                    help="board: make a new per-board secret, write it to FILE (a new file, mode 600) and "
                         "store it on the board, which never returns it; a board with a secret authorizes "
                         "its destructive ops (docs/security.md)")
    add_json(pv, "the written identity")
    pv.set_defaults(func=cmd_provision)
