"""The tuner in a hot room with a weak fan (fast lane, the whole firmware): before its own fit
of the heat sink exists it plans with the board definition's nominal thermal resistance, so no
mode runs the module into the thermal guard while it learns (issue 13: every sensor below hot_c
with margin). It once peaked at 76.4 C with 24 throttle steps in hashrate mode."""

import pytest

from hostlib.sim.fastlane import FastBoard


@pytest.mark.parametrize("mode,target", [("hashrate", 25.0), ("power", 330.0), ("efficiency", 20.0)])
def test_tuning_in_a_hot_room_stays_below_hot_without_throttling(mode, target):
    fb = FastBoard(faults=("ambient:40", "airflow:0.3"))
    for s in (1, 2, 3):
        fb.sim.remove_module(s)
    fb.run_for(3000)
    assert '"ok": true' in fb.request("tune", mode=mode, target=target, module=0)
    hot = fb.cfg["limits"]["thermal"]["hot_c"]
    peak = 0.0
    for _ in range(3000):  # 300 board seconds
        fb.run_for(100)
        peak = max(peak, max(d.source() for d in fb.sim.modules[0].sensors.values()))
    throttles = [e for e in fb.app.events.items if e[2] in ("throttle", "shutdown") and e[3] == 0]
    assert peak < hot - 0.5, peak
    assert throttles == []
    assert fb.app.modules[0].state == "hashing"
