"""Properties of the farm's curtailment dispatch (hostlib.fleet.dispatch, issue 16): the limit
met whenever it can be, merit order (no running module less efficient than a shed one), no more
shed than needed, the same answer for the same farm in any order, restore in reverse order as
the limit rises, and a transition plan that sheds before it restores."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hostlib.fleet.dispatch import Allocation, Unit, allocate, plan, settled


def jth(u: Unit) -> float:
    # the test's own efficiency figure, so that a wrong one in the module shows up here
    return math.inf if u.ths == 0 else u.full_w / u.ths


def less_efficient(a: Unit, b: Unit) -> bool:
    """a comes before b in merit order: higher J/TH, ties by (board, module)."""
    return (jth(a), b.board, b.module) > (jth(b), a.board, a.module)


def draw(states: dict, units: list[Unit]) -> float:
    return math.fsum(u.full_w if states.get(u.key) else u.idle_w for u in units)


@st.composite
def units_st(draw_, min_size: int = 0) -> list[Unit]:
    keys = draw_(st.lists(st.tuples(st.sampled_from("abcde"), st.integers(0, 3)), unique=True,
                          min_size=min_size, max_size=16))
    # half the farms in round figures only, so that equal J/TH (ties) come up often
    round_only = draw_(st.booleans())
    fulls = st.sampled_from([0.0, 1000.0, 1500.0, 3000.0])
    thss = st.sampled_from([0.0, 50.0, 100.0, 150.0])
    if not round_only:
        fulls, thss = fulls | st.floats(0, 4000), thss | st.floats(0, 200)
    out = []
    for board, module in keys:
        full, ths = draw_(fulls), draw_(thss)
        idle = full * draw_(st.sampled_from([0.0, 0.02, 1.0]) | st.floats(0, 1))
        available = draw_(st.booleans() | st.just(True))  # mostly available
        out.append(Unit(f"b{board}", module, full, ths, min(idle, full), available))
    return out


@st.composite
def farm_and_limit(draw_) -> tuple[list[Unit], float]:
    units = draw_(units_st())
    floor = math.fsum(u.idle_w for u in units)
    top = math.fsum(u.full_w if u.available else u.idle_w for u in units)
    # mostly between all-off and all-on; sometimes below all-off (infeasible) or above all-on
    frac = draw_(st.floats(-0.2, 1.2))
    return units, floor + frac * (top - floor) if top > floor else floor + frac * 100 - 10


def check_expected(a: Allocation) -> None:
    states = a.targets()
    assert a.expected_w == draw(states, list(a.shed + a.running + a.unavailable))


@settings(deadline=None)
@given(farm_and_limit())
def test_feasible_means_at_or_below_the_limit(farm):
    units, limit = farm
    a = allocate(units, limit)
    check_expected(a)
    assert a.feasible == (a.expected_w <= limit)
    every = a.shed + a.running + a.unavailable
    assert sorted(u.key for u in every) == sorted(u.key for u in units)
    if not a.feasible:
        assert not a.running  # nothing left to shed
    assert all(u.available for u in a.shed + a.running)
    assert all(not u.available for u in a.unavailable)


@settings(deadline=None)
@given(farm_and_limit())
def test_merit_order_no_running_unit_less_efficient_than_a_shed_one(farm):
    a = allocate(*farm)
    for r in a.running:
        for s in a.shed:
            assert less_efficient(s, r), (s, r)


@settings(deadline=None)
@given(farm_and_limit())
def test_minimal_restoring_the_most_efficient_shed_unit_would_exceed_the_limit(farm):
    units, limit = farm
    a = allocate(units, limit)
    if not a.shed:
        return
    last = a.shed[0]
    for s in a.shed[1:]:
        last = s if less_efficient(last, s) else last
    states = a.targets()
    states[last.key] = True
    assert draw(states, units) > limit


@settings(deadline=None)
@given(farm_and_limit(), st.randoms(use_true_random=False))
def test_same_farm_in_any_order_same_allocation(farm, rnd):
    units, limit = farm
    shuffled = list(units)
    rnd.shuffle(shuffled)
    assert allocate(shuffled, limit) == allocate(units, limit)


@settings(deadline=None)
@given(farm_and_limit(), st.floats(0, 5000))
def test_a_higher_limit_restores_in_reverse_order(farm, rise):
    """Monotone: what runs at a lower limit runs at a higher one; the units that come back
    are the most efficient of those shed, i.e. the last ones shed come back first."""
    units, limit = farm
    lo, hi = allocate(units, limit), allocate(units, limit + rise)
    assert {u.key for u in hi.shed} <= {u.key for u in lo.shed}
    back = lo.shed[len(hi.shed):]
    assert lo.shed[:len(hi.shed)] == hi.shed
    assert all(less_efficient(s, b) for s in hi.shed for b in back)


@settings(deadline=None)
@given(st.lists(st.tuples(st.sampled_from("abc"), st.integers(0, 3), st.integers(1, 200)),
                min_size=2, max_size=12, unique_by=lambda t: t[:2]),
       st.sampled_from([20.0, 35.5]), st.floats(0, 1))
def test_equal_efficiency_is_shed_in_board_then_module_order(mods, j_per_th, frac):
    """Ties are rare in the general draw; among equals, (board, module) decides who goes first.
    Whole TH/s times these J/TH are exact, so the ties are exact too."""
    units = [Unit(b, m, ths * j_per_th, float(ths)) for b, m, ths in mods]
    a = allocate(units, frac * math.fsum(u.full_w for u in units))
    assert [u.key for u in a.shed + a.running] == sorted(u.key for u in units)


@settings(deadline=None)
@given(units_st())
def test_no_limit_runs_every_available_unit(units):
    a = allocate(units, None)
    assert a.feasible and not a.shed
    assert {u.key for u in a.running} == {u.key for u in units if u.available}


@settings(deadline=None)
@given(farm_and_limit(), st.data())
def test_plan_reaches_the_allocation_offs_first_and_never_overshoots(farm, data):
    units, limit = farm
    a = allocate(units, limit)
    current = {u.key: data.draw(st.booleans(), label=str(u.key)) for u in units}
    actions = plan(a, current)
    kinds = [k for k, _, _ in actions]
    assert kinds == sorted(kinds, key=lambda k: k != "off")  # every off before any on
    start, end = draw(current, units), draw(a.targets(), units)
    state = dict(current)
    for kind, board, module in actions:
        assert state[(board, module)] != (kind == "on")  # no command for a unit already there
        state[(board, module)] = kind == "on"
        assert draw(state, units) <= max(start, end)
    assert state == a.targets()
    # sheds least efficient first, restores most efficient first: a cut-short plan keeps the best
    by_key = {u.key: u for u in units}
    sheds = [by_key[(b, m)] for k, b, m in actions if k == "off" and by_key[(b, m)].available]
    ons = [by_key[(b, m)] for k, b, m in actions if k == "on"]
    assert all(less_efficient(x, y) for x, y in zip(sheds, sheds[1:]))
    assert all(less_efficient(y, x) for x, y in zip(ons, ons[1:]))
    # an unknown unit gets its command whatever it is
    unknown = plan(a, {})
    assert {(b, m) for _, b, m in unknown} == {u.key for u in units}


def _farm_4x4(idle_w: float = 0.0) -> list[Unit]:
    # 16 modules at 3000 W, 14..29 J/TH: b0/0 the best, b3/3 the worst
    return [Unit(f"b{b}", m, 3000.0, 3000.0 / (14 + 4 * b + m), idle_w)
            for b in range(4) for m in range(4)]


@pytest.mark.parametrize("idle_w", [0.0, 50.0])
def test_4x4_farm_at_60_percent_sheds_the_seven_least_efficient(idle_w):
    units = _farm_4x4(idle_w)
    a = allocate(units, 0.6 * 48_000)
    # 28 800 W: six off leave 30 000 W (30 300 with idle), seven 27 000 (27 350)
    assert [u.key for u in a.shed] == [("b3", 3), ("b3", 2), ("b3", 1), ("b3", 0),
                                       ("b2", 3), ("b2", 2), ("b2", 1)]
    assert a.feasible and a.expected_w == 9 * 3000.0 + 7 * idle_w
    assert plan(a, {u.key: True for u in units})[:2] == [("off", "b3", 3), ("off", "b3", 2)]
    restored = allocate(units, 0.6 * 48_000 + 3000.0)  # one module's worth more
    assert [u.key for u in restored.shed] == [u.key for u in a.shed[:-1]]
    assert plan(restored, a.targets()) == [("on", "b2", 1)]


def test_a_big_inefficient_unit_is_shed_before_a_small_efficient_one():
    """Shedding the small efficient one alone would meet the limit, but merit order says
    the inefficient one goes first (the shed set is a prefix of the merit order)."""
    big = Unit("a", 0, 3000.0, 75.0)  # 40 J/TH
    small = Unit("b", 0, 500.0, 25.0)  # 20 J/TH
    best = Unit("c", 0, 3000.0, 200.0)  # 15 J/TH
    a = allocate([small, best, big], 6000.0)
    assert a.shed == (big,) and a.running == (small, best) and a.expected_w == 3500.0


def test_no_hashrate_goes_first_and_an_unavailable_unit_stays_a_fixed_load():
    dead = Unit("a", 1, 200.0, 0.0, idle_w=20.0)  # draws, hashes nothing
    gone = Unit("a", 2, 3000.0, 150.0, idle_w=40.0, available=False)
    ok = [Unit("a", 0, 3000.0, 150.0), Unit("b", 0, 3000.0, 100.0)]
    a = allocate(ok + [dead, gone], 6100.0)
    assert a.shed == (dead,) and a.unavailable == (gone,)
    assert a.expected_w == 6000.0 + 20.0 + 40.0
    assert allocate(ok + [dead, gone], None).unavailable == (gone,)


def test_infeasible_sheds_everything_and_says_so():
    units = [Unit("a", m, 3000.0, 100.0, idle_w=400.0) for m in range(4)]
    a = allocate(units, 1000.0)
    assert not a.feasible and not a.running and a.expected_w == 1600.0


def test_bad_figures_are_refused():
    good = Unit("a", 0, 3000.0, 100.0)
    for bad in (lambda: replace(good, full_w=math.nan), lambda: replace(good, ths=-1.0),
                lambda: replace(good, idle_w=3500.0)):
        with pytest.raises(ValueError):
            bad()
    with pytest.raises(ValueError):
        allocate([Unit("a", 0, 1.0, 1.0), Unit("a", 0, 2.0, 1.0)], 1.0)


def test_settled_is_the_measured_total_at_or_below_the_limit():
    assert settled(600_000.0, 600_000.0) and not settled(600_000.1, 600_000.0)
    assert settled(1e9, None)
    assert not settled(599_500.0, 600_000.0, margin_w=1000.0)
