"""Hot-swap HIL scenarios (issue 5) on both lanes: yank during enumeration and during ramp,
contact bounce, incompatible / blank / corrupt EEPROM, rapid remove-insert, all four modules
swapped in turn to modules carrying their own stored profiles; plus the acceptance checks of
removal (off within one control period, neighbours' hashrate within their noise)."""

from __future__ import annotations

import statistics

import pytest

import hotswap_scenarios as S
from hashboard import identity, profile, repairlog
from hostlib.eeprom_image import module_image

INCOMPATIBLE = module_image("X1366", model="HBM-1366-24", chip_id=0x1366)
BLANK = b"\xff" * 256


def corrupt() -> bytes:
    img = bytearray(module_image("CORRUPT"))
    img[0x20] ^= 0x5A  # inside the serial: CRC no longer matches
    return bytes(img)


@pytest.fixture
def lane():
    ln = S.FastLane()
    yield ln
    ln.close()


@pytest.mark.parametrize("phase", ["enumeration", "ramp"])
@pytest.mark.parametrize("slot", [0, 3])
def test_yank_during_bring_up(lane, slot, phase):
    S.yank_during(lane, slot, phase)


def test_yank_turns_the_regulator_off_within_one_period(lane):
    lane.sim.remove_module(1)
    lane.run(1000)
    lane.sim.yank_when(1, "ramp")
    lane.sim.insert_module(1, module_image("Y1"))
    while 1 not in lane.sim.yanked_at:
        lane.run(10)
    t_yank = lane.sim.yanked_at[1] * 1000
    while lane.sim.vrm_enable[1]:
        lane.run(1)
    assert lane.now_ms() - t_yank <= S.PERIOD_MS


def test_contact_bounce(lane):
    S.contact_bounce(lane, 2)


@pytest.mark.parametrize("image,state,cause", [
    (INCOMPATIBLE, "incompatible", "chips"),
    (BLANK, "unidentified", "eeprom:blank"),
    (corrupt(), "unidentified", "eeprom:bad_crc"),
])
def test_refused_modules_stay_off_with_their_cause(lane, image, state, cause):
    S.refused(lane, 1, image, state, cause)


def test_rapid_remove_insert(lane):
    S.rapid_remove_insert(lane, 0)


def test_all_four_swapped_in_turn_reach_their_stored_profiles_within_5s(lane):
    times = S.swap_all_in_turn(lane)
    assert max(times) <= 5000, times


@pytest.mark.parametrize("slot", [0, 1, 2, 3])
def test_removal_leaves_neighbours_within_their_noise(lane, slot):
    """Neighbours' per-module hashrate during the second after a removal stays inside the band
    their own telemetry spans over the 10 s before it."""
    base = [S.module_ghs(lane) for _ in range(10) if lane.run(1000) is None]
    lane.sim.remove_module(slot)
    lane.run(100)
    assert not lane.sim.vrm_enable[slot]
    after = [S.module_ghs(lane) for _ in range(5) if lane.run(1000) is None]
    for m in range(4):
        if m == slot:
            continue
        series = [b[m] for b in base]
        mean = statistics.mean(series)
        lo, hi = min(series), max(series)
        slack = max(hi - lo, 0.005 * mean)  # the band widened by its own spread
        for a in after:
            assert lo - slack <= a[m] <= hi + slack, (m, a[m], lo, hi)


def test_saved_profile_is_restored_after_reinsertion(lane):
    lane.request("set_freq", mhz=500.0, module=2)
    lane.request("set_freq", mhz=537.5, module=2, chip=5)
    lane.request("set_vout", volts=4.5, module=2)
    S.wait_for(lane, lambda st: [c["freq_mhz"] for c in st["chips"] if c["module"] == 2][5] == 537.5, 5000)
    saved = lane.request("save_profile", module=2)
    assert saved["vout_mv"] == 4500 and saved["freqs"][5] == 537.5 and saved["freqs"][0] == 500.0
    img = bytes(lane.sim.modules[2].eeprom.mem)
    assert profile.read(_Mem(img), 0, bytearray(profile.RECORD_LEN))["freqs"][5] == 537.5
    assert identity.read(_Mem(img), 0, bytearray(identity.RECORD_LEN))["serial"]  # identity intact
    lane.sim.remove_module(2)
    S.wait_for(lane, S.state_is(2, "empty"), 2000)
    lane.sim.insert_module(2, img)
    t0 = lane.now_ms()
    st, _ = S.wait_for(lane, lambda s: s["modules"][2]["state"] == "hashing" and [
        c["freq_mhz"] for c in s["chips"] if c["module"] == 2][5] == 537.5, 8000)
    assert lane.now_ms() - t0 <= 5000
    assert st["modules"][2]["profile"] == "stored" and st["regulators"][2]["vout_set"] == 4.5
    assert [c["freq_mhz"] for c in st["chips"] if c["module"] == 2].count(500.0) == 23


def test_profile_outside_board_limits_is_ignored_not_applied(lane):
    img = module_image("HOT", profile_freqs=[637.5] * 24)  # above the board's 625 MHz
    lane.sim.remove_module(0)
    S.wait_for(lane, S.state_is(0, "empty"), 2000)
    lane.sim.insert_module(0, img)
    st, _ = S.wait_for(lane, S.state_is(0, "hashing"), 8000)
    assert st["modules"][0]["profile"] == "ignored:freq"
    assert {c["freq_mhz"] for c in st["chips"] if c["module"] == 0} == {525.0}


def test_repair_log_append_and_read(lane):
    out = lane.request("repair_log", module=3, add={"days": 2516, "code": repairlog.CODES["chip_replaced"], "arg": 7})
    assert out["entries"] == [{"seq": 1, "days": 2516, "code": 1, "arg": 7}]
    for i in range(9):  # past the 8 entries the oldest page takes the next one
        out = lane.request("repair_log", module=3, add={"days": 2517 + i, "code": 5, "arg": 255})
    assert [e["seq"] for e in out["entries"]] == list(range(3, 11))
    assert lane.request("repair_log", module=3)["entries"] == out["entries"]
    st = S.status(lane)
    assert st["modules"][3]["state"] == "hashing"  # writing the log does not disturb hashing


def test_save_profile_needs_a_running_module(lane):
    lane.sim.remove_module(1)
    S.wait_for(lane, S.state_is(1, "empty"), 2000)
    with pytest.raises(RuntimeError, match="slot 1 is empty"):  # refused before asking the module
        lane.request("save_profile", module=1)


class _Mem:
    """Reads an EEPROM image like an I2C bus would."""

    def __init__(self, img: bytes) -> None:
        self.img = img

    def readfrom_mem_into(self, addr, mem, buf):
        buf[:] = self.img[mem: mem + len(buf)]


def test_every_scenario_on_the_real_interpreter(sim_only):
    """The same scenarios against the unchanged firmware on MicroPython (x5 board time)."""
    ln = S.VirtualLane(speed=5)
    try:
        S.yank_during(ln, 1, "enumeration")
        S.yank_during(ln, 2, "ramp")
        S.contact_bounce(ln, 0)
        S.refused(ln, 3, INCOMPATIBLE, "incompatible", "chips")
        S.refused(ln, 3, BLANK, "unidentified", "eeprom:blank")
        S.refused(ln, 3, corrupt(), "unidentified", "eeprom:bad_crc")
        S.rapid_remove_insert(ln, 0, cycles=3)
        fw = []
        times = S.swap_all_in_turn(ln, fw)
        # the controller's own span (its event clock) meets the 5 s; the polled figure also
        # carries the link's latency times the speed-up, so it only has to be plausible
        assert max(fw) <= 5000, fw
        assert max(times) <= 8000, times
        assert ln.sim.collisions == [] and ln.sim.vrm_commands_outside() == []
    finally:
        ln.close()


def test_technician_cli_modules_profile_and_repairs(sim_only):
    """A repair bench session through hbctl on the real interpreter: list modules, record a chip
    replacement, store the tuning, swap the module and see its profile come back."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    from hostlib.sim.virtual import VirtualBoard

    hbctl = str(Path(sys.executable).parent / "hbctl")

    def run(*args):
        r = subprocess.run([hbctl, "--port", vb.port, *args], capture_output=True, text=True, timeout=60)
        return r

    with VirtualBoard(speed=10) as vb:
        assert vb.wait_ready(60)
        rows = json.loads(run("modules", "--json").stdout)
        assert [r["slot"] for r in rows] == [0, 1, 2, 3]
        assert all(r["state"] == "hashing" and r["chips"] == 24 and r["serial"] and r["power_w"] > 0
                   and r["temp_c"] > 0 and r["profile"] == "default" for r in rows)
        r = run("repairs", "1", "--add", "chip_replaced", "--chip", "7", "--date", "2026-11-22")
        assert r.returncode == 0 and "chip_replaced chip 7" in r.stdout and "2026-11-22" in r.stdout
        r = run("repairs", "1", "--add", "solder", "--chip", "7")
        assert r.returncode != 0 and "--add 'solder'" in r.stderr and len(r.stderr.strip().splitlines()) == 1
        assert run("freq", "500", "--module", "1").returncode == 0
        S.wait_for(S.VirtualLaneView(vb), lambda st: st["chains"][1]["freq_mhz"] == 500.0, 20000)
        r = run("profile", "save", "1")
        assert r.returncode == 0 and "profile #1 stored (4.6 V, 500 MHz)" in r.stdout, r.stdout + r.stderr
        img = vb.module_eeprom(1)
        vb.remove_module(1)
        vb.wait_board(1)
        vb.insert_module(1, img)
        S.wait_for(S.VirtualLaneView(vb), lambda st: st["modules"][1]["state"] == "hashing", 20000)
        rows = json.loads(run("modules", "--json").stdout)
        assert rows[1]["profile"] == "stored"
        log = json.loads(run("repairs", "1", "--json").stdout)
        assert log == [{"seq": 1, "date": "2026-11-22", "action": "chip_replaced", "chip": 7}]
        events = run("events", "--json").stdout
        assert '"detail": "empty"' in events and '"module": 1' in events


def test_provisioning_a_blank_module_and_the_board(lane):
    lane.sim.remove_module(2)
    S.wait_for(lane, S.state_is(2, "empty"), 2000)
    lane.sim.insert_module(2, BLANK)
    S.wait_for(lane, S.state_is(2, "unidentified"), 3000)
    out = lane.request("provision", target="module", module=2, serial="NEW-0002", date=[26, 11, 22], grade=3)
    assert out == {"module": 2, "serial": "NEW-0002", "model": "HBM-1370-24", "seq": 1, "vout_mv": 4600,
                   "vout_max_mv": 4600}  # no rating given: its nominal is its ceiling
    st, _ = S.wait_for(lane, S.state_is(2, "hashing"), 8000)
    assert st["modules"][2]["serial"] == "NEW-0002"
    rec = identity.read(_Mem(bytes(lane.sim.modules[2].eeprom.mem)), 0, bytearray(64))
    assert rec["grade"] == 3 and rec["date"] == (26, 11, 22) and rec["vout_mv"] == 4600
    with pytest.raises(RuntimeError, match="already has identity NEW-0002"):
        lane.request("provision", target="module", module=2, serial="OTHER")
    hashing_other = lambda s: s["modules"][2]["serial"] == "OTHER" and s["modules"][2]["state"] == "hashing"  # noqa: E731
    # --force keeps the stored rating; 0 clears it (hbctl provision --vout-max-mv 0)
    for extra, rated in (({"vout_max_mv": 4800}, 4800), ({}, 4800), ({"vout_max_mv": 0}, 4600)):
        out = lane.request("provision", target="module", module=2, serial="OTHER", force=True, **extra)
        assert out["vout_max_mv"] == rated, (extra, out)
        lane.run(500)  # the module identifies again first
        S.wait_for(lane, hashing_other, 8000)
    st, _ = S.wait_for(lane, lambda s: s["modules"][2]["serial"] == "OTHER" and s["modules"][2]["state"] == "hashing", 8000)
    assert lane.request("info")["identity"] is None
    assert lane.request("provision", target="board", serial="HB-000042")["board"]["serial"] == "HB-000042"
    assert lane.request("info")["identity"]["serial"] == "HB-000042"
    with pytest.raises(RuntimeError, match="already has identity HB-000042"):
        lane.request("provision", target="board", serial="HB-000043")
    with pytest.raises(RuntimeError, match="serial must be at most 16 characters"):
        lane.request("provision", target="module", module=1, serial="X" * 17, force=True)
    assert S.status(lane)["modules"][1]["state"] == "hashing"  # a refused request changes nothing


def test_module_calibration_from_its_eeprom_is_applied(lane):
    """Sensor offsets (0.1 degC) and the current-sense trim travel with the module."""
    lane.sim.remove_module(1)
    S.wait_for(lane, S.state_is(1, "empty"), 2000)
    lane.sim.insert_module(1, module_image("CAL1", cal=(25, -15, 500)))
    S.wait_for(lane, S.state_is(1, "hashing"), 8000)
    lane.run(2000)
    m = lane.fb.app.modules[1]
    hw = lane.sim.modules[1]
    inlet = hw.sensors["m1.inlet"].source()
    outlet = hw.sensors["m1.outlet"].source()
    assert m.temps[0] - inlet == pytest.approx(2.5, abs=0.6)  # sensor noise is +-0.25 degC
    assert m.temps[1] - outlet == pytest.approx(-1.5, abs=0.6)
    assert m.iout / hw.vrm.iout == pytest.approx(1.05, rel=0.02)
