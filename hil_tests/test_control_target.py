"""The control-board I2C interface (issue 6): the register map codec, the firmware applying
controller writes, and hbctl --i2c against the real interpreter's emulated I2CTarget."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hashboard import ctltarget as reg
from hostlib.ctlbus import ControlBus, I2CError, open_bus
from hostlib.sim.fastlane import MemBus

BIN = Path(sys.executable).parent


@pytest.fixture
def board(fast):
    fb = fast()
    fb.run_for(8000)
    return fb, ControlBus(MemBus(fb.hw), 0x30)


def test_status_registers_match_the_status_document(board):
    fb, cb = board
    s = cb.status()
    st = fb.status()
    assert s["magic"] == "HB" and s["map"] == 1 and s["protocol"] == 1 and s["firmware"] == "0.1.0"
    assert s["slots"] == 4 and s["state"] == "hashing" and s["present"] == 0b1111 and s["running"] == 0b1111
    assert s["faulty"] == 0 and s["curtail"] is None and s["target_w"] is None
    assert s["ghs"] == pytest.approx(sum(m["ghs"] for m in st["modules"]), rel=0.02)
    assert s["power_w"] == pytest.approx(st["power_w"], rel=0.05)
    seq = s["seq"]
    fb.run_for(2000)
    assert cb.status()["seq"] == (seq + 2) & 0xFF  # refreshed every telemetry period


def test_writes_curtail_resume_and_set_a_power_target(board):
    fb, cb = board
    cb.curtail(0)
    fb.run_for(2000)  # the ramp-down (0.5 s) and the next register refresh (1 s period)
    s = cb.status()
    assert fb.status()["state"] == "curtailed" and s["curtail"] == 0 and s["result"] == "ok"
    assert s["power_w"] <= 0.05 * 1330
    cb.resume()
    fb.run_for(6000)
    assert fb.status()["state"] == "hashing" and cb.status()["curtail"] is None
    cb.power_target(900)
    fb.run_for(6000)
    assert fb.app.power.target_w == 900 and cb.status()["target_w"] == 900
    cb.power_target(None)
    fb.run_for(200)
    assert fb.app.power.target_w is None


def test_out_of_range_writes_are_refused_and_reported(board):
    fb, cb = board
    ack = cb.status()["ack"]
    MemBus(fb.hw).write_i2c_block_data(0x30, reg.REG_CURTAIL, [150])  # a bad level, raw
    fb.run_for(200)
    s = cb.status()
    assert s["result"] == "out_of_range" and s["ack"] == (ack + 1) & 0xFF
    assert fb.status()["state"] == "hashing"
    cb.power_target(5000)  # above 1.2 x the board's nominal power
    fb.run_for(200)
    assert cb.status()["result"] == "out_of_range" and fb.app.power.target_w is None


def test_settings_made_over_serial_show_in_the_registers(board):
    fb, cb = board
    fb.request("curtail", level=40)
    fb.run_for(1100)
    assert cb.status()["curtail"] == 40
    cb.resume()  # and the controller can undo them
    fb.run_for(200)
    assert not fb.app.power.curtailed


def test_heartbeat_over_i2c_keeps_the_host_contract(board):
    fb, cb = board
    fb.request("heartbeat", policy="curtail", timeout_s=3)
    for _ in range(5):
        fb.run_for(2000)
        cb.heartbeat()
    assert not fb.app.hb_lost and fb.status()["state"] == "hashing"
    fb.run_for(4000)  # the control board falls silent
    assert fb.app.hb_lost and fb.status()["state"] == "curtailed"


def test_bus_spec_errors_are_named():
    for spec, why in (("nope", "expected BUS:ADDR"), ("1:zz", "not a number"), ("1:0x02", "0x08..0x77"),
                      ("/nonexistent/control.sock:0x30", "cannot reach the virtual board")):
        with pytest.raises(I2CError, match=why):
            open_bus(spec)


def test_hbctl_i2c_against_the_real_interpreter(sim_only):
    from hostlib.sim.virtual import VirtualBoard

    with VirtualBoard(speed=10) as vb:
        assert vb.wait_ready(60)

        def hb(*a):
            return subprocess.run([str(BIN / "hbctl"), "--i2c", f"{vb.control_path}:0x30", *a],
                                  capture_output=True, text=True, timeout=60)

        t0 = vb.board_ms()  # waits in board time: a busy host makes them longer, not fail
        r = hb("status")
        while "state hashing" not in r.stdout and vb.board_ms() - t0 < 20_000:
            vb.wait_board(0.5)
            r = hb("status")
        assert r.returncode == 0 and "modules present 0123  running 0123" in r.stdout, r.stdout + r.stderr
        assert hb("curtail", "--level", "0").returncode == 0
        t0 = vb.board_ms()
        while json.loads(hb("status", "--json").stdout)["state"] != "curtailed" and vb.board_ms() - t0 < 20_000:
            vb.wait_board(0.5)
        assert all(hw.vrm.vout() == 0.0 for hw in vb.sim.modules)
        r = subprocess.run([str(BIN / "hbctl"), "--i2c", f"{vb.control_path}:0x31", "status"],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 1 and r.stderr.strip() == "hbctl: error: no answer from the board at I2C 0x31: no I2C target at 0x31"
