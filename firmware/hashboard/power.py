# Board-level power: an optional power target (W) held by a board-wide frequency cap, and
# curtailment (to a percentage of full power, or off). Pure stepping logic: the app feeds it
# measured power and now_ms; it returns the cap every module applies.
from . import argcheck
from .compat import ticks_diff

TOLERANCE_PCT = 3  # hold the target within +-3 % (one frequency step is ~2.4 % of power)


class PowerManager:
    def __init__(self, fmin, fmax, fdefault, step, period_ms, nominal_w, max_w=None):
        self.fmin = fmin
        self.fmax = fmax
        self.fdefault = fdefault
        self.step = step
        self.period_ms = period_ms
        self.nominal_w = nominal_w  # full power at the default frequency, until measured
        self.max_w = int(nominal_w * argcheck.POWER_HEADROOM) if max_w is None else max_w
        self.full_mw = None  # measured full power (mW, an integer: updated every period)
        self._target_mw = None
        self._target_w = None
        self.curtailed = False
        self.level = 0
        self.cap = fdefault
        self._t = None

    @property
    def target_w(self):
        return self._target_w

    @target_w.setter
    def target_w(self, watts):
        self._target_w = watts
        self._target_mw = None if watts is None else int(watts * 1000 + 0.5)

    @property
    def full_w(self):
        return None if self.full_mw is None else self.full_mw / 1000

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
        """The power the board should draw now (W), or None for 'run at the set frequencies'."""
        g = self.goal_mw()
        return None if g is None else g / 1000

    def goal_mw(self):
        if self.curtailed:
            # nothing measured yet (None, or 0: the board drew nothing "at default" while every
            # slot was empty at boot): the nominal power, as before the integer loop
            full = self.full_mw if self.full_mw else int(self.nominal_w * 1000)
            goal = full * self.level // 100
            # a curtailment only ever sheds: never above the owner's own target (curtail is
            # open to anyone on the line, a target is authorized; docs/security.md)
            return goal if self._target_mw is None else min(goal, self._target_mw)
        return self._target_mw

    def observe_full(self, power_mw, all_hashing_at_default):
        if all_hashing_at_default and not self.curtailed and self._target_mw is None:
            self.full_mw = power_mw if self.full_mw is None else (9 * self.full_mw + power_mw + 5) // 10

    def step_cap(self, power_mw, now):
        """Move the frequency cap one step toward the goal, once per period (power in mW: the
        comparison is in integers, as every period's arithmetic of the control loop)."""
        goal = self.goal_mw()
        if goal is None:
            self.cap = self.fmax
            return self.cap
        if self._t is not None and ticks_diff(now, self._t) < self.period_ms:
            return self.cap
        self._t = now
        if self.cap > self.fdefault and (self._target_mw is None or self.curtailed):
            self.cap = self.fdefault
        if power_mw * 100 > goal * (100 + TOLERANCE_PCT):
            self.cap = max(self.fmin, self.cap - self.step)
        elif power_mw * 100 < goal * (100 - TOLERANCE_PCT):
            self.cap = min(self.fmax, self.cap + self.step)
        return self.cap
