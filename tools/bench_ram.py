"""RAM of the firmware on the real interpreter (issue 15): the heap at ready and its peak (status
`heap`), and the allocation of the steady-state control loop, measured by the board itself over N
control periods while every module hashes (op `alloc_probe`, firmware/hashboard/allocprobe.py).

    python -m tools.bench_ram [--periods 1000] [--heap 320k]

Prints the figures; docs/benchmarks.md ("RAM") quotes them."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for p in (ROOT, ROOT / "firmware"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from hostlib.link import Link  # noqa: E402
from hostlib.sim.virtual import VirtualBoard  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--periods", type=int, default=1000)
    ap.add_argument("--heap", default="320k")
    a = ap.parse_args(argv)
    with VirtualBoard(speed=1.0, heap=a.heap) as vb:
        if not vb.wait_ready(120):
            print("board did not become ready")
            return 1
        with Link(vb.port, timeout=10) as ln:
            t_end = time.monotonic() + 120
            while time.monotonic() < t_end:  # every module hashing (the steady state)
                st = ln.request("status")
                if all(m["state"] == "hashing" for m in st["modules"]):
                    break
                time.sleep(1)
            heap0 = st.get("heap", {})
            ln.request("alloc_probe", {"periods": a.periods})
            while True:
                time.sleep(2)
                d = ln.request("alloc_probe")
                if d["periods_left"] <= 0:
                    break
            heap1 = ln.request("status").get("heap", {})
    print(f"heap {a.heap} (64-bit unix port): at hashing {heap0}, after {a.periods} periods {heap1}")
    print(f"control steps measured {d['steps']} of {a.periods} ({d['lost_to_gc']} had a collection inside)")
    print(f"allocated per control step: mean {d['per_step']:.0f} B, max {d['max_step']} B; "
          f"per whole period (loop, host lines, ramps): {d['per_period']:.0f} B")
    return 0


if __name__ == "__main__":
    sys.exit(main())
