"""The virtual board's USB-serial link under abuse, on the real interpreter: a pipelined flood of
junk and valid requests, and a port that is written to and never read. Either way the control
loop keeps running on board time and the board answers afterwards."""

from __future__ import annotations

import json
import random
import threading
import time

import pytest
import serial

from hil_tests.board_time import settle_hashing
from hostlib.sim.virtual import VirtualBoard


SPEED = 10.0
WALL_SAFETY_S = 120.0  # fails only a board that stopped answering altogether


@pytest.fixture
def vboard(sim_only):
    with VirtualBoard(speed=SPEED) as vb:
        assert vb.wait_ready(60)
        settle_hashing(vb)
        yield vb


def replies(buf: bytes) -> dict[int, dict]:
    out = {}
    for line in buf.split(b"\n"):
        line = line.strip()
        if line.startswith(b"@hb {"):
            try:
                doc = json.loads(line[4:])
            except ValueError:
                continue
            if isinstance(doc.get("id"), int):
                out[doc["id"]] = doc
    return out


def ask(ser: serial.Serial, rid: int, op: str = "ping") -> dict:
    """A fresh request after the abuse: its own reply, however much stale output comes first."""
    ser.write(b'@hb {"id": %d, "op": "%s"}\n' % (rid, op.encode()))
    buf = b""
    end = time.monotonic() + WALL_SAFETY_S
    while rid not in replies(buf):
        assert time.monotonic() < end, "the board stopped answering"
        buf += ser.read(65536)
    return replies(buf)[rid]


def flood_lines(n: int, rng: random.Random) -> list[tuple[int | None, bytes]]:
    junk = [b"\xff\xfe garbage \x00\x01 {{{", b"@hb nope", b'@hb {"op": 7}', b"z" * 700,
            b'@hb {"id": "x", "op": "ping"}', b"@hb {", b"\x02\x02\x02"]
    lines = []
    for i in range(n):
        roll = rng.random()
        if roll < 0.4:
            lines.append((None, rng.choice(junk)))
        else:
            op = "status" if roll < 0.6 else "ping"
            lines.append((i, b'@hb {"id": %d, "op": "%s"}' % (i, op.encode())))
    return lines


def test_pipelined_flood_leaves_the_board_answering_and_in_control(vboard):
    vb = vboard
    lines = flood_lines(400, random.Random(11))
    got = bytearray()
    done = threading.Event()
    t0_board, restarts = vb.board_ms(), vb.restarts
    with serial.Serial(vb.port, timeout=0.02, write_timeout=WALL_SAFETY_S) as ser:
        def reader():
            while not done.is_set():
                got.extend(ser.read(65536))

        th = threading.Thread(target=reader, daemon=True)
        th.start()
        for _, line in lines:  # pipelined: no waiting for replies (5 ms apart: a busy host)
            ser.write(line + b"\n")
            time.sleep(0.005)
        done.set()
        th.join(timeout=10)
        answered = replies(bytes(got))
        assert ask(ser, 100000)["ok"] is True
        st = ask(ser, 100001, "status")["data"]
    valid = [rid for rid, _ in lines if rid is not None]
    assert answered and set(answered) <= set(valid)
    assert vb.board_ms() > t0_board
    # the control loop ran through it all: no watchdog reset, every module still hashing
    assert vb.restarts == restarts and not any(kind == "wdt_reset" for _, kind in vb.sim.events)
    assert [m["state"] for m in st["modules"]] == ["hashing"] * 4


def test_a_port_never_read_does_not_stop_the_control_loop(vboard):
    vb = vboard
    with serial.Serial(vb.port, timeout=0.05, write_timeout=WALL_SAFETY_S) as ser:
        for i in range(60):  # ~10 kB status replies each: far more than any buffer holds
            ser.write(b'@hb {"id": %d, "op": "status"}\n' % i)
        t0 = vb.board_ms()
        vb.inject("sensor:m2.outlet:open")  # the thermal guard must still act on its own
        vb.wait_board(20)
        assert vb.board_ms() - t0 >= 20000
        assert vb.sim.modules[2].vrm.vout() == 0.0  # module 2 shut down, unread port or not
        assert all(vb.sim.modules[m].vrm.vout() > 4.0 for m in (0, 1, 3))
        assert vb.relay.dropped > 0  # the unread output was dropped, oldest first, not waited on
        ser.reset_input_buffer()
        st = ask(ser, 500000, "status")["data"]  # a later reader gets answers
    assert st["modules"][2]["state"] != "hashing" and st["modules"][0]["state"] == "hashing"
