# What the module's cooling can carry, learned from its own sensors (pure; one sample per
# telemetry period). The heat sink is a first-order system, C dT/dt = P - (T - Tb)/R. Its heat
# capacity C is a property of the metal (the board definition's nominal; airflow does not
# change it); its resistance R and the zero-power temperature Tb change with airflow and
# ambient, and are what is learned: with y = P - C dT/dt (the heat the air carries away now),
#     y = (T - Tb)/R       a straight line in the hottest reading T,
# fitted by least squares over a sliding window; the last good fit is kept while the module
# holds still. From it: the steady reading of a power, Tb + R P, and the power whose steady
# reading is a limit, (T_lim - Tb)/R, so the tuner moves to a sustainable power in one step
# instead of throttling one level per period behind a rising sensor.
# Until the first fit (half a minute, and the reading must move 3 degC) the board definition's
# nominal R stands in, with Tb tracked from the readings the same way: a hot room or a weak
# fan is then seen in the first ten seconds, not after the thermal guard has had to throttle.
from array import array

from .compat import const

WINDOW = const(60)  # samples (s) in the fit
_SPAN = const(9)  # raw samples behind each fit point: mean reading, mean power, rate of rise
_MIN_POINTS = const(30)  # half a minute: a first fit over a single power step is a guess
_MIN_SPREAD_C = 3.0  # the fit needs the reading to move to see the slope


class HeatFit:
    def __init__(self, c_th, r_nominal=None):
        self.c_th = c_th
        self.r_nominal = r_nominal  # K/W, the board definition's; None: wait for a fit
        self.y = array("f", [0.0] * WINDOW)
        self.t = array("f", [0.0] * WINDOW)
        self.rt = array("f", [0.0] * _SPAN)  # raw readings and powers, a ring
        self.rp = array("f", [0.0] * _SPAN)
        self.reset()

    def reset(self):
        self.n = 0
        self.k = 0
        self.rk = 0
        self.rn = 0
        self.ts = None
        self.coef = None  # (R K/W, Tb degC) of the last trustworthy fit
        self.tb_nominal = None  # Tb seen through the nominal R, until there is a fit
        self.rate = 0.0  # degC/s of the hottest sensor over the last _SPAN samples

    def sample(self, power_w, t_hot):
        if t_hot is None:
            return
        self.rt[self.rk] = t_hot
        self.rp[self.rk] = power_w
        self.rk = (self.rk + 1) % _SPAN
        if self.rn < _SPAN:
            self.rn += 1
            if self.rn < _SPAN:
                self.ts = t_hot
                return
        # mean reading, mean power and the least-squares rate, all centred on the same
        # moment (_SPAN // 2 samples back), so a power step does not read as a heat flow
        st = sp = sxt = 0.0
        h = _SPAN // 2
        for j in range(_SPAN):
            i = (self.rk + j) % _SPAN  # oldest first
            st += self.rt[i]
            sp += self.rp[i]
            sxt += (j - h) * self.rt[i]
        self.ts = st / _SPAN
        self.rate = sxt / (h * (h + 1) * (2 * h + 1) / 3.0)
        i = self.k
        self.y[i] = sp / _SPAN - self.c_th * self.rate
        self.t[i] = self.ts
        self.k = (i + 1) % WINDOW
        if self.n < WINDOW:
            self.n += 1
        self._fit()
        if self.coef is None and self.r_nominal:
            r = self.r_nominal
            seen = self.ts + r * self.c_th * self.rate - r * sp / _SPAN
            tb = self.tb_nominal
            self.tb_nominal = seen if tb is None else tb + 0.2 * (seen - tb)
        if self.coef is not None:
            # the zero-power temperature each sample implies with the learned R (the steady
            # reading is T + R C dT/dt): tracks a drifting ambient between fits
            r, tb = self.coef
            seen = self.ts + r * self.c_th * self.rate - r * sp / _SPAN
            self.coef = (r, tb + 0.05 * (seen - tb))

    def _fit(self):
        n = self.n
        if n < _MIN_POINTS:
            return
        st = sy = 0.0
        tmin = tmax = self.t[0]
        for i in range(n):
            st += self.t[i]
            sy += self.y[i]
            tmin = min(tmin, self.t[i])
            tmax = max(tmax, self.t[i])
        if tmax - tmin < _MIN_SPREAD_C:
            return  # holding still: the last fit stands
        mt, my = st / n, sy / n
        stt = sty = 0.0
        for i in range(n):
            x = self.t[i] - mt
            stt += x * x
            sty += x * (self.y[i] - my)
        if sty <= 0:
            return
        r = stt / sty  # y = (T - Tb)/R: slope 1/R
        tb = mt - my * r
        if 0.005 < r < 5.0:
            self.coef = (r, tb)

    def _model(self):
        """(R, Tb): the fit's, else the nominal R with its tracked Tb, else None."""
        if self.coef is not None:
            return self.coef
        if self.tb_nominal is not None:
            return self.r_nominal, self.tb_nominal
        return None

    def steady(self, power_w):
        """Predicted steady reading of the hottest sensor at power_w, or None."""
        m = self._model()
        if m is None:
            return None
        return m[1] + m[0] * power_w

    def sustainable(self, power_w, t_lim):
        """The power whose steady hottest reading is t_lim (None: no estimate yet)."""
        m = self._model()
        if m is None:
            return None
        return max(0.0, (t_lim - m[1]) / m[0])
