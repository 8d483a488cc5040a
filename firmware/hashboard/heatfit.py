# What the module's cooling can carry, learned from its own sensors (pure; one sample per
# telemetry period). The heat sink is a first-order system, C dT/dt = P - (T - Tb)/R. Its heat
# capacity C is a property of the metal (the board definition's nominal; airflow does not
# change it); its resistance R and the zero-power temperature Tb change with airflow and
# ambient, and are what is learned: with y = P - C dT/dt (the heat the air carries away now),
#     y = (T - Tb)/R       a straight line in the hottest reading T,
# fitted by least squares with exponential forgetting (memory ~5 minutes). From it: the steady
# reading of a power, Tb + R P, and the power whose steady reading is a limit, (T_lim - Tb)/R,
# so the tuner moves to a sustainable power in one step instead of throttling one level per
# period behind a rising sensor.
# Why this shape: a sensor's +-0.25 degC noise through a rate taken over a few seconds is ~20 W
# in one y, so (1) each rate is taken over _LONG s, and (2) the fit weighs points by how far
# the reading moved, not by how recent they are: a slow creep at one power (little leverage)
# barely moves a line learned across a power step, where a sliding one-minute window once
# replaced it with R 40-100 % off and the tuner held a hot room's modules 4-10 % low.
# Until the first fit (half a minute, and the reading must have moved) the board definition's
# nominal R stands in, with Tb tracked from the readings the same way: a hot room or a weak
# fan is then seen in the first ten seconds, not after the thermal guard has had to throttle.
from array import array

from .compat import const

_SPAN = const(5)  # raw samples behind each point's reading and power (their trimmed mean)
_LONG = const(20)  # points behind each rate of rise: its noise times C is ~2 W, not ~20 W
_FIRST_SPAN = const(4)  # the shortest rise that tracks Tb through the nominal R (9 samples in)
_FIT_SPAN = const(10)  # the shortest rise a fitted point is taken over
_MIN_POINTS = const(20)  # fitted points before the first fit: one over a single step is a guess
_MIN_SD_C = 0.9  # the weighted spread of readings the fit needs to see the slope (~3 degC range)
_MIN_R2 = 0.6  # the share of the points' spread the line must explain
_NEW_LINE_R2 = 0.3  # under this share, the cooling has changed: start the fit over
# the nominal R is the heat sink at full airflow: a fit under half of it is noise, not a fan
_FORGET = 0.995  # per sample: old points weigh half after ~2.3 minutes (a changed fan)


def _trimmed(a):
    """Mean of a short array without its lowest and highest value: one bad sample cannot move
    it, and the rest still average the sensors' noise."""
    lo = hi = a[0]
    tot = 0.0
    for v in a:
        tot += v
        if v < lo:
            lo = v
        if v > hi:
            hi = v
    return (tot - lo - hi) / (len(a) - 2)


class HeatFit:
    def __init__(self, c_th, r_nominal=None):
        self.c_th = c_th
        self.r_nominal = r_nominal  # K/W, the board definition's; None: wait for a fit
        self.rt = array("f", [0.0] * _SPAN)  # raw readings and powers, a ring
        self.rp = array("f", [0.0] * _SPAN)
        self.ht = array("f", [0.0] * (_LONG + 1))  # the last _LONG + 1 points, a ring
        self.hp = array("f", [0.0] * (_LONG + 1))
        self.reset()

    def reset(self):
        self.n = 0  # points made
        self.rk = 0
        self.rn = 0
        self.hk = 0
        self.ts = None
        # the model in use: R K/W (the fit's, else the nominal) and Tb degC tracked through it
        # (None until seen); floats, not a tuple per sample
        self.r = self.r_nominal
        self.tb = None
        self.fitted = False
        self.rate = 0.0  # degC/s of the hottest sensor over the last _LONG points
        # the forgetting least squares: weight, means, co-moments (West's update: no
        # cancellation in single-precision floats, as on the MCU)
        self._restart()

    def _restart(self):
        self.m = 0  # points in the least squares
        self.w = self.mx = self.my = self.cxx = self.cxy = self.cyy = 0.0

    def resume(self):
        """After time off (curtailed, cooling down, under test): R and the least squares stay,
        but no rate may span the gap (a 600 s gap read as 20 s once put the ceiling at 5x)."""
        self.rk = self.rn = self.hk = 0
        self.n = 0

    def sample(self, power_w, t_hot):
        if t_hot is None or not (-100.0 < t_hot < 300.0) or not (0.0 <= power_w < 1e5):
            return  # missing, NaN, inf or no reading at all: one would poison the sums for good
        self.rt[self.rk] = t_hot
        self.rp[self.rk] = power_w
        self.rk = (self.rk + 1) % _SPAN
        if self.rn < _SPAN:
            self.rn += 1
            if self.rn < _SPAN:
                self.ts = t_hot
                return
        # trimmed means: one bad sample (a reading taken from the wrong sensor, a corrupted
        # READ_IOUT) cannot move a point, nor through Tb the ceiling (audit: one 5 kW sample
        # once doubled it for half a minute)
        self.ts = _trimmed(self.rt)
        k = self.hk
        self.ht[k] = self.ts
        self.hp[k] = _trimmed(self.rp)
        self.hk = (k + 1) % (_LONG + 1)
        self.n += 1
        span = self.n - 1 if self.n <= _LONG else _LONG
        if span < _FIRST_SPAN:
            return
        # over the last `span` s: the rise, the mean power and the mean reading (one moment);
        # trapezoids (the ends count half), so a power step is integrated as the rise saw it
        t_sum = p_sum = 0.0
        for j in range(span + 1):
            i = (k - j) % (_LONG + 1)  # newest first
            t_sum += self.ht[i]
            p_sum += self.hp[i]
        i = (k - span) % (_LONG + 1)
        x = (t_sum - 0.5 * (self.ht[i] + self.ts)) / span
        p = (p_sum - 0.5 * (self.hp[i] + self.hp[k])) / span
        self.rate = (self.ts - self.ht[i]) / span
        # points over a short span only track Tb; from _FIT_SPAN on (the reading moves fast
        # then, so their extra noise matters less) they are fitted too, so a first fit
        # exists after ~35 s, before a hot room has carried the module past hot_c
        r_fit = self._add(x, p - self.c_th * self.rate) if span >= _FIT_SPAN else None
        # the zero-power temperature this point implies (its steady reading is T + R C dT/dt,
        # less R P). The fit gives the slope R; the line is anchored where the module is now,
        # so a drifting ambient, or a slope a little off, costs nothing at the operating point.
        if r_fit is not None:
            if not self.fitted:
                self.fitted = True
                self.tb = self.mx - self.my * r_fit  # the fit's own line, to start from
            self.r = r_fit
        r = self.r
        if r:
            seen = x + r * self.c_th * self.rate - r * p
            tb = self.tb
            # the nominal R is a stand-in: follow quickly; a fitted line moves slowly
            self.tb = seen if tb is None else tb + (0.05 if self.fitted else 0.2) * (seen - tb)

    @property
    def coef(self):
        """(R, Tb) of the fit once there is one, else None (the nominal is not a fit)."""
        return (self.r, self.tb) if self.fitted else None

    def _add(self, x, y):
        """Adds a point; returns the fitted R, or None while the fit is not trustworthy."""
        w = self.w * _FORGET + 1.0
        dx = x - self.mx
        dy = y - self.my
        self.mx += dx / w
        self.my += dy / w
        self.cxx = self.cxx * _FORGET + dx * (x - self.mx)
        self.cxy = self.cxy * _FORGET + dx * (y - self.my)
        self.cyy = self.cyy * _FORGET + dy * (y - self.my)
        self.w = w
        self.m += 1
        if self.m < _MIN_POINTS or self.cxx < w * _MIN_SD_C * _MIN_SD_C:
            return None  # too few points, or the reading has not moved enough: R stands
        # the share of the readings' spread the line explains (0 for a falling one)
        r2 = self.cxy * self.cxy / (self.cxx * self.cyy) if self.cxy > 0 and self.cyy > 0 else 0.0
        if r2 < _MIN_R2:
            # not one line: noise, or a fan or room that changed within the memory. Once it
            # is clearly two lines, the old one's points are dropped (R stands meanwhile);
            # two lines need room to show
            if r2 < _NEW_LINE_R2 and self.cxx >= 4.0 * w * _MIN_SD_C * _MIN_SD_C:
                self._restart()
            return None
        r = self.cxx / self.cxy  # y = (T - Tb)/R: slope 1/R
        rn = self.r_nominal
        lo, hi = (0.5 * rn, 20.0 * rn) if rn else (0.005, 5.0)
        return r if lo < r < hi else None

    def steady(self, power_w):
        """Predicted steady reading of the hottest sensor at power_w, or None."""
        if self.tb is None:
            return None
        return self.tb + self.r * power_w

    def sustainable(self, power_w, t_lim):
        """The power whose steady hottest reading is t_lim (None: no estimate yet)."""
        if self.tb is None:
            return None
        return max(0.0, (t_lim - self.tb) / self.r)
