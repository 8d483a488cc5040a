"""Chain-control benchmark (prints numbers, not a test):
  1. bring-up of modular-4x from power-on to every chip at 525 MHz, in board time
     (fast lane: firmware compute takes no board time; virtual board: the real unix port at x1);
  2. bytes on the wire per full telemetry sweep of one chain against the protocol minimum;
  3. firmware time per decoded response frame on the MicroPython unix port.
Usage: python -m tools.bench_chain"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from hashboard import bm13xx
from hostlib.link import Link
from hostlib.sim.fastlane import FastBoard
from hostlib.sim.virtual import VirtualBoard

REPO = Path(__file__).resolve().parents[1]


def bringup_fast() -> float:
    fb = FastBoard()
    while True:
        fb.run_for(50)
        if all(m.state == "hashing" for m in fb.app.modules):
            return fb.clock.ms / 1000


def bringup_virtual(speed: float = 1.0) -> float:
    return bringup_and_ramp_virtual(speed)[0]


def bringup_and_ramp_virtual(speed: float = 1.0) -> tuple[float, float]:
    """Board seconds from boot to every module hashing, and the longest frequency ramp
    (a module's `ramping` to its `hashing`), from the firmware's own events."""
    with VirtualBoard(speed=speed) as vb:
        if not vb.wait_ready(120):
            raise SystemExit("virtual board never ready")
        with Link(vb.port, timeout=10) as link:
            evs = link.request("events", {"since": 0})
    boot = next(e["ms"] for e in evs if e["kind"] == "boot")
    done = max(e["ms"] for e in evs if e["kind"] == "module" and e["detail"] == "hashing")
    ramps = []
    for m in sorted({e["module"] for e in evs if e["kind"] == "module"}):
        mine = [e for e in evs if e["kind"] == "module" and e["module"] == m]
        start = next((e["ms"] for e in mine if e["detail"] == "ramping"), None)
        end = next((e["ms"] for e in mine if e["detail"] == "hashing" and start is not None and e["ms"] >= start), None)
        if start is not None and end is not None:
            ramps.append(end - start)
    return (done - boot) / 1000, max(ramps, default=0) / 1000


def sweep_bytes() -> tuple[int, int, int]:
    fb = FastBoard()
    fb.run_for(8000)
    chain = fb.app.modules[0].chain
    emu = fb.sim.modules[0].chain
    chain.poll()
    tx0, rx0 = emu.bytes_in, emu.bytes_out
    chain._sweeps = 1  # a sweep without the periodic id check
    chain.sweep()
    tx, rx = emu.bytes_in - tx0, emu.bytes_out - rx0
    minimum = 2 * 7 + 2 * chain.expected * 11  # two broadcast reads, one 11-byte reply per chip
    return tx, rx, minimum


MP_SCRIPT = """
import time
from hashboard import bm13xx
from hashboard.chain import Chain
from hashboard import bm1370
class U:
    def write(self, b): pass
    def any(self): return 0
class C:
    def ticks_ms(self): return time.ticks_ms()
    def sleep_ms(self, ms): pass
ch = Chain(U(), bm1370, 24, C())
ch.parser.set_frame_len(11)
ch._reading = 0x8C
frames = bytearray(FRAMES)
n = len(frames)
t = time.ticks_us()
for _ in range(ROUNDS):
    ch.parser.feed(frames, n, ch._on_frame)
dt = time.ticks_diff(time.ticks_us(), t)
print(dt / (ROUNDS * 24))
"""


def per_frame_us() -> float:
    frames = b"".join(bm13xx.make_response((1000 * i).to_bytes(4, "big") + bytes((i * 10, 0x8C, 0, 0)), 0)
                      for i in range(24))
    script = MP_SCRIPT.replace("FRAMES", repr(frames)).replace("ROUNDS", "200")
    exe = Path(sys.executable).with_name("micropython")
    out = subprocess.run([str(exe), "-X", "heapsize=192k", "-c", script], cwd=REPO / "firmware",
                         capture_output=True, text=True, check=True).stdout
    return float(out.strip())


def main() -> int:
    print(f"bring-up modular-4x to all 96 chips at 525 MHz: {bringup_fast():.2f} s board (fast lane)")
    print(f"bring-up modular-4x to all 96 chips at 525 MHz: {bringup_virtual():.2f} s board "
          "(MicroPython unix port, x1)")
    tx, rx, minimum = sweep_bytes()
    print(f"telemetry sweep, one 24-chip chain: {tx} B out + {rx} B in = {tx + rx} B; "
          f"protocol minimum {minimum} B (ratio {(tx + rx) / minimum:.2f})")
    print(f"firmware time per decoded response frame (unix port): {per_frame_us():.1f} us")
    return 0


if __name__ == "__main__":
    sys.exit(main())
