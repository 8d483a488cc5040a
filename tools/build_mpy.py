"""Compile every firmware .py with mpy-cross for a target architecture.

Usage: python -m tools.build_mpy [--arch armv6m|xtensawin] [--out DIR]; prints per-file and
total .mpy sizes. A file mpy-cross rejects would not load on the board."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from hostlib.bundle import BundleError, compile_py

REPO = Path(__file__).resolve().parents[1]
FIRMWARE = REPO / "firmware"
ARCHES = ("armv6m", "xtensawin")


def sources() -> list[Path]:
    return sorted(p for p in FIRMWARE.rglob("*.py") if "__pycache__" not in p.parts)


def compile_all(arch: str, out: Path) -> dict[str, int]:
    sizes = {}
    for src in sources():
        rel = src.relative_to(FIRMWARE)
        dst = out / rel.with_suffix(".mpy")
        dst.parent.mkdir(parents=True, exist_ok=True)
        try:
            dst.write_bytes(compile_py(src, str(rel), arch))
        except BundleError as e:
            raise RuntimeError(str(e)) from None
        sizes[str(rel)] = dst.stat().st_size
    return sizes


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--arch", choices=ARCHES, default="armv6m")
    ap.add_argument("--out")
    a = ap.parse_args(argv)
    out = Path(a.out) if a.out else Path(tempfile.mkdtemp(prefix="mpy-"))
    sizes = compile_all(a.arch, out)
    for name, n in sizes.items():
        print(f"{n:7d}  {name}")
    print(f"{sum(sizes.values()):7d}  total .mpy bytes ({a.arch}, {len(sizes)} files) in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
