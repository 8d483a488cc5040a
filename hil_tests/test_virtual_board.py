"""Authentic lane: the unchanged firmware on the real MicroPython unix port (heap-limited),
reached through a real pty with pyserial, hbctl and mpremote, as a user would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import serial

from hostlib.link import Link
from hostlib.sim.virtual import VirtualBoard

BIN = Path(sys.executable).parent
SPEED = 10.0


def hbctl(*args, timeout=60):
    return subprocess.run([str(BIN / "hbctl"), *args], capture_output=True, text=True, timeout=timeout)


def status(port):
    r = hbctl("--port", port, "status", "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def read_until(ser, marker: bytes, timeout: float) -> bytes:
    buf = b""
    end = time.monotonic() + timeout
    while marker not in buf and time.monotonic() < end:
        buf += ser.read(4096)
    return buf


def _worst_error_fractions() -> list[list[float]]:
    """Each chip's hardware-error fraction at 525 MHz on the default board (seed 0), a little
    past its steady state in 25 C air (junction 70 C against ~68 C, domain 0.7 % under nominal
    against 0.5 %): the physics' own answer, per chip."""
    import math

    from hostlib.sim.physics import DEFAULTS, build_module
    out = []
    for slot in range(4):
        m = build_module(0, slot, 24, 4, None, 550.0, 0.108)
        row = []
        for chip in m.chips:
            x = (525.0 - m.fmax(chip, 1.15 * 0.993, 70.0)) / DEFAULTS["W"]
            row.append(1.0 / (1.0 + math.exp(-x)))
        out.append(row)
    return out


def test_status_acceptance(port, on_sim):
    st = status(port)
    assert st["runtime"]["name"] == "micropython"
    if not on_sim:
        return
    assert st["board"] == "modular-4x"
    assert [m["present"] for m in st["modules"]] == [True] * 4
    for c in st["chains"]:
        assert c["found"] == c["expected"] == 24
    for r in st["regulators"]:
        assert r["vout_set"] == pytest.approx(4.6) and r["vout"] == pytest.approx(4.6, abs=0.01)
    for t in st["temps"]:
        assert t["ok"] and 15 < t["celsius"] < 75
    assert len(st["chips"]) == 96
    worst = _worst_error_fractions()
    for c in st["chips"]:
        assert c["freq_mhz"] == pytest.approx(525.0)
        # good hashes only: the reported GH/s is the chip's work less its errors (2 %, as the fast
        # lane: the emulators count on the firmware's own board time, so a busy host cannot put a
        # hiccup between the counter sample and the firmware's timestamp)
        assert c["ghs"] == pytest.approx(525 * 2040 / 1000 * (1 - c["error_rate"]), rel=0.02)
        # within 1 % unless this chip's silicon cannot hold 525 MHz once the board is warm: seed 0
        # has one such chip (m2 c11, F 560 MHz, ~1.9 % at steady state). How warm the board is
        # when this test reads depends on how long the shared board has run, so the bound is the
        # chip's own steady-state figure from the physics, not a fixed threshold.
        bound = max(0.01, 2 * worst[c["module"]][c["index"]])
        assert c["error_rate"] < bound, (c, bound)
    # the heap limit is real (the virtual board's -X heapsize, less the ROMFS partition it holds)
    # and the controller lives within it, with room left for a reply's allocation in a fragmented
    # heap: the app's code runs from the partition (issue 15: 256 KB on the 64-bit unix port)
    assert st["heap"]["total"] <= 256 * 1024
    assert 0 < st["heap"]["peak"] < 0.9 * st["heap"]["total"]
    assert info_of(port)["firmware"]["rom"] > 0


def info_of(port):
    r = hbctl("--port", port, "info", "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_cold_boot_from_sources_has_heap_to_spare(sim_only):
    """A board whose partition holds no image of its sources (flashed by hand) compiles them at
    every boot into the heap: that must fit 320 KB with 10 % to spare, first boot and after a
    power cut alike (it once failed only after a power cut, with MemoryError in an import)."""
    with VirtualBoard(speed=SPEED, heap="320k", factory_rom=False) as vb:
        vb.wait_booted(60)
        vb.power_cut()
        vb.power_on()
        vb.wait_booted(60)
        assert vb.board_state not in (None, "booting")
        with Link(vb.port, timeout=10) as ln:
            assert ln.request("info")["firmware"]["rom"] is None  # compiled into the heap indeed


def test_info_reports_board_limits(port):
    r = hbctl("--port", port, "info", "--json")
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    lim = info["limits"]
    assert set(lim["thermal"]) >= {"target_c", "hot_c", "dangerous_c"}
    assert lim["vout"]["min"] < lim["vout"]["max"] and lim["freq_mhz"]["min"] < lim["freq_mhz"]["max"]
    assert info["protocol"] == 1 and info["runtime"]["name"] == "micropython"


def test_garbage_on_the_link_does_not_hurt_the_controller(port):
    with serial.Serial(port, timeout=0.05) as ser:
        ser.write(b"\xff\xfe garbage \x00\x01 {{{\n@hb nope\n@hb {\"op\": 7}\n" + b"z" * 2000 + b"\n")
        out = b""
        end = time.monotonic() + 60  # safety only: the four refusals come as soon as it reads them
        while out.count(b'"ok": false') < 4 and time.monotonic() < end:
            out += ser.read(4096)
        assert out.count(b'"ok": false') >= 4, out
    with Link(port) as link:
        assert link.request("ping")["pong"] is True


@pytest.fixture
def fresh_board(sim_only):
    boards = []

    def make(**kw):
        vb = VirtualBoard(speed=kw.pop("speed", SPEED), **kw)
        vb.start()
        boards.append(vb)
        assert vb.wait_ready(60)
        return vb

    yield make
    for vb in boards:
        vb.stop()


def test_link_fault_locates_chain_break(fresh_board):
    vb = fresh_board(faults=["link:2.9"])
    st = status(vb.port)
    assert st["chains"][2]["found"] == 10
    assert st["chains"][2]["fault"] == {"chip": 10, "cause": "no_response"}
    for m in (0, 1, 3):
        assert st["chains"][m]["found"] == 24 and st["chains"][m]["fault"] is None


def test_mpremote_reaches_the_real_repl_and_hbctl_restarts_the_controller(fresh_board):
    vb = fresh_board()
    r = subprocess.run([str(BIN / "mpremote"), "connect", vb.port, "resume", "exec",
                        "import sys; print(sys.implementation.name)"],
                       capture_output=True, text=True, timeout=60)
    assert r.stdout.strip() == "micropython", r.stderr
    # Ctrl-C stopped the controller, which powered everything down first
    assert all(hw.vrm.vout() == 0.0 for hw in vb.sim.modules)
    st = status(vb.port)  # hbctl soft-resets a board it finds at the REPL
    assert st["state"] == "hashing"


def test_soft_reset_reboots_through_boot_and_main(fresh_board):
    vb = fresh_board()
    with serial.Serial(vb.port, timeout=0.05) as ser:
        ser.write(b"\x03")
        assert b">>> " in read_until(ser, b">>> ", 10)
        ser.write(b"\x04")
        out = read_until(ser, b'@hb {"ready"', 20)
        assert b"soft reboot" in out and b'@hb {"ready"' in out
    assert vb.restarts == 1


def test_mpremote_file_roundtrip_survives_restart_with_storage(tmp_path, sim_only):
    store = tmp_path / "flash"
    with VirtualBoard(speed=SPEED, storage=str(store)) as vb:
        assert vb.wait_ready(60)
        src = tmp_path / "note.txt"
        src.write_text("kept across power cuts\n")
        r = subprocess.run([str(BIN / "mpremote"), "connect", vb.port, "resume", "cp", str(src), ":note.txt"],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
    assert (store / "flash.img").exists()
    with VirtualBoard(speed=SPEED, storage=str(store)) as vb:
        r = subprocess.run([str(BIN / "mpremote"), "connect", vb.port, "resume", "exec",
                            "print(open('note.txt').read())"], capture_output=True, text=True, timeout=60)
        assert "kept across power cuts" in r.stdout, r.stderr
        r = subprocess.run([str(BIN / "mpremote"), "connect", vb.port, "resume", "ls"],
                           capture_output=True, text=True, timeout=60)
        assert "main.py" in r.stdout and "board.json" in r.stdout and "hashboard/" in r.stdout


def test_mpremote_without_resume_soft_resets_in_raw_mode(fresh_board):
    vb = fresh_board()
    r = subprocess.run([str(BIN / "mpremote"), "connect", vb.port, "exec", "print(6 * 7)"],
                       capture_output=True, text=True, timeout=60)
    assert r.stdout.strip() == "42", r.stderr
    assert vb.restarts >= 1


def test_hbctl_sim_prints_port_first_and_leaves_no_process(sim_only):
    p = subprocess.Popen([str(BIN / "hbctl"), "sim", "--speed", "10"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        first = json.loads(p.stdout.readline())
        assert os.path.exists(first["port"]) and os.path.exists(first["control"])
        assert first["ready"] is True
        st = status(first["port"])
        assert st["state"] == "hashing"
        children = subprocess.run(["pgrep", "-P", str(p.pid)], capture_output=True, text=True).stdout.split()
        assert children  # the MicroPython process
    finally:
        p.terminate()
        assert p.wait(timeout=15) == 0
    for pid in children:
        assert not os.path.exists(f"/proc/{pid}") or "zombie" in Path(f"/proc/{pid}/status").read_text()


def test_runtime_chain_faults_on_the_real_interpreter(fresh_board):
    vb = fresh_board()
    expected = {1: {"chip": 7, "cause": "crc_errors"}, 3: {"chip": 4, "cause": "no_response"},
                0: {"chip": 20, "cause": "unstable"}, 2: {"chip": 11, "cause": "bad_id"}}
    for spec in ("chip:1.7:flaky", "chip:3.4:dead", "chip:0.20:unstable", "chip:2.11:badid"):
        vb.inject(spec)
    t0 = vb.board_ms()
    seen = {}
    while vb.board_ms() - t0 < 10000:
        st = status(vb.port)
        seen = {m: st["chains"][m]["fault"] for m in expected}
        if seen == expected:
            break
    assert seen == expected, (vb.board_ms() - t0, seen)
    assert st["modules"][2]["state"] == "hashing"
    assert st["modules"][3]["state"] == "fault"  # an unreachable chip: the module is not run


def test_hbctl_freq_per_chip_and_refusal(fresh_board):
    vb = fresh_board()
    r = hbctl("--port", vb.port, "freq", "700")
    assert r.returncode != 0 and "frequency 700 MHz is outside" in r.stderr and len(r.stderr.splitlines()) == 1
    r = hbctl("--port", vb.port, "freq", "450", "--module", "1", "--chip", "3")
    assert r.returncode == 0, r.stderr
    vb.wait_board(3)
    chips = {(c["module"], c["index"]): c for c in status(vb.port)["chips"]}
    assert chips[(1, 3)]["freq_mhz"] == pytest.approx(450.0)
    assert chips[(1, 2)]["freq_mhz"] == pytest.approx(525.0)
    assert vb.sim.modules[1].chain.freq_of(3) == pytest.approx(450.0)


def test_curtail_persists_across_soft_reboot_and_resume_restores(fresh_board):
    vb = fresh_board()
    full = status(vb.port)["power_w"]
    r = hbctl("--port", vb.port, "curtail")
    assert r.returncode == 0, r.stderr
    vb.wait_board(2)
    st = status(vb.port)
    assert st["state"] == "curtailed" and st["power_w"] <= 0.05 * full
    with serial.Serial(vb.port, timeout=0.05) as ser:  # soft reset: Ctrl-C, Ctrl-D
        ser.write(b"\x03")
        assert b">>> " in read_until(ser, b">>> ", 10)
        ser.write(b"\x04")
        assert b'@hb {"ready"' in read_until(ser, b'@hb {"ready"', 20)
    vb.wait_board(8)
    st = status(vb.port)
    assert st["state"] == "curtailed" and all(hw.vrm.vout() == 0.0 for hw in vb.sim.modules)
    assert hbctl("--port", vb.port, "resume").returncode == 0
    st = wait_state(vb, "hashing", 60)  # full re-bring-up
    vb.wait_board(3)
    st = status(vb.port)
    assert st["state"] == "hashing" and st["power_w"] == pytest.approx(full, rel=0.05)


def test_host_heartbeat_loss_on_the_real_interpreter(fresh_board):
    vb = fresh_board()
    assert hbctl("--port", vb.port, "heartbeat", "--policy", "off", "--after", "3").returncode == 0
    vb.wait_board(6)
    assert all(hw.vrm.vout() == 0.0 for hw in vb.sim.modules)
    r = hbctl("--port", vb.port, "events", "--json")
    kinds = [json.loads(x)["detail"] for x in r.stdout.splitlines() if '"heartbeat"' in x]
    assert kinds and kinds[0] == "lost: off"


def test_watchdog_resets_a_hung_controller_into_a_safe_state(fresh_board):
    vb = fresh_board()
    restarts = vb.restarts
    vb.inject("i2c:hang")  # the control loop blocks in an I2C transaction
    t0 = vb.board_ms()
    while vb.restarts == restarts and vb.board_ms() - t0 < 60000:
        vb.wait_board(0.5)  # the bus is held, so board time runs free until the watchdog bites
    assert vb.restarts > restarts  # the watchdog bit
    assert all(hw.vrm.vout() == 0.0 for hw in vb.sim.modules)  # and the MCU reset left all off
    vb.clear("i2c:hang")
    assert wait_state(vb, "hashing", 120)["state"] == "hashing"


def test_safety_scenarios_on_the_real_interpreter(fresh_board):
    vb = fresh_board(speed=20)
    lim = vb.cfg["limits"]
    vb.inject("vrm:1:ot")
    vb.inject("sensor:m2.outlet:open")
    with Link(vb.port, timeout=10) as link:
        for _ in range(10):  # a flood of out-of-range commands
            for op, args in (("set_vout", {"volts": 9.0}), ("set_freq", {"mhz": 9999}),
                             ("power", {"target_w": -1}), ("curtail", {"level": 400})):
                with pytest.raises(Exception, match="out_of_range"):
                    link.request(op, args)
        vb.wait_board(3)
        st = link.request("status")
        evs = link.request("events", {"since": 0})
    assert "ot" in st["regulators"][1]["faults"] and st["modules"][1]["state"] == "fault"
    assert st["modules"][2]["cause"].startswith("sensor:m2.outlet")
    assert any(e["kind"] == "shutdown" and e["module"] == 2 for e in evs)
    assert any(e["kind"] == "fault" and e["module"] == 1 for e in evs)
    assert vb.sim.vrm_commands_outside() == []
    for hw in vb.sim.modules:
        assert all(hw.chain.freq_of(i) <= lim["freq_mhz"]["max"] for i in range(24))
        assert hw.vrm.vout() <= lim["vout"]["max"]


def wait_state(vb, state, board_s):
    t0 = vb.board_ms()
    st = status(vb.port)
    while st["state"] != state and vb.board_ms() - t0 < board_s * 1000:
        vb.wait_board(5)
        st = status(vb.port)
    return st


def test_ambient_ramp_and_airflow_loss_on_the_real_interpreter(fresh_board):
    vb = fresh_board(speed=20)
    hot = vb.cfg["limits"]["thermal"]["hot_c"]
    vb.set_ambient(45)
    st = wait_state(vb, "throttled", 400)
    assert st["state"] == "throttled"
    vb.wait_board(30)  # settle under throttling
    st = status(vb.port)
    for m in st["modules"]:
        assert m["state"] == "throttled" and m["ghs"] > 1000 and m["temp_c"] < hot
    # A slice of airflow loss: the long run (minutes of board time) is the fast lane's
    # test_power_thermal::test_airflow_loss_never_overheats, on the same firmware modules.
    vb.set_ambient(25)
    vb.inject("airflow:0.1")
    vb.wait_board(60)
    st = status(vb.port)
    assert all(m["temp_c"] < vb.cfg["limits"]["thermal"]["dangerous_c"] for m in st["modules"])
    assert vb.sim.vrm_commands_outside() == []


def test_the_control_loop_allocates_nothing(port):
    """Issue 15 (RAM): 200 control periods while every module hashes, each step measured by the
    board itself with the collector held off (op alloc_probe). Not one byte is allocated, nonce
    checks included (SHA-256d in viper into a preallocated digest); the nonce checks did run. A
    float, tuple, iterator, bound method or hash object in the per-period path fails it."""
    with Link(port, timeout=10) as ln:
        assert ln.request("info")["firmware"]["nonce_hash"] == "viper"
        end = time.monotonic() + 120
        while any(m["state"] != "hashing" for m in ln.request("status", {"chips": False})["modules"]):
            assert time.monotonic() < end, "not every module hashing"
            time.sleep(0.5)
        ln.request("alloc_probe", {"periods": 200})
        end = time.monotonic() + 120
        while (d := ln.request("alloc_probe"))["periods_left"] > 0:
            assert time.monotonic() < end, d
            time.sleep(0.5)
    assert d["steps"] >= 150, d  # measured with the collector held off (room for it on the heap)
    assert d["nonces"] > 0 and d["nonce_bytes"] == 0, d
    assert d["other_bytes"] == 0 and d["other_max"] == 0, d
