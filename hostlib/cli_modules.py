"""hbctl verbs for what a module's EEPROM keeps: its tuned profile and its repair log
(docs/eeprom.md). Provisioning the identity is `hbctl provision` (cli_update)."""

from __future__ import annotations

import datetime

from hashboard.diagcodes import CATALOGUE
from hashboard.diagops import DIAG_PASS, finding_code
from hashboard.repairlog import CODES as REPAIR_CODES

from . import checks
from .cli_base import UsageError, add_json, integer, link, parse_date, show

EPOCH = datetime.date(2020, 1, 1)  # repair-log dates are days since this (docs/eeprom.md)
LAST_DATE = EPOCH + datetime.timedelta(days=0xFFFF)  # a 16-bit day count
_CODE_NAMES = {v: k for k, v in REPAIR_CODES.items()}


def cmd_profile_save(args) -> int:
    with link(args, default=5.0) as ln:
        checks.BoardLimits.of(ln).module(args.module)
        checks.present(ln, args.module)
        p = ln.request("save_profile", {"module": args.module})
    fs = sorted(set(p["freqs"]))
    span = f"{fs[0]:g} MHz" if len(fs) == 1 else f"{fs[0]:g}..{fs[-1]:g} MHz over {len(p['freqs'])} chips"
    return show(args, p, f"module {p['module']}: profile #{p['seq']} stored ({p['vout_mv'] / 1000:g} V, {span})")


def repair_days(text: str | None) -> int:
    """--date as the log's day count, or a refusal that names the dates the log can hold."""
    d = parse_date(text)
    if not EPOCH <= d <= LAST_DATE:
        raise UsageError(f"--date {d.isoformat()}: the repair log holds dates {EPOCH.isoformat()} .. {LAST_DATE.isoformat()}")
    return (d - EPOCH).days


def _action(code: int) -> str:
    """A repair-log code in words: a technician's action, or a diag result (hbctl diag)."""
    if code == DIAG_PASS:
        return "diag passed"
    found = finding_code(code)
    if found is not None:
        cause = next((c for c, v in CATALOGUE.items() if v[0] == found), "unknown")
        return f"diag failed: {found} {cause}"
    return _CODE_NAMES.get(code, f"code{code}")


def repair_rows(log: dict) -> list[dict]:
    """The board's `repair_log` answer as rows: sequence, ISO date, action in words, chip."""
    return [{"seq": e["seq"], "date": (EPOCH + datetime.timedelta(days=e["days"])).isoformat(),
             "action": _action(e["code"]), "chip": None if e["arg"] == 255 else e["arg"]} for e in log["entries"]]


def cmd_repairs(args) -> int:
    if args.add is None and (args.chip is not None or args.date is not None):
        raise UsageError("--chip and --date describe a repair to record: use them with --add ACTION")
    req: dict = {"module": args.module}
    if args.add is not None and args.add not in REPAIR_CODES:
        raise UsageError(f"--add {args.add!r}: one of {', '.join(REPAIR_CODES)}")
    days = repair_days(args.date) if args.add is not None else None
    with link(args, default=5.0) as ln:
        lim = checks.BoardLimits.of(ln)
        lim.module(args.module)
        if args.add is not None:
            req["add"] = {"days": days, "code": REPAIR_CODES[args.add],
                          "arg": 255 if args.chip is None else lim.chip(args.chip)}
        checks.present(ln, args.module)
        log = ln.request("repair_log", req)
    rows = repair_rows(log)
    lines = [f"#{r['seq']:<4} {r['date']}  {r['action']}" + ("" if r["chip"] is None else f" chip {r['chip']}")
             for r in rows]
    return show(args, rows, lines or f"module {args.module}: repair log is empty")


def add_parsers(sub) -> None:
    pf = sub.add_parser("profile", help="store the module's live tuning as its EEPROM profile")
    pf.add_argument("action", choices=["save"])
    pf.add_argument("module", type=integer, help="slot of a hashing module")
    add_json(pf, "the stored profile")
    pf.set_defaults(func=cmd_profile_save)
    rp = sub.add_parser("repairs", help="show (or append to) a module's repair log")
    rp.add_argument("module", type=integer, help="slot")
    rp.add_argument("--add", metavar="ACTION", help="record a repair: " + ", ".join(REPAIR_CODES))
    rp.add_argument("--chip", type=integer, help="with --add: the chip position the repair concerns")
    rp.add_argument("--date", help=f"with --add: YYYY-MM-DD, {EPOCH.isoformat()} .. {LAST_DATE.isoformat()} "
                                   "(default today)")
    add_json(rp, "the log's entries")
    rp.set_defaults(func=cmd_repairs)
