"""Power/thermal safety benchmark on the fast lane (board time; prints numbers, not a test):
reaction time from the first over-threshold reading to the first power-reducing action,
control periods spent powered above dangerous across the fault suite, curtail and resume times,
power-target settling time and steady error.
Usage: python -m tools.bench_safety"""

from __future__ import annotations

import statistics
import sys

from hostlib.sim.fastlane import FastBoard

PERIOD = 100


def settled() -> FastBoard:
    fb = FastBoard()
    fb.run_for(10000)
    return fb


def reaction(spec: str, threshold_key: str) -> float:
    """ms from the first sensor reading over the threshold to the first throttle/off action."""
    fb = settled()
    lim = fb.cfg["limits"]["thermal"][threshold_key]
    fb.sim.inject(spec)
    first_over = None
    while fb.clock.ms < 900000:
        fb.run_for(PERIOD)
        m = fb.app.modules[0]
        hot = max((t for t in m.temps if t is not None), default=None)
        if first_over is None and hot is not None and hot >= lim:
            first_over = fb.clock.ms
        if first_over is not None and (m.thermal.level > 0 or m.state == "fault"):
            return fb.clock.ms - first_over
    return float("nan")


def periods_above_dangerous() -> int:
    worst = 0
    for spec in ("airflow:0.05", "ambient:70", "sensor:m0.outlet:stuck", "vrm:0:ot", "vrm:0:oc"):
        fb = settled()
        fb.sim.inject(spec)
        danger = fb.cfg["limits"]["thermal"]["dangerous_c"]
        count = 0
        for _ in range(3000):
            fb.run_for(PERIOD)
            for hw in fb.sim.modules:
                if hw.vrm.enabled() and hw._outlet() >= danger + 0.5:
                    count += 1
        worst = max(worst, count)
    return worst


def curtail_resume() -> tuple[float, float]:
    fb = settled()
    full = fb.app.power_w()
    fb.request("curtail", level=0)
    t0 = fb.clock.ms
    while fb.app.power_w() > 0.05 * full:
        fb.run_for(PERIOD)
    t_curtail = fb.clock.ms - t0
    fb.request("resume")
    t0 = fb.clock.ms
    while abs(fb.app.power_w() - full) > 0.03 * full:
        fb.run_for(PERIOD)
    return t_curtail, fb.clock.ms - t0


def power_target(target: float = 900.0) -> tuple[float, float]:
    fb = settled()
    fb.request("power", target_w=target)
    t0 = fb.clock.ms
    inside = None
    while fb.clock.ms - t0 < 60000:
        fb.run_for(PERIOD)
        if abs(fb.app.power_w() - target) <= 0.03 * target:
            inside = inside or fb.clock.ms
        else:
            inside = None
        if inside and fb.clock.ms - inside >= 3000:
            break
    settle = (inside or fb.clock.ms) - t0
    errs = []
    for _ in range(300):
        fb.run_for(PERIOD)
        errs.append(abs(fb.app.power_w() - target) / target)
    return settle, statistics.mean(errs)


def main() -> int:
    print(f"reaction, dangerous (airflow loss): {reaction('airflow:0.05', 'dangerous_c'):.0f} ms board")
    print(f"reaction, hot (ambient 45 C): {reaction('ambient:45', 'hot_c'):.0f} ms board")
    print(f"control periods powered above dangerous, worst of 5 fault scenarios: {periods_above_dangerous()}")
    c, r = curtail_resume()
    print(f"curtail to <=5 % power: {c:.0f} ms board; resume to within 3 % of prior power: {r:.0f} ms board")
    s, e = power_target()
    print(f"power target 900 W: settles (within 3 % for 3 s) after {s:.0f} ms board, steady error {e * 100:.2f} %")
    return 0


if __name__ == "__main__":
    sys.exit(main())
