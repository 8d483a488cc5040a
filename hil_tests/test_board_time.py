"""Board time (docs/emulator.md, "Board time"): the MCU owns it, the emulators follow it, and
nothing the host machine does (load, many boards in one process) changes what the firmware sees."""

from __future__ import annotations

import re
import subprocess
import sys
import time

import pytest
import serial

from hostlib import boards
from hostlib.sim import mcumonitor
from hostlib.sim.boardclock import BoardClock
from hostlib.sim.simboard import SimBoard
from hostlib.sim.virtual import VirtualBoard

WALL_SAFETY_S = 180.0  # only a board that never comes up fails on this


# ------------------------------------------------------------------ the host side of the clock
def test_clock_holds_at_the_mcu_time_and_takes_the_later_of_the_two():
    c = BoardClock(speed=1000.0)
    assert c.now_us() == 0
    time.sleep(0.01)
    assert c.now_us() == 0  # no MCU yet: nothing moves board time
    assert c.observe(5_000_000) == 5_000_000
    time.sleep(0.01)
    assert c.now_us() == 5_000_000  # held: the MCU may be busy reaching its next wait
    assert c.observe(4_000_000) == 5_000_000  # never backwards


def test_clock_runs_free_only_for_a_reason_and_an_announced_sleep_caps_it():
    c = BoardClock(speed=1000.0)
    c.observe(1_000_000)
    c.set_free("held", True)  # e.g. i2c:hang: the MCU is stuck in a transaction
    time.sleep(0.01)
    assert c.now_us() >= 1_000_000 + 10_000 * 1000 * 0.9
    c.set_free("held", False)
    t = c.now_us()
    time.sleep(0.01)
    assert c.now_us() == t and c.free_us["held"] == t - 1_000_000
    c.sleeping_until(t + 2_000)
    time.sleep(0.01)
    assert c.now_us() == t + 2_000  # free up to the wake time, not past it
    assert c.observe(t + 2_050) == t + 2_050 and "sleep" not in c.free_reasons()


def test_waiting_on_a_stuck_clock_fails_instead_of_hanging():
    c = BoardClock(speed=10.0)
    with pytest.raises(TimeoutError, match="stuck"):
        c.wait_until_us(1_000, stall_s=0.2)


# ------------------------------------------------------------------ the monitor, on real processes
@pytest.mark.parametrize("code, reason", [
    ("import sys; sys.stdin.read()", "idle"),  # blocked reading its console: the REPL's case
    ("while True: pass", "hung"),  # computing without a frame for CPU_HANG_S of CPU
    ("import time; time.sleep(30)", None),  # asleep: the MCU may still hold board time
])
def test_monitor_tells_why_no_firmware_can_be_holding_board_time(monkeypatch, code, reason):
    monkeypatch.setattr(mcumonitor, "CPU_HANG_S", 0.3)
    sim = SimBoard(boards.load("modular-4x"))
    p = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE)
    try:
        mon = mcumonitor.McuMonitor(sim, lambda: p.pid, lambda: None)
        seen: set[str] = set()
        # a safety bound only (the hog needs 0.3 s of CPU, however long a busy host takes to give
        # it); the sleeper is watched for a second
        end = time.monotonic() + (1.0 if reason is None else 60.0)
        while time.monotonic() < end and (reason is None or reason not in seen):
            mon.tick()
            seen |= sim.clock.free_reasons()
            time.sleep(0.02)
        assert seen == ({reason} if reason else set())
    finally:
        p.kill()
        p.wait()


# ------------------------------------------------------------------ on the real interpreter
@pytest.fixture
def busy_core():
    """An unrelated process keeping one core busy for the whole test."""
    p = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    yield
    p.kill()
    p.wait()


def test_four_boards_in_one_process_under_load_boot_on_the_same_board_time(sim_only, busy_core):
    boards = [VirtualBoard(speed=20.0, seed=i) for i in range(4)]
    try:
        for vb in boards:
            vb.start()
        hashing_ms = []
        for vb in boards:
            assert vb.wait_ready(WALL_SAFETY_S)
            vb.sim.clock.wait_until_us(0)
            t0 = vb.board_ms()
            while vb.board_state != "hashing":
                assert vb.board_ms() - t0 < 30_000, vb.board_state
                vb.wait_board(0.1)
            hashing_ms.append(vb.board_state_ms)
        # Boot is a fixed amount of firmware work: with the clock in the MCU's hands it takes the
        # same board time on every board, however the 2 cores were shared out. (Before, each
        # board's clock ran on while its firmware waited for a CPU: 5-15 s and all different.)
        assert max(hashing_ms) - min(hashing_ms) <= 100, hashing_ms
        assert max(hashing_ms) < 5_000, hashing_ms
        assert all(vb.sim.clock.free_time_us() == {} for vb in boards)  # nothing ran the clock free
        assert all(vb.restarts == 0 for vb in boards)
    finally:
        for vb in boards:
            vb.stop()


def read_until(ser: serial.Serial, marker: bytes) -> bytes:
    buf = b""
    end = time.monotonic() + WALL_SAFETY_S
    while marker not in buf:
        assert time.monotonic() < end, buf[-300:]
        buf += ser.read(4096)
    return buf


def repl_ticks(ser: serial.Serial) -> int:
    ser.write(b"print('T', time.ticks_ms())\r")
    return int(re.search(rb"T (\d+)", read_until(ser, b">>> ")).group(1))


def test_board_time_runs_on_at_the_repl_and_the_timer_keeps_the_watchdog_fed(sim_only):
    with VirtualBoard(speed=20.0) as vb:
        assert vb.wait_ready(WALL_SAFETY_S)
        with serial.Serial(vb.port, timeout=0.05) as ser:
            ser.write(b"\x03")  # the controller stops; its watchdog is fed by a Timer thread
            read_until(ser, b">>> ")
            ser.write(b"import time\r")
            read_until(ser, b">>> ")
            t0 = repl_ticks(ser)
            b0 = vb.board_ms()
            vb.wait_board(20)  # nobody types: the MCU waits on its console, time runs on
            t1 = repl_ticks(ser)
        assert vb.board_ms() - b0 >= 20_000
        assert t1 - t0 >= 20_000  # the REPL's own clock caught up with the board's
        assert vb.sim.clock.free_time_us().get("idle", 0) >= 15_000_000
        assert vb.restarts == 0 and not any(k == "wdt_reset" for _, k in vb.sim.events)
