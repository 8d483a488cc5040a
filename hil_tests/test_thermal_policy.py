"""Properties of the pure thermal policy (hypothesis drives readings and time)."""

import copy

from hypothesis import given, settings
from hypothesis import strategies as st

from hashboard import thermal as th

TARGET, HOT, DANGER, HYST, LEVELS = 65.0, 75.0, 85.0, 3.0, 50
SEVERITY = {th.NONE: 0, th.UP: 0, th.RESTART: 0, th.DOWN: 1, th.OFF: 2}


def policy():
    return th.ThermalPolicy(TARGET, HOT, DANGER, HYST, LEVELS, period_ms=1000, release_ms=5000,
                            cool_ms=30000, max_retries=3)


readings = st.one_of(st.none(), st.floats(-20, 130, allow_nan=False))
step = st.tuples(readings, st.booleans(), st.integers(1, 3000))


def drive(p, steps, now=0):
    acts = []
    for t, ok, dt in steps:
        now += dt
        acts.append((p.decide(t, ok, now), t, ok, p.state, p.level))
    return acts, now


@settings(max_examples=300)
@given(st.lists(step, max_size=80))
def test_level_bounded_and_unsafe_input_never_counts_as_cool(steps):
    p = policy()
    prev_state = th.NORMAL
    for act, t, ok, state, level in drive(p, steps)[0]:
        assert 0 <= level <= LEVELS
        if prev_state in (th.NORMAL, th.THROTTLED):
            if t is None or not ok or t >= DANGER:
                assert act == th.OFF  # powered and unsafe: off at once
        if act == th.RESTART:
            assert ok and t is not None and t < TARGET
        prev_state = state


@settings(max_examples=300)
@given(st.lists(step, max_size=40), st.floats(-20, 130), st.floats(-20, 130), st.integers(1, 3000))
def test_response_is_monotonic_in_temperature(history, t1, t2, dt):
    p = policy()
    _, now = drive(p, history)
    lo, hi = sorted((t1, t2))
    a, b = copy.deepcopy(p), copy.deepcopy(p)
    assert SEVERITY[a.decide(lo, True, now + dt)] <= SEVERITY[b.decide(hi, True, now + dt)]


@given(st.floats(20, DANGER - 0.01))
def test_bounded_transitions_per_minute_at_steady_temperature(t):
    p = policy()
    changes = sum(1 for i in range(600) if p.decide(t, True, i * 100) in (th.DOWN, th.UP))
    assert changes <= 60  # at most one level per thermal period, one direction at steady state


def test_backoff_retries_then_latch_until_cleared():
    p = policy()
    now = 0
    for attempt in range(1, 4):
        assert p.decide(DANGER + 1, True, now) == th.OFF and p.state == th.COOLING
        wait = 30000 << (attempt - 1)
        # the module is off now: the policy counts the cool-down on unpowered readings
        assert p.decide(40.0, True, now + wait - 1, powered=False) == th.NONE  # too early
        now += wait + 1000
        assert p.decide(40.0, True, now, powered=False) in (th.NONE, th.RESTART)
        now += 1000
        if p.state == th.COOLING:
            assert p.decide(40.0, True, now, powered=False) == th.RESTART
    assert p.decide(DANGER + 1, True, now) == th.OFF and p.state == th.LATCHED
    assert p.decide(20.0, True, now + 10**7, powered=False) == th.NONE  # only the host clears it
    p.clear()
    assert p.state == th.COOLING


@settings(max_examples=300)
@given(st.lists(st.tuples(readings, st.booleans(), st.integers(1, 3000), st.booleans()), max_size=80))
def test_powered_in_cooling_or_latched_is_always_switched_off(steps):
    """Whatever powered it (a host, a bug), a module the policy holds off is switched off again;
    an unpowered module never trips (a dropout while off starts no cool-down)."""
    p = policy()
    now = 0
    for t, ok, dt, powered in steps:
        now += dt
        before = (p.state, p.retries)
        act = p.decide(t, ok, now, powered)
        if powered and before[0] in (th.COOLING, th.LATCHED):
            assert act == th.OFF
        if not powered:
            assert act in (th.NONE, th.RESTART) and p.retries == before[1]
        if act == th.RESTART:
            assert not powered and p.allows_power()


def test_hold_waits_for_cool_without_counting_a_retry():
    p = policy()
    p.hold(0, "hot")
    assert not p.allows_power() and p.retries == 0
    assert p.decide(80.0, True, 40000, powered=False) == th.NONE  # still hot
    assert p.decide(40.0, True, 41000, powered=False) == th.NONE  # cool for < 1 s
    assert p.decide(40.0, True, 42000, powered=False) == th.RESTART
    p.reset()
    assert p.allows_power() and p.level == 0 and p.cause == ""


def test_throttles_above_hot_then_releases_below_hot_minus_hysteresis():
    p = policy()
    assert p.decide(HOT + 0.5, True, 0) == th.DOWN
    assert p.decide(HOT + 0.5, True, 500) == th.NONE  # one level per period
    assert p.decide(HOT - 1.0, True, 1000) == th.DOWN  # still above hot - hysteresis
    assert p.decide(HOT - HYST - 0.5, True, 2000) == th.NONE
    assert p.decide(HOT - HYST - 0.5, True, 6000) == th.UP
    assert p.level == 1
