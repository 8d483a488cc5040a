"""Tuned-profile and repair-log records of the module EEPROM (docs/eeprom.md), the whole-image
builder, and the address rules that keep two parts off one address."""

import copy

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hashboard import boardcfg, identity, profile, repairlog
from hostlib import boards
from hostlib.eeprom_image import module_image
from hostlib.sim.simboard import SimBoard
from hil_tests.eeprom_bus import Bus


FREQS = [500.0 + 12.5 * (i % 3) for i in range(24)]


@given(st.lists(st.sampled_from([50.0, 302.5, 487.5, 525.0, 637.5]), min_size=1, max_size=24),
       st.integers(4000, 5000), st.integers(0, 0xFFFF))
def test_profile_round_trip(freqs, vout_mv, seq):
    p = profile.decode(profile.encode(freqs, vout_mv, seq))
    assert p["freqs"] == freqs and p["vout_mv"] == vout_mv and p["seq"] == seq


def test_profile_refuses_what_it_cannot_store():
    with pytest.raises(profile.ProfileError, match="freq"):
        profile.encode([700.0], 4600)
    with pytest.raises(profile.ProfileError, match="chips"):
        profile.encode([500.0] * 25, 4600)


@given(st.integers(0, 31))
def test_power_cut_at_any_byte_of_a_profile_write_keeps_the_previous_profile(cut):
    bus = Bus(module_image("P1", profile_freqs=FREQS))
    buf = bytearray(profile.RECORD_LEN)
    bus.budget = cut
    with pytest.raises(OSError):
        profile.write(bus, 0x50, profile.encode([450.0], 4400, 2), buf)
    bus.budget = None
    assert profile.read(bus, 0x50, buf)["freqs"] == FREQS
    assert identity.read(bus, 0x50, bytearray(64))["serial"] == "P1"  # neighbours untouched
    profile.write(bus, 0x50, profile.encode([450.0], 4400, 2), buf)  # and the retry lands
    assert profile.read(bus, 0x50, buf)["freqs"] == [450.0]


@pytest.mark.parametrize("why,patch", [("bad_crc", (0x85, 0x00)), ("bad_magic", (0x80, 0x11))])
def test_a_damaged_profile_is_named(why, patch):
    img = bytearray(module_image("P2", profile_freqs=FREQS))
    img[patch[0]] = patch[1]
    with pytest.raises(profile.ProfileError, match=why):
        profile.read(Bus(bytes(img)), 0x50, bytearray(32))


@pytest.mark.parametrize("p,why", [
    ({"freqs": [525.0] * 23, "vout_mv": 4600}, "chips"),
    ({"freqs": [525.0], "vout_mv": 5200}, "vout"),
    ({"freqs": [637.5] * 24, "vout_mv": 4600}, "freq"),
    ({"freqs": [525.0], "vout_mv": 4600}, None),
])
def test_profile_check_against_board_limits(p, why):
    lim = boards.load("modular-4x")["limits"]
    assert profile.check(p, 24, lim["vout"], lim["freq_mhz"]) == why


def test_repair_log_appends_in_order_and_keeps_the_latest_eight():
    bus = Bus(module_image("R1"))
    buf = bytearray(64)
    for i in range(11):
        assert repairlog.append(bus, 0x50, 2500 + i, 5, i, buf) == i + 1
    entries = repairlog.read(bus, 0x50, buf)
    assert [e[0] for e in entries] == list(range(4, 12))
    assert [e[3] for e in entries] == list(range(3, 11))
    assert identity.read(bus, 0x50, bytearray(64))["serial"] == "R1"


@given(st.integers(0, 7))
def test_a_torn_log_entry_spoils_only_itself(cut):
    bus = Bus(module_image("R2", repairs=[(2500, 1, 3), (2501, 2, 255)]))
    buf = bytearray(64)
    bus.budget = cut
    with pytest.raises(OSError):
        repairlog.append(bus, 0x50, 2502, 5, 255, buf)
    bus.budget = None
    assert [(e[0], e[2]) for e in repairlog.read(bus, 0x50, buf)] == [(1, 1), (2, 2)]
    assert repairlog.append(bus, 0x50, 2503, 6, 255, buf) == 3  # the next one still lands


def test_log_order_survives_sequence_wrap():
    img = bytearray(module_image("R3"))
    for i, seq in enumerate((0xFFFE, 0xFFFF, 0, 1)):
        img[0xC0 + 8 * i: 0xC8 + 8 * i] = repairlog.encode(seq, 100 + i, 5, i)
    assert [e[3] for e in repairlog.read(Bus(bytes(img)), 0x50, bytearray(64))] == [0, 1, 2, 3]


def test_board_definition_with_a_shared_address_is_refused():
    cfg = copy.deepcopy(boards.load("modular-4x"))
    cfg["slots"][1]["eeprom"]["addr"] = cfg["slots"][0]["vrm"]["addr"]
    with pytest.raises(boardcfg.BoardError, match=r"slots.1.eeprom: i2c 0 addr 0x24 already used by slots.0.vrm"):
        boardcfg.validate(cfg)
    cfg = copy.deepcopy(boards.load("modular-4x"))
    cfg["slots"][2]["uart"]["id"] = cfg["slots"][1]["uart"]["id"]
    with pytest.raises(boardcfg.BoardError, match="slots.2.uart"):
        boardcfg.validate(cfg)


def test_the_emulated_bus_records_two_parts_on_one_address():
    cfg = copy.deepcopy(boards.load("modular-4x"))
    sim = SimBoard(cfg)
    assert sim.collisions == []
    sim.remove_module(1)
    cfg["slots"][1]["vrm"]["addr"] = cfg["slots"][0]["vrm"]["addr"]  # a mis-strapped backplane
    sim.insert_module(1, None)
    assert (0, cfg["slots"][0]["vrm"]["addr"]) in sim.collisions
