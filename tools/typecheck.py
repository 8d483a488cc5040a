"""Type-check the firmware against a MicroPython port's stubs (esp32, rp2).

The port stubs cannot share one environment (each ships its own machine.pyi), so each goes to
.stubs/<port> with `pip install --target` the first time. Errors inside the stubs themselves
are not ours and are filtered out; any error in firmware/ fails the check.
Usage: python -m tools.typecheck [esp32 rp2]"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LOADER = ("main.py", "boot.py", "bootsel.py", "sigcheck.py", "romcache.py")  # loose at the root
STUBS = {"esp32": "micropython-esp32-stubs==1.29.0.post1", "rp2": "micropython-rp2-stubs==1.29.0.post1"}


def ensure_stubs(port: str) -> Path:
    target = REPO / ".stubs" / port
    if not (target / "machine.pyi").exists():
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--target", str(target),
                        STUBS[port]], check=True)
    return target


def check(port: str) -> list[str]:
    stubs = ensure_stubs(port)
    fw = REPO / "firmware"
    cmd = [sys.executable, "-m", "mypy", "--python-version", "3.11", "--no-site-packages",
           "--custom-typeshed-dir", str(stubs), "--no-incremental", "--check-untyped-defs",
           "hashboard", *LOADER]
    out = subprocess.run(cmd, cwd=fw, env={"MYPYPATH": str(stubs), "PATH": ""},
                         capture_output=True, text=True).stdout
    return [line for line in out.splitlines()
            if line.startswith(("hashboard/", *LOADER)) and ": error:" in line]


def main(argv: list[str]) -> int:
    bad = 0
    for port in argv or list(STUBS):
        errors = check(port)
        print(f"{port}: {len(errors)} firmware type errors")
        for e in errors:
            print("  " + e)
        bad += len(errors)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
