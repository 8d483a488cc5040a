# Per-module thermal policy (pure: readings and now_ms in, one action out).
# Graduated: above hot, one throttle level per thermal period until below hot - hysteresis;
# release one level per release period once cool; at dangerous, or with any sensor unsafe,
# power off at once; restart after cool-down with exponential backoff; after max_retries a
# latched fault that only the host clears. Unknown temperature is never treated as cool.
# The policy knows whether its module is powered: a powered module in cooling or latched (the
# policy wants it off) is switched off again, whatever powered it; an unpowered one never trips,
# so a sensor dropout on a module that is off for another reason starts no cool-down.
from .compat import const, ticks_diff

NORMAL = const(0)
THROTTLED = const(1)
COOLING = const(2)
LATCHED = const(3)
STATES = ("normal", "throttled", "cooling", "latched")

NONE = const(0)
DOWN = const(1)
UP = const(2)
OFF = const(3)
RESTART = const(4)


class ThermalPolicy:
    def __init__(self, target, hot, dangerous, hysteresis, max_level, period_ms=1000,
                 release_ms=5000, cool_ms=30000, max_retries=3):
        self.target = target
        self.hot = hot
        self.dangerous = dangerous
        self.hyst = hysteresis
        self.max_level = max_level
        self.period_ms = period_ms
        self.release_ms = release_ms
        self.cool_ms = cool_ms
        self.max_retries = max_retries
        self._t_off = 0
        self.reset()

    def reset(self):
        """A new module in the slot: nothing of the previous one's history applies."""
        self.state = NORMAL
        self.level = 0
        self.retries = 0
        self.cause = ""
        self._t_step = None
        self._t_cool = None

    def clear(self):
        """Host acknowledgement of a latched fault: back to cooling (the module restarts once
        cool, never at once)."""
        if self.state == LATCHED:
            self.state = COOLING
            self.retries = 0
            self._t_cool = None

    def allows_power(self):
        return self.state == NORMAL or self.state == THROTTLED

    def hold(self, now, cause):
        """Keep an unpowered module off until it is cool (too hot or unreadable to start);
        not counted as a retry."""
        if self.allows_power():
            self.cause = cause
            self.state = COOLING
            self._t_off = now
            self._t_cool = None

    def _off(self, now, cause):
        self.cause = cause
        self.retries += 1
        self.state = LATCHED if self.retries > self.max_retries else COOLING
        self._t_off = now
        self._t_cool = None
        return OFF

    def decide(self, t_max, sensors_ok, now, powered=True):
        """t_max: hottest valid reading or None; sensors_ok: every sensor healthy; powered:
        the module's regulator is commanded on."""
        if self.state == LATCHED or self.state == COOLING:
            if powered:
                return OFF  # the policy holds it off: whatever powered it, off again
        if self.state == LATCHED:
            return NONE
        if self.state == COOLING:
            if not sensors_ok or t_max is None or t_max >= self.target:
                self._t_cool = None
                return NONE
            if self._t_cool is None:
                self._t_cool = now
            wait = self.cool_ms << (self.retries - 1 if self.retries > 0 else 0)
            if ticks_diff(now, self._t_off) >= wait and ticks_diff(now, self._t_cool) >= 1000:
                self.state = THROTTLED if self.level else NORMAL
                return RESTART
            return NONE
        if not powered:
            return NONE  # nothing to protect; a restart passes through allows_power first
        if not sensors_ok or t_max is None:
            return self._off(now, "sensor")
        if t_max >= self.dangerous:
            return self._off(now, "dangerous")
        due = self._t_step is None or ticks_diff(now, self._t_step) >= self.period_ms
        if (t_max >= self.hot or (self.level and t_max >= self.hot - self.hyst)) and due:
            self._t_step = now
            if self.level < self.max_level:
                self.level += 1
                self.state = THROTTLED
                return DOWN
            return NONE
        if self.level and t_max < self.hot - self.hyst:
            if self._t_step is None or ticks_diff(now, self._t_step) >= self.release_ms:
                self._t_step = now
                self.level -= 1
                if self.level == 0:
                    self.state = NORMAL
                return UP
        return NONE
