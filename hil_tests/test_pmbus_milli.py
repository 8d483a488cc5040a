"""The control loop's integer PMBus decoders (pmbus.*_milli: mV, mA, m°C) against the float
decoders the reports and the emulators use: the same value, rounded to the thousandth."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from hashboard import pmbus as pm


@given(word=st.integers(0, 0xFFFF))
def test_linear11_in_thousandths_is_the_decoded_value_rounded(word):
    assert abs(pm.slinear11_decode(word) * 1000 - pm.slinear11_milli(word)) <= 0.5


@given(raw=st.integers(0, 0xFFFF), exp=st.integers(-16, 15))
def test_ulinear16_in_thousandths_is_the_decoded_value_rounded(raw, exp):
    mode = exp & 0x1F
    assert abs(pm.ulinear16_decode(raw, mode) * 1000 - pm.ulinear16_milli(raw, mode)) <= 0.5
    assert isinstance(pm.ulinear16_milli(raw, mode), int)
