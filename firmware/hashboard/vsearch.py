# String-voltage search for one module (pure policy). With every chip at its own edge, both
# hashrate and power rise with the string voltage, so each mode is a bracket search on one
# monotone question asked of a settled module:
#   power:      "is this voltage too high?"  power over the goal, or the goal reached while
#               chips still had room (a lower voltage would carry the same watts at a better
#               J/TH), or every chip already at the board's maximum frequency;
#   hashrate:   "is this voltage enough?"     hashrate at or above the target;
#   efficiency: as hashrate with the floor as target, then the probe with the best J/TH.
# Probes are interpolated (secant on the measured quantity) and bisected; the bracket closes
# at the regulator-friendly resolution RES_V.
from .tunemodes import EFFICIENCY, HASHRATE, MODE_IDS, MODES, OFF, POWER, TOL  # noqa: F401

RES_V = 0.01  # string volts: ~0.7 % of power per step at 4.4 V
FIRST_STEP_V = 0.1


class VoltageSearch:
    def __init__(self, vmin, vmax):
        self.vmin = vmin
        self.vmax = vmax
        self.start(POWER, 0.0, vmin)

    def start(self, mode, goal, v_now):
        self.mode = mode
        self.goal = goal
        self.lo = None  # highest voltage known not too high / lowest known enough: (v, measure)
        self.hi = None
        self.done = False
        self.v = self._snap(v_now)
        self.best = None  # efficiency: (jth, v)

    def _snap(self, v):
        v = int(v / RES_V + 0.5) * RES_V
        return max(self.vmin, min(self.vmax, v))

    def too_high(self, v, power_w, blocked, at_max):
        """Power mode, at any moment: the module went over its goal (not only when settled)."""
        return power_w > self.goal * (1 + TOL) or (blocked and power_w >= self.goal * (1 - TOL)) or at_max

    def settled(self, power_w, ths, blocked, at_max):
        """A probe finished: the module is settled at self.v. Returns the next voltage."""
        v = self.v
        if self.mode == POWER:
            high = self.too_high(v, power_w, blocked, at_max)
            if not high and power_w >= self.goal * (1 - TOL):
                self.done = True  # every chip at its edge and the power at the goal
                return v
            q = power_w
            if high:
                self.hi = (v, q)
            else:
                self.lo = (v, q)
            return self._next(self.goal, go_up=not high)
        enough = ths >= self.goal
        if self.mode == EFFICIENCY and enough and ths > 0:
            jth = power_w / ths
            if self.best is None or jth < self.best[0]:
                self.best = (jth, v)
        if enough:
            self.hi = (v, ths)  # enough: try lower
        else:
            self.lo = (v, ths)
        return self._next(self.goal, go_up=not enough)

    def over(self, power_w):
        """Power mode: over the goal before settling. The probe is answered (too high)."""
        self.hi = (self.v, power_w)
        return self._next(self.goal, go_up=False)

    def _next(self, goal, go_up):
        lo, hi = self.lo, self.hi
        if lo is not None and hi is not None:
            if hi[0] - lo[0] <= RES_V + 1e-6:
                self.done = True
                return self._final()
            v = lo[0] + (hi[0] - lo[0]) / 2
            dq = hi[1] - lo[1]
            if dq > 0:  # secant, kept inside the middle of the bracket so it always shrinks
                s = lo[0] + (goal - lo[1]) * (hi[0] - lo[0]) / dq
                v = max(lo[0] + (hi[0] - lo[0]) * 0.2, min(hi[0] - (hi[0] - lo[0]) * 0.2, s))
        else:
            ref = lo if lo is not None else hi
            if ref is None:
                return self.v
            v = ref[0]
            q = ref[1]
            if q > 0 and goal > 0:
                # power ~ V^3 and hashrate ~ V near the edge: a first guess, then the bracket
                ratio = (goal / q) ** (1 / 3.0) if self.mode == POWER else goal / q
                v = v * max(0.9, min(1.1, ratio))
            step = self._snap(v) - ref[0]
            if go_up and step < RES_V:
                v = ref[0] + FIRST_STEP_V
            elif not go_up and step > -RES_V:
                v = ref[0] - FIRST_STEP_V
            if (go_up and ref[0] >= self.vmax - 1e-6) or (not go_up and ref[0] <= self.vmin + 1e-6):
                self.done = True  # against the board's limit: that end is the answer
                return self._final()
        self.v = self._snap(v)
        if (lo is not None and self.v <= lo[0] + 1e-6) or (hi is not None and self.v >= hi[0] - 1e-6):
            self.done = True
            return self._final()
        return self.v

    def _final(self):
        if self.mode == POWER:
            self.v = self.lo[0] if self.lo is not None else self.vmin
        elif self.mode == EFFICIENCY and self.best is not None:
            self.v = self.best[1]
        else:
            self.v = self.hi[0] if self.hi is not None else self.vmax
        return self.v
