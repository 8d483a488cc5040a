"""Values checked on the host before a request is sent, by the board's own rules
(hashboard.argcheck) and against the board's own limits (its `info`, not a board file on the
host, which may differ): a refusal names the value and the range, and nothing reaches the board.
The board checks everything again; its refusal reaches the user the same way (RemoteError)."""

from __future__ import annotations

from hashboard import argcheck

from .cli_base import UsageError
from .link import Link


def _ok(check, *args):
    try:
        return check(*args)
    except ValueError as e:
        raise UsageError(f"{e}; not sent") from None


class BoardLimits:
    """The ranges of one board, from its `info` document."""

    def __init__(self, info: dict) -> None:
        lim = info["limits"]
        self.slots = int(info["slots"])
        self.chips = int(info["chips_per_module"])
        self.freq = lim["freq_mhz"]
        self.vout = lim["vout"]
        self.power_max = (lim.get("power_w") or {}).get("max")
        self.heartbeat = lim.get("heartbeat_s") or {"min": argcheck.HEARTBEAT_S[0], "max": argcheck.HEARTBEAT_S[1]}

    @classmethod
    def of(cls, link: Link) -> "BoardLimits":
        return cls(link.request("info"))

    def module(self, m: int | None) -> int | None:
        return None if m is None else _ok(argcheck.integer, "module", m, 0, self.slots - 1)

    def chip(self, i: int | None) -> int | None:
        return None if i is None else _ok(argcheck.integer, "chip", i, 0, self.chips - 1)

    def mhz(self, v: float) -> float:
        return _ok(argcheck.number, "frequency", v, self.freq["min"], self.freq["max"], " MHz")

    def volts(self, v: float) -> float:
        return _ok(argcheck.number, "voltage", v, self.vout["min"], self.vout["max"], " V")

    def watts(self, v: float, one_module: bool = False) -> float:
        """A power target for the board, or for one module (its share of the board's max)."""
        if self.power_max is None:  # a board from before `power_w` in info: it checks alone
            return _ok(argcheck.number, "power target", v, 0, float("inf"), " W")
        return _ok(argcheck.power_target, v, self.power_max / self.slots if one_module else self.power_max)

    def vout_mv(self, v: int, name: str = "vout_mv") -> int:
        lo, hi = int(self.vout["min"] * 1000 + 0.5), int(self.vout["max"] * 1000 + 0.5)
        return _ok(argcheck.integer, name, v, lo, hi, " mV")

    def heartbeat_s(self, v: float) -> float:
        return _ok(argcheck.number, "heartbeat timeout", v, self.heartbeat["min"], self.heartbeat["max"], " s")


def curtail_level(level: int) -> int:
    return _ok(argcheck.integer, "curtail level", level, argcheck.CURTAIL_PCT[0], argcheck.CURTAIL_PCT[1], " %")


def text(name: str, v: str, maxlen: int) -> str:
    return _ok(argcheck.ascii_text, name, v, maxlen)


def present(link: Link, slot: int) -> None:
    """Refuse a request for an empty slot: what it would set is lost at the next insertion."""
    st = link.request("status")
    mods = {m["slot"]: m for m in st.get("modules", [])}
    if slot in mods and mods[slot]["state"] == "empty":
        raise UsageError(f"slot {slot} is empty; not sent")
