"""hbctl diag: the board's staged module test (docs/diagnostics.md), run by the firmware while
the other modules keep hashing; the host starts it, follows it and prints the verdict.

    hbctl --port P diag [--module M] [--passes N] [--wait S] [--json] [--report FILE.html]

Exit 0 when every tested module passes, 1 when one fails (or the wait ran out), 2 for a
refused value. Each run appends its verdict to the module's repair log (hbctl repairs M)."""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import time
from pathlib import Path

from hashboard import refs

from . import boards, checks, diag_report
from .cli_base import UsageError, add_json, integer, link, non_negative, print_json
from .cli_modules import EPOCH, repair_rows
from .errors import HbError

POLL_S = 0.5


def add_parser(sub) -> None:
    d = sub.add_parser("diag", help="run the staged module test and name the part to replace",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    d.add_argument("--module", type=integer, metavar="M", help="one module (default: every present one)")
    d.add_argument("--passes", type=integer, default=1, metavar="N", help="run the plan N times, 1..3 (default 1)")
    d.add_argument("--wait", type=non_negative, default=900.0, metavar="S",
                   help="seconds to wait for the result (default 900; modules are tested one at a time)")
    d.add_argument("--report", metavar="FILE", help="also write a self-contained HTML report (board map, findings, "
                   "stages, repair history) to FILE, pass or fail")
    add_json(d, "the diagnostics document (interfaces.md, Diagnostics)")
    d.set_defaults(func=cmd_diag)


def cmd_diag(args) -> int:
    if not 1 <= args.passes <= 3:
        raise UsageError(f"--passes {args.passes}: 1, 2 or 3")
    days = (datetime.date.today() - EPOCH).days  # the repair log's date: the MCU has no clock
    with link(args, default=5.0) as ln:
        lim = checks.BoardLimits.of(ln)
        req: dict = {"passes": args.passes, "days": days}
        if args.module is not None:
            req["module"] = lim.module(args.module)
            checks.present(ln, args.module)
        started = ln.request("diag", req)["started"]
        deadline = time.monotonic() + args.wait
        while True:  # one module a request: a small heap answers one module's document at a time
            mods = [ln.request("diag_status", {"module": s})["modules"][0] for s in started]
            if all(m["verdict"] in ("pass", "fail", "not_run") for m in mods) or time.monotonic() > deadline:
                break
            if not args.json and sys.stderr.isatty():
                stages = sum(len(m["stages"]) for m in mods)
                print(f"\rdiag: {stages} stages done", end="", file=sys.stderr, flush=True)
            time.sleep(POLL_S)
        board = ln.request("info", {}).get("board")
        history = _histories(ln, mods) if args.report else {}
    cfg = boards.load(board) if board in boards.names() else None
    for m in mods:  # each chip's designator, domain and place on the PCB (the board definition's)
        n = m.pop("chips_total", 0)  # a run that never started (not_run, queued) has no chips
        grades = m.pop("grades", None) or [None] * n
        m["chips"] = [_chip(cfg, i, i not in m["bad_chips"], grades[i]) for i in range(n)]
    if not args.json and sys.stderr.isatty():
        print(file=sys.stderr)
    out = {"board": board, "passes": args.passes, "modules": mods}
    if args.report:
        _write_report(args.report, out, cfg, history)
    failed = any(m["verdict"] != "pass" for m in mods)
    if args.json:
        print_json(out)
    else:
        for m in mods:
            _print_module(m)
    for m in mods:
        if m["verdict"] == "not_run":
            print(f"hbctl: error: module {m['module']} was not tested: {m.get('error')}", file=sys.stderr)
    if any(m["verdict"] in ("running", "queued") for m in mods):
        print(f"hbctl: error: diag not finished within {args.wait:g} s (still running on the board)", file=sys.stderr)
    return 1 if failed else 0


def _histories(ln, mods: list[dict]) -> dict[int, list[dict] | None]:
    """Each module's repair log as `hbctl repairs` shows it (None: it has none to read)."""
    out: dict[int, list[dict] | None] = {}
    for m in mods:
        try:
            out[m["module"]] = repair_rows(ln.request("repair_log", {"module": m["module"]}))
        except HbError:
            out[m["module"]] = None
    return out


def _write_report(path: str, doc: dict, cfg: dict | None, history: dict) -> None:
    """Written whole or not at all (a temporary file, then renamed over the target)."""
    target = Path(path)
    tmp = target.with_name(target.name + ".tmp")
    try:
        tmp.write_text(diag_report.render(doc, cfg, history), encoding="utf-8")
        os.replace(tmp, target)
    except OSError as e:
        raise HbError(f"--report {path}: cannot write it ({e.strerror or e})") from None


def _chip(cfg: dict | None, i: int, ok: bool, grade: float | None) -> dict:
    if cfg is None:
        return {"index": i, "ref": None, "domain": None, "grade_mhz": grade, "ok": ok}
    x, y, d = refs.chip_pos(cfg, i)
    return {"index": i, "ref": refs.chip_ref(cfg, i), "domain": d, "x_mm": x, "y_mm": y, "grade_mhz": grade, "ok": ok}


def _print_module(m: dict) -> None:
    print(f"module {m['module']} ({m['serial'] or 'no serial'}): {m['verdict'].upper()}  {m['board_s']:.1f} board s")
    for s in m["stages"]:
        print(f"  {s['name']:<10} {s['result']:<5} {s['board_s']:5.1f} s  {s.get('evidence', '')}")
    graded = [c for c in m.get("chips", []) if c["grade_mhz"] is not None]
    if graded:  # the grade stage's evidence: where the silicon sits, lowest first
        low = sorted(graded, key=lambda c: c["grade_mhz"])[:3]
        med = sorted(c["grade_mhz"] for c in graded)[len(graded) // 2]
        print(f"  grades: median {med:.1f} MHz; lowest " + ", ".join(
            f"{c['ref'] or c['index']} {c['grade_mhz']:.1f}" for c in low))
    for k, f in enumerate(m["findings"]):
        where = f["ref"] or "module"
        lead = "ROOT CAUSE" if k == 0 else "also"
        print(f"  {lead}: {f['code']} {f['cause']} ({f['severity']}) at {where}: {f['action']}")
        print(f"      evidence: {f['evidence']}")
    if m.get("logged") is False:
        print("  (the result could not be written to the module's repair log)")
