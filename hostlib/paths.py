"""Where the repository's firmware and board definitions live (editable install)."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FIRMWARE = REPO / "firmware"
BOARDS = REPO / "boards"
SHIM = Path(__file__).resolve().parent / "sim" / "shim"
DEFAULT_BOARD = "modular-4x"
