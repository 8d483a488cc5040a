"""hbctl demo: start a virtual board and show its live status, the newcomer's first command.

On a terminal the table is redrawn in place, like `top`: cursor home, each line ends by erasing
the rest of it, then the rest of the screen is erased (no flicker of a full clear per frame).
Into a pipe or file it prints plain successive tables, one per refresh, with no escape codes.
SIGTERM and Ctrl-C stop it cleanly: the board's process and temporary files go with it."""

from __future__ import annotations

import json
import sys
import time

from . import signals
from .cli_base import add_json, count, positive
from .cli_sim import SimStopped, seed, speed
from .link import Link
from .paths import DEFAULT_BOARD
from .statusview import status_lines

HOME, CLEAR, ERASE_LINE, ERASE_BELOW = "\x1b[H", "\x1b[2J", "\x1b[K", "\x1b[J"
HIDE_CURSOR, SHOW_CURSOR = "\x1b[?25l", "\x1b[?25h"


class Screen:
    """Where frames go: redrawn in place on a terminal, appended otherwise."""

    def __init__(self, out) -> None:
        self.out = out
        self.tty = out.isatty()
        self.frames = 0

    def show(self, lines: list[str]) -> None:
        if self.tty:
            start = (HIDE_CURSOR + HOME + CLEAR) if self.frames == 0 else HOME
            self.out.write(start + "".join(line + ERASE_LINE + "\n" for line in lines) + ERASE_BELOW)
        else:
            self.out.write(("\n" if self.frames else "") + "\n".join(lines) + "\n")
        self.out.flush()
        self.frames += 1

    def close(self) -> None:
        if self.tty and self.frames:
            self.out.write(SHOW_CURSOR)
            self.out.flush()


def cmd_demo(args) -> int:
    from .sim.virtual import VirtualBoard

    t0 = time.monotonic()
    screen = Screen(sys.stdout)
    vb = VirtualBoard(board=args.board, seed=args.seed, faults=args.fault or (), speed=args.speed)
    with signals.stop_on_signals():
        ready = False
        try:
            vb.start()
            intro = [f"virtual {args.board} on the MicroPython unix port, board time x{args.speed:g}",
                     f"port {vb.port}  (try: hbctl --port {vb.port} status, or mpremote connect {vb.port} resume repl)"]
            if not args.json:
                print("\n".join(intro), flush=True)
            vb.wait_booted(60)
            ready = True
            intro.append(f"ready after {time.monotonic() - t0:.1f} s wall; Ctrl-C to stop")
            if not screen.tty and not args.json:
                print(intro[-1] + "\n", flush=True)
            vb.wait_board(2.5)  # the first telemetry sweeps: hashrate is measured, not assumed
            _show(args, vb, screen, intro)
        except signals.Stopped as s:
            if not ready:
                raise SimStopped(s) from None
        finally:
            signals.hold()
            screen.close()
            vb.stop()
    return 0


def _show(args, vb, screen: Screen, intro: list[str]) -> None:
    """Refresh until --duration or --count (or a signal)."""
    end = None if args.duration is None else time.monotonic() + args.duration
    shown = 0
    with Link(vb.port, timeout=5.0) as link:
        while True:
            st = link.request("status")
            if args.json:
                print(json.dumps(st), flush=True)
            else:
                head = [*intro, ""] if screen.tty else []  # a terminal keeps the intro on screen
                screen.show(head + [f"board time {st.get('uptime_ms', 0) / 1000:.1f} s"] + status_lines(st))
            shown += 1
            if (end is not None and time.monotonic() >= end) or shown == args.count:
                return
            time.sleep(args.interval)


def add_parser(sub) -> None:
    d = sub.add_parser("demo", help="start a virtual board and show its live state (Ctrl-C stops)")
    d.add_argument("--board", default=DEFAULT_BOARD, help=f"board name or JSON path (default {DEFAULT_BOARD})")
    d.add_argument("--seed", type=seed, default=0, help="emulator seed (default 0)")
    d.add_argument("--fault", action="append", help="fault spec, repeatable (as for sim)")
    d.add_argument("--speed", type=speed, default=5.0, help="board seconds per wall second, at most (default 5)")
    d.add_argument("--interval", type=positive, default=2.0, help="seconds between refreshes (default 2)")
    d.add_argument("--duration", type=positive, help="stop after this many seconds (default: run until Ctrl-C)")
    d.add_argument("--count", type=count, help="stop after this many refreshes (default: run until Ctrl-C)")
    add_json(d, help="each refresh as the status document, one JSON object per line")
    d.set_defaults(func=cmd_demo)
