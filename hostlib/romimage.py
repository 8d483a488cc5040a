"""The factory ROMFS image of an app (docs/update.md, "Code in ROM"): what a factory programs into
a board's ROMFS partition beside the loose app it copies to the filesystem, as `mpremote romfs
deploy` would. The image is the app's sources compiled with mpy-cross, laid out by the board's own
loader code (firmware/romcache.py), with the rom.json that tells the loader which sources it was
built from: the board runs the image while those sources are unchanged."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from pathlib import Path

from . import loaderfiles
from .bundle import compile_to

romcache = loaderfiles.load("romcache")

# by content, as pip caches wheels: compiling the app takes two or three seconds per board start
_KEEP = 8  # images kept in the cache (two architectures of the last few source versions)
_CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "hashboard-controller" / "romfs"


def image_of(app: Path, arch: str = "armv6m") -> tuple[bytes, dict]:
    """(image bytes, rom.json) for the app under `app` (hbmain.py, hashboard/)."""
    files = romcache.app_files(str(app))
    if not files:
        raise ValueError(f"{app}: no app (hbmain, hashboard/) to put in ROM")
    key = romcache.key(str(app), files)
    cached = _CACHE / f"{key}-{arch}.img"
    if cached.is_file():
        img = cached.read_bytes()
    else:
        with _build_dir() as d:
            mpy = []
            for rel in files:
                name = rel[:-3] + ".mpy" if rel.endswith(".py") else rel
                dst = Path(d) / name
                dst.parent.mkdir(parents=True, exist_ok=True)
                if rel.endswith(".py"):
                    compile_to(app / rel, rel, arch, dst)
                else:
                    dst.write_bytes((app / rel).read_bytes())
                mpy.append(name)
            chunks: list[bytes] = []
            romcache.write_image(d, romcache.tree(d, sorted(mpy)), lambda b: chunks.append(bytes(b)))
            img = b"".join(chunks)
        try:
            _CACHE.mkdir(parents=True, exist_ok=True)
            tmp = cached.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_bytes(img)
            os.replace(tmp, cached)  # several test workers may build it at once
            # the images of older sources go, the newest few stay (a pip-like cache, bounded)
            for old in sorted(_CACHE.glob("*.img"), key=lambda p: p.stat().st_mtime)[:-_KEEP]:
                old.unlink(missing_ok=True)
        except OSError:
            pass  # no cache: the next start compiles again
    return img, {"key": key, "len": len(img), "sha256": hashlib.sha256(img).hexdigest()}


@contextlib.contextmanager
def _build_dir():
    """Where the image is compiled: one directory in the cache, not one temporary directory per
    file in TMPDIR. A signal that stops `hbctl sim` mid-build (it unwinds, but may cut a cleanup
    short) then leaves nothing in TMPDIR, and the next build removes what a dead one left."""
    try:
        _CACHE.mkdir(parents=True, exist_ok=True)
        for old in _CACHE.glob("build-*"):
            pid = old.name.split("-")[1]
            if pid.isdigit() and not Path(f"/proc/{pid}").exists():
                shutil.rmtree(old, ignore_errors=True)
        d = _CACHE / f"build-{os.getpid()}"
        d.mkdir(exist_ok=True)
    except OSError:  # no cache: a temporary directory after all
        with tempfile.TemporaryDirectory() as t:
            yield t
        return
    try:
        yield str(d)
    finally:
        shutil.rmtree(d, ignore_errors=True)

