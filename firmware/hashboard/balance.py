# Series-domain balance (docs/diagnostics.md): a module's chips sit in voltage domains in series,
# so one current I flows through every domain and each domain takes the voltage at which its
# chips draw I. Near a working point a domain draws I = a*Vd + b: a (A/V) counts the chips that
# conduct (their clocked capacitance), b (A) their leakage. Two string voltages give both per
# domain: a = dI/dVd, b = I - a*Vd. A chip that draws nothing (a dead die, an open joint) takes
# its share out of its domain's a; a leaky or partly shorted chip adds to its domain's b. Each
# domain is judged against the median of its neighbours, so silicon and temperature spreads that
# move every domain alike never fail a module.
from array import array

from .compat import const

# Thresholds from the chip model's spreads (docs/diagnostics.md), 800 seeded domains each:
DEAD_RATIO = 0.935  # conductance vs the median: healthy >= 0.955, one dead chip of 6 <= 0.913
LEAK_RATIO = 1.45  # leakage vs the median: healthy <= 1.31, one leaky chip >= 1.59
LEAK_MIN_A = 1.0  # and at least this much more (a leaky chip: 2.4 A and up)
_MIN_DV = 0.005  # a domain whose voltage did not move with the string's is collapsed (shorted)
NOT_DONE = const(0)
BALANCED = const(1)
DEAD = const(2)  # a: a chip in the domain draws nothing
LEAK = const(3)  # b: a chip in the domain leaks (or the domain is shorted)


class DomainProbe:
    """Readings at two string voltages (point 0 above point 1, then point 0 again), then the
    verdict per domain.
    feed() takes one tap at a time, as the ADC converts them across control periods."""

    def __init__(self, domains):
        self.n = domains
        self.vd = array("f", [0.0] * (2 * domains))  # domain volts, point 0 then point 1
        self.amps = array("f", [0.0, 0.0])
        self.cond = array("f", [0.0] * domains)  # relative conductance per chip unit
        self.leak = array("f", [0.0] * domains)  # amps
        self.taps = array("f", [0.0] * domains)

    def set_tap(self, k, volts):
        self.taps[k] = volts

    def close_point(self, point, vs, amps):
        """The taps read for this point, with the string's volts and amps: domain voltages.
        Points run 0, 1, then 2: point 0's voltage again, averaged into point 0, so a drift
        during the measurement (a sink cooling, leakage with it) cancels to first order."""
        lo = 0.0
        base = (point & 1) * self.n
        k = 0.5 if point == 2 else 0.0  # weight of what point 0 held
        for d in range(self.n):
            hi = vs if d == self.n - 1 else self.taps[d]
            self.vd[base + d] = k * self.vd[base + d] + (1.0 - k) * (hi - lo)
            lo = hi
        self.amps[point & 1] = k * self.amps[point & 1] + (1.0 - k) * amps

    def string_moved(self):
        """Volts the string moved between the two points."""
        d = 0.0
        for k in range(self.n):
            d += self.vd[k] - self.vd[self.n + k]
        return d

    def judge(self, units):
        """units[d]: how much each domain should conduct (its chips, or their MHz while
        hashing). Returns (kind, domain, evidence) for the worst domain."""
        n = self.n
        di = self.amps[0] - self.amps[1]
        low = 0
        stuck = di <= 0.0
        for d in range(n):
            stuck = stuck or self.vd[d] - self.vd[n + d] < _MIN_DV
            if self.vd[d] < self.vd[low]:
                low = d
        if stuck:  # a domain that does not follow the string is shorted: the lowest one
            return LEAK, low, "domain %d at %.3f V did not follow the string (%.2f A): collapsed" % (
                low, self.vd[low], di)
        for d in range(n):
            a = di / (self.vd[d] - self.vd[n + d])
            self.cond[d] = a / units[d] if units[d] > 0 else 0.0
            self.leak[d] = self.amps[0] - a * self.vd[d]
        mc = _median(self.cond)
        ml = _median(self.leak)
        worst_c = worst_l = 0
        for d in range(n):
            if self.cond[d] < self.cond[worst_c]:
                worst_c = d
            if self.leak[d] > self.leak[worst_l]:
                worst_l = d
        lk = self.leak[worst_l]
        if lk > LEAK_RATIO * ml and lk - ml > LEAK_MIN_A:
            return LEAK, worst_l, "domain %d leaks %.1f A, the others' median %.1f A (at %.2f V)" % (
                worst_l, lk, ml, self.vd[worst_l])
        r = self.cond[worst_c] / mc if mc > 0 else 0.0
        if r < DEAD_RATIO:
            return DEAD, worst_c, "domain %d conducts x%.2f of the others' median (at %.2f V)" % (
                worst_c, r, self.vd[worst_c])
        return BALANCED, None, "domains %s V, conductance x%.2f..x%.2f, leakage %.1f..%.1f A" % (
            "/".join("%.3f" % self.vd[d] for d in range(n)), min(self.cond) / mc if mc else 0.0,
            max(self.cond) / mc if mc else 0.0, min(self.leak), lk)


def _median(xs):
    s = sorted(xs)
    k = len(s)
    return s[k // 2] if k % 2 else 0.5 * (s[k // 2 - 1] + s[k // 2])

