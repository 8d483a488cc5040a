"""Bundles, flashing over the raw REPL and the A/B trial/confirm/revert update (issue 6), on the
virtual board: the unchanged loader and app on the real MicroPython unix port, its littlefs
flash image, pyserial ptys and mpremote's transport."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hostlib import bundle, flash
from hostlib.cli_update import wait_outcome
from hostlib.link import Link
from hostlib.paths import FIRMWARE
from hostlib.sim.virtual import VirtualBoard

BIN = Path(sys.executable).parent
SPEED = 10.0


class PowerCut(Exception):
    pass


def patched_firmware(tmp: Path, name: str, edits: dict[str, tuple[str, str]]) -> Path:
    """A copy of firmware/ with text replacements: a new version, or a deliberately bad app."""
    dst = tmp / name
    shutil.copytree(FIRMWARE, dst, ignore=shutil.ignore_patterns("__pycache__", ".mypy_cache"))
    for rel, (old, new) in edits.items():
        p = dst / rel
        text = p.read_text()
        assert old in text, (rel, old)
        p.write_text(text.replace(old, new))
    return dst


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    """Built once per test run, not once per xdist worker: four bundles are 230 files through
    mpy-cross (~30 s on a busy 2-core machine). The first worker builds them under a lock in
    the run's shared temporary root; the other reads them back (bundle.write/read, the CLI's
    own format)."""
    import fcntl
    import os

    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # this run's, shared by its workers (never an older run's)
    with open(root / "bundles.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = root / "bundles.done"
        names = ("v1", "v2", "bad", "crash")
        if not done.exists():
            built = _build_bundles(tmp_path_factory.mktemp("bundles"))
            for k in names:
                bundle.write(built[k], root / f"bundle-{k}.hbb")
            done.write_text("ok")
        return {k: bundle.read(root / f"bundle-{k}.hbb") for k in names}


def _build_bundles(tmp: Path) -> dict:
    v1 = bundle.build("modular-4x")
    v2 = bundle.build("modular-4x", firmware=patched_firmware(
        tmp, "v2", {"hashboard/__init__.py": ('VERSION = "0.1.0"', 'VERSION = "0.1.1-test"')}))
    # an app that cannot find its chains: its health check fails (short trial window)
    board = json.loads((FIRMWARE.parent / "boards" / "modular-4x.json").read_text())
    board["timing"]["trial_window_ms"] = 8000
    bp = tmp / "modular-4x-trial.json"
    bp.write_text(json.dumps(board))
    bad = bundle.build(str(bp), firmware=patched_firmware(tmp, "bad", {
        "hashboard/__init__.py": ('VERSION = "0.1.0"', 'VERSION = "0.2.0-broken"'),
        "hashboard/chain.py": ("    def bring_up(self, ticket_difficulty=256):\n",
                               "    def bring_up(self, ticket_difficulty=256):\n        return 0\n")}))
    crash = bundle.build("modular-4x", firmware=patched_firmware(tmp, "crash", {
        "hashboard/__init__.py": ('VERSION = "0.1.0"', 'VERSION = "0.3.0-crash"'),
        "hbmain.py": ("def run(boot=None):\n", "def run(boot=None):\n    raise ImportError('no such thing')\n")}))
    return {"v1": v1, "v2": v2, "bad": bad, "crash": crash}


def firmware(port: str, timeout: float = 30.0) -> dict:
    """`info`'s firmware block once the controller answers (after a reset or power-up)."""
    end = time.monotonic() + timeout
    last = None
    while time.monotonic() < end:
        try:
            with Link(port, timeout=2.0) as link:
                return link.request("info")["firmware"]
        except Exception as e:  # noqa: BLE001 - booting: keep asking
            last = e
            time.sleep(0.3)
    raise AssertionError(f"board never answered info: {last}")


@pytest.fixture
def board(tmp_path, sim_only):
    vb = VirtualBoard(speed=SPEED, storage=str(tmp_path / "flash"))
    vb.start()
    assert vb.wait_ready(60)
    yield vb
    vb.stop()


def flash_and_settle(vb, b, **kw) -> tuple[flash.FlashReport, dict]:
    rep = flash.deploy(vb.port, b, **kw)
    return rep, wait_outcome(vb.port, rep.slot, b.bundle_hash, 60)


def test_bundle_manifest_lists_every_file_with_its_hash(tmp_path, bundles):
    out = tmp_path / "b"
    bundle.write(bundles["v1"], out)
    again = bundle.read(out)
    m = again.manifest
    assert m["board"] == "modular-4x" and m["arch"] == "armv6m" and m["version"] == "0.1.0"
    assert "hbmain.mpy" in m["files"] and "hashboard/chain.mpy" in m["files"] and "board.json" in m["files"]
    assert not any(k.endswith(".py") for k in m["files"])  # the app ships compiled
    assert set(m["loader"]) == {"boot.py", "main.py", "bootsel.py", "sigcheck.py", "romcache.py"}
    assert again.bundle_hash == bundles["v1"].bundle_hash
    (out / "app" / "hashboard" / "pll.mpy").write_bytes(b"M\x06garbage")
    with pytest.raises(bundle.BundleError, match="pll.mpy does not match"):
        bundle.read(out)


def test_full_flash_of_a_hand_flashed_board_then_incremental_then_up_to_date(board, bundles):
    v1, v2 = bundles["v1"], bundles["v2"]
    fw = firmware(board.port)
    assert fw["layout"] == "loose" and fw["slot"] is None  # factory / mpremote-copied files
    factory_rom = fw["rom"]
    rep, fw = flash_and_settle(board, v1)
    assert rep.slot == "a" and len(rep.sent) == len(v1.files) and rep.copied == []
    assert fw["layout"] == "slots" and fw["slot"] == "a" and not fw["trial"] and fw["bundle"] == v1.bundle_hash
    # the loader put the new app's code in the ROMFS partition (romcache.py) in place of the factory's
    assert factory_rom and fw["rom"]
    # one changed file: only it crosses the link; the rest is copied on the board
    rep, fw = flash_and_settle(board, v2)
    assert rep.slot == "b" and rep.sent == ["hashboard/__init__.mpy"]
    assert rep.repaired == []  # what the update changes is no repair (test_corrupted_file_... is)
    assert rep.bytes_sent == len(v2.files["hashboard/__init__.mpy"])
    assert len(rep.copied) == len(v2.files) - 1
    assert fw["version"] == "0.1.1-test" and fw["slot"] == "b" and not fw["trial"]
    # back to v1: slot a still holds every file of it, nothing is sent
    rep, fw = flash_and_settle(board, v1)
    assert rep.slot == "a" and rep.sent == [] and len(rep.skipped) == len(v1.files)
    assert fw["bundle"] == v1.bundle_hash
    rep = flash.deploy(board.port, v1)
    assert rep.up_to_date and rep.sent == [] and rep.copied == []
    assert firmware(board.port)["bundle"] == v1.bundle_hash  # controller restarted after the survey
    # mpremote sees the documented layout
    out = subprocess.run([str(BIN / "mpremote"), "connect", board.port, "resume", "ls", ":", "+", "ls", ":apps/a"],
                         capture_output=True, text=True, timeout=60).stdout
    for name in ("apps/", "boot.py", "main.py", "bootsel.py", "hashboard/", "hbmain.mpy", "board.json", "manifest.json"):
        assert name in out, out
    assert "hbmain.py" not in out  # the stale loose app is gone once a slot is confirmed


def test_corrupted_file_is_detected_and_repaired(board, bundles):
    v1 = bundles["v1"]
    flash_and_settle(board, v1)
    r = subprocess.run([str(BIN / "mpremote"), "connect", board.port, "resume", "exec",
                        "f = open('apps/a/hashboard/pll.mpy', 'r+b'); f.seek(20); f.write(b'XX'); f.close()"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    rep, fw = flash_and_settle(board, v1)
    assert not rep.up_to_date and rep.repaired == ["hashboard/pll.mpy"] and rep.sent == ["hashboard/pll.mpy"]
    assert fw["slot"] == "b" and fw["bundle"] == v1.bundle_hash and not fw["trial"]


def test_trial_app_that_fails_its_health_check_is_reverted_without_the_host(board, bundles):
    v1, bad = bundles["v1"], bundles["bad"]
    flash_and_settle(board, v1)
    rep = flash.deploy(board.port, bad)
    assert rep.slot == "b"
    fw = wait_outcome(board.port, "b", bad.bundle_hash, 90)
    assert fw["reverted"] == "b" and fw["slot"] == "a" and fw["bundle"] == v1.bundle_hash and not fw["trial"]
    deadline = time.monotonic() + 60  # the previous app boots and brings its modules up again
    while True:
        with Link(board.port, timeout=5) as link:
            st = link.request("status")
        if st["state"] == "hashing" or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert st["state"] == "hashing"  # the previous app runs the board again


def test_trial_app_that_crashes_at_start_is_reverted(board, bundles):
    v1, crash = bundles["v1"], bundles["crash"]
    flash_and_settle(board, v1)
    flash.deploy(board.port, crash)
    fw = wait_outcome(board.port, "b", crash.bundle_hash, 90)
    assert fw["reverted"] == "b" and fw["bundle"] == v1.bundle_hash


def _cut_points(steps: list[str]) -> list[int]:
    """Which steps (1-based) to cut the power after, each cut costing two cold boots: every step
    that is not one file of a run of file steps (copied, written, sent, removed), and of each
    such run the first, middle and last two: a cut after file 7 of 30 is the case of file 8."""
    word = {"writing": "file", "sent": "file", "copied": "file", "removed": "removed"}
    kinds = [word.get(s.split(" ", 1)[0], s) for s in steps]
    keep = set()
    i = 0
    while i < len(steps):
        j = i
        while j + 1 < len(steps) and kinds[j + 1] == kinds[i]:
            j += 1
        mid = (i + j) // 2
        keep.update(k + 1 for k in (i, i + 1, mid, mid + 1, j - 1, j) if i <= k <= j)
        i = j + 1
    return sorted(keep)


def _cut_at(vb, b, k: int) -> list[str]:
    """Flash b, cutting the power after the k-th step; returns the steps seen."""
    seen: list[str] = []

    def step(name: str) -> None:
        seen.append(name)
        if len(seen) == k:
            vb.power_cut()
            raise PowerCut(name)

    try:
        flash.deploy(vb.port, b, on_step=step)
    except (PowerCut, flash.FlashError):
        pass
    return seen


@pytest.mark.parametrize("kind", ["incremental", "first"])
def test_power_cut_at_any_kind_of_flash_step_always_boots_a_complete_app(tmp_path, sim_only, bundles, kind):
    """incremental: v1 confirmed in slot a, v2 (one file changed) flashed; first: a hand-flashed
    (loose) board gets its first slot. The power is cut after each kind of step in turn (of runs
    of file steps, their ends and middle: _cut_points), then the board cold-boots from what
    reached its flash."""
    v1, v2 = bundles["v1"], bundles["v2"]
    vb = VirtualBoard(speed=SPEED, storage=str(tmp_path / "flash"))
    vb.start()
    try:
        assert vb.wait_ready(60)
        if kind == "incremental":
            flash_and_settle(vb, v1)
            old, new = v1.bundle_hash, v2.bundle_hash
        else:
            old, new = None, v1.bundle_hash  # None: the loose app
        vb.power_cut()
        base = (tmp_path / "flash" / "flash.img").read_bytes()
        vb.power_on()
        firmware(vb.port)
        b = v2 if kind == "incremental" else v1
        steps = _cut_at(vb, b, 10_000)  # the whole flash once, to learn its steps
        assert "committed" in steps
        commit = steps.index("committed") + 1
        booted = set()
        for k in _cut_points(steps):
            vb.power_cut()
            (tmp_path / "flash" / "flash.img").write_bytes(base)
            vb.power_on()
            firmware(vb.port)
            _cut_at(vb, b, k)
            vb.power_on()
            fw = firmware(vb.port)
            # whatever step the power died at, a complete app boots: the old one, or the new
            # one once the commit reached the flash (bootsel verified every file of either)
            assert fw["bundle"] in (old, new), (k, steps[k - 1], fw)
            assert (fw["bundle"] == new) == (k >= commit), (k, steps[k - 1], fw)
            assert fw["layout"] == ("loose" if fw["bundle"] is None else "slots")
            booted.add(fw["bundle"])
        assert booted == {old, new}
    finally:
        vb.stop()


def test_power_cuts_during_the_first_boots_never_strand_the_board(board, bundles):
    """Cut the power while the trial app boots, three times: it never confirmed, so the board
    goes back to the previous app by itself."""
    v1, v2 = bundles["v1"], bundles["v2"]
    flash_and_settle(board, v1)
    flash.deploy(board.port, v2)
    for _ in range(3):
        fw = firmware(board.port)
        assert fw["bundle"] == v2.bundle_hash and fw["trial"]
        board.power_cut()
        board.power_on()
    fw = firmware(board.port)
    assert fw["reverted"] == "b" and fw["bundle"] == v1.bundle_hash and not fw["trial"]


def test_power_cut_mid_file_write_of_a_full_flash(tmp_path, sim_only, bundles):
    v1 = bundles["v1"]
    vb = VirtualBoard(speed=SPEED, storage=str(tmp_path / "flash"))
    vb.start()
    try:
        assert vb.wait_ready(60)
        steps = _cut_at(vb, v1, 1)
        assert steps[0].startswith("writing ")  # the first file is half written
        vb.power_on()
        fw = firmware(vb.port)
        assert fw["layout"] == "loose"  # the app that ran before the flash
        rep, fw = flash_and_settle(vb, v1)  # and the flash simply runs again
        assert fw["bundle"] == v1.bundle_hash and not fw["trial"]
    finally:
        vb.stop()


def test_hbctl_flash_reports_progress_and_an_unreachable_board_in_one_line(board, bundles, tmp_path):
    out = tmp_path / "bundle"
    r = subprocess.run([str(BIN / "hbctl"), "bundle", "--out", str(out)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "modular-4x 0.1.0 (armv6m)" in r.stdout, r.stderr
    r = subprocess.run([str(BIN / "hbctl"), "--port", board.port, "flash", "--bundle", str(out)],
                       capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stderr
    assert "100.0%" in r.stderr and "trial app: confirmed" in r.stdout
    r = subprocess.run([str(BIN / "hbctl"), "--port", "/dev/does-not-exist", "flash", "--bundle", str(out)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1 and "/dev/does-not-exist" in r.stderr


def test_hbctl_provision_board_identity_survives_power_and_refuses_overwrite(board):
    def hb(*args):
        return subprocess.run([str(BIN / "hbctl"), "--port", board.port, *args], capture_output=True,
                              text=True, timeout=60)

    r = hb("provision", "board", "--serial", "HB-2026-0001", "--date", "2026-11-22")
    assert r.returncode == 0 and "serial HB-2026-0001 (model modular-4x)" in r.stdout, r.stderr
    r = hb("provision", "board", "--serial", "HB-2026-0002")
    assert r.returncode == 1 and "already has identity HB-2026-0001" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    board.power_cut()
    board.power_on()
    firmware(board.port)
    info = json.loads(hb("info", "--json").stdout)
    # "board" names the definition this hardware is made for: the loader refuses apps for others
    assert info["identity"] == {"serial": "HB-2026-0001", "model": "modular-4x", "date": [26, 11, 22],
                                "board": "modular-4x"}
    r = hb("provision", "module", "1", "--serial", "M-1", "--force", "--grade", "2")
    assert r.returncode == 0 and "module 1 identity written and verified: serial M-1" in r.stdout, r.stderr


def test_flash_json_force_and_info_app_block(board, bundles, tmp_path):
    """The names outside scripts rely on (interfaces.md): flash --json files_sent/files_skipped/
    bundle, --force sends every file, info's app {version, bundle, trial}."""
    out = tmp_path / "bundle"
    bundle.write(bundles["v1"], out)

    def hb(*a):
        return subprocess.run([str(BIN / "hbctl"), "--port", board.port, *a], capture_output=True, text=True,
                              timeout=180)

    r = hb("flash", "--bundle", str(out), "--json")
    doc = json.loads(r.stdout)
    n = len(bundles["v1"].files)
    assert r.returncode == 0 and doc["files_sent"] == n and doc["files_skipped"] == 0
    assert doc["bundle"] == bundles["v1"].bundle_hash and doc["outcome"] == "confirmed"
    r = hb("flash", "--bundle", str(out), "--json", "--force")
    doc = json.loads(r.stdout)
    assert r.returncode == 0 and doc["files_sent"] == n and doc["files_skipped"] == 0 and doc["slot"] == "b"
    r = hb("flash", "--bundle", str(out), "--json")  # the board runs it already: all skipped
    doc = json.loads(r.stdout)
    assert r.returncode == 0 and doc["outcome"] == "up to date", r.stderr
    assert doc["files_sent"] == 0 and doc["files_skipped"] == n == len(doc["skipped"])
    info = json.loads(hb("info", "--json").stdout)
    assert info["app"] == {**info["app"], "version": "0.1.0", "bundle": bundles["v1"].bundle_hash, "trial": False}
    text = hb("info").stdout
    assert "slot b" in text and "identity   not provisioned" in text


def test_flash_to_a_silent_port_fails_in_one_line(tmp_path, bundles):
    import os

    out = tmp_path / "bundle"
    bundle.write(bundles["v1"], out)
    master, slave = os.openpty()  # a port nobody answers on
    try:
        t = time.monotonic()
        r = subprocess.run([str(BIN / "hbctl"), "--port", os.ttyname(slave), "flash", "--bundle", str(out)],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert "does not answer at the REPL" in r.stderr and time.monotonic() - t < 60
    finally:
        os.close(master)
        os.close(slave)
