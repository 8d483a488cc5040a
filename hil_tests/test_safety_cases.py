"""Issue 10's cases replayed on both lanes (safety_cases.py), plus the ones that need the real
interpreter's flash, loader and power: a stored heartbeat contract after a power cut, a bundle
for another board, a stored setting outside the board's range."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import safety_cases as C
from hotswap_scenarios import RUNNING, FastLane, VirtualLane, state_is, wait_for
from hostlib import loaderfiles
from hostlib.link import Link
from hostlib.paths import FIRMWARE
from hostlib.sim.virtual import VirtualBoard


bootsel = loaderfiles.load("bootsel")  # as on the board's flash: loose, not in a package

SPEED = 20.0
CASES = [C.latch_then_replace, C.clear_resume_while_hot, C.recovery_leaves_other_stops_alone,
         C.enable_stuck_low, C.fast_swap, C.off_during_expander_nack]
BIN = Path(sys.executable).parent


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.__name__)
def test_case_on_the_fast_lane(case, tmp_path):
    case(FastLane(C.quick_board(tmp_path)))


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.__name__)
def test_case_on_the_real_interpreter(case, sim_only, tmp_path):
    lane = VirtualLane(speed=SPEED, board=C.quick_board(tmp_path))
    try:
        case(lane)
    finally:
        lane.close()


def test_stored_heartbeat_contract_runs_from_boot_after_a_power_cut(sim_only):
    """4. 'off' after 5 s without a host, then a power cut: after power-on, with no host
    traffic at all, every regulator is off once the timeout has passed."""
    with VirtualBoard(speed=SPEED) as vb:
        assert vb.wait_ready(60)
        with Link(vb.port, timeout=10.0) as link:
            link.request("heartbeat", {"policy": "off", "timeout_s": 5})
        vb.power_cut()
        vb.power_on()
        assert vb.wait_ready(60)
        t0 = vb.board_ms()
        vb.wait_board(7.0)
        assert vb.board_ms() - t0 >= 7000
        on = [s for s in range(4) if C.hw_on(vb, s)]
        assert on == [], f"regulators still on with no host since boot: {on}"


def test_loader_refuses_a_bundle_for_another_board(tmp_path, monkeypatch):
    """7 (loader): a trial app made for another board is never booted; the confirmed one is."""
    apps = tmp_path / "apps"
    for slot, board in (("a", "modular-4x"), ("b", "bitaxe-gamma")):
        d = apps / slot
        d.mkdir(parents=True)
        (d / "hbmain.py").write_text("x = 1\n")
        man = {"board": board, "version": "1", "bundle": slot, "files": {}}
        (d / "manifest.json").write_text(json.dumps(man))
    (tmp_path / "board.json").write_text(json.dumps({"name": "modular-4x"}))
    state = {"confirmed": "a", "trial": "b", "tries": 0}
    (apps / "state.json").write_text(json.dumps(state))
    monkeypatch.setattr(bootsel, "root", str(tmp_path))
    slot, trial, man, st = bootsel.choose()
    assert (slot, trial) == ("a", False)
    assert st["reverted"] == "b" and st["refused"] == "board bitaxe-gamma"
    # a development board the host explicitly allowed (flash --force) takes it ...
    (apps / "state.json").write_text(json.dumps(dict(state, allow_board="bitaxe-gamma")))
    assert bootsel.choose()[:2] == ("b", True)
    # ... a provisioned one never does
    (tmp_path / "identity.json").write_text(json.dumps({"serial": "B1", "board": "modular-4x"}))
    (apps / "state.json").write_text(json.dumps(dict(state, allow_board="bitaxe-gamma")))
    assert bootsel.choose()[:2] == ("a", False)


def test_hbctl_flash_refuses_a_bundle_for_another_board(sim_only):
    """7 (host): exit non-zero naming both boards; the board keeps running its own app."""
    with VirtualBoard(speed=SPEED) as vb:
        assert vb.wait_ready(60)
        r = subprocess.run([str(BIN / "hbctl"), "--port", vb.port, "flash", "--board", "bitaxe-gamma"],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode != 0
        assert "bitaxe-gamma" in r.stderr and "modular-4x" in r.stderr, r.stderr
        assert len(r.stderr.strip().splitlines()) == 1, r.stderr
        with Link(vb.port, timeout=20.0) as link:
            assert link.request("info", {})["board"] == "modular-4x"


def test_stored_setting_outside_the_board_range_is_dropped_not_fatal(sim_only):
    """8. A settings.json with a 2000 W target (written under another board file): the
    controller starts, hashes, and reports the dropped value."""
    with VirtualBoard(speed=SPEED) as vb:
        assert vb.wait_ready(60)
        doc = json.dumps({"power_target_w": 2000, "curtailed": False, "curtail_level": 0, "heartbeat": None})
        r = subprocess.run([str(BIN / "mpremote"), "connect", vb.port, "exec",
                            f"f = open('settings.json', 'w'); f.write({doc!r}); f.close()", "soft-reset"],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        lane = VirtualLane.__new__(VirtualLane)
        lane.vb, lane.sim = vb, vb.sim
        lane.link = Link(vb.port, timeout=20.0)
        try:
            wait_for(lane, state_is(0, *RUNNING), 20_000)
            evs = lane.request("events", since=0)
            assert any(e["kind"] == "settings" and "power_target_w dropped" in e["detail"] for e in evs), evs
            assert lane.request("info").get("board") == "modular-4x"
        finally:
            lane.link.close()


def test_a_fast_swap_mid_ramp_never_powers_the_new_module_at_the_old_voltage():
    """Found by the session-5 audit (it explains a CI run that saw 4.648 V on a 4.6 V module): a
    voltage ramp step went out as VOUT_COMMAND *and* OPERATION on, so a module swapped in faster
    than a presence sample was switched on at the old module's voltage, and the read-back that
    tells a re-seated regulator (OPERATION off) never saw it. Ramps now move VOUT_COMMAND only."""
    from hostlib.eeprom_image import module_image
    from hostlib.sim.fastlane import FastBoard

    fb = FastBoard("modular-4x")
    fb.sim.remove_module(0)
    fb.sim.insert_module(0, module_image("OLD-50", vout_mv=5000))
    fb.run_for(4000)
    fb.request("power", target_w=1600)
    m = fb.app.modules[0]
    for _ in range(6000):  # until the tuner ramps module 0 above the new module's rating
        fb.run_for(10)
        if m.state == "hashing" and m.vrm.vout_set > 4.601 and abs(m.vout_goal() - m.vrm.vout_set) > 1e-3:
            break
    else:
        pytest.fail("module 0 never ramped above 4.6 V")
    fb.sim.remove_module(0)
    fb.sim.insert_module(0, module_image("NEW-46", vout_mv=4600))
    worst = 0.0
    for _ in range(300):  # 3 board s: identified again, powered at its own rating at most
        fb.run_for(10)
        hw = fb.sim.modules[0]
        if hw.vrm.enabled():
            worst = max(worst, hw.vrm.vout())
    assert worst <= 4.6 + 0.026, f"new module rated 4.6 V powered at {worst:.3f} V"
