"""hbctl verbs that read a board and change nothing: status, info, modules, events."""

from __future__ import annotations

import sys

from .cli_base import add_json, link, print_json, show
from .errors import HbError
from .statusview import fmt, status_lines


def cmd_info(args) -> int:
    with link(args) as ln:
        info = ln.request("info")
    if args.json:
        print_json(info)
        return 0
    lim = info["limits"]
    fw = info["firmware"]
    where = {"slots": f"slot {fw.get('slot')}{' (on trial)' if fw.get('trial') else ''}",
             "loose": "loose files (flashed by hand)"}.get(fw.get("layout"), "")
    ident = info.get("identity")
    t = lim["thermal"]
    lines = [
        f"board      {info['board']} ({info['chip']}, {info['slots']} slot(s) x {info['chips_per_module']} chips)",
        f"firmware   {fw['version']}  protocol v{info['protocol']}  {where}"
        + (f"  bundle {fw['bundle'][:16]}" if fw.get("bundle") else "")
        + (f"  (slot {fw['reverted']} was reverted)" if fw.get("reverted") else ""),
        f"identity   {ident['serial']} ({ident['model']})" if ident else "identity   not provisioned",
        f"runtime    {info['runtime']['name']} {info['runtime']['version']} on {info['platform']}",
        f"vout       {lim['vout']['min']:g} .. {lim['vout']['max']:g} V (default {lim['vout']['default']:g})",
        f"frequency  {lim['freq_mhz']['min']:g} .. {lim['freq_mhz']['max']:g} MHz (default {lim['freq_mhz']['default']:g})",
        f"thermal    target {t['target_c']:g} / hot {t['hot_c']:g} / dangerous {t['dangerous_c']:g} degC",
    ]
    if "power_w" in lim:
        lines.append(f"power      target up to {lim['power_w']['max']:g} W")
    sec = info.get("security")
    if sec:
        lines += security_lines(sec)
    return show(args, info, lines)


def security_lines(sec: dict) -> list[str]:
    """info's security block in words (docs/security.md): the mode, what a flash must carry,
    and which ops need the board's secret."""
    mode = {"development": "development (no secret: every op open)",
            "provisioned": "provisioned (the ops below need the secret; REPL open)",
            "production": "production, locked (the ops below need the secret; no REPL without it)"}
    kid = sec.get("signed_updates")
    lines = [f"security   {mode.get(sec.get('mode'), sec.get('mode'))}",
             f"updates    {'signed by key ' + kid + ' only' if kid else 'unsigned bundles accepted'}"]
    if sec.get("locked_ops"):
        lines.append(f"secret for {', '.join(sec['locked_ops'])}")
    return lines


def cmd_status(args) -> int:
    with link(args, default=5.0) as ln:
        st = ln.request("status")
    return show(args, st, lambda: status_lines(st))


def cmd_modules(args) -> int:
    with link(args, default=5.0) as ln:
        st = ln.request("status")
    chains = {c["module"]: c for c in st["chains"]}
    rows = [{"slot": m["slot"], "state": m["state"], "serial": m["serial"],
             "chips": chains[m["slot"]]["found"], "power_w": m.get("power_w"),
             "temp_c": m.get("temp_c"), "profile": m.get("profile"), "cause": m.get("cause")}
            for m in st["modules"]]
    lines = [f"{'slot':>4} {'state':<13} {'serial':<12} {'chips':>5} {'power':>8} {'temp':>6}  {'profile':<8} cause"]
    for r in rows:
        lines.append(f"{r['slot']:>4} {r['state']:<13} {r['serial'] or '-':<12} {r['chips']:>5} "
                     f"{fmt(r['power_w'], '7.1f')}W {fmt(r['temp_c'], '6.1f'):>6}  {r['profile'] or '-':<8} "
                     f"{r['cause'] or ''}")
    return show(args, rows, lines)


def cmd_events(args) -> int:
    with link(args) as ln:
        evs = ln.request("events", {"since": 0})
        if not isinstance(evs, list) or not all(isinstance(ev, dict) for ev in evs):
            raise HbError(f"board answered 'events' with a {type(evs).__name__}, not a list of events")
        for ev in evs:
            _print_event(ev, args.json)
        if args.follow:
            ln.follow_events(lambda ev: _print_event(ev, args.json))
    return 0


def _print_event(ev: dict, as_json: bool) -> None:
    if as_json:
        print_json(ev)
    else:
        kind = ev["kind"]
        if ev.get("module") is not None:  # "module 0", "fault module 0", not "module module 0"
            kind = f"module {ev['module']}" if kind == "module" else f"{kind} module {ev['module']}"
        print(f"{ev['ms'] / 1000:10.3f}s  {kind}  {ev.get('detail') or ''}")
    sys.stdout.flush()


def add_parsers(sub) -> None:
    for name, func, help_ in (("status", cmd_status, "board status: modules, chains, regulators, temperatures, chips"),
                              ("info", cmd_info, "board definition limits, firmware, protocol and runtime"),
                              ("modules", cmd_modules, "one line per slot: state, serial, chips, power, profile")):
        c = sub.add_parser(name, help=help_, description=help_ + ". Changes nothing.")
        add_json(c, "the document")
        c.set_defaults(func=func)
    e = sub.add_parser("events", help="the board's recent events (ring of 24), oldest first",
                       description="The board's recent events, oldest first. Changes nothing.")
    add_json(e, help="one JSON object per event and line")
    e.add_argument("--follow", action="store_true", help="keep printing events as they come (until Ctrl-C)")
    e.set_defaults(func=cmd_events)
