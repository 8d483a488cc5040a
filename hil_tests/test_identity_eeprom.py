"""Module identity EEPROM: two copies, torn writes never lose the valid record."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hashboard import identity
from hil_tests.eeprom_bus import Bus


def rec(serial, seq):
    return identity.encode("HBM-1370-24", serial, 0x1370, 24, 4, (26, 11, 22), 1, 4600, 525, seq)


def test_v1_record_in_copy_a_reads_as_before():
    bus = Bus(rec("OLD", 0))
    assert identity.read(bus, 0x50, bytearray(64))["serial"] == "OLD"


@pytest.mark.parametrize("image,why", [(None, "blank"), (b"\x00" * 64, "bad_magic")])
def test_no_valid_copy_is_named(image, why):
    with pytest.raises(identity.IdentityError, match=why):
        identity.read(Bus(image), 0x50, bytearray(64))


def test_write_alternates_copies_and_verifies():
    bus = Bus(rec("A0", 0))
    buf = bytearray(64)
    assert identity.write(bus, 0x50, rec("B1", 1), buf) == 0x40
    assert identity.read(bus, 0x50, buf)["serial"] == "B1"
    assert identity.write(bus, 0x50, rec("A2", 2), buf) == 0x00
    assert identity.read(bus, 0x50, buf)["serial"] == "A2"


@given(st.integers(0, 7))
def test_power_cut_at_any_page_keeps_the_previous_record(pages):
    bus = Bus(rec("KEEP", 5))
    buf = bytearray(64)
    bus.budget = pages * 8  # bytes: whole pages, the torn cases are in test_module_eeprom
    with pytest.raises(OSError):
        identity.write(bus, 0x50, rec("NEW", 6), buf)
    bus.budget = None
    assert identity.read(bus, 0x50, buf)["serial"] == "KEEP"


def test_sequence_wraps():
    bus = Bus(rec("OLD", 0xFFFF))
    buf = bytearray(64)
    identity.write(bus, 0x50, rec("NEW", 0), buf)
    assert identity.read(bus, 0x50, buf)["serial"] == "NEW"


def test_the_rated_maximum_voltage_defaults_to_the_nominal():
    """Older records hold 0 in the rating's bytes: the nominal voltage is their ceiling."""
    assert identity.decode(rec("R0", 1))["vout_max_mv"] == 4600
    r = identity.encode("HBM-1370-24", "R1", 0x1370, 24, 4, (26, 11, 22), 1, 4600, 525, 1, vout_max_mv=5000)
    assert identity.decode(r)["vout_max_mv"] == 5000 and identity.decode(r)["vout_mv"] == 4600


@pytest.mark.parametrize("cal", [(-51, 0, 0), (0, 51, 0), (0, 0, -501), (-128, -128, 0), (0, 0, -5000)])
def test_a_calibration_past_its_bounds_is_a_bad_record(cal):
    """It would blind the thermal guard or the power limit: the module is never powered."""
    r = identity.encode("HBM-1370-24", "CAL", 0x1370, 24, 4, (26, 11, 22), 1, 4600, 525, 1, cal=cal)
    with pytest.raises(identity.IdentityError, match="calibration"):
        identity.decode(r)
    ok = identity.encode("HBM-1370-24", "CAL", 0x1370, 24, 4, (26, 11, 22), 1, 4600, 525, 1, cal=(50, -50, 500))
    assert identity.decode(ok)["cal"]["temp_offset_c"] == (5.0, -5.0)
