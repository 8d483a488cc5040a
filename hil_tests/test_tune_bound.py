"""The benchmark's yardsticks (tools/tune_bound.py): stock, the best single setting and the
per-chip bound, checked against chip-model.md's reference figures, replayed through the
emulator's physics, and against an independent search. Pure computation: no board."""

import random

import pytest

from hostlib import boards
from hostlib.sim.physics import Chip, ModuleModel, build_module
from tools import tune_bound as tb
from tools.steady_state import Cooling, Limits, module_model, settle, violations
from tools.tune_search import multistart

CFG = boards.load("modular-4x")
LIMITS = Limits.from_board(CFG)
COOL = Cooling()


def small_module(seed: int, slow: dict[int, float] | None = None) -> ModuleModel:
    """8 chips in the board's 4 series domains: the full module's physics, a third of the work."""
    m = build_module(seed, 0, 8, 4, None, 550.0, 0.108)
    for i, f in (slow or {}).items():
        m.chips[i].F = f
    return m


def test_reference_module_settles_at_chip_model_figures():
    mean = ModuleModel(chips=[Chip(F=660.0, C=0.01728, L=0.54, Rjc=0.5) for _ in range(24)], domains=4)
    op = settle(mean, 4.6, [525.0] * 24, COOL)
    assert op.settled
    assert op.ths == pytest.approx(25.7, abs=0.05)
    assert op.power_w == pytest.approx(331, abs=1.5)
    assert op.max_tj == pytest.approx(68, abs=1.0)
    assert op.max_err < 1e-3
    # stock asks for 4.6 V; the regulator truncates to its 1/512 V code, a hair lower
    st = tb.stock(mean, LIMITS, COOL)
    assert st.vs == pytest.approx(4.6, abs=2 ** -9) and st.vs <= 4.6
    assert st.ths == pytest.approx(op.ths, rel=1e-9)


def test_per_chip_beats_single_by_the_chip_model_margin_and_both_replay_clean():
    m = module_model(CFG, 1, 0, None)
    single = tb.best_single(m, LIMITS, COOL, 331.0, fine=False)
    bound = tb.per_chip(m, LIMITS, COOL, 331.0, fine=False, single=single)
    assert 1.04 <= bound.ths / single.ths <= 1.11
    fresh = module_model(CFG, 1, 0, None)  # replayed on silicon built anew, as the emulator does
    for op in (single, bound):
        again = settle(fresh, op.vs, op.freqs, COOL)
        assert violations(again, LIMITS, 331.0) == []
        assert again.ths == pytest.approx(op.ths, rel=1e-7)
        assert again.power_w <= 331.0 * (1 + 1e-9)


def test_violations_names_each_broken_limit():
    m = small_module(1)
    over_edge = settle(m, 4.6, [625.0] * 8, COOL)
    assert any("error" in v for v in violations(over_edge, LIMITS, None))
    ok = settle(m, LIMITS.settable(4.6), [400.0] * 8, COOL)
    assert violations(ok, LIMITS, None) == []
    assert any("cap" in v for v in violations(ok, LIMITS, ok.power_w - 1))
    off_code = settle(m, 4.6, [400.0] * 8, COOL)  # 4.6 V is not a regulator code
    assert any("regulator setting" in v for v in violations(off_code, LIMITS, None))
    slow = settle(m, LIMITS.settable(4.6), [700.0] + [400.0] * 7, COOL)
    assert any("outside" in v for v in violations(slow, LIMITS, None))


def test_bound_is_monotone_in_the_cap_and_keeps_each_cap():
    m = small_module(2)
    figures = []
    for cap in (70.0, 90.0, 110.0):
        op = tb.per_chip(m, LIMITS, COOL, cap, fine=False)
        assert violations(op, LIMITS, cap) == []
        figures.append(op.ths)
    assert figures == sorted(figures) and figures[0] < figures[-1]


def test_independent_search_does_not_beat_the_bound():
    m = small_module(4)
    cap = 83.0
    bound = tb.per_chip(m, LIMITS, COOL, cap)
    assert bound.max_err < 0.01  # at a cap the best backs off the 1 % edge a little
    found = multistart(m, [bound.vs], lambda op: tb.feasible(op, LIMITS, cap), COOL,
                       LIMITS.f_min, LIMITS.f_max, 1, random.Random(7), steps=(16.0, 4.0, 1.0))
    assert found is not None and violations(found, LIMITS, cap) == []
    assert found.ths <= bound.ths * 1.001


@pytest.mark.parametrize("slow_f", [300.0, 80.0])
def test_a_slow_chip_costs_the_single_setting_far_more_than_the_bound(slow_f):
    m = small_module(3, slow={1: slow_f})
    single = tb.best_single(m, LIMITS, COOL, 110.0, fine=False)
    bound = tb.per_chip(m, LIMITS, COOL, 110.0, fine=False, single=single)
    assert violations(bound, LIMITS, 110.0) == []
    assert bound.ths > 1.3 * single.ths
    assert bound.freqs[1] < min(f for i, f in enumerate(bound.freqs) if i != 1)


def test_cooling_limits_the_bound_below_hot():
    hot_room = Cooling(ambient_c=40.0, airflow=0.3)
    m = small_module(5)
    assert tb.power_limit(m, LIMITS, hot_room, 500.0) < 500.0
    op = tb.per_chip(m, LIMITS, hot_room, 500.0, fine=False)
    assert violations(op, LIMITS, 500.0) == []
    assert LIMITS.hot_c - 0.5 <= op.outlet_c <= LIMITS.hot_c  # it uses what the cooling carries
