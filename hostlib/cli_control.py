"""hbctl verbs that change how a board runs: freq, vout, power, curtail, resume, heartbeat, clear.

Every value is checked on the host against the board's own limits before it is sent
(hostlib.checks), and every output says what the board did, from its reply."""

from __future__ import annotations

import argparse

from . import checks
from .cli_base import UsageError, add_json, finite, integer, link, show, slots_text

POLICIES = ("hold", "curtail", "off")


def _one_module(ln, lim: checks.BoardLimits, args, req: dict) -> dict:
    """req for --module M (a slot that holds a module), or for every present module."""
    if args.module is not None:
        req["module"] = lim.module(args.module)
        checks.present(ln, args.module)
    return req


def cmd_freq(args) -> int:
    with link(args) as ln:
        lim = checks.BoardLimits.of(ln)
        req = _one_module(ln, lim, args, {"mhz": lim.mhz(args.mhz)})
        if args.chip is not None:
            req["chip"] = lim.chip(args.chip)
        out = ln.request("set_freq", req)
    chips = "all chips" if out.get("chip", -1) == -1 else f"chip {out['chip']}"
    return show(args, out, f"frequency target {out['mhz']:g} MHz on {slots_text(out.get('modules', []))} "
                           f"({chips}); chips ramp to it in {lim.freq.get('step', '?')} MHz steps, "
                           "thermal and power caps permitting")


def cmd_vout(args) -> int:
    with link(args) as ln:
        lim = checks.BoardLimits.of(ln)
        out = ln.request("set_vout", _one_module(ln, lim, args, {"volts": lim.volts(args.volts)}))
    return show(args, out, f"string voltage {out['volts']:g} V on {slots_text(out.get('modules', []))}; "
                           f"it moves {lim.vout.get('step', '?')} V per control period")


def cmd_power(args) -> int:
    with link(args) as ln:
        watts = None if args.off else checks.BoardLimits.of(ln).watts(args.target)
        out = ln.request("power", {"target_w": watts})
    if out["target_w"] is None:
        text = ("power target removed: modules keep the frequencies and voltage they run at now "
                "(the tuner's last settings; `hbctl freq` / `hbctl vout` change them)")
    else:
        text = f"power target {out['target_w']:g} W: held by board-wide frequency steps (within 3 %)"
    if out.get("curtailed"):
        text += "; the board stays curtailed until `hbctl resume`, the target applies from then"
    return show(args, out, text)


def cmd_curtail(args) -> int:
    level = checks.curtail_level(args.level)
    if args.module is not None:
        if level != 0:
            raise UsageError("--module sheds that module whole: --level must be 0 (or left out)")
        with link(args) as ln:
            out = ln.request("curtail", {"module": args.module})
        return show(args, out, f"module {args.module} shed: it powers off after a quick ramp-down; "
                    f"kept across resets until `hbctl resume --module {args.module}` (or `hbctl resume`)")
    with link(args) as ln:
        out = ln.request("curtail", {"level": level})
    what = ("every module powers off after a quick ramp-down" if level == 0
            else f"the board is held at {level} % of its full power")
    return show(args, out, f"curtailed to {level} %: {what}; kept across resets until `hbctl resume`")


def cmd_resume(args) -> int:
    if args.module is not None:
        with link(args) as ln:
            out = ln.request("resume", {"module": args.module})
        return show(args, out, f"module {args.module}: its shed ended; it starts again unless the board "
                    "is curtailed to 0 % or its thermal guard holds it")
    with link(args) as ln:
        out = ln.request("resume", {})
    w = out.get("target_w")
    return show(args, out, "resumed: curtailment and any heartbeat policy ended; "
                + ("modules run at their set frequencies" if w is None else f"back to the power target {w:g} W"))


def cmd_heartbeat(args) -> int:
    if args.legacy_timeout is not None:
        raise UsageError("heartbeat --timeout was renamed --after (the global --timeout is how long "
                         "hbctl waits for an answer)")
    if args.policy is None:
        if args.after is not None:
            raise UsageError("--after needs --policy (hold, curtail or off)")
        return _heartbeat_report(args)
    with link(args) as ln:
        if args.policy == "none":
            if args.after is not None:
                raise UsageError("--policy none disarms the contract; it takes no --after")
            out = ln.request("heartbeat", {"policy": None})
            return show(args, out, "heartbeat contract disarmed: silence changes nothing")
        if args.after is None:
            raise UsageError(f"--policy {args.policy} needs --after SECONDS (how long a silent host is waited for)")
        out = ln.request("heartbeat", {"policy": args.policy, "timeout_s": checks.BoardLimits.of(ln).heartbeat_s(args.after)})
    return show(args, out, f"heartbeat contract armed: after {out['timeout_s']:g} s without a request the board "
                           f"applies {out['policy']!r} ({POLICY_TEXT[out['policy']]}); any request is a heartbeat; "
                           "kept across resets")


POLICY_TEXT = {"hold": "keeps running as it is, and says so", "curtail": "curtails to 0 %, modules off",
               "off": "keeps every module off until resume"}


def _heartbeat_report(args) -> int:
    """No flags: one heartbeat (any request is one), and what the contract is; nothing changes."""
    with link(args, default=5.0) as ln:
        hb = ln.request("status").get("heartbeat") or {}
    armed = hb.get("armed")
    if armed is None:
        text = "heartbeat sent; no contract armed (hbctl heartbeat --policy P --after S arms one)"
    else:
        text = (f"heartbeat sent; contract: {armed['policy']!r} after {armed['timeout_s']:g} s of silence"
                + (f"; lost earlier, {hb.get('applied')!r} was applied" if hb.get("lost") else ""))
    return show(args, hb, text)


def cmd_clear(args) -> int:
    with link(args) as ln:
        lim = checks.BoardLimits.of(ln) if args.module is not None else None
        out = ln.request("clear", _one_module(ln, lim, args, {}))
    return show(args, out, [_cleared(m) for m in out.get("modules", [])] or ["cleared"])


def _cleared(m: dict) -> str:
    b, a = m["before"], m["after"]
    name = f"module {m['module']}"
    if a["state"] == "empty":
        return f"slot {m['module']}: empty"
    if b == a:
        return f"{name}: nothing to clear ({a['state']})"
    if b["thermal"] == "latched" and a["thermal"] != "latched":
        return f"{name}: thermal lockout cleared, now {a['thermal']}: it restarts by itself once cool"
    if b["state"] == "fault" and a["state"] == "off":
        return f"{name}: fault {b['cause'] or ''} cleared, now off; `hbctl resume` restarts it"
    if b["vrm_faults"] and not a["vrm_faults"]:
        return f"{name}: regulator faults {','.join(b['vrm_faults'])} cleared ({a['state']})"
    return f"{name}: {b['state']} -> {a['state']}"


def add_parsers(sub) -> None:
    fq = sub.add_parser("freq", help="set a frequency target (ramped), for every present module, one, or one chip")
    fq.add_argument("mhz", type=finite, help="MHz, within the board's limits (hbctl info)")
    fq.add_argument("--module", type=integer, help="slot (default: every present module)")
    fq.add_argument("--chip", type=integer, help="chip index on the chain (default: all)")
    add_json(fq, "the board's reply")
    fq.set_defaults(func=cmd_freq)
    vo = sub.add_parser("vout", help="set the module string voltage (ramped, within the board's limits)")
    vo.add_argument("volts", type=finite, help="V, within the board's limits (hbctl info)")
    vo.add_argument("--module", type=integer, help="slot (default: every present module)")
    add_json(vo, "the board's reply")
    vo.set_defaults(func=cmd_vout)
    pw = sub.add_parser("power", help="hold the board at a power target (W), or remove it")
    g = pw.add_mutually_exclusive_group(required=True)
    g.add_argument("--target", type=finite, help="watts, above 0 and up to the board's limit (hbctl info)")
    g.add_argument("--off", action="store_true", help="remove the power target")
    add_json(pw, "the board's reply")
    pw.set_defaults(func=cmd_power)
    ct = sub.add_parser("curtail", help="curtail to a percent of full power (default 0: every module off)")
    ct.add_argument("--level", type=integer, default=0, help="percent 0..100 (default 0: modules off)")
    ct.add_argument("--module", type=integer, help="shed only this module (off, whole; grid dispatch)")
    add_json(ct, "the board's reply")
    ct.set_defaults(func=cmd_curtail)
    rs = sub.add_parser("resume", help="end curtailment, sheds and a heartbeat policy: back to the prior power")
    rs.add_argument("--module", type=integer, help="end only this module's shed")
    add_json(rs, "the board's reply")
    rs.set_defaults(func=cmd_resume)
    hb = sub.add_parser(
        "heartbeat", help="send a heartbeat and show the host contract; with --policy and --after, arm it",
        description="Without flags: one heartbeat, and the contract as it is (nothing changes). "
                    "--policy P --after S arms the contract: after S seconds without any request the "
                    "board applies P. --policy none disarms it. There is no default policy or time.")
    hb.add_argument("--policy", choices=[*POLICIES, "none"], help="what a silent host gets: hold, curtail "
                    "(0 %%, modules off), off (modules off until resume); none disarms")
    hb.add_argument("--after", type=finite, metavar="SECONDS", help="silence before the policy applies (1..3600)")
    hb.add_argument("--timeout", dest="legacy_timeout", help=argparse.SUPPRESS)
    add_json(hb, "the board's reply")
    hb.set_defaults(func=cmd_heartbeat)
    cl = sub.add_parser("clear", help="acknowledge latched faults; never powers anything (resume restarts)")
    cl.add_argument("--module", type=integer, help="slot (default: every slot)")
    add_json(cl, "the board's reply")
    cl.set_defaults(func=cmd_clear)
