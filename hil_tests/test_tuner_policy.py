"""The tuner's invariants, driven by hypothesis on random silicon (the emulator's physics, no
firmware loop: hil_tests/tune_plant.py): every setting inside the board's limits at every step,
never above the power goal for longer than a settling period, every chip's error fraction at or
below 1 % once converged, the hottest sensor below hot_c, and a chip that cannot keep up
parked instead of holding its domain back."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hashboard.chipedge import ChipEdges
from hashboard.vsearch import EFFICIENCY, HASHRATE, POWER, VoltageSearch
from tune_plant import FLIM, HOT_C, VLIM, Plant, run

SETTLE_S = 20  # a power overshoot (a voltage probe, leakage warming up) must end within this


def _profile(spread: float, slow: list[int]) -> dict:
    chips = [{} for _ in range(24)]
    for i in slow:
        chips[i] = {"F": 660.0 * 0.7}
    return {"constants": {}, "modules": {"0": {"chips": chips}}} if slow else None


# the default suite runs a fixed slice (derandomized: the same silicon on every machine);
# TUNER_EXAMPLES=200 explores fresh silicon each run
_EXPLORE = int(os.environ.get("TUNER_EXAMPLES", "0"))


@settings(max_examples=_EXPLORE or 10, derandomize=not _EXPLORE, deadline=None,
          suppress_health_check=list(HealthCheck), database=None)
@given(seed=st.integers(0, 10_000), goal=st.sampled_from([250.0, 331.0, 400.0]),
       ambient=st.sampled_from([20.0, 30.0]), slow=st.lists(st.integers(0, 23), max_size=2, unique=True))
def test_power_mode_invariants(seed, goal, ambient, slow):
    plant = Plant(seed, profile=_profile(0.06, slow), ambient=ambient)
    over_since = [None]
    worst = {"over_s": 0.0, "sensor": 0.0}

    def check(p, tu):
        assert VLIM["min"] - 1e-9 <= tu.vs <= VLIM["max"] + 1e-9
        for i in range(24):
            assert FLIM["min"] - 1e-9 <= tu.target(i) <= FLIM["max"] + 1e-9
        if p.t > 60:  # the first minute starts from stock settings, which may exceed the goal
            if p.power() > goal * 1.02:
                over_since[0] = p.t if over_since[0] is None else over_since[0]
                worst["over_s"] = max(worst["over_s"], p.t - over_since[0])
            else:
                over_since[0] = None
        worst["sensor"] = max(worst["sensor"], max(p.sensors()))

    tu = run(plant, POWER, goal, 600, on_step=check)
    assert worst["over_s"] <= SETTLE_S, f"over the goal for {worst['over_s']} s"
    assert tu.phase == 2, "not converged in 600 s"
    assert max(c.err for c in plant.m.chips if c.f_mhz > FLIM["min"]) <= 0.01
    assert worst["sensor"] < HOT_C
    assert plant.power() <= goal * 1.02
    for i in slow:
        # a chip at 70 % of its neighbours' speed is parked (or far below them), not their pace
        assert tu.edges.state[i] == 3 or plant.m.chips[i].f_mhz < 0.8 * sorted(c.f_mhz for c in plant.m.chips)[12]


def test_cooling_limited_module_settles_below_hot():
    """Issue 13's measurement: airflow 0.3 and 40 degC air, no power goal to speak of. The heat
    fit moves the module to what the cooling carries instead of throttling behind a rising
    sensor: no reading above hot_c, and most of the hashrate that power could carry."""
    plant = Plant(4, ambient=40.0, airflow=0.3)
    peak = [0.0]

    def watch(p, tu):
        peak[0] = max(peak[0], max(p.sensors()))

    tu = run(plant, POWER, 5000.0, 700, on_step=watch)
    assert peak[0] < HOT_C, peak[0]
    # what the cooling carries with the outlet at hot_c: outlet = ambient + 2 + R_SA * P
    r_sa = 0.108 / 0.3 ** 0.8
    p_max = (HOT_C - 40.0 - 2.0) / r_sa
    assert plant.power() >= 0.85 * p_max, (plant.power(), p_max)
    assert tu.ceiling_w is not None and tu.ceiling_w < 1.2 * p_max


def test_hashrate_and_efficiency_modes_meet_their_floor():
    for mode in (HASHRATE, EFFICIENCY):
        plant = Plant(11)
        tu = run(plant, mode, 24.0, 600)
        assert tu.phase == 2
        assert plant.ths() >= 24.0 * 0.97
        if mode == HASHRATE:
            assert plant.ths() <= 24.0 * 1.06  # no more than asked: the rest is power saved
        assert max(c.err for c in plant.m.chips) <= 0.01


def test_chip_edges_step_down_on_errors_and_hold_in_band():
    e = ChipEdges(2, 50.0, 625.0)
    e.start([500.0, 500.0])
    assert e.observe(0, 700, 0, True) and e.freq[0] == 512.5  # clean: a coarse step up
    assert not e.observe(1, 100, 0, True)  # too few counts to decide
    assert e.observe(0, 100, 20, True) and e.freq[0] == 500.0  # far past the edge: at once
    for _ in range(3):
        e.observe(0, 2000, 10, False)  # 0.5 %: inside the band
    assert e.held[0] and e.freq[0] == 500.0
    assert e.observe(0, 2000, 30, True) and e.freq[0] == 497.5  # 1.5 %: one fine step down


@given(lo_ok=st.floats(4.0, 5.0), goal=st.floats(100, 500))
@settings(max_examples=50, deadline=None)
def test_voltage_search_stays_inside_limits_and_closes(lo_ok, goal):
    """Against a monotone module (power rises with voltage) the bracket closes within a
    handful of probes, never proposes a voltage outside the limits, and ends at or below the
    goal's voltage."""
    s = VoltageSearch(4.0, 5.0)
    s.start(POWER, goal, 4.6)
    power = lambda v: 100 + 300 * (v - 4.0)  # noqa: E731
    v = s.v
    for _ in range(20):
        assert 4.0 - 1e-9 <= v <= 5.0 + 1e-9
        if s.done:
            break
        v = s.settled(power(v), 0.0, False, False)
    assert s.done
    if power(4.0) <= goal:
        assert power(s.v) <= goal * 1.02
