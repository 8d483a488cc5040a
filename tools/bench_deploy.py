"""Deploy benchmark (prints numbers, not a test): on one virtual board (real MicroPython unix
port behind a pty), the same app files
- installed by `hbctl flash` (hostlib.flash.deploy: survey, send, on-board verify, commit), and
- copied by `mpremote cp -r` (no verification, no slots);
then an incremental deploy with one changed file. Wall-clock seconds of the link.
Usage: python -m tools.bench_deploy"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from hostlib import bundle, flash
from hostlib.paths import FIRMWARE
from hostlib.sim.virtual import VirtualBoard

MPREMOTE = str(Path(sys.executable).with_name("mpremote"))


def changed_bundle(tmp: Path) -> bundle.Bundle:
    fw = tmp / "fw"
    shutil.copytree(FIRMWARE, fw, ignore=shutil.ignore_patterns("__pycache__", ".mypy_cache"))
    init = fw / "hashboard" / "__init__.py"
    init.write_text(init.read_text().replace('VERSION = "0.1.0"', 'VERSION = "0.1.1-bench"'))
    return bundle.build("modular-4x", firmware=fw)


def measure() -> dict:
    """Seconds (wall) of: mpremote cp -r, hbctl flash full, full with --force (every file sent),
    and one changed file; sizes and what was sent."""
    tmp = Path(tempfile.mkdtemp(prefix="bench-deploy-"))
    b1 = bundle.build("modular-4x")
    b2 = changed_bundle(tmp)
    bundle.write(b1, tmp / "b1")
    out = {"files": len(b1.files), "kb": sum(len(v) for v in b1.files.values()) / 1024}
    try:
        with VirtualBoard(speed=1.0, storage=str(tmp / "flash")) as vb:
            if not vb.wait_ready(60):
                raise SystemExit("virtual board never ready")
            t = time.monotonic()
            r = subprocess.run([MPREMOTE, "connect", vb.port, "resume", "cp", "-r",
                                str(tmp / "b1" / "app") + "/", ":mp/"], capture_output=True, text=True, timeout=300)
            out["cp_s"] = time.monotonic() - t
            if r.returncode != 0:
                raise SystemExit(f"mpremote cp failed: {r.stderr.strip()}")
        # the flashes on a board of their own: the copy above would take the flash space that
        # two app slots need (1 MB image, 4 KB littlefs blocks: ~60 files of each copy)
        with VirtualBoard(speed=1.0, storage=str(tmp / "flash2")) as vb:
            if not vb.wait_ready(60):
                raise SystemExit("virtual board never ready")
            rep = flash.deploy(vb.port, b1)
            out.update(full_s=rep.seconds, full_bytes=rep.bytes_sent)
            time.sleep(8)  # let the trial app confirm itself
            rep = flash.deploy(vb.port, b1, force=True)
            out.update(force_s=rep.seconds, force_bytes=rep.bytes_sent)
            time.sleep(8)
            rep = flash.deploy(vb.port, b2)
            out.update(one_s=rep.seconds, one_sent=rep.sent, one_bytes=rep.bytes_sent, one_copied=len(rep.copied))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def main() -> int:
    m = measure()
    print(f"app: {m['files']} files, {m['kb']:.1f} KB (.mpy + board.json)")
    print(f"mpremote cp -r             : {m['cp_s']:6.2f} s  {m['kb'] / m['cp_s']:6.1f} KB/s (copy only)")
    print(f"hbctl flash, full          : {m['full_s']:6.2f} s  {m['full_bytes'] / 1024 / m['full_s']:6.1f} KB/s "
          f"(incl. survey, on-board SHA-256 of every file, manifest, commit; {m['full_bytes']} B sent)")
    print(f"hbctl flash --force        : {m['force_s']:6.2f} s  ({m['force_bytes']} B sent)")
    print(f"hbctl flash, 1 file changed: {m['one_s']:6.2f} s  sent {m['one_sent']} ({m['one_bytes']} B), "
          f"copied on the board {m['one_copied']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
