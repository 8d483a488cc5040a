"""hbctl tune: set the board's tuning goal, follow it to convergence, show the per-chip result.

    hbctl --port P tune --power W | --hashrate THS | --efficiency [FLOOR] | --off [--module M]
    hbctl --port P tune --status [--module M] [--json]

The firmware tunes (docs/tuning.md); this only sets the goal and watches. Without --module the
goal is the whole board's (W or TH/s, shared by the hashing modules)."""

from __future__ import annotations

import argparse
import json
import sys
import time

from . import checks
from .cli_base import UsageError, finite, integer, link, non_negative
from .link import Link

TuneUsage = UsageError  # a refused value: nothing was sent (exit 2, docs/cli.md)


def add_parser(sub) -> None:
    t = sub.add_parser("tune", help="tune chips and voltages for a power, hashrate or efficiency goal",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    goal = t.add_mutually_exclusive_group(required=True)
    goal.add_argument("--power", type=finite, metavar="W", help="most TH/s within W (board, or --module's)")
    goal.add_argument("--hashrate", type=finite, metavar="THS", help="this TH/s at the least power")
    goal.add_argument("--efficiency", type=finite, nargs="?", const=0.0, metavar="FLOOR",
                      help="best J/TH at or above FLOOR TH/s (default 0)")
    goal.add_argument("--off", action="store_true", help="stop tuning: the settings reached stay")
    goal.add_argument("--status", action="store_true", help="show the tuner's state and exit")
    t.add_argument("--module", type=integer, metavar="M", help="one module's goal instead of the board's")
    t.add_argument("--wait", type=non_negative, default=900.0, metavar="S",
                   help="seconds to follow convergence (default 900; 0: set the goal and return)")
    t.add_argument("--json", action="store_true", help="print the final tuner document as JSON")
    t.set_defaults(func=cmd_tune)
    pr = sub.add_parser("profiles", help="the tuned profile each module carries in its EEPROM")
    pr.add_argument("module", type=integer, nargs="?", metavar="M", help="one module (default: all)")
    pr.add_argument("--json", action="store_true", help="print the profiles as JSON")
    pr.set_defaults(func=cmd_profiles)


def cmd_profiles(args) -> int:
    with _link(args) as link:
        checks.BoardLimits.of(link).module(args.module)
        doc = link.request("profiles", {} if args.module is None else {"module": args.module})
    if args.json:
        print(json.dumps(doc))
        return 0
    for m in doc["modules"]:
        p = m["profile"]
        if p is None:
            why = f" ({m['note']})" if m["note"] else ""
            print(f"module {m['module']}: {m['state']}, no stored profile in use{why}")
        else:
            f = p["freqs_mhz"]
            span = (f"{min(f):.1f}..{max(f):.1f} MHz over {len(f)} chips" if len(f) > 1
                    else f"{f[0]:.1f} MHz (module-wide)")
            goal = f" for {_goal_words(p['mode'], p['target'])}" if "mode" in p else ""
            print(f"module {m['module']}: {m['serial'] or '-'} profile #{p['seq']}{goal}: {p['vout']:.2f} V, {span}")
        targets = m.get("targets")
        if targets is None and m["state"] != "empty":
            print("  its EEPROM did not answer: the stored goals are unknown")
        for t in sorted(targets or [], key=lambda t: (t["mode"], t["target"])):
            jth = f", {t['power_w'] / t['ths']:.2f} J/TH" if t["ths"] > 0 else ""
            print(f"  stored for {_goal_words(t['mode'], t['target'])}: {t['vout']:.2f} V, "
                  f"{t['ths']:.2f} TH/s at {t['power_w']:.0f} W{jth}")
    return 0


def _goal_words(mode: str, target: float) -> str:
    unit = "W" if mode == "power" else "TH/s"
    return f"{mode} {target:g} {unit}"


def _goal(args) -> tuple[str, float]:
    for mode in ("power", "hashrate", "efficiency"):
        v = getattr(args, mode)
        if v is not None:
            if v < 0 or (v == 0 and mode != "efficiency"):
                raise TuneUsage(f"--{mode} must be a positive number, not {v:g}")
            return mode, v
    return "off", 0.0


def _link(args) -> Link:
    return link(args, default=5.0)


def cmd_tune(args) -> int:
    with _link(args) as link:
        lim = checks.BoardLimits.of(link)
        lim.module(args.module)
        if args.status:
            return _show(link, args)
        mode, goal = _goal(args)
        if mode == "power":
            lim.watts(goal, one_module=args.module is not None)
        if args.module is not None and mode != "off":
            checks.present(link, args.module)  # a goal for an empty slot would tune nothing
        req = {"mode": mode, "target": goal}
        if args.module is not None:
            req["module"] = args.module
        link.request("tune", req)
        if mode == "off" or args.wait <= 0:
            doc = link.request("tune_status", {})
            if args.json:
                print(json.dumps(doc))
            else:
                print(f"tuning {mode}" + ("" if mode == "off" else f" {goal:g} {_unit(mode)}") + " set")
            return 0
        doc = _follow(link, args)
        return _show(link, args, doc, converged=doc["converged"])


def _unit(mode: str) -> str:
    return "W" if mode == "power" else "TH/s"


def _follow(link: Link, args) -> dict:
    """Poll until every tuned module converged (or --wait ran out), with a one-line progress."""
    end = time.monotonic() + args.wait
    tty = sys.stderr.isatty() and not args.json
    doc = link.request("tune_status", {})
    while time.monotonic() < end:
        doc = link.request("tune_status", {})
        mods = [m for m in doc["modules"] if m["mode"] != "off"]
        done = sum(m["converged"] for m in mods)
        ths = sum(m["ths"] for m in mods)
        watts = sum(m["power_w"] for m in mods)
        line = (f"tuning: {done}/{len(mods)} modules converged  {ths:6.2f} TH/s  {watts:7.1f} W  "
                f"{watts / ths if ths else 0:5.2f} J/TH")
        if tty:
            sys.stderr.write("\r" + line)
            sys.stderr.flush()
        if mods and done == len(mods):
            break
        time.sleep(1.0)
    if tty:
        sys.stderr.write("\n")
    return doc


def _show(link: Link, args, doc: dict | None = None, converged: bool = True) -> int:
    doc = doc or link.request("tune_status", {} if args.module is None else {"module": args.module})
    chips = {}
    for m in doc["modules"]:
        if m["mode"] != "off" and (args.module is None or m["module"] == args.module):
            chips[m["module"]] = link.request("tune_status", {"module": m["module"], "chips": True})["modules"][0]["chips"]
    if args.json:
        out = dict(doc, board_s=doc["since_ms"] / 1000.0)  # interfaces.md: board seconds
        out["modules"] = [dict(m, chips=chips.get(m["module"], [])) for m in doc["modules"]]
        print(json.dumps(out))
        return 0 if converged else 1
    own = [f"module {i}: {g['mode']} {g['target']:g} {_unit(g['mode'])}"
           for i, g in enumerate(doc.get("modules_own") or []) if g is not None]
    print(f"board goal: {doc['mode']}" + ("" if doc["mode"] == "off" else f" {doc['target']:g} {_unit(doc['mode'])}")
          + ("; " + "; ".join(own) if own else "") + ("  (converged)" if doc["converged"] else ""))
    for m in doc["modules"]:
        if args.module is not None and m["module"] != args.module:
            continue
        jth = f"{m['jth']:.2f}" if m["jth"] else "-"
        goal = "" if m["mode"] == "off" else f"goal {m['goal']:g} {_unit(m['mode'])}  "
        print(f"module {m['module']}: {m['mode']:<10} {m['phase']:<9} {goal}{m['vout']:.2f} V  {m['power_w']:7.1f} W  "
              f"{m['ths']:6.2f} TH/s  {jth} J/TH  parked {m['parked']}")
        cw = m.get("ceiling_w")
        if m["mode"] == "power" and cw is not None and cw < m["goal"] * 0.995:
            print(f"  held at {cw:.0f} W: what its cooling or its regulator's current allows, under the goal")
        if m["module"] in chips:
            print("  chip  MHz     err %   GH/s  state")
            for c in chips[m["module"]]:
                print(f"  {c['index']:4d}  {c['freq_mhz']:6.1f}  {c['error_rate'] * 100:6.3f}  {c['ghs']:6.1f}  {c['state']}")
    if not converged:
        print(f"hbctl: error: not converged within {args.wait:g} s (still tuning on the board)", file=sys.stderr)
        return 1
    return 0
