"""The emulator's physical model reproduces chip-model.md's reference figures."""

import pytest

from hostlib.sim.physics import Chip, ModuleModel, build_module


def mean_module(f=525.0, vs=4.6):
    chips = [Chip(F=660.0, C=0.01728, L=0.54, Rjc=0.5, f_mhz=f) for _ in range(24)]
    m = ModuleModel(chips=chips, domains=4)
    m.vs = vs
    for _ in range(3000):
        m.step(1.0, 25.0, 1.0)
    return m


def test_reference_module_figures():
    m = mean_module()
    assert sum(c.ghs for c in m.chips) / 1000 == pytest.approx(25.7, abs=0.15)
    assert m.power() == pytest.approx(331, abs=4)
    assert max(c.t_j for c in m.chips) == pytest.approx(68, abs=1.5)
    assert max(c.err for c in m.chips) < 1e-3


def test_dead_chip_unbalances_the_string():
    m = mean_module()
    m.chips[0].dead = True
    m.step(1.0, 25.0, 1.0)
    assert m.domain_v[0] > 1.15 > m.domain_v[1]
    assert sum(m.domain_v) == pytest.approx(4.6)


def test_errors_rise_steeply_above_stable_frequency():
    chip = Chip(F=660.0, C=0.01728, L=0.54, Rjc=0.5)
    m = ModuleModel(chips=[chip], domains=1)
    fmax = m.fmax(chip, 1.15, 60.0)
    assert fmax == pytest.approx(660.0)


def test_less_airflow_runs_hotter():
    hot = mean_module()
    cool_chips = [Chip(F=660.0, C=0.01728, L=0.54, Rjc=0.5, f_mhz=525) for _ in range(24)]
    m = ModuleModel(chips=cool_chips, domains=4)
    m.vs = 4.6
    for _ in range(3000):
        m.step(1.0, 25.0, 0.5)
    assert m.t_sink > hot.t_sink + 5


def test_seed_and_profile_determine_silicon():
    a = build_module(7, 1, 24, 4, None, 550, 0.108)
    b = build_module(7, 1, 24, 4, None, 550, 0.108)
    c = build_module(8, 1, 24, 4, None, 550, 0.108)
    assert [x.F for x in a.chips] == [x.F for x in b.chips] != [x.F for x in c.chips]
    prof = {"modules": {"1": {"chips": [{"F": 700.0}], "R_SA": 0.2}}}
    d = build_module(7, 1, 24, 4, prof, 550, 0.108)
    assert d.chips[0].F == 700.0 and d.chips[1].F == a.chips[1].F and d.r_sa_nominal == 0.2
