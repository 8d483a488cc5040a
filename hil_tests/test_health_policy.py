"""Properties of the pure chain-health policy."""

from hypothesis import given, settings
from hypothesis import strategies as st

from hashboard.health import (BAD_ID, CRC_ERRORS, LONG_SILENCE, MISS_LIMIT, NO_RESPONSE, OK,
                              UNSTABLE, ChainHealth)

N = 12
sweep = st.lists(st.integers(0, 2), min_size=N, max_size=N)


@settings(max_examples=200)
@given(st.lists(sweep, max_size=20), st.lists(st.integers(0, 1), min_size=N, max_size=N))
def test_verdict_names_an_enabled_chip_or_none(sweeps, enabled):
    h = ChainHealth(N)
    for s in sweeps:
        h.observe_sweep(enabled, s, 2)
        chip, cause = h.verdict(enabled, [0] * N)
        assert (chip == -1 and cause == OK) or (enabled[chip] and cause != OK)


@given(st.integers(0, N - 1), st.integers(0, 5))
def test_a_cut_chain_is_located_at_the_first_silent_chip(cut, healthy_sweeps):
    h = ChainHealth(N)
    en = [1] * N
    for _ in range(healthy_sweeps):
        h.observe_sweep(en, [2] * N, 2)
    for k in range(MISS_LIMIT):
        h.observe_sweep(en, [2] * cut + [0] * (N - cut), 2)
        chip, cause = h.verdict(en, [0] * N)
    assert (chip, cause) == (cut, NO_RESPONSE)


@given(st.integers(0, N - 2))
def test_a_chip_losing_replies_while_later_chips_answer_is_crc_errors(i):
    h = ChainHealth(N)
    en = [1] * N
    for k in range(4):
        answers = [2] * N
        answers[i] = k % 2  # some replies lost, some arrive
        h.observe_sweep(en, answers, 2)
    assert h.verdict(en, [0] * N) == (i, CRC_ERRORS)


def test_bad_id_and_unstable_and_recovery_after_hold():
    h = ChainHealth(N)
    en = [1] * N
    ids = [1] * N
    ids[4] = 2
    h.observe_ids(en, ids)
    assert h.verdict(en, [0] * N) == (4, BAD_ID)
    h.observe_ids(en, [1] * N)
    rates = [0] * N
    rates[7] = 500000  # ppm
    assert h.verdict(en, rates) == (7, UNSTABLE)
    clean = [h.verdict(en, [0] * N) for _ in range(11)]
    assert clean[0] == (7, UNSTABLE) and clean[-1] == (-1, OK)


@given(st.lists(st.integers(0, N - 1), max_size=3))
def test_rare_isolated_losses_never_raise_a_fault(positions):
    """Line noise: a lost reply now and then, each followed by clean sweeps."""
    h = ChainHealth(N)
    en = [1] * N
    for p in positions:
        a = [2] * N
        a[p] = 1
        h.observe_sweep(en, a, 2)
        for _ in range(3):
            h.observe_sweep(en, [2] * N, 2)
            assert h.verdict(en, [0] * N) == (-1, OK)


@given(st.integers(0, N - 2), st.integers(MISS_LIMIT, LONG_SILENCE - 1))
def test_silent_chip_with_answering_successors_is_not_a_cut(i, sweeps):
    """A flaky chip can lose every reply for a few sweeps while later chips answer: that is
    lost replies (crc_errors), not a broken chain, until the silence is long."""
    h = ChainHealth(N)
    en = [1] * N
    for _ in range(sweeps):
        a = [2] * N
        a[i] = 0
        h.observe_sweep(en, a, 2)
    assert h.verdict(en, [0] * N) == (i, CRC_ERRORS)
    for _ in range(LONG_SILENCE - sweeps):
        a = [2] * N
        a[i] = 0
        h.observe_sweep(en, a, 2)
    assert h.verdict(en, [0] * N) == (i, NO_RESPONSE)
