"""Emulators and virtual boards. `VirtualBoard` is imported on first use: the fast lane and the
fault parser import this package too and need none of the process and pty machinery."""

from __future__ import annotations

__all__ = ["VirtualBoard"]


def __getattr__(name: str):
    if name == "VirtualBoard":
        from .virtual import VirtualBoard

        return VirtualBoard
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
