"""Hot-swap benchmark (prints numbers, not a test). On the fast lane (board time, exact) and on
the real-MicroPython virtual board (board time as the emulators see it):
- insertion to hashing at the module's stored profile (every chip at its stored frequency);
- presence loss to regulator enable low (a yank while hashing, and one mid-ramp);
- the other modules' hashrate during a swap, against their own noise before it.
Usage: python -m tools.bench_hotswap [--virtual-speed 5]"""

from __future__ import annotations

import argparse
import statistics
import sys

sys.path.insert(0, "hil_tests")

import hotswap_scenarios as S  # noqa: E402


def presence_loss_to_off(fb_lane, slot: int, during_ramp: bool) -> float:
    sim = fb_lane.sim
    if during_ramp:
        sim.remove_module(slot)
        fb_lane.run(1000)
        sim.yank_when(slot, "ramp")
        sim.insert_module(slot, S.module_image(f"R{slot}"))
        while slot not in sim.yanked_at:
            fb_lane.run(1)
        t0 = sim.yanked_at.pop(slot) * 1000
    else:
        sim.remove_module(slot)
        t0 = fb_lane.now_ms()
    while sim.vrm_enable[slot]:
        fb_lane.run(1)
    dt = fb_lane.now_ms() - t0
    sim.insert_module(slot, S.module_image(f"B{slot}"))
    fb_lane.run(6000)
    return dt


def neighbour_dip(lane, slot: int) -> tuple[float, float]:
    """(worst relative deviation of a neighbour during the swap, its noise before), percent."""
    before = [S.module_ghs(lane) for _ in range(10) if lane.run(1000) is None]
    lane.sim.remove_module(slot)
    img, _ = S.tuned(f"N{slot}")
    during = []
    for i in range(8):
        if i == 1:
            lane.sim.insert_module(slot, img)
        lane.run(1000)
        during.append(S.module_ghs(lane))
    worst, noise = 0.0, 0.0
    for m in range(4):
        if m == slot:
            continue
        series = [b[m] for b in before]
        mean = statistics.mean(series)
        noise = max(noise, 100 * (max(series) - min(series)) / mean)
        worst = max(worst, max(100 * abs(d[m] - mean) / mean for d in during))
    return worst, noise


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--virtual-speed", type=float, default=5.0)
    args = ap.parse_args()
    fast = S.FastLane()
    print("fast lane (in-process firmware, manual clock):")
    times = S.swap_all_in_turn(fast)
    print(f"  insertion -> hashing at stored profile: {', '.join(f'{t:.0f}' for t in times)} ms board "
          f"(max {max(times):.0f})")
    off = [presence_loss_to_off(fast, s, False) for s in range(4)]
    print(f"  presence loss -> regulator off (hashing): max {max(off):.0f} ms board (control period 100)")
    off_r = [presence_loss_to_off(fast, s, True) for s in range(4)]
    print(f"  presence loss -> regulator off (mid-ramp): max {max(off_r):.0f} ms board")
    worst, noise = neighbour_dip(fast, 2)
    print(f"  neighbours during a swap: worst deviation {worst:.2f} % vs their own spread {noise:.2f} %")
    vl = S.VirtualLane(speed=args.virtual_speed)
    try:
        print(f"real MicroPython unix port (x{args.virtual_speed:g}, polled over the link):")
        times = S.swap_all_in_turn(vl)
        print(f"  insertion -> hashing at stored profile: {', '.join(f'{t:.0f}' for t in times)} ms board "
              f"(max {max(times):.0f}; includes status polling latency)")
        worst, noise = neighbour_dip(vl, 1)
        print(f"  neighbours during a swap: worst deviation {worst:.2f} % vs their own spread {noise:.2f} %")
    finally:
        vl.close()


if __name__ == "__main__":
    main()
