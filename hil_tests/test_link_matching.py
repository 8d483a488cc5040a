"""Link takes only its own reply: input left on the port is dropped before a request, ids are
unique per link, late replies, events and id-less refusals are skipped, and what the board could
only refuse without an id (NaN, an over-long line) is refused on the host before it is sent.
Runs against a scripted board on a pty pair: no emulator needed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import tty
from pathlib import Path

import pytest
import serial

from hostlib import cli
from hostlib.errors import BoardTimeout, RequestError
from hostlib.link import Link
from hostlib.sim import VirtualBoard

HBCTL = str(Path(sys.executable).with_name("hbctl"))
SPEED = 10.0

STATUS = {"board": "x", "state": "hashing", "modules": []}
EVENTS = [{"seq": 1, "ms": 10, "kind": "state", "module": None, "detail": "hashing"}]


class ScriptedBoard:
    """The board end of a pty: for every request line, first the noise in `before` (stale replies,
    events, refusals), then the reply `answer(req)` with the request's own id (None: no reply)."""

    def __init__(self, before: list[bytes], answer) -> None:
        self.master, slave = os.openpty()
        tty.setraw(slave)
        self.path = os.ttyname(slave)
        self._slave = slave
        self.before, self.answer = before, answer
        self.requests: list[dict] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        buf = b""
        while True:
            try:
                chunk = os.read(self.master, 4096)
            except OSError:
                return
            buf += chunk
            while b"\n" in buf:
                line, _, buf = buf.partition(b"\n")
                if not line.startswith(b"@hb "):
                    continue
                req = json.loads(line[4:])
                self.requests.append(req)
                data = self.answer(req)
                out = b"".join(self.before)
                if data is not None:
                    out += b"@hb " + json.dumps({"id": req["id"], "ok": True, "data": data}).encode() + b"\n"
                os.write(self.master, out)

    def stale(self, data: bytes) -> None:
        """Bytes already waiting on the host's side of the port before it asks anything."""
        os.write(self.master, data)

    def close(self) -> None:
        os.close(self.master)
        os.close(self._slave)


def reply(rid, data) -> bytes:
    return b"@hb " + json.dumps({"id": rid, "ok": True, "data": data}).encode() + b"\n"


NOISE = [reply(1, STATUS), reply("other-7", STATUS), b'@ev {"seq": 9, "ms": 5, "kind": "x"}\n',
         b'@hb {"id": null, "ok": false, "error": {"code": "bad_request", "message": "request is not valid JSON"}}\n',
         b"Traceback (most recent call last):\n"]


@pytest.fixture
def board():
    made = []

    def make(before=(), answer=lambda req: {"op": req["op"]}):
        b = ScriptedBoard(list(before), answer)
        made.append(b)
        return b

    yield make
    for b in made:
        b.close()


def test_only_the_reply_with_this_requests_id_is_taken(board):
    b = board(NOISE)
    with Link(b.path, timeout=2.0, auto_start=False) as link:
        assert link.request("status") == {"op": "status"}
        assert link.request("events") == {"op": "events"}
    ids = [r["id"] for r in b.requests]
    assert len(set(ids)) == 2 and all(isinstance(i, str) for i in ids)


def test_ids_are_unique_per_link_and_differ_between_links(board):
    b = board()
    for _ in range(2):
        with Link(b.path, timeout=2.0, auto_start=False) as link:
            link.request("ping")
            link.request("ping")
    assert len({r["id"] for r in b.requests}) == 4


def test_input_left_on_the_port_is_dropped_before_the_request(board):
    b = board(answer=lambda req: None if req["op"] == "silent" else {"op": req["op"]})
    with Link(b.path, timeout=1.0, auto_start=False) as link:
        # a reply with exactly the id the next request will carry, already waiting: only
        # discarding what is left on the port keeps it from being taken for the answer
        b.stale(reply(f"{link._nonce}-1", STATUS) + b'@ev {"seq": 1}\n')
        with pytest.raises(BoardTimeout):
            link.request("silent")
        assert link.events == []


def test_a_timeout_names_id_less_refusals_seen_meanwhile(board):
    b = board(NOISE[3:4], answer=lambda req: None)
    with Link(b.path, timeout=0.5, auto_start=False) as link:
        with pytest.raises(BoardTimeout, match=r"refused 1 malformed line.*not valid JSON"):
            link.request("status")


@pytest.mark.parametrize("args, named", [({"mhz": float("nan")}, "mhz = nan"),
                                         ({"a": {"b": [1.0, float("inf")]}}, "a.b.1 = inf")])
def test_non_finite_numbers_are_refused_before_sending(board, args, named):
    b = board()
    with Link(b.path, timeout=0.5, auto_start=False) as link:
        with pytest.raises(RequestError, match=named):
            link.request("set_freq", args)
        with pytest.raises(RequestError, match="at most 512"):
            link.request("provision", {"serial": "x" * 600})
        assert link.request("ping") == {"op": "ping"}
    assert [r["op"] for r in b.requests] == ["ping"]  # nothing malformed reached the board


def test_hbctl_refuses_nan_in_one_line(board, capsys):
    b = board()
    assert cli.main(["--port", b.path, "freq", "nan"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "mhz: 'nan' is not a finite number" in err and b.requests == []


def test_hbctl_events_prints_events_never_another_requests_reply(board, capsys):
    b = board(NOISE, answer=lambda req: EVENTS if req["op"] == "events" else STATUS)
    b.stale(reply(1, STATUS))
    assert cli.main(["--port", b.path, "events", "--json"]) == 0
    assert [json.loads(x) for x in capsys.readouterr().out.splitlines()] == EVENTS
    assert cli.main(["--port", b.path, "status", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == STATUS


def test_hbctl_events_refuses_a_reply_that_is_not_a_list(board, capsys):
    b = board(answer=lambda req: STATUS)
    assert cli.main(["--port", b.path, "events", "--json"]) == 1
    out = capsys.readouterr()
    assert out.out == "" and "not a list of events" in out.err


def flood_lines(n: int) -> list[bytes]:
    """Junk and valid requests, many with the ids a fresh host tool would use first (1, 2, ...)."""
    kinds = [b"@hb {not json", b"garbage %d", b'@hb {"id": 1, "op": null}', b'@hb {"id": 1, "op": "ping"}',
             b'@hb {"id": 2, "op": "events", "args": {"since": 0}}', b"\x02@hb [1, 2]", b"@hb " + b"x" * 600]
    lines = [(kinds[i % len(kinds)].replace(b"%d", b"%d" % i)) + b"\n" for i in range(n)]
    for i in range(0, n, 60):
        lines[i] = b'@hb {"id": 1, "op": "status"}\n'  # large replies nobody reads
    return lines


@pytest.mark.mpy
def test_after_a_pipelined_flood_every_command_prints_its_own_document(sim_only):
    """3000 lines written without reading a reply; then `status --json` prints a status document
    and `events --json` prints events (not the stale replies still in flight)."""
    with VirtualBoard(speed=SPEED) as vb:
        assert vb.wait_ready(60)
        port = serial.serial_for_url(vb.port, timeout=0, write_timeout=30)
        try:
            for line in flood_lines(3000):
                port.write(line)  # a board that stops reading for 30 s fails here
        finally:
            port.close()

        def hb(*args):
            r = subprocess.run([HBCTL, "--port", vb.port, "--timeout", "20", *args], capture_output=True,
                               text=True, timeout=90)
            assert r.returncode == 0 and r.stderr == "", (args, r.stderr)
            return [json.loads(x) for x in r.stdout.splitlines()]

        (st,) = hb("status", "--json")
        assert {"board", "state", "modules", "chains", "regulators", "temps", "chips"} <= set(st)
        evs = hb("events", "--json")
        assert evs and all({"seq", "kind"} <= set(e) and "modules" not in e for e in evs), evs[:3]
        (st,) = hb("status", "--json")
        assert st["board"] == "modular-4x"
