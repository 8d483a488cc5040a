"""The heat fit against a first-order heat sink with the emulator's sensor noise (pure policy, no
board): what it learns across a power step must survive ten minutes of slow creep at one power.
A fit over such creep once replaced it (R 0.39-0.63 K/W against a true 0.28), and the tuner in
a hot room held its modules 4-10 % under what the cooling carries."""

import random

import pytest

from hashboard.heatfit import HeatFit

C_TH = 550.0
R_TRUE = 0.28
T_IN = 40.0


def drive(fit, rng, t_sink, power_w, seconds):
    for _ in range(seconds):
        t_sink += (power_w - (t_sink - T_IN) / R_TRUE) / C_TH
        fit.sample(power_w, t_sink + 2.0 + rng.uniform(-0.25, 0.25))  # the outlet sensor, noise as emulated
    return t_sink


@pytest.mark.parametrize("seed", range(6))
def test_a_fit_learned_across_a_step_survives_slow_creep(seed):
    rng = random.Random(seed)
    fit = HeatFit(C_TH, 0.108)
    t = drive(fit, rng, T_IN, 320.0, 40)  # the tuner's first probe, then its sustainable power
    t = drive(fit, rng, t, 112.0, 600)
    r, tb = fit.coef
    assert abs(r - R_TRUE) / R_TRUE < 0.15, (r, tb)
    # what the tuner asks of it: the power whose steady reading is the limit
    true_w = (74.25 - (T_IN + 2.0)) / R_TRUE
    assert abs(fit.sustainable(112.0, 74.25) - true_w) / true_w < 0.05


def test_a_changed_fan_is_learned_again():
    rng = random.Random(1)
    fit = HeatFit(C_TH, 0.108)
    t = drive(fit, rng, T_IN, 320.0, 40)
    t = drive(fit, rng, t, 112.0, 300)
    global R_TRUE
    old, R_TRUE = R_TRUE, 0.45  # the fan slows: the module heats at the same power ...
    try:
        t = drive(fit, rng, t, 112.0, 200)
        t = drive(fit, rng, t, 60.0, 300)  # ... the tuner sheds power, then finds it again
        t = drive(fit, rng, t, 90.0, 300)
        r, _ = fit.coef
        assert abs(r - 0.45) / 0.45 < 0.2, r
    finally:
        R_TRUE = old


def settled(seed=0):
    rng = random.Random(seed)
    fit = HeatFit(C_TH, 0.108)
    t = drive(fit, rng, T_IN, 320.0, 40)
    t = drive(fit, rng, t, 112.0, 600)
    return fit, rng, t


@pytest.mark.parametrize("bad", [("power", 5000.0), ("power", 50000.0), ("reading", -34.0), ("reading", 30.0)])
def test_one_bad_sample_does_not_move_the_ceiling(bad):
    """Audit (helper-10): one corrupted READ_IOUT or one reading from the wrong sensor dragged
    Tb, and the ceiling went to 2x for half a minute."""
    fit, rng, t = settled()
    true_w = (74.25 - (T_IN + 2.0)) / R_TRUE
    kind, v = bad
    for s in range(60):
        t += (112.0 - (t - T_IN) / R_TRUE) / C_TH
        p, reading = 112.0, t + 2.0 + rng.uniform(-0.25, 0.25)
        if s == 0:
            p, reading = (v, reading) if kind == "power" else (p, reading + v)
        fit.sample(p, reading)
        assert fit.sustainable(112.0, 74.25) < true_w * 1.06


def test_time_off_is_not_read_as_a_fall():
    """After a curtailment or a cool-down the tuner starts again (resume): no rate spans the gap.
    A 600 s gap read as 20 s once put the ceiling at 5.6x."""
    fit, rng, t = settled()
    true_w = (74.25 - (T_IN + 2.0)) / R_TRUE
    for _ in range(600):
        t += (0.0 - (t - T_IN) / R_TRUE) / C_TH  # off: no samples
    fit.resume()
    for p in [40.0] * 30 + [112.0] * 120:
        t += (p - (t - T_IN) / R_TRUE) / C_TH
        fit.sample(p, t + 2.0 + rng.uniform(-0.25, 0.25))
        assert fit.sustainable(p, 74.25) < true_w * 1.15


def test_nan_or_inf_never_poisons_the_fit():
    fit, rng, t = settled()
    for v in (float("nan"), float("inf"), -float("inf"), 1e30):
        fit.sample(112.0, v)
        fit.sample(v, t + 2.0)
    t = drive(fit, rng, t, 112.0, 60)
    s = fit.sustainable(112.0, 74.25)
    assert s == s and 100.0 < s < 130.0
