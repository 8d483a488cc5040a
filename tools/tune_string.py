"""The inner problem of the per-chip bound: one module's series string with its chips'
junction temperatures held fixed, at one string voltage VS and a ceiling on the string current
(tools/tune_bound.py explains the method and calls `solve_at_vs`, which also iterates the
temperatures to their fixed point)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from hostlib.sim.physics import DEAD_LEAK_W_PER_V, ModuleModel

from .steady_state import ERR_EDGE, Cooling, Limits, Operating, settle

EDGE_GUARD_MHZ = 1e-6  # keeps the replayed error a hair under 1 %
CAP_GUARD = 1e-9
TEMP_TOL_C = 1e-7
TEMP_ITER = 60
SHARE_STEP_MIN = 1.0 / 64


@dataclass
class _Chip:
    index: int
    F: float
    C: float
    L: float
    Rjc: float
    dead: bool
    t_j: float = 25.0
    slope: float = 0.0  # MHz per V of the edge at this temperature
    b: float = 0.0  # voltage-independent current, A


class EdgeString:
    """The module with its chips' temperatures held fixed (the inner problem)."""

    def __init__(self, model: ModuleModel, limits: Limits) -> None:
        k = model.consts
        self.k = k
        self.limits = limits
        # how far below fmax a chip at its "edge" runs: at least the 1 % point, W·ln 99
        self.min_margin = k["W"] * math.log(1 / ERR_EDGE - 1) + EDGE_GUARD_MHZ
        self.margin = self.min_margin
        self.warm: list[float] | None = None
        self.last_shares: list[float] | None = None
        self.chips = [_Chip(i, c.F * c.F_scale, c.C, c.L, c.Rjc, c.dead) for i, c in enumerate(model.chips)]
        n = model.per_domain
        self.domains = [self.chips[d * n:(d + 1) * n] for d in range(model.domains)]

    def set_temps(self, temps: list[float]) -> None:
        k = self.k
        for c, t in zip(self.chips, temps):
            c.t_j = t
            c.slope = c.F / (k["VN"] - k["V0"]) * (1 - k["K"] * (t - 60.0))
            c.b = DEAD_LEAK_W_PER_V if c.dead else c.L * math.exp((t - 25.0) / k["TAU_L"])

    def edge(self, c: _Chip, v: float) -> float:
        return c.slope * (v - self.k["V0"]) - self.margin

    def cap_f(self, c: _Chip, v: float) -> float:
        """The highest frequency the chip may run at domain voltage v (≥ f_min: see feasible)."""
        return max(self.limits.f_min, min(self.limits.f_max, self.edge(c, v)))

    def domain_current(self, dom: list[_Chip], v: float) -> tuple[float, float]:
        """(J_d(V), dJ_d/dV): the domain's current with every chip at its edge, and its slope."""
        lo, hi = self.limits.f_min, self.limits.f_max
        cf = dcf = 0.0
        for c in dom:
            if c.dead:
                continue
            e = self.edge(c, v)
            cf += c.C * (lo if e < lo else hi if e > hi else e)
            if lo < e < hi:
                dcf += c.C * c.slope
        return sum(c.b for c in dom) + v * cf, cf + v * dcf

    def v_floor(self, dom: list[_Chip]) -> float:
        """The lowest domain voltage at which every chip holds 1 % at the minimum frequency."""
        need = self.limits.f_min + self.min_margin
        return max((self.k["V0"] + need / c.slope for c in dom if not c.dead and c.slope > 0),
                   default=self.k["V0"])

    def v_lo(self, dom: list[_Chip], current: float) -> float:
        """The lowest voltage at which the domain can carry `current` with no chip past its edge:
        J_d⁻¹(current) (Newton inside a bisection bracket; J_d is increasing, piecewise smooth),
        or the floor where a slow chip needs more voltage even at the minimum frequency."""
        v = _solve_increasing(lambda v: self.domain_current(dom, v), current, self.k["V0"], 6.0)
        return max(v, self.v_floor(dom))

    def edge_current(self, vs: float) -> float:
        """The string current at which every domain sits at its edge voltage and they sum to VS."""
        def total(current: float) -> tuple[float, float]:
            vs_sum = slope = 0.0
            for d in self.domains:
                v = self.v_lo(d, current)
                vs_sum += v
                if v > self.v_floor(d):  # a domain held at its floor does not move with I
                    slope += 1.0 / max(self.domain_current(d, v)[1], 1e-9)
            return vs_sum, slope

        return _solve_increasing(total, vs, 0.0, 1000.0)

    def fill(self, dom: list[_Chip], v: float, current: float) -> tuple[list[float], float] | None:
        """Frequencies that make the domain draw `current` at voltage v, the budget going to the
        least-C chips first, each up to its edge; (freqs, good GH/s) or None if impossible."""
        fmin = self.limits.f_min
        live = sorted((c for c in dom if not c.dead), key=lambda c: c.C)
        budget = (current - sum(c.b for c in dom)) / v - sum(c.C * fmin for c in live)
        if budget < -1e-9:
            return None
        freqs = {c.index: fmin for c in dom}
        for c in live:
            if self.edge(c, v) + self.margin - self.min_margin < fmin:
                return None  # not even the minimum frequency holds 1 % here
            add = min(budget / c.C, self.cap_f(c, v) - fmin)
            freqs[c.index] = fmin + add
            budget -= add * c.C
        if budget > 1e-6:
            return None
        return [freqs[c.index] for c in dom], sum(self.good_ghs(c, v, freqs[c.index]) for c in live)

    def good_ghs(self, c: _Chip, v: float, f: float) -> float:
        k = self.k
        x = (f - (self.edge(c, v) + self.margin)) / k["W"]
        err = 1.0 / (1.0 + math.exp(-x)) if x > -60 else 0.0
        return f * k["SMALL_CORES"] * (1 - err) / 1000.0

    def solve(self, vs: float, current_cap: float, shares: list[float] | None = None):
        """(freqs, domain voltages, slack shares) for the most hashrate at this VS with these
        temperatures; `shares` (how the slack is split) skips the search when given."""
        lows = [self.v_lo(d, current_cap) for d in self.domains]
        slack = vs - sum(lows)
        if slack <= 0:  # the cap does not bind: every chip at its edge
            current = self.edge_current(vs)
            volts = [self.v_lo(d, current) for d in self.domains]
            shares = [0.0] * len(lows)
        else:
            current = current_cap
            if shares is None:
                shares = self._place_slack(lows, slack, current)
                if shares is None:
                    return None
            volts = [lo + slack * x for lo, x in zip(lows, shares)]
        freqs: list[float] = []
        for d, v in zip(self.domains, volts):
            got = self.fill(d, v, current)
            if got is None:
                return None
            freqs += got[0]
        return freqs, volts, shares

    def _place_slack(self, lows: list[float], slack: float, current: float) -> list[float] | None:
        """Shares of the slack per domain that leave the most hashrate: the best of every domain
        taking it all, an even split and the last answer, then pairwise moves of shrinking size."""
        nd = len(lows)

        def value(shares: list[float]) -> float:
            total = 0.0
            for d, lo, x in zip(self.domains, lows, shares):
                got = self.fill(d, lo + slack * x, current)
                if got is None:
                    return -math.inf
                total += got[1]
            return total

        starts = [[1.0 if i == j else 0.0 for i in range(nd)] for j in range(nd)] + [[1.0 / nd] * nd]
        if self.last_shares is not None:
            starts.append(self.last_shares)
        scored = [(value(x), x) for x in starts]
        best_val, best = max(scored, key=lambda t: t[0])
        if best_val == -math.inf:
            return None
        step = 0.25
        while step >= SHARE_STEP_MIN:
            moved = True
            while moved:
                moved = False
                for i in range(nd):
                    for j in range(nd):
                        if i == j or best[j] < step - 1e-12:
                            continue
                        trial = list(best)
                        trial[i] += step
                        trial[j] -= step
                        val = value(trial)
                        if val > best_val + 1e-12:
                            best, best_val, moved = trial, val, True
            step /= 2
        self.last_shares = best
        return best


def _solve_increasing(fn, target: float, lo: float, hi: float) -> float:
    """x in [lo, hi] with fn(x)[0] = target for an increasing fn returning (value, slope):
    Newton steps, bisection whenever a step would leave the bracket."""
    x = 0.5 * (lo + hi)
    for _ in range(200):
        val, slope = fn(x)
        if abs(val - target) <= 1e-12 * max(1.0, abs(target)):
            return x
        if val < target:
            lo = x
        else:
            hi = x
        nxt = x - (val - target) / slope if slope > 0 else lo - 1.0
        x = nxt if lo < nxt < hi else 0.5 * (lo + hi)
        if hi - lo < 1e-14:
            break
    return x


def solve_at_vs(model: ModuleModel, string: EdgeString, limits: Limits, cooling: Cooling, vs: float,
           p_star: float) -> Operating | None:
    """The structured solution at one VS, temperatures iterated to their fixed point; the slack
    split is searched again once they have settled, and kept if it still wins."""
    r_sa = cooling.r_sa(model)
    current_cap = min(p_star * (1 - CAP_GUARD) / vs, limits.iout_max * (1 - CAP_GUARD))
    guess = cooling.ambient_c + r_sa * vs * current_cap
    temps = string.warm or [guess + c.Rjc * vs * current_cap / len(model.chips) for c in model.chips]
    n = model.per_domain
    shares = None
    searches = 0
    for _ in range(TEMP_ITER):
        string.set_temps(temps)
        sol = string.solve(vs, current_cap, shares)
        if sol is None:
            return None
        freqs, volts, shares = sol
        powers = []
        for i, (c, f) in enumerate(zip(string.chips, freqs)):
            v = volts[i // n]
            powers.append(c.b * v if c.dead else c.C * v * v * max(f, 25.0) + c.b * v)
        sink = cooling.ambient_c + r_sa * sum(powers)
        new = [sink + c.Rjc * p for c, p in zip(string.chips, powers)]
        moved = max(abs(a - b) for a, b in zip(new, temps))
        temps = new
        if moved < TEMP_TOL_C:
            if searches >= 2:
                break
            searches += 1
            again = string.solve(vs, current_cap)
            if again is None or again[2] == shares:
                break
            shares = again[2]
    string.warm = temps  # the next VS or margin starts from here: fewer rounds to settle
    return settle(model, vs, freqs, cooling)


