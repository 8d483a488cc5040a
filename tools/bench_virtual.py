"""Benchmark the virtual board: wall time from start to a settled controller, peak heap, and
the firmware's compiled size; boards started together in one process (wall time until each is
ready, and its effective speed once hashing). Prints numbers; not a test.
Usage: python -m tools.bench_virtual [--speed 1 10] [--runs 3] [--boards 4] [--busy-core]"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from hostlib.link import Link
from hostlib.sim.virtual import VirtualBoard
from tools import build_mpy


def boot_once(speed: float) -> tuple[float, int, int, int]:
    t0 = time.monotonic()
    with VirtualBoard(speed=speed) as vb:
        ready = vb.wait_ready(120)
        t_ready = time.monotonic() - t0
        board_ms = vb.board_ms()
        if not ready:
            raise SystemExit("board never became ready")
        vb.wait_board(20)  # let telemetry run a while before reading the heap peak
        with Link(vb.port, timeout=10) as link:
            st = link.request("status")
    return t_ready, board_ms, st["heap"]["peak"], st["heap"]["total"]


def many_in_one_process(n: int, speed: float) -> tuple[list[float], list[float]]:
    """The issue-11 reproduction with n boards: each started after the previous is ready.
    (wall seconds each took to be ready, effective speed of each once all run)"""
    boards = []
    ready = []
    t0 = time.monotonic()
    try:
        for i in range(n):
            vb = VirtualBoard(speed=speed, seed=i)
            vb.start()
            boards.append(vb)
            t_start = time.monotonic()
            ok = vb.wait_ready(60)
            ready.append(time.monotonic() - t_start)
            print(f"{n} boards x{speed:g}: board {i} ready={ok} after {time.monotonic() - t_start:.1f} s wall "
                  f"({time.monotonic() - t0:.1f} s since the first start)")
        b0 = [vb.board_ms() for vb in boards]
        w0 = time.monotonic()
        time.sleep(5)
        dw = time.monotonic() - w0
        eff = [(vb.board_ms() - b) / 1000 / dw for vb, b in zip(boards, b0)]
        print(f"{n} boards x{speed:g}: effective speed while all run " + ", ".join(f"x{e:.1f}" for e in eff))
    finally:
        for vb in boards:
            vb.stop()
    return ready, eff


def hbctl_sim_ready(speed: float) -> float:
    t0 = time.monotonic()
    p = subprocess.Popen([str(Path(sys.executable).with_name("hbctl")), "sim", "--speed", str(speed)],
                         stdout=subprocess.PIPE, text=True)
    p.stdout.readline()
    dt = time.monotonic() - t0
    p.terminate()
    p.wait(15)
    return dt


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--speed", type=float, nargs="+", default=[1.0, 10.0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--boards", type=int, default=0, help="also start N boards in one process")
    ap.add_argument("--busy-core", action="store_true", help="keep one core busy meanwhile")
    a = ap.parse_args(argv)
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if a.busy_core else None
    try:
        return run(a)
    finally:
        if hog is not None:
            hog.kill()


def run(a: argparse.Namespace) -> int:
    if a.boards:
        for speed in a.speed:
            many_in_one_process(a.boards, speed)
        return 0
    for speed in a.speed:
        rows = [boot_once(speed) for _ in range(a.runs)]
        walls = [r[0] for r in rows]
        print(f"speed {speed:g}: start->settled {statistics.median(walls):.2f} s wall "
              f"(min {min(walls):.2f}, max {max(walls):.2f}), {statistics.median([r[1] for r in rows]) / 1000:.1f} s board; "
              f"peak heap {max(r[2] for r in rows)} of {rows[0][3]} bytes")
        print(f"speed {speed:g}: `hbctl sim` start -> first stdout line (ready) {hbctl_sim_ready(speed):.2f} s wall")
    for arch in build_mpy.ARCHES:
        sizes = build_mpy.compile_all(arch, Path(tempfile.mkdtemp()))
        print(f".mpy total ({arch}): {sum(sizes.values())} bytes in {len(sizes)} files")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
