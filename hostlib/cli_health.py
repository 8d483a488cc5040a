"""hbctl health: warnings before a chip fails, from the per-chip history the board keeps on its
flash (docs/diagnostics.md, "Health history").

    hbctl --port P health [--module M] [--json]

Flags each chip ok, watch or replace with the evidence (errors rising at a fixed setting,
frequency or grade falling against the module's median) and each module whose sink runs hotter
at the same power than its neighbours'. Exit 0 whatever the flags (a report, not a test); 2 for a
refused value."""

from __future__ import annotations

import argparse

from hashboard import refs

from . import boards, checks, health
from .cli_base import add_json, integer, link, print_json


def add_parser(sub) -> None:
    h = sub.add_parser("health", help="flag chips whose margin is shrinking, from the board's history",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    h.add_argument("--module", type=integer, metavar="M", help="one module (default: every module)")
    add_json(h, "the health document (interfaces.md, Diagnostics)")
    h.set_defaults(func=cmd_health)


def cmd_health(args) -> int:
    with link(args, default=5.0) as ln:
        info = ln.request("info", {})  # once: the module's range and the board's name
        module = checks.BoardLimits(info).module(args.module)
        doc = health.judge(ln.request, module)
    board = info.get("board")
    cfg = boards.load(board) if board in boards.names() else None
    for c in doc["chips"]:
        c["ref"] = refs.chip_ref(cfg, c["index"]) if cfg else None
    if args.json:
        print_json(doc)
        return 0
    print(f"health: {doc['op_hours']:g} h of operation recorded, a record every {doc['period_s']} s")
    for m in doc["modules"]:
        print(f"module {m['module']} ({m['serial']}): {m['records']} records, {m['flag']}: {m['evidence']}")
    flagged = [c for c in doc["chips"] if c["flag"] != "ok"]
    for c in sorted(flagged, key=lambda c: (c["flag"] != "replace", c["module"], c["index"])):
        ref = f" ({c['ref']})" if c["ref"] else ""
        print(f"  {c['flag']:<7} module {c['module']} chip {c['index']}{ref}: {c['evidence']}")
    ok = len(doc["chips"]) - len(flagged)
    print(f"{len(doc['chips'])} chips: {ok} ok, {len(flagged)} flagged")
    if doc["torn_records"]:
        print(f"({doc['torn_records']} record(s) spoiled by a power cut were skipped)")
    if doc["write_errors"]:
        print(f"warning: the board failed to write {doc['write_errors']} record(s) (flash full or failing)")
    return 0
