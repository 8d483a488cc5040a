"""Grid curtailment (issue 16): a farm power limit allocated across modules in merit order.

The least efficient hashrate (highest J/TH) is shed first, and only as much of it as the limit
needs. Actuation is per module, on (full power) or off; the shed set is always a prefix of the
merit order, so a rising limit restores the most efficient shed modules first. A partial level
for the marginal module (`running[0]`, the next in merit order) would be one more field of
Allocation and one more kind of action; the ordering and the prefix stay as they are."""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

Key = tuple[str, int]  # (board, module)
Action = tuple[str, str, int]  # ("off" | "on", board, module)


@dataclass(frozen=True)
class Unit:
    """One module as the gateway last saw it.

    full_w: what it draws running (measured if it runs, else its last known or tuned figure);
    ths: its hashrate at full_w; idle_w: what it still draws off (fans, leakage, regulator), so
    shedding it saves full_w - idle_w. An unavailable unit (faulty, absent, silent) cannot be
    turned on and is a fixed load of idle_w, never shed nor restored: its idle_w is whatever it
    draws that dispatch cannot take away (0 for an empty slot, the measured draw for one that
    runs but takes no commands)."""

    board: str
    module: int
    full_w: float
    ths: float
    idle_w: float = 0.0
    available: bool = True

    def __post_init__(self) -> None:
        # NaN would scramble the order; idle above full would make shedding add power
        for name in ("full_w", "ths", "idle_w"):
            v = getattr(self, name)
            if not math.isfinite(v) or v < 0:
                raise ValueError(f"{self.board}/{self.module}: {name} {v!r}")
        if self.idle_w > self.full_w:
            raise ValueError(f"{self.board}/{self.module}: idle_w {self.idle_w} "
                             f"> full_w {self.full_w}")

    @property
    def key(self) -> Key:
        return (self.board, self.module)

    @property
    def j_per_th(self) -> float:
        """A module with no hashrate is infinitely inefficient: it is shed first."""
        return self.full_w / self.ths if self.ths > 0 else math.inf


def merit_order(units: Iterable[Unit]) -> list[Unit]:
    """Least efficient first; ties by (board, module): the order never depends on the input's."""
    return sorted(units, key=lambda u: (-u.j_per_th, u.board, u.module))


@dataclass(frozen=True)
class Allocation:
    """shed + running is the merit order of the available units (shed its prefix);
    unavailable is sorted by (board, module). expected_w: running full_w plus everyone else's
    idle_w. feasible is False when even all off exceeds the limit (then all are shed)."""

    limit_w: float | None
    shed: tuple[Unit, ...]
    running: tuple[Unit, ...]
    unavailable: tuple[Unit, ...]
    expected_w: float
    feasible: bool

    def targets(self) -> dict[Key, bool]:
        """Each unit's target state, True = on."""
        out = {u.key: False for u in self.shed + self.unavailable}
        out.update((u.key, True) for u in self.running)
        return out


def _draw_w(order: list[Unit], n_shed: int, fixed: list[float]) -> float:
    # fsum is correctly rounded: the same set of states gives the same figure whichever way it
    # is summed, so "restoring one more would exceed the limit" holds exactly, not to rounding
    return math.fsum([u.idle_w for u in order[:n_shed]] + [u.full_w for u in order[n_shed:]]
                     + fixed)


def allocate(units: Iterable[Unit], limit_w: float | None) -> Allocation:
    """Shed the shortest prefix of the merit order that brings the expected draw to <= limit_w
    (None: no limit, every available unit runs)."""
    units = list(units)
    if len({u.key for u in units}) != len(units):
        raise ValueError("a (board, module) appears twice")
    if limit_w is not None and math.isnan(limit_w):
        raise ValueError("limit_w is NaN")
    order = merit_order(u for u in units if u.available)
    unavailable = tuple(sorted((u for u in units if not u.available), key=lambda u: u.key))
    fixed = [u.idle_w for u in unavailable]
    if limit_w is None:
        n = 0
    else:
        # the draw falls with every unit shed (idle_w <= full_w), so the first prefix length
        # that fits is found by bisection; all shed when none fits
        lim = limit_w  # a local: mypy does not carry the None check into the lambda
        n = bisect.bisect_left(range(len(order) + 1), True,
                               key=lambda k: _draw_w(order, k, fixed) <= lim)
        n = min(n, len(order))
    expected = _draw_w(order, n, fixed)
    return Allocation(limit_w, tuple(order[:n]), tuple(order[n:]), unavailable, expected,
                      limit_w is None or expected <= limit_w)


def shed_prefix(units: Iterable[Unit], n: int, limit_w: float | None) -> Allocation:
    """The allocation that sheds exactly the first n of the merit order (clamped to 0..all)."""
    units = list(units)
    a = allocate(units, None)
    order = list(a.running)
    n = max(0, min(n, len(order)))
    fixed = [u.idle_w for u in a.unavailable]
    expected = _draw_w(order, n, fixed)
    return Allocation(limit_w, tuple(order[:n]), tuple(order[n:]), a.unavailable, expected,
                      limit_w is None or expected <= limit_w)


def with_hysteresis(units: Iterable[Unit], limit_w: float, shed_now: int, band: float, extra: int = 0) -> Allocation:
    """The allocation a running dispatcher moves to: as many shed as `limit_w` needs at least
    (plus `extra`, when the measured draw says the figures ran low), as many as `limit_w` x
    (1 - band) would at most, and otherwise the count shed now, so a module's draw wobbling
    around the margin does not switch the marginal module on and off each cycle. Still a prefix
    of the merit order, still under the limit when feasible."""
    units = list(units)
    need = len(allocate(units, limit_w).shed) + extra
    most = max(need, len(allocate(units, limit_w * (1.0 - band)).shed))
    return shed_prefix(units, min(max(shed_now, need), most), limit_w)


def plan(allocation: Allocation, current: Mapping[Key, bool]) -> list[Action]:
    """The commands that take `current` (True = on) to the allocation: every off before any on,
    so the draw between the two states never exceeds the larger of them. Offs shed the least
    efficient first, ons restore the most efficient first, so a transition cut short keeps the
    best units. Unavailable units are targets off too (one reported on gets its off, first).
    A unit missing from `current` is unknown and gets its command (both are idempotent); keys
    of `current` outside the allocation are not its business."""
    offs = [u for u in allocation.unavailable + allocation.shed if current.get(u.key) is not False]
    ons = [u for u in reversed(allocation.running) if current.get(u.key) is not True]
    return [("off", u.board, u.module) for u in offs] + [("on", u.board, u.module) for u in ons]


def settled(measured_w: float, limit_w: float | None, margin_w: float = 0.0) -> bool:
    """Whether the farm is at its limit as measured: measured + margin_w <= limit. margin_w is
    the meter's uncertainty, on the safe side: a reading just under the limit is not proof."""
    return limit_w is None or measured_w + margin_w <= limit_w
