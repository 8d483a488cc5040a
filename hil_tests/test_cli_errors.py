"""Bad input to hbctl: one line on stderr naming the problem, a non-zero exit, no traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent


def hbctl(*args, timeout=60):
    return subprocess.run([str(BIN / "hbctl"), *args], capture_output=True, text=True, timeout=timeout)


def one_line_error(r, *needles):
    assert r.returncode != 0
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert "Traceback" not in r.stderr
    for n in needles:
        assert n in lines[0], lines[0]


def test_unknown_board():
    one_line_error(hbctl("sim", "--board", "nope"), "unknown board 'nope'")


def test_invalid_board_file(tmp_path):
    cfg = json.loads((Path(__file__).parents[1] / "boards" / "modular-4x.json").read_text())
    cfg["limits"]["freq_mhz"]["default"] = 9999
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(cfg))
    one_line_error(hbctl("sim", "--board", str(bad)), "limits.freq_mhz.default")


def test_malformed_fault_spec():
    one_line_error(hbctl("sim", "--fault", "chip:7.1:dead"), "chip:7.1:dead", "module 7")


def test_missing_port():
    env = {k: v for k, v in os.environ.items() if k != "HB_PORT"}
    r = subprocess.run([str(BIN / "hbctl"), "status"], capture_output=True, text=True, env=env)
    one_line_error(r, "no port given")


def test_port_that_does_not_exist():
    one_line_error(hbctl("--port", "/dev/does-not-exist", "status"), "cannot open port /dev/does-not-exist")


@pytest.fixture
def pty_pair():
    m, s = os.openpty()
    yield m, os.ttyname(s)
    os.close(m)
    os.close(s)


def test_board_not_answering(pty_pair):
    _, name = pty_pair
    t0 = time.monotonic()
    one_line_error(hbctl("--port", name, "--timeout", "0.5", "status"), "did not answer", name)
    assert time.monotonic() - t0 < 15


def test_garbage_on_the_link(pty_pair):
    m, name = pty_pair
    stop = threading.Event()

    def babble():
        while not stop.is_set():
            try:
                os.write(m, b"\x13\x88garbage that is not the protocol\r\n")
            except OSError:
                return
            time.sleep(0.02)

    t = threading.Thread(target=babble, daemon=True)
    t.start()
    try:
        one_line_error(hbctl("--port", name, "--timeout", "0.5", "info"), "not the host protocol")
    finally:
        stop.set()
        t.join()


def test_no_command_prints_usage():
    r = hbctl()
    assert r.returncode == 2 and "a command is required" in r.stderr


def test_a_secret_file_others_can_read_is_refused_before_any_port_opens(tmp_path):
    """As ssh with a private key: a board secret anyone on the host can read owns the board."""
    sf = tmp_path / "board.secret"
    sf.write_text("ab" * 32)
    sf.chmod(0o644)
    r = hbctl("--port", "/dev/null-no-such-port", "--secret-file", str(sf), "info")
    one_line_error(r, "readable by others", "chmod 600")
    sf.chmod(0o600)
    r = hbctl("--port", "/dev/null-no-such-port", "--secret-file", str(sf), "info")
    assert "readable by others" not in r.stderr and r.returncode != 0  # the port is what fails now
