"""hbctl verbs that need no board: `sim` (start a virtual board) and `boards` (the definitions).

Every value of `sim` is checked before anything starts: the heap in MicroPython's own -X
heapsize syntax, the speed, the seed, the board, the fault specs, the chip profile."""

from __future__ import annotations

import argparse
import json
import os
import time

from . import boards, signals
from .cli_base import UsageError, add_json, integer, positive, show
from .paths import DEFAULT_BOARD

HEAP_MIN, HEAP_MAX = 700, 256 * 1024 * 1024  # more than 256 MB is no MCU's heap
SPEED_MAX = 1000.0
SEED_MAX = 2**31 - 1  # the seed is in module serials (HB<seed>-<slot>), 16 characters at most


def heap_size(text: str) -> str:
    """--heap as MicroPython takes it (argparse type); refused here, not after a failed boot."""
    from .sim.virtual import heap_bytes

    try:
        n = heap_bytes(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    if not HEAP_MIN <= n <= HEAP_MAX:
        raise argparse.ArgumentTypeError(f"{text!r} is outside 700 bytes .. 256m")
    return text


def speed(text: str) -> float:
    v = positive(text)
    if v > SPEED_MAX:
        raise argparse.ArgumentTypeError(f"{text!r} is above {SPEED_MAX:g}")
    return v


def seed(text: str) -> int:
    v = integer(text)
    if not 0 <= v <= SEED_MAX:
        raise argparse.ArgumentTypeError(f"{text!r} is outside 0..{SEED_MAX}")
    return v


def cmd_sim(args) -> int:
    if args.boards < 1:
        raise UsageError(f"--boards: at least 1, got {args.boards}")
    if args.lane == "fast":
        return _sim_farm(args)
    if args.boards != 1:
        raise UsageError("--boards above 1 needs --lane fast (each MicroPython board takes a process)")
    from .sim.virtual import VirtualBoard

    t0 = time.monotonic()
    # the board, fault specs and chip profile are checked here, before anything starts
    vb = VirtualBoard(board=args.board, seed=args.seed, chip_profile=args.chip_profile,
                      faults=args.fault or (), speed=args.speed, storage=args.storage, heap=args.heap)
    with signals.stop_on_signals():
        started = False
        try:
            vb.start()
            vb.wait_booted(args.ready_timeout)
            doc = {"port": vb.port, "control": vb.control_path, "board": vb.board_name,
                   "pid": os.getpid(), "speed": args.speed, "ready": True,
                   "ready_s": round(time.monotonic() - t0, 3), "state": vb.board_state}
            started = True  # from the first line on, a signal is the normal end
            print(json.dumps(doc), flush=True)
            while True:
                time.sleep(1.0)  # until SIGINT or SIGTERM
        except signals.Stopped as s:
            if started:
                return 0  # the way a running virtual board is meant to end
            raise SimStopped(s) from None
        finally:
            signals.hold()
            vb.stop()


def _sim_farm(args) -> int:
    """--lane fast: N paced fast-lane boards on ptys in this process (hostlib/sim/farm.py)."""
    from .sim.farm import Farm

    for flag, given in (("--fault", args.fault), ("--storage", args.storage), ("--chip-profile", args.chip_profile)):
        if given:
            raise UsageError(f"{flag} is for the MicroPython lane; --lane fast boards are built from --seed only")
    farm = Farm(args.boards, board=args.board, seed0=args.seed, speed=args.speed)
    with signals.stop_on_signals():
        try:
            with farm:
                return signals.serve_until_stopped({"port": farm.ports[0], "ports": farm.ports, "lane": "fast",
                                                    "board": args.board, "pid": os.getpid(), "speed": args.speed,
                                                    "ready": True})
        except signals.Stopped:
            return 0  # a signal while the boards started
        finally:
            signals.hold()


class SimStopped(signals.Stopped):
    """A signal ended `sim` or `demo` before its board was ready: the start did not complete."""

    def __init__(self, s: signals.Stopped) -> None:
        super().__init__(s.signum)

    def __str__(self) -> str:
        return f"stopped by {super().__str__()} before the virtual board was ready"


def cmd_boards(args) -> int:
    rows = []
    for name in boards.names():
        cfg = boards.load(name)
        rows.append({"name": name, "description": cfg.get("description", ""), "chip": cfg["chip"],
                     "slots": len(cfg["slots"]), "chips_per_module": cfg["module"]["chips"],
                     "default": name == DEFAULT_BOARD})
    return show(args, rows, [f"{r['name']:<16} {r['description']}" for r in rows])


def add_parsers(sub) -> None:
    s = sub.add_parser("sim", help="start a virtual board; its first stdout line is JSON with its port",
                       description="Start a virtual board (the firmware on the MicroPython unix port, "
                                   "emulated chips and regulators). The first stdout line is one JSON "
                                   "object (port, control, board, pid, speed, ready, ready_s, state), "
                                   "printed once the controller is ready. Runs until SIGINT or SIGTERM.")
    s.add_argument("--board", default=DEFAULT_BOARD, help=f"board name or JSON path (default {DEFAULT_BOARD})")
    s.add_argument("--seed", type=seed, default=0, help="emulator seed, 0..2^31-1 (default 0)")
    s.add_argument("--chip-profile", help="chip profile JSON file (docs/emulator.md)")
    s.add_argument("--fault", action="append",
                   help="fault spec, repeatable: chip:M.I:dead|flaky|badid|unstable|weak, link:M.I, "
                        "vrm:M:ot|oc|uv|nack, sensor:NAME:open|short|stuck, uart:M:noise=RATE, "
                        "ambient:CELSIUS, airflow:FRACTION (docs/emulator.md)")
    s.add_argument("--speed", type=speed, default=1.0, help="at most this many board seconds per wall second "
                                                           "(above 0, up to 1000; default 1)")
    s.add_argument("--storage", help="directory keeping the board's flash across runs (default: temporary)")
    s.add_argument("--heap", type=heap_size, default="256k",
                   help="the firmware's MicroPython heap, -X heapsize syntax: N[w][k|m] (default 256k; "
                        "the virtual ROMFS partition comes on top)")
    s.add_argument("--lane", choices=("mpy", "fast"), default="mpy",
                   help="mpy: the firmware on the MicroPython unix port (default); fast: the firmware's "
                        "code on CPython in this process, clock paced to wall time, on a pty (light "
                        "enough for a rack: --boards N; no --fault, --storage, --heap)")
    s.add_argument("--boards", type=integer, default=1, help="how many boards (--lane fast; first line "
                                                             "JSON has all their ports, 'ports')")
    s.add_argument("--ready-timeout", type=positive, default=60.0, help=argparse.SUPPRESS)
    add_json(s, help="accepted for uniformity: the first line is always JSON")
    s.set_defaults(func=cmd_sim)
    b = sub.add_parser("boards", help="list the board definitions")
    add_json(b, "the list")
    b.set_defaults(func=cmd_boards)
