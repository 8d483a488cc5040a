"""hbctl demo: redrawn in place on a terminal (like top), plain successive tables into a pipe, and
SIGTERM leaves neither its board's process nor its temporary directories behind."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hostlib.cli_demo import CLEAR, HOME, SHOW_CURSOR

pytestmark = [pytest.mark.mpy, pytest.mark.usefixtures("sim_only")]

DEMO = [str(Path(sys.executable).with_name("hbctl")), "demo", "--speed", "10", "--interval", "0.2"]


def _env(tmp: Path) -> dict:
    tmp.mkdir()
    return {**os.environ, "TMPDIR": str(tmp)}  # the board's temporary directories land here


def _left_behind(tmp: Path) -> list[str]:
    """Files under tmp, and processes whose working directory is there (the MCU runs in one)."""
    found = [str(p) for p in tmp.iterdir()]
    for cwd in Path("/proc").glob("[0-9]*/cwd"):
        try:
            if str(tmp) in os.readlink(cwd):
                found.append(f"process {cwd.parent.name}")
        except OSError:
            pass
    return found


def test_demo_into_a_pipe_prints_plain_successive_tables(tmp_path):
    r = subprocess.run([*DEMO, "--count", "2"], capture_output=True, text=True, timeout=120,
                       env=_env(tmp_path / "tmp"))
    assert r.returncode == 0, r.stderr
    assert "\x1b" not in r.stdout
    assert r.stdout.count("\nboard time ") == 2 and r.stdout.count("slot state") == 2
    assert r.stdout.count(" hashing ") >= 8, r.stdout  # 4 modules per table
    assert _left_behind(tmp_path / "tmp") == []


def test_demo_on_a_terminal_redraws_in_place_and_sigterm_cleans_up(tmp_path):
    master, slave = os.openpty()
    p = subprocess.Popen(DEMO, stdout=slave, stderr=subprocess.PIPE, env=_env(tmp_path / "tmp"))
    os.close(slave)
    out = b""
    try:
        deadline = time.monotonic() + 90
        while out.count(HOME.encode()) < 3 and time.monotonic() < deadline and p.poll() is None:
            if select.select([master], [], [], 0.5)[0]:
                out += os.read(master, 65536)
        assert out.count(HOME.encode()) >= 3, (out[-500:], p.stderr.read() if p.poll() is not None else "")
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=30) == 0, p.stderr.read()
        while select.select([master], [], [], 0.2)[0]:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the terminal's last writer is gone
                break
            if not chunk:
                break
            out += chunk
    finally:
        if p.poll() is None:
            p.kill()
        os.close(master)
    assert out.count(CLEAR.encode()) == 1  # one full clear, then each frame from the cursor home
    assert out.endswith(SHOW_CURSOR.encode())
    assert _left_behind(tmp_path / "tmp") == []
