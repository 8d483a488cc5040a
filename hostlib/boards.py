"""Board definitions on the host: found by name or path, validated by the firmware's own loader."""

from __future__ import annotations

from pathlib import Path

from hashboard.boardcfg import BoardError, load as _load

from .paths import BOARDS

__all__ = ["BoardError", "load", "path_of", "names"]


def names() -> list[str]:
    return sorted(p.stem for p in BOARDS.glob("*.json"))


def path_of(board: str) -> Path:
    p = Path(board)
    if p.suffix == ".json" and p.exists():
        return p
    candidate = BOARDS / f"{board}.json"
    if not candidate.exists():
        raise BoardError(f"unknown board {board!r} (known: {', '.join(names())})")
    return candidate


def load(board: str) -> dict:
    path = path_of(board)
    try:
        return _load(str(path))
    except BoardError as e:
        msg = str(e)
        raise BoardError(msg if msg.startswith("board file") else f"{path.name}: {msg}") from None
