# Board-level power: an optional power target (W) held by a board-wide frequency cap, and
# curtailment (to a percentage of full power, or off). Pure stepping logic: the app feeds it
# measured power and now_ms; it returns the cap every module applies.
from . import argcheck
from .compat import ticks_diff

TOLERANCE = 0.03  # hold the target within +-3 % (one frequency step is ~2.4 % of power)


class PowerManager:
    def __init__(self, fmin, fmax, fdefault, step, period_ms, nominal_w, max_w=None):
        self.fmin = fmin
        self.fmax = fmax
        self.fdefault = fdefault
        self.step = step
        self.period_ms = period_ms
        self.nominal_w = nominal_w  # full power at the default frequency, until measured
        self.max_w = int(nominal_w * argcheck.POWER_HEADROOM) if max_w is None else max_w
        self.full_w = None
        self.target_w = None
        self.curtailed = False
        self.level = 0
        self.cap = fdefault
        self._t = None

    def validate_target(self, watts):
        """watts, or argcheck's refusal: (0, the board's highest power target]."""
        return argcheck.power_target(watts, self.max_w)

    def set_target(self, watts):
        # a curtailment (a grid or operator order) stays in force: the target applies on resume
        self.target_w = None if watts is None else self.validate_target(watts)

    def curtail(self, level):
        argcheck.integer("curtail level", level, argcheck.CURTAIL_PCT[0], argcheck.CURTAIL_PCT[1], " %")
        self.curtailed = True
        self.level = level

    def resume(self):
        self.curtailed = False

    def goal_w(self):
        """The power the board should draw now, or None for 'run at the set frequencies'."""
        if self.curtailed:
            full = self.full_w or self.nominal_w
            goal = full * self.level / 100.0
            # a curtailment only ever sheds: never above the owner's own target (curtail is
            # open to anyone on the line, a target is authorized; docs/security.md)
            return goal if self.target_w is None else min(goal, self.target_w)
        return self.target_w

    def observe_full(self, power_w, all_hashing_at_default):
        if all_hashing_at_default and not self.curtailed and self.target_w is None:
            self.full_w = power_w if self.full_w is None else 0.9 * self.full_w + 0.1 * power_w

    def step_cap(self, power_w, now):
        """Move the frequency cap one step toward the goal, once per period."""
        goal = self.goal_w()
        if goal is None:
            self.cap = self.fmax
            return self.cap
        if self._t is not None and ticks_diff(now, self._t) < self.period_ms:
            return self.cap
        self._t = now
        if self.cap > self.fdefault and (self.target_w is None or self.curtailed):
            self.cap = self.fdefault
        if power_w > goal * (1 + TOLERANCE):
            self.cap = max(self.fmin, self.cap - self.step)
        elif power_w < goal * (1 - TOLERANCE):
            self.cap = min(self.fmax, self.cap + self.step)
        return self.cap
