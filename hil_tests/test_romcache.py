"""The app's code in the ROMFS partition (firmware/romcache.py, docs/update.md "Code in ROM"): the
image format against mpremote's own builder, and the loader's cache rules on the real interpreter
with the virtual MCU's partition (hostlib/sim/shim/simrom.py)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from mpremote.romfs import make_romfs

from hostlib.bundle import compile_py
from hostlib.paths import FIRMWARE, SHIM
from hostlib.romimage import romcache
from hostlib.sim.virtual import _micropython

NAMES = st.text(alphabet="abcdefghij_0123456789", min_size=1, max_size=12)
TREES = st.recursive(st.binary(max_size=600), lambda kids: st.dictionaries(NAMES, kids, min_size=1, max_size=4),
                     max_leaves=12)


def _materialise(base: Path, tree: dict, rel: str = "") -> list[str]:
    files = []
    for name, item in tree.items():
        if isinstance(item, dict):
            (base / rel / name).mkdir(parents=True, exist_ok=True)
            files += _materialise(base, item, f"{rel}{name}/")
        else:
            (base / rel).mkdir(parents=True, exist_ok=True)
            (base / rel / f"{name}.mpy").write_bytes(item)
            files.append(f"{rel}{name}.mpy")
    return files


@settings(max_examples=60, deadline=None)
@given(tree=st.dictionaries(NAMES, TREES, min_size=1, max_size=4))
def test_streamed_image_is_byte_identical_to_mpremotes_romfs_build(tmp_path_factory, tree):
    base = tmp_path_factory.mktemp("romtree")
    files = sorted(_materialise(base, tree))
    chunks: list[bytes] = []
    t = romcache.tree(str(base), files)
    romcache.write_image(str(base), t, lambda b: chunks.append(bytes(b)))
    ours = b"".join(chunks)
    assert ours == make_romfs(str(base), mpy_cross=False)
    assert romcache.image_len(t) == len(ours)


# ---------------------------------------------------------------- the loader, real interpreter
def _app(d: Path, value: int, sources: bool = False) -> None:
    """A small app: hbmain and a hashboard package whose VALUE tells which build runs."""
    (d / "hashboard").mkdir(parents=True, exist_ok=True)
    srcs = {"hbmain.py": "import hashboard\n", "hashboard/__init__.py": f"VALUE = {value}\n",
            "hashboard/extra.py": "def f(x):\n    return x * 2\n" * 20}
    for rel, text in srcs.items():
        if sources:
            (d / rel).write_text(text)
        else:
            p = d / rel
            p.write_text(text)
            (d / (rel[:-3] + ".mpy")).write_bytes(compile_py(p, rel, "armv6m"))
            p.unlink()


def _boot(flash: Path, rom: Path, rom_bytes: int = 64 * 1024, d: str = "apps/a") -> dict:
    """What the loader does at boot with the app in d: attach, then import the app."""
    script = ("import sys\nsys.path.append(%r)\nsys.path.append(%r)\nimport romcache\n"
              "n = romcache.attach(%r, '')\nsys.path.insert(1, %r)\nimport hashboard\n"
              "import json\nprint('@' + json.dumps({'rom': n, 'value': hashboard.VALUE, "
              "'file': hashboard.__file__}))\n") % (str(FIRMWARE), str(SHIM), d, d)
    env = dict(os.environ, HB_SIM_ROM=str(rom), HB_SIM_ROM_BYTES=str(rom_bytes))
    r = subprocess.run([_micropython(), "-X", "heapsize=512k", "-c", script], cwd=flash, env=env,
                       capture_output=True, text=True, timeout=60)
    out = [ln for ln in r.stdout.splitlines() if ln.startswith("@")]
    assert r.returncode == 0 and out, r.stdout + r.stderr
    doc = json.loads(out[-1][1:])
    doc["log"] = r.stdout
    return doc


def _state(flash: Path) -> dict | None:
    p = flash / romcache.STATE
    return json.loads(p.read_text()) if p.exists() else None


def test_slot_app_is_written_to_the_partition_once_and_runs_from_it(tmp_path):
    flash, rom = tmp_path / "flash", tmp_path / "rom.img"
    _app(flash / "apps" / "a", 1)
    rom.write_bytes(b"\xff" * 64 * 1024)  # a blank partition
    got = _boot(flash, rom)
    assert got["value"] == 1 and got["file"].startswith("/rom/") and got["rom"] > 0
    st1, img1, t1 = _state(flash), rom.read_bytes(), rom.stat().st_mtime_ns
    assert st1["len"] == got["rom"] and img1.startswith(romcache.HEADER)
    got = _boot(flash, rom)  # the partition already holds it: not written again
    assert got["value"] == 1 and got["file"].startswith("/rom/")
    assert rom.stat().st_mtime_ns == t1 and _state(flash) == st1
    # another app in the slot (an update): the partition follows it
    _app(flash / "apps" / "a", 2)
    got = _boot(flash, rom)
    assert got["value"] == 2 and got["file"].startswith("/rom/") and _state(flash)["key"] != st1["key"]


def test_damaged_or_half_written_partition_is_written_again(tmp_path):
    flash, rom = tmp_path / "flash", tmp_path / "rom.img"
    _app(flash / "apps" / "a", 3)
    rom.write_bytes(b"\xff" * 64 * 1024)
    _boot(flash, rom)
    good = rom.read_bytes()
    bad = bytearray(good)
    bad[200] ^= 0xFF  # a flipped bit in flash: the image no longer hashes to rom.json
    rom.write_bytes(bytes(bad))
    got = _boot(flash, rom)
    assert got["value"] == 3 and got["file"].startswith("/rom/") and rom.read_bytes() == good
    # a power cut mid-write: part of the image, and no rom.json (it goes before the first write)
    cut = _state(flash)["len"] // 2
    rom.write_bytes(good[:cut] + b"\xff" * (len(good) - cut))
    (flash / romcache.STATE).unlink()
    got = _boot(flash, rom)
    assert got["value"] == 3 and rom.read_bytes() == good and _state(flash) is not None


def test_sources_the_partition_was_not_built_from_run_from_the_heap_and_leave_it_alone(tmp_path):
    flash, rom = tmp_path / "flash", tmp_path / "rom.img"
    _app(flash / "apps" / "a", 4)
    rom.write_bytes(b"\xff" * 64 * 1024)
    _boot(flash, rom)
    before, st_before = rom.read_bytes(), _state(flash)
    # a board flashed by hand with sources: the board cannot compile them to .mpy, so they run
    # from the heap; the partition and rom.json stay as they were
    for p in (flash / "apps" / "a").rglob("*.mpy"):
        p.unlink()
    _app(flash / "apps" / "a", 5, sources=True)
    got = _boot(flash, rom)
    assert got["rom"] is None and got["value"] == 5 and not got["file"].startswith("/rom/")
    assert rom.read_bytes() == before and _state(flash) == st_before


def test_factory_image_of_sources_is_used_while_they_are_unchanged(tmp_path):
    """The factory programs the image of the loose sources (hostlib.romimage): the board runs it
    until one source changes, then the sources themselves."""
    from hostlib.romimage import image_of

    flash, rom = tmp_path / "flash", tmp_path / "rom.img"
    _app(flash, 6, sources=True)
    img, doc = image_of(flash)
    rom.write_bytes(img + b"\xff" * (64 * 1024 - len(img)))
    (flash / romcache.STATE).write_text(json.dumps(doc))
    got = _boot(flash, rom, d=".")
    assert got["rom"] == len(img) and got["value"] == 6 and got["file"].startswith("/rom/")
    (flash / "hashboard" / "__init__.py").write_text("VALUE = 7\n")
    got = _boot(flash, rom, d=".")
    assert got["rom"] is None and got["value"] == 7


def test_an_app_larger_than_the_partition_stays_in_the_heap_and_says_so(tmp_path):
    flash, rom = tmp_path / "flash", tmp_path / "rom.img"
    _app(flash / "apps" / "a", 8)
    rom.write_bytes(b"\xff" * 256)
    got = _boot(flash, rom, rom_bytes=256)
    assert got["rom"] is None and got["value"] == 8
    assert "does not fit the 256-byte partition" in got["log"]
