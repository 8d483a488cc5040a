"""The board's loader files (firmware/boot.py, bootsel.py, sigcheck.py, romcache.py: loose at the
flash root, not a package) as modules on the host, for the tests, the fuzzer and the ROM image
builder. The loader files one imports are registered first, as they sit beside it on a board."""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

from .paths import FIRMWARE

IMPORTS = {"bootsel": ("romcache",)}  # what each loader file imports at its top


def load(name: str, as_name: str | None = None) -> ModuleType:
    """A fresh module of firmware/<name>.py (as_name: its module name, for a private copy)."""
    for dep in IMPORTS.get(name, ()):
        if dep not in sys.modules:
            sys.modules[dep] = load(dep)
    spec = importlib.util.spec_from_file_location(as_name or name, FIRMWARE / f"{name}.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod
