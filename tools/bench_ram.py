"""RAM of the firmware on the real interpreter (issue 15): the heap at ready and its peak (status
`heap`), and the allocation of the steady-state control loop, measured by the board itself over N
control periods while every module hashes (op `alloc_probe`, firmware/hashboard/allocprobe.py).

    python -m tools.bench_ram [--periods 1000] [--heap 256k] [--code]

Prints the figures; docs/benchmarks.md ("RAM") quotes them. `--code` also prints what each
firmware module loaded at boot holds on the heap, compiled from sources and run from the ROMFS
image (docs/update.md, "Code in ROM"), the interpreter's interned-name pool, and the sum."""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for p in (ROOT, ROOT / "firmware"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from hostlib import boards  # noqa: E402
from hostlib.link import Link  # noqa: E402
from hostlib.romimage import image_of  # noqa: E402
from hostlib.sim.virtual import DEFAULT_HEAP, ROM_BYTES, VirtualBoard, _micropython, mcu_arch  # noqa: E402

# Run on the interpreter: import what the controller imports at boot, then re-import each module
# alone (its names already interned) to size its own code; the first pass's total includes the
# names. Modules loaded later (lazy ops, diag, tuner modes) are not counted.
_CODE_PROBE = """
import gc, sys, micropython, vfs
sys.path.insert(0, FIRMWARE)
if ROM:  # the image in a bytearray taken before the count starts, as the virtual board's partition
    seg = bytearray(ROM_BYTES)
    with open(ROM, "rb") as f:
        f.readinto(seg)
    vfs.mount(vfs.VfsRom(seg), "/rom")
    sys.path.insert(0, "/rom")
gc.collect(); a0 = gc.mem_alloc()
import hashboard, hashboard.app, hashboard.hal, hashboard.settings, hashboard.hostlink
gc.collect(); total = gc.mem_alloc() - a0
sizes = []
for n in sorted(k for k in sys.modules if k.startswith("hashboard.")):
    short = n.split(".")[1]
    saved = sys.modules.pop(n)
    gc.collect(); b0 = gc.mem_alloc()
    __import__(n)
    gc.collect(); sizes.append((gc.mem_alloc() - b0, short))
    sys.modules[n] = saved
    setattr(hashboard, short, saved)
sizes.sort()
for b, n in sizes:
    print("%7d  %s" % (b, n))
print("%7d  the modules' own code (sum)" % sum(b for b, n in sizes))
print("%7d  all of it at first import, interned names included" % total)
micropython.qstr_info()
"""


def code_sizes(rom: bool) -> None:
    """What the code loaded at boot holds on the heap: from sources (a board flashed by hand), or
    run from the ROMFS image the factory programs (romcache.py)."""
    img_path = ""
    if rom:
        img, _ = image_of(ROOT / "firmware", mcu_arch("armv6m"))  # as the virtual board's factory image
        fd, img_path = tempfile.mkstemp(suffix=".romfs")
        os.write(fd, img)
        os.close(fd)
    script = (_CODE_PROBE.replace("FIRMWARE", repr(str(ROOT / "firmware"))).replace("ROM_BYTES", str(ROM_BYTES))
              .replace("ROM", repr(img_path)))
    try:
        out = subprocess.run([_micropython(), "-X", "heapsize=4m", "-c", script],
                             capture_output=True, text=True, check=True).stdout
    finally:
        if img_path:
            os.unlink(img_path)
    where = "run from the ROMFS image" if rom else "compiled from sources"
    print(f"heap held by each module loaded at boot, {where} (bytes, 64-bit unix port):")
    print(out, end="")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--periods", type=int, default=1000)
    ap.add_argument("--heap", default=DEFAULT_HEAP, help="the firmware's heap (the ROMFS partition comes on top)")
    ap.add_argument("--code", action="store_true", help="also size each module's code on the heap")
    ap.add_argument("--sections", action="store_true",
                    help="also where the steps allocate, per call (wrapped: the step figure then includes the wrappers)")
    a = ap.parse_args(argv)
    if a.code:
        code_sizes(rom=False)
        code_sizes(rom=True)
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
            impl = ln.request("info")["firmware"]["nonce_hash"]
            ln.request("alloc_probe", {"periods": a.periods, "sections": a.sections})
            # no request while it measures: a host line allocates (parsing, the reply), and the
            # figure is the control loop's own
            period_s = boards.load(vb.board_name)["timing"]["control_period_ms"] / 1000
            time.sleep(a.periods * period_s + 1)
            while True:
                time.sleep(2)
                d = ln.request("alloc_probe")
                if d["periods_left"] <= 0:
                    break
            heap1 = ln.request("status").get("heap", {})
    print(f"heap {a.heap} (64-bit unix port): at hashing {heap0}, after {a.periods} periods {heap1}")
    print(f"control steps measured {d['steps']} of {a.periods} (each with the collector held off; "
          f"{d['unmeasured']} unmeasured, too little free heap for that); "
          f"gaps between steps measured {d['gaps']} ({d['lost_to_gc']} had a collection inside)")
    print(f"allocated per control step: mean {d['per_step']:.0f} B, max {d['max_step']} B; "
          f"between two steps (host lines, ramps): {d['per_period']:.0f} B")
    steps = d["steps"] or 1
    print(f"  of which nonce checks ({d['nonces']} checked, {impl}): {d['nonce_bytes'] / steps:.0f} B a step; "
          f"everything else: "
          f"{d['other_bytes']} B in {d['steps']} steps (max {d['other_max']} B in one step)")
    if d.get("sections"):
        steps = d["steps"] or 1
        print("where (bytes per control step, calls per step; nested calls count in their callers too):")
        for label, (b, n) in sorted(d["sections"].items(), key=lambda kv: -kv[1][0]):
            print(f"  {b / steps:8.0f} B  {n / steps:6.2f}  {label}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
