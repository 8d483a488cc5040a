"""Series-domain balance (issue 14, docs/diagnostics.md): the domain taps tell a dead chip from a
broken link into it (both leave every chip from there on silent on the UART) and find a leaky
chip's domain on a running module. The judge's thresholds hold on any healthy silicon the chip
model draws and on every position of a dead or leaky chip."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hashboard import mcp342x
from hashboard.balance import BALANCED, DEAD, LEAK, DomainProbe
from hostlib.sim.physics import build_module
from hostlib.sim.simboard import LEAKY_EXTRA_A

from test_diag import diag


def _probe(seed, dead=None, leaky=None, f=0.0, sink=25.0, step=0.3, noise=0.0):
    """The probe's two points on the chip model itself (every chip idle, or hashing at f),
    through the ADC's 14-bit codes at the board's divider, with input noise."""
    m = build_module(seed, 0, 24, 4, None, 550, 0.108)
    rng = random.Random(seed)
    for i, c in enumerate(m.chips):
        c.f_mhz = f
        c.dead = i == dead
        c.L_extra = LEAKY_EXTRA_A if i == leaky else 0.0
    probe = DomainProbe(4)
    for point, vs in enumerate((4.6, 4.6 - step)):
        m.vs = vs
        for _ in range(4):
            for c in m.chips:
                c.t_j = sink + c.Rjc * c.p
            m.solve_electrical()
        for k, v in enumerate(m.tap_volts()):
            code = mcp342x.encode(v / 2.5 + rng.gauss(0.0, noise))
            probe.set_tap(k, mcp342x.decode(code + b"\x00") * 2.5)
        probe.close_point(point, vs, m.current)
    units = [6] * 4 if f == 0 else [6 * f] * 4
    return probe.judge(units)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10**6), hashing=st.booleans(), sink=st.floats(25.0, 70.0))
def test_healthy_silicon_is_balanced_in_reset_or_at_the_lowest_clock(seed, hashing, sink):
    kind, dom, why = _probe(seed, f=50.0 if hashing else 0.0, sink=sink, noise=0.0001)
    assert kind == BALANCED, why


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10**6), chip=st.integers(0, 23))
def test_a_dead_chip_is_found_in_its_domain(seed, chip):
    kind, dom, why = _probe(seed, dead=chip, noise=0.0001)
    assert (kind, dom) == (DEAD, chip // 6), why


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10**6), chip=st.integers(0, 23), hashing=st.booleans())
def test_a_leaky_chip_is_found_in_its_domain(seed, chip, hashing):
    kind, dom, why = _probe(seed, leaky=chip, f=50.0 if hashing else 0.0, sink=45.0, noise=0.0001)
    assert (kind, dom) == (LEAK, chip // 6), why


def test_the_adc_codec_round_trips_and_says_when_it_is_busy():
    for v in (-2.1, -0.5, 0.0, 0.00025, 1.2345, 2.047, 3.0):
        got = mcp342x.decode(mcp342x.encode(v) + bytes((mcp342x.config(1) & 0x7F,)))
        assert got == pytest.approx(max(-2.048, min(2.04775, v)), abs=0.000125)
    assert mcp342x.decode(b"\x12\x34" + bytes((mcp342x.config(0),))) is None  # RDY still set
    with pytest.raises(ValueError, match="channel 4"):
        mcp342x.config(4)


def test_a_dead_chip_is_named_for_replacement_and_a_broken_link_for_reflow():
    _, dead = diag("chip:3.15:dead", 3, seed=4)
    first = dead["findings"][0]
    assert (first["cause"], first["chip"], first["ref"]) == ("no_response", 15, "U16")
    assert first["action"].startswith("replace U16") and "domain 2 conducts" in first["evidence"]
    _, link = diag("link:3.14", 3, seed=4)
    first = link["findings"][0]
    assert (first["cause"], first["chip"], first["ref"]) == ("chain_break", 15, "U16")
    assert first["action"].startswith("reflow the U15-U16 link")


def test_a_leaky_chip_names_its_domain_before_the_chips_it_starves():
    fb, doc = diag("chip:2.20:leaky", 2, seed=5)
    assert doc["verdict"] == "fail"
    first = doc["findings"][0]
    assert (first["cause"], first["domain"], first["chip"], first["ref"]) == ("domain_leak", 3, None, "U19-U24")
    assert [s["result"] for s in doc["stages"] if s["name"] == "balance"] == ["fail"]
    for other in range(4):  # the others kept hashing, and this one is back at its own voltage
        if other != 2:
            assert fb.app.modules[other].state == "hashing"
    assert fb.app.modules[2].vout_user == pytest.approx(4.6)


def test_a_slot_without_taps_skips_the_stage_and_keeps_the_old_verdict(monkeypatch):
    from hostlib.sim import fastlane

    real = fastlane.boards.load

    def without_taps(name):
        cfg = real(name)
        for sc in cfg["slots"]:
            sc.pop("taps", None)
        return cfg

    monkeypatch.setattr(fastlane.boards, "load", without_taps)
    _, doc = diag("link:1.9", 1, seed=2)
    first = doc["findings"][0]
    assert (first["cause"], first["chip"]) == ("no_response", 10)  # dead chip or link: both named
    assert first["action"].startswith("reflow the U10-U11 link, then replace U11")
