"""The per-goal profile table of a 24C64-class module EEPROM (docs/eeprom.md, layout 2): one
profile per tuning goal, written crash-safe, the least recently written replaced when full,
the right one picked at insertion, and the 24C02 layout (and modules written before the
table existed) read as before."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hashboard import eepart, profile, ptable
from hashboard.modstore import ModuleStore
from hashboard.vsearch import EFFICIENCY, HASHRATE, POWER
from hostlib import boards
from hostlib.eeprom_image import module_image
from hostlib.sim.fastlane import FastBoard
from hostlib.sim.i2c_emu import EEPROM_PARTS
from hil_tests.eeprom_bus import Bus

BOARD = boards.load("modular-4x")
LIM = BOARD["limits"]
FREQS = [500.0 + 2.5 * (i % 7) for i in range(24)]


class Clock:
    def sleep_ms(self, ms):
        pass


def store(image=None, board=BOARD):
    part = eepart.of(board)[0]
    bus = Bus(image if image is not None else module_image("T1", part=part), EEPROM_PARTS[part])
    return ModuleStore(bus, 0x50, board, Clock()), bus


def load(st_, goal):
    return st_.load(24, LIM["vout"], LIM["freq_mhz"], 4600, goal)


def test_the_default_board_names_a_24c64():
    assert eepart.of(BOARD)[:3] == ("24c64", 8192, 16)


@given(st.sampled_from([POWER, HASHRATE, EFFICIENCY]), st.floats(0.1, 6000.0),
       st.lists(st.sampled_from([50.0, 302.5, 525.0, 637.5]), min_size=1, max_size=48),
       st.integers(4000, 5000), st.floats(0, 600), st.floats(0, 6000), st.integers(0, 0xFFFF))
def test_entry_round_trip(mode, goal, freqs, vout_mv, ths, watts, seq):
    r = ptable.decode(ptable.encode(mode, goal, freqs, vout_mv, ths, watts, seq))
    assert r["mode"] == mode and r["goal"] == pytest.approx(goal, abs=0.0501)  # tenths
    assert r["freqs"] == freqs and r["vout_mv"] == vout_mv and r["seq"] == seq
    assert r["ths"] == pytest.approx(min(ths, 655.35), abs=0.005)


def test_one_entry_per_goal_and_the_last_profile_beside_them():
    s, _ = store()
    s.save(FREQS, 4500, (POWER, 250.0), 22.0, 248.0)
    s.save([f + 10 for f in FREQS], 4700, (POWER, 331.0), 27.0, 329.0)
    s.save([f - 5 for f in FREQS], 4450, (POWER, 250.0), 22.1, 247.0)  # the same goal again
    t = s.targets()
    assert sorted((e["mode"], e["target"]) for e in t) == [(POWER, 250.0), (POWER, 331.0)]
    assert {e["target"]: e["vout"] for e in t} == {250.0: 4.45, 331.0: 4.7}
    assert s.profile["vout_mv"] == 4450  # layout 1: the last one saved, as before the table
    assert profile.read(s.i2c, 0x50, bytearray(32))["vout_mv"] == 4450


def test_a_full_table_replaces_its_least_recently_written_entry():
    s, _ = store()
    for k in range(ptable.ENTRIES):
        s.save(FREQS, 4400 + 10 * k, (POWER, 200.0 + k), 20.0, 200.0)
    s.save(FREQS, 4400, (POWER, 200.0), 20.0, 200.0)  # refresh the first
    s.save(FREQS, 4600, (HASHRATE, 25.0), 25.0, 300.0)  # a ninth goal
    goals = sorted((e["mode"], e["target"]) for e in s.targets())
    assert len(goals) == ptable.ENTRIES
    assert (HASHRATE, 25.0) in goals and (POWER, 201.0) not in goals and (POWER, 200.0) in goals


@pytest.mark.parametrize("goal,want", [((POWER, 331.0), 4700), ((POWER, 300.0), 4500),
                                       ((POWER, 200.0), 4500), ((HASHRATE, 20.0), 4650),
                                       (None, 4600)])
def test_insertion_starts_from_the_goals_own_or_the_nearest_below(goal, want):
    img = module_image("T2", part="24c64", profile_freqs=FREQS, profile_vout_mv=4600, table=[
        {"mode": POWER, "goal": 250.0, "freqs": FREQS, "vout_mv": 4500},
        {"mode": POWER, "goal": 331.0, "freqs": FREQS, "vout_mv": 4700},
        {"mode": HASHRATE, "goal": 30.0, "freqs": FREQS, "vout_mv": 4650}])
    s, _ = store(img)
    p = s.load(24, LIM["vout"], LIM["freq_mhz"], 4800, goal)  # a module rated 4.8 V
    assert p["vout_mv"] == want


def test_an_entry_outside_this_boards_limits_falls_back_to_the_last_profile():
    img = module_image("T3", part="24c64", profile_freqs=FREQS, profile_vout_mv=4550, table=[
        {"mode": POWER, "goal": 331.0, "freqs": [637.5] * 24, "vout_mv": 4700}])  # > 625 MHz
    s, _ = store(img)
    assert load(s, (POWER, 331.0))["vout_mv"] == 4550 and s.note == "table:freq"
    img = module_image("T4", part="24c64", table=[
        {"mode": POWER, "goal": 331.0, "freqs": FREQS, "vout_mv": 4700}])
    s, _ = store(img)
    assert load(s, (POWER, 331.0)) is None and s.note == "vout_above_rating"  # rated 4.6 V: defaults


def test_a_refused_entry_gives_way_to_the_next_nearest():
    img = module_image("T5", part="24c64", table=[
        {"mode": POWER, "goal": 300.0, "freqs": FREQS, "vout_mv": 4700},  # above its rating
        {"mode": POWER, "goal": 280.0, "freqs": FREQS, "vout_mv": 4550},
        {"mode": POWER, "goal": 350.0, "freqs": FREQS, "vout_mv": 4500}])
    s, _ = store(img)
    assert load(s, (POWER, 320.0))["vout_mv"] == 4550  # 300 W refused: 280 W, still below the goal
    assert load(s, (POWER, 250.0))["vout_mv"] == 4550  # nothing below: the nearest above (280 W)
    assert load(s, (POWER, 290.0))["vout_mv"] == 4550  # 280 W below beats 300 W above (refused anyway)
    assert load(s, (HASHRATE, 20.0)) is None  # another mode's profiles are never used


def test_a_module_written_before_the_table_reads_as_before():
    old = module_image("OLD", profile_freqs=FREQS, profile_vout_mv=4550)  # a 24C02 image
    s, _ = store(old)  # seated on a 24C64 board: the first 256 bytes are the same layout
    assert load(s, (POWER, 331.0))["freqs"] == FREQS and s.targets() == []


def test_a_24c02_board_keeps_layout_1_only():
    small = dict(BOARD, module={k: v for k, v in BOARD["module"].items() if k != "eeprom"})
    s, bus = store(module_image("S1"), small)
    assert not s.table and s.part == "24c02"
    s.save(FREQS, 4500, (POWER, 250.0), 22.0, 248.0)
    assert s.targets() == [] and profile.read(bus, 0x50, bytearray(32))["vout_mv"] == 4500


@given(st.integers(0, 63))
def test_a_power_cut_in_a_table_write_keeps_that_goals_previous_entry(cut):
    s, bus = store()
    s.save(FREQS, 4500, (POWER, 250.0), 22.0, 248.0)
    bus.budget = cut
    with pytest.raises(OSError):
        s.save(FREQS, 4400, (POWER, 250.0), 21.0, 240.0)
    bus.budget = None
    t = s.targets()
    assert [(e["target"], e["vout"]) for e in t] == [(250.0, 4.5)]


def reply(fb, op, **args):
    return json.loads(fb.request(op, **args)[4:])


def test_a_module_seated_under_a_board_goal_starts_from_that_goals_profile():
    """Fast lane (the firmware's own code): a board at 1000 W gives a fourth module 250 W, so
    a module carrying 250 W and 331 W entries starts from the 250 W one, and says so."""
    low = [450.0 + 2.5 * (i % 5) for i in range(24)]
    high = [550.0 + 2.5 * (i % 5) for i in range(24)]
    img = module_image("GOALS-1", part="24c64", profile_freqs=FREQS, profile_vout_mv=4550, table=[
        {"mode": POWER, "goal": 331.0, "freqs": high, "vout_mv": 4600, "ths": 27.0, "power_w": 329.0},
        {"mode": POWER, "goal": 250.0, "freqs": low, "vout_mv": 4300, "ths": 22.0, "power_w": 248.0}])
    fb = FastBoard("modular-4x")
    fb.run_for(3000)
    fb.sim.remove_module(2)
    fb.run_for(2000)
    assert reply(fb, "tune", mode="power", target=1000.0)["ok"]
    fb.sim.insert_module(2, img)
    m = fb.app.modules[2]
    for _ in range(100):
        fb.run_for(100)
        if m.state == "hashing":
            break
    assert m.state == "hashing" and m.vout_user == pytest.approx(4.3)
    assert list(m.chain.target) == pytest.approx(low, abs=4.0)  # the PLL's grid
    doc = reply(fb, "profiles", module=2)["data"]["modules"][0]
    assert doc["eeprom"] == "24c64" and doc["profile"]["mode"] == "power" and doc["profile"]["target"] == 250.0
    assert sorted((t["mode"], t["target"], t["vout"], t["ths"]) for t in doc["targets"]) == [
        ("power", 250.0, 4.3, 22.0), ("power", 331.0, 4.6, 27.0)]


def test_a_goals_entry_is_rewritten_at_most_hourly_even_when_goals_alternate():
    """Each goal's first convergence is saved; an operator alternating 250 and 300 W does not
    spend the EEPROM's write endurance on every switch (the tuner's own bookkeeping)."""
    fb = FastBoard("modular-4x")
    fb.run_for(3000)
    tun, m = fb.app.tuning, fb.app.modules[0]
    tu = tun.tuner(0)
    saves = []

    def save_profile(goal=None):  # records what the tuner asks for instead of writing
        saves.append(goal)
        return {"seq": len(saves), "vout_mv": 4600}

    m.save_profile = save_profile
    t = 0
    for goal in [(POWER, 250.0), (POWER, 300.0), (POWER, 250.0), (POWER, 300.0), (POWER, 250.0)]:
        tun._applied[0] = goal
        tu.phase = 1
        tun._keep(0, m, tu, t)  # probing
        tu.phase = 2
        tun._keep(0, m, tu, t + 1)  # converged
        t += 600_000  # ten minutes a goal
    assert saves == [(POWER, 250.0), (POWER, 300.0)]  # 20 and 40 min later: not yet an hour
    tun._applied[0] = (POWER, 250.0)
    tu.phase = 1
    tun._keep(0, m, tu, 3_600_001)
    tu.phase = 2
    tun._keep(0, m, tu, 3_600_002)
    assert saves[-1] == (POWER, 250.0) and len(saves) == 3  # an hour on: saved again
