"""Search over the string voltages a regulator can set (VOUT_COMMAND codes, 1/512 V apart) for
the one whose evaluated setting gives the most TH/s. Used by tools/tune_bound.py."""

from __future__ import annotations

from typing import Callable

from .steady_state import Limits, Operating

RES_V = 2.0 ** -9  # one VOUT_COMMAND code at the TPS546's exponent -9


class VsSearch:
    """Remembers every feasible setting it was shown; `best` is the one with the most TH/s."""

    def __init__(self, evaluate: Callable[[float], Operating | None], limits: Limits) -> None:
        self.evaluate = evaluate
        self.codes = limits.vs_codes()
        self.grid_codes = [int(round(v / RES_V)) for v in limits.vs_grid()]
        self.cache: dict[int, Operating | None] = {}
        self.best: Operating | None = None

    def look(self, code: int) -> float:
        """TH/s at this code (0 when nothing there keeps the constraints)."""
        if code not in self.cache:
            op = self.evaluate(code * RES_V)
            self.cache[code] = op
            if op is not None and (self.best is None or op.ths > self.best.ths):
                self.best = op
        op = self.cache[code]
        return op.ths if op is not None else 0.0

    def forget(self) -> None:
        """The evaluation changed (another margin): look again, keep the best so far."""
        self.cache.clear()

    def grid(self) -> None:
        for code in self.grid_codes:
            self.look(code)

    def climb(self, step: int) -> float:
        """From the best code so far, move `step` codes at a time while TH/s improves; the best
        TH/s on the way. TH/s rises with VS while the cap does not bind and falls once it does,
        so from next to the peak this finds it."""
        if self.best is None:
            return 0.0
        start = int(round(self.best.vs / RES_V))
        score = {c: self.look(c) for c in (start - step, start, start + step) if c in self.codes}
        c = max(score, key=score.__getitem__)
        direction = 0 if c == start else (1 if c > start else -1)
        while direction and (nxt := c + direction * step) in self.codes:
            score[nxt] = self.look(nxt)
            if score[nxt] <= score[c]:
                break
            c = nxt
        return score[c]

    def fine(self) -> None:
        """After the grid: every 4th code, then every code, around the peak."""
        self.climb(4)
        self.climb(1)
