"""hbctl: command line for hashboard controllers, real or virtual (interfaces.md)."""

from __future__ import annotations

import argparse
import datetime
import json
import os
import signal
import sys
import time

from hashboard.repairlog import CODES as REPAIR_CODES

from . import boards, cli_demo, cli_i2c, cli_tune, cli_update
from .errors import HbError
from .link import Link
from .statusview import fmt, status_lines


class UsageError(HbError):
    pass


def _link(args) -> Link:
    port = args.port or os.environ.get("HB_PORT")
    if not port:
        raise UsageError("no port given: use --port PORT (a serial device, pty or pyserial URL)")
    return Link(port, timeout=args.timeout)


def _print_json(doc) -> None:
    json.dump(doc, sys.stdout, indent=None)
    sys.stdout.write("\n")


# ---------------------------------------------------------------------------- commands
def cmd_info(args) -> int:
    with _link(args) as link:
        info = link.request("info")
    if args.json:
        _print_json(info)
        return 0
    lim = info["limits"]
    print(f"board      {info['board']} ({info['chip']}, {info['slots']} slot(s) x {info['chips_per_module']} chips)")
    fw = info["firmware"]
    where = {"slots": f"slot {fw.get('slot')}{' (on trial)' if fw.get('trial') else ''}",
             "loose": "loose files (flashed by hand)"}.get(fw.get("layout"), "")
    print(f"firmware   {fw['version']}  protocol v{info['protocol']}  {where}"
          + (f"  bundle {fw['bundle'][:16]}" if fw.get("bundle") else "")
          + (f"  (slot {fw['reverted']} was reverted)" if fw.get("reverted") else ""))
    ident = info.get("identity")
    print(f"identity   {ident['serial']} ({ident['model']})" if ident else "identity   not provisioned")
    print(f"runtime    {info['runtime']['name']} {info['runtime']['version']} on {info['platform']}")
    print(f"vout       {lim['vout']['min']:g} .. {lim['vout']['max']:g} V (default {lim['vout']['default']:g})")
    print(f"frequency  {lim['freq_mhz']['min']:g} .. {lim['freq_mhz']['max']:g} MHz (default {lim['freq_mhz']['default']:g})")
    t = lim["thermal"]
    print(f"thermal    target {t['target_c']:g} / hot {t['hot_c']:g} / dangerous {t['dangerous_c']:g} degC")
    return 0


def cmd_status(args) -> int:
    with _link(args) as link:
        st = link.request("status", timeout=max(args.timeout, 5.0))
    if args.json:
        _print_json(st)
        return 0
    print("\n".join(status_lines(st)))
    return 0


def cmd_events(args) -> int:
    with _link(args) as link:
        evs = link.request("events", {"since": 0})
        if not isinstance(evs, list) or not all(isinstance(ev, dict) for ev in evs):
            raise HbError(f"board answered 'events' with a {type(evs).__name__}, not a list of events")
        for ev in evs:
            _print_event(ev, args.json)
        if args.follow:
            link.follow_events(lambda ev: _print_event(ev, args.json))
    return 0


def _print_event(ev: dict, as_json: bool) -> None:
    if as_json:
        _print_json(ev)
    else:
        mod = "" if ev.get("module") is None else f" module {ev['module']}"
        print(f"{ev['ms'] / 1000:10.3f}s  {ev['kind']}{mod}  {ev.get('detail') or ''}")
    sys.stdout.flush()


def cmd_modules(args) -> int:
    with _link(args) as link:
        st = link.request("status", timeout=max(args.timeout, 5.0))
    chains = {c["module"]: c for c in st["chains"]}
    rows = [{"slot": m["slot"], "state": m["state"], "serial": m["serial"],
             "chips": chains[m["slot"]]["found"], "power_w": m.get("power_w"),
             "temp_c": m.get("temp_c"), "profile": m.get("profile"), "cause": m.get("cause")}
            for m in st["modules"]]
    if args.json:
        _print_json(rows)
        return 0
    print(f"{'slot':>4} {'state':<13} {'serial':<12} {'chips':>5} {'power':>8} {'temp':>6}  {'profile':<8} cause")
    for r in rows:
        print(f"{r['slot']:>4} {r['state']:<13} {r['serial'] or '-':<12} {r['chips']:>5} "
              f"{fmt(r['power_w'], '7.1f')}W {fmt(r['temp_c'], '6.1f'):>6}  {r['profile'] or '-':<8} "
              f"{r['cause'] or ''}")
    return 0


def cmd_profile_save(args) -> int:
    with _link(args) as link:
        p = link.request("save_profile", {"module": args.module}, timeout=max(args.timeout, 5.0))
    if args.json:
        _print_json(p)
        return 0
    fs = sorted(set(p["freqs"]))
    span = f"{fs[0]:g} MHz" if len(fs) == 1 else f"{fs[0]:g}..{fs[-1]:g} MHz over {len(p['freqs'])} chips"
    print(f"module {p['module']}: profile #{p['seq']} stored ({p['vout_mv'] / 1000:g} V, {span})")
    return 0


_EPOCH = datetime.date(2020, 1, 1)  # repair-log dates are days since this (docs/eeprom.md)
_CODE_NAMES = {v: k for k, v in REPAIR_CODES.items()}


def _repair_date(text: str | None) -> int:
    days = (cli_update.parse_date(text) - _EPOCH).days
    if not 0 <= days <= 0xFFFF:
        raise UsageError(f"--date {text}: must be between 2020-01-01 and 2199")
    return days


def cmd_repairs(args) -> int:
    req: dict = {"module": args.module}
    if args.add is not None:
        if args.add not in REPAIR_CODES:
            raise UsageError(f"--add {args.add!r}: one of {', '.join(REPAIR_CODES)}")
        if args.chip is not None and not 0 <= args.chip <= 254:
            raise UsageError("--chip must be 0..254")
        req["add"] = {"days": _repair_date(args.date), "code": REPAIR_CODES[args.add],
                      "arg": 255 if args.chip is None else args.chip}
    with _link(args) as link:
        log = link.request("repair_log", req, timeout=max(args.timeout, 5.0))
    rows = [{"seq": e["seq"], "date": (_EPOCH + datetime.timedelta(days=e["days"])).isoformat(),
             "action": _CODE_NAMES.get(e["code"], f"code{e['code']}"),
             "chip": None if e["arg"] == 255 else e["arg"]} for e in log["entries"]]
    if args.json:
        _print_json(rows)
        return 0
    if not rows:
        print(f"module {args.module}: repair log is empty")
    for r in rows:
        chip = "" if r["chip"] is None else f" chip {r['chip']}"
        print(f"#{r['seq']:<4} {r['date']}  {r['action']}{chip}")
    return 0


def cmd_sim(args) -> int:
    from .sim.virtual import VirtualBoard

    t0 = time.monotonic()
    vb = VirtualBoard(board=args.board, seed=args.seed, chip_profile=args.chip_profile,
                      faults=args.fault or (), speed=args.speed, storage=args.storage, heap=args.heap)
    stop = {"flag": False}

    def on_signal(signum, frame):
        stop["flag"] = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    vb.start()
    try:
        ready = vb.wait_ready(args.ready_timeout)
        doc = {"port": vb.port, "control": vb.control_path, "board": vb.board_name,
               "pid": os.getpid(), "speed": args.speed, "ready": ready,
               "ready_s": round(time.monotonic() - t0, 3), "state": vb.board_state}
        print(json.dumps(doc), flush=True)
        while not stop["flag"]:
            time.sleep(0.1)
    finally:
        vb.stop()
    return 0


def cmd_decode(args) -> int:
    from .decode import decode, parse_hex

    if args.file in (None, "-"):
        raw = sys.stdin.buffer.read()
    else:
        try:
            with open(args.file, "rb") as fh:
                raw = fh.read()
        except OSError as e:
            raise HbError(f"cannot read capture {args.file}: {e.strerror}") from None
    if args.binary:
        data = raw
    else:
        try:
            data = parse_hex(raw.decode("ascii", errors="replace"))
        except ValueError as e:
            raise HbError(str(e)) from None
    for rec in decode(data, args.chip):
        print(json.dumps(rec))
    return 0


def cmd_freq(args) -> int:
    req = {"mhz": args.mhz}
    if args.module is not None:
        req["module"] = args.module
    if args.chip is not None:
        req["chip"] = args.chip
    with _link(args) as link:
        print(json.dumps(link.request("set_freq", req)))
    return 0


def _simple(op: str, req: dict):
    def run(args) -> int:
        with _link(args) as link:
            print(json.dumps(link.request(op, req(args) if callable(req) else req)))
        return 0

    return run


def _power_args(args) -> dict:
    return {"target_w": None if args.off else args.target}


def cmd_boards(args) -> int:
    for name in boards.names():
        cfg = boards.load(name)
        print(f"{name:<16} {cfg.get('description', '')}")
    return 0


# ---------------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hbctl", description="Control modular hashboards, real or virtual.")
    p.add_argument("--port", help="board's serial port or pyserial URL (env HB_PORT)")
    p.add_argument("--timeout", type=float, default=3.0, help="seconds to wait for an answer")
    p.add_argument("--i2c", metavar="BUS:ADDR",
                   help="talk to the control-board I2C interface instead of the serial port "
                        "(BUS: Linux I2C bus number, or a virtual board's control socket path)")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    s = sub.add_parser("sim", help="start a virtual board (prints its port as JSON)")
    s.add_argument("--board", default="modular-4x")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--chip-profile", help="chip profile JSON (docs/emulator.md)")
    s.add_argument("--fault", action="append", help="fault spec, repeatable (interfaces.md)")
    s.add_argument("--speed", type=float, default=1.0, help="board seconds per wall second")
    s.add_argument("--storage", help="directory keeping the board's flash across runs")
    s.add_argument("--heap", default="320k", help="MicroPython heap size (default 320k)")
    s.add_argument("--ready-timeout", type=float, default=60.0, help=argparse.SUPPRESS)
    s.set_defaults(func=cmd_sim)

    for name, func, help_ in (("status", cmd_status, "board status"), ("info", cmd_info, "board and firmware info"),
                              ("modules", cmd_modules, "modules per slot")):
        c = sub.add_parser(name, help=help_)
        c.add_argument("--json", action="store_true")
        c.set_defaults(func=func)
    e = sub.add_parser("events", help="board events")
    e.add_argument("--json", action="store_true")
    e.add_argument("--follow", action="store_true")
    e.set_defaults(func=cmd_events)
    cli_demo.add_parser(sub)
    dc = sub.add_parser("decode", help="decode captured chain traffic into JSON lines")
    dc.add_argument("file", nargs="?", help="capture file (hex text, or raw with --binary); - = stdin")
    dc.add_argument("--binary", action="store_true")
    dc.add_argument("--chip", default="BM1370")
    dc.set_defaults(func=cmd_decode)
    fq = sub.add_parser("freq", help="set a frequency target (ramped), per module or chip")
    fq.add_argument("mhz", type=float)
    fq.add_argument("--module", type=int)
    fq.add_argument("--chip", type=int)
    fq.set_defaults(func=cmd_freq)
    pw = sub.add_parser("power", help="hold the board at a power target (W)")
    g = pw.add_mutually_exclusive_group(required=True)
    g.add_argument("--target", type=float, help="watts")
    g.add_argument("--off", action="store_true", help="remove the power target")
    pw.set_defaults(func=_simple("power", _power_args))
    ct = sub.add_parser("curtail", help="curtail to a percent of full power (default 0: modules off)")
    ct.add_argument("--level", type=int, default=0)
    ct.set_defaults(func=_simple("curtail", lambda a: {"level": a.level}))
    rs = sub.add_parser("resume", help="end curtailment: back to the prior power")
    rs.set_defaults(func=_simple("resume", {}))
    hb = sub.add_parser("heartbeat", help="arm the host heartbeat contract (fail policy on expiry)")
    hb.add_argument("--policy", choices=["hold", "curtail", "off", "none"], default="curtail")
    hb.add_argument("--timeout", type=float, default=30.0, help="seconds")
    hb.set_defaults(func=_simple("heartbeat", lambda a: {"policy": None if a.policy == "none" else a.policy,
                                                         "timeout_s": a.timeout}))
    cl = sub.add_parser("clear", help="acknowledge latched faults")
    cl.add_argument("--module", type=int)
    cl.set_defaults(func=_simple("clear", lambda a: {} if a.module is None else {"module": a.module}))
    vo = sub.add_parser("vout", help="set the module string voltage (ramped, within limits)")
    vo.add_argument("volts", type=float)
    vo.add_argument("--module", type=int)
    vo.set_defaults(func=_simple("set_vout", lambda a: {"volts": a.volts} if a.module is None
                                 else {"volts": a.volts, "module": a.module}))
    pf = sub.add_parser("profile", help="store the module's live tuning as its EEPROM profile")
    pf.add_argument("action", choices=["save"])
    pf.add_argument("module", type=int)
    pf.add_argument("--json", action="store_true")
    pf.set_defaults(func=cmd_profile_save)
    rp = sub.add_parser("repairs", help="show (or append to) a module's repair log")
    rp.add_argument("module", type=int)
    rp.add_argument("--add", metavar="ACTION", help="record a repair: " + ", ".join(REPAIR_CODES))
    rp.add_argument("--chip", type=int, help="chip position the repair concerns")
    rp.add_argument("--date", help="YYYY-MM-DD (default today)")
    rp.add_argument("--json", action="store_true")
    rp.set_defaults(func=cmd_repairs)
    b = sub.add_parser("boards", help="list board definitions")
    b.set_defaults(func=cmd_boards)
    cli_update.add_parsers(sub)
    cli_tune.add_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_usage(sys.stderr)
        print("hbctl: error: a command is required", file=sys.stderr)
        return 2
    try:
        if args.i2c:
            return cli_i2c.run(args)
        return args.func(args)
    except (HbError, boards.BoardError, ValueError, OSError) as e:
        print(f"hbctl: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
