"""Where the firmware, its loader and the board definitions are: beside the package in a
checkout (editable install), or inside it as package data in a built wheel (pyproject.toml maps
firmware/ and boards/ to hostlib/_data/), so that hbctl works from any directory either way."""

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
_DATA = PACKAGE / "_data"
REPO = PACKAGE.parent
if (_DATA / "firmware" / "hbmain.py").is_file():  # a regular install: only the package's own copy
    FIRMWARE = _DATA / "firmware"
    BOARDS = _DATA / "boards"
else:
    FIRMWARE = REPO / "firmware"
    BOARDS = REPO / "boards"
SHIM = PACKAGE / "sim" / "shim"
DEFAULT_BOARD = "modular-4x"
