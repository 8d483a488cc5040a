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


def main() -> int:
    tmp = Path(tempfile.mkdtemp(prefix="bench-deploy-"))
    b1 = bundle.build("modular-4x")
    b2 = changed_bundle(tmp)
    bundle.write(b1, tmp / "b1")
    app_bytes = sum(len(v) for v in b1.files.values())
    with VirtualBoard(speed=1.0, storage=str(tmp / "flash")) as vb:
        assert vb.wait_ready(60)
        t = time.monotonic()
        r = subprocess.run([MPREMOTE, "connect", vb.port, "resume", "cp", "-r", str(tmp / "b1" / "app") + "/",
                            ":mp/"], capture_output=True, text=True, timeout=300)
        t_cp = time.monotonic() - t
        if r.returncode != 0:
            print(r.stdout, r.stderr)
            return 1
        time.sleep(0.5)
        rep = flash.deploy(vb.port, b1)
        t_full = rep.seconds
        print(f"app: {len(b1.files)} files, {app_bytes / 1024:.1f} KB (.mpy + board.json)")
        print(f"mpremote cp -r            : {t_cp:6.2f} s  {app_bytes / 1024 / t_cp:6.1f} KB/s (copy only)")
        print(f"hbctl flash, full          : {t_full:6.2f} s  {rep.bytes_sent / 1024 / t_full:6.1f} KB/s "
              f"(incl. survey, on-board SHA-256 of every file, manifest, commit; {rep.bytes_sent} B sent)")
        time.sleep(8)  # let the trial app confirm itself
        rep2 = flash.deploy(vb.port, b2)
        print(f"hbctl flash, 1 file changed: {rep2.seconds:6.2f} s  sent {rep2.sent} ({rep2.bytes_sent} B), "
              f"copied on the board {len(rep2.copied)}")
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
