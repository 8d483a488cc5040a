# One module's tuner (pure policy: per-chip counts, power, hashrate, temperatures and now_ms
# in; per-chip frequency targets, a string voltage and a frequency cap out). Three loops on
# three time scales, each on what the module measures:
#   chips   (seconds): every chip to its own edge at the present voltage (chipedge);
#   voltage (a probe, ~half a minute): the string voltage that puts the module at its goal
#           with every chip at its edge (vsearch);
#   heat    (always): what the cooling can carry (heatfit) caps the power goal, so a module
#           limited by its airflow settles below hot instead of being throttled there.
# Safety stays outside: the thermal policy, curtailment and the board's limits act on the
# targets this produces (Module.freq_cap, vout_goal) and win over them.
from .chipedge import ChipEdges
from .compat import const, ticks_diff
from .heatfit import HeatFit
from .vsearch import EFFICIENCY, HASHRATE, MODES, OFF, POWER, TOL, VoltageSearch

_OVER_MS = const(2000)  # over the power ceiling this long: act (a ramp step may overshoot briefly)
_BLOCKED_MS = const(8000)  # denied chips this long at the goal: the voltage is too high
_RETUNE_MS = const(60000)  # after converging, at most one new search per minute
_T_MARGIN_C = 0.75  # the tuner's own ceiling: hot_c minus this (the heat fit predicts the
# steady reading, so the margin covers sensor noise, not a throttle's lag)
_PARK_FRACTION = 0.6  # a chip below this share of the module's median frequency is parked
PHASES = ("off", "probing", "converged")


class ModuleTuner:
    def __init__(self, n, domains, flim, vlim, hot_c, v_threshold, c_th, r_th=None):
        self.n = n
        self.v_thr = v_threshold * domains  # string volts at which the chips stop switching
        self.flim = flim
        self.vlim = vlim
        self.t_lim = hot_c - _T_MARGIN_C
        self.edges = ChipEdges(n, flim["min"], flim["max"])
        self.search = VoltageSearch(vlim["min"], vlim["max"])
        self.heat = HeatFit(c_th, r_th)
        self.mode = OFF
        self.goal = 0.0
        self.phase = 0
        self.vs = vlim["default"]
        self.fcap = flim["max"]
        self._sus = None
        self.ceiling_w = None  # power the module may draw now (goal and cooling), None = any
        self.current_w = None  # power the regulator's current allows at today's voltage (set each period)
        self.power_w = 0.0
        self.ths = 0.0
        self._t_over = None
        self._t_blocked = None
        self._t_done = 0
        self._t_start = 0
        self.converged_ms = None  # board ms from start to the first convergence

    # ------------------------------------------------------------ commands
    def start(self, mode, goal, freqs, vs, now, v_ceiling=None, near_edge=False):
        """Begin tuning from the module's present settings (or a stored profile's: near_edge).
        v_ceiling: the highest string voltage this module may get (its rating), inside the
        board's."""
        self.heat.resume()  # what was learned stays; rates never span the time it was off
        top = self.vlim["max"] if v_ceiling is None else min(self.vlim["max"], v_ceiling)
        self.search.vmax = max(self.vlim["min"], top)
        self.mode = mode
        self.goal = float(goal)
        self.phase = 1
        self.vs = self.search._snap(vs)
        self.fcap = self.flim["max"]
        self.edges.start(freqs, near_edge)
        self.search.start(mode, self.goal, self.vs)
        self._t_over = self._t_blocked = None
        self._t_start = now
        self.converged_ms = None

    def stop(self):
        self.mode = OFF
        self.phase = 0

    def forget_heat(self):
        self.heat.reset()

    def target(self, i):
        return min(self.edges.freq[i], self.fcap)

    # ------------------------------------------------------------ one telemetry period
    def observe(self, now, dtot, derr, power_w, ths, t_hot, throttled):
        """dtot/derr: per-chip counter deltas of the last sweep. Returns True when the string
        voltage target changed (the actuator ramps to self.vs)."""
        if self.mode == OFF:
            return False
        self.power_w = power_w
        self.ths = ths
        self.heat.sample(power_w, t_hot)
        ceiling = self._ceiling(power_w)
        self.ceiling_w = ceiling
        warm = t_hot is not None and t_hot >= self.t_lim
        hot = t_hot is not None and t_hot > self.t_lim + 0.5
        room = ceiling is None or power_w < ceiling * (1 - TOL)
        allow = room and not warm and not throttled
        e = self.edges
        self._cap_control(power_w, ceiling, hot)
        e.limit = self.fcap
        for i in range(self.n):
            e.observe(i, dtot[i], derr[i], allow)
        over = (ceiling is not None and power_w > ceiling * (1 + TOL)) or throttled or hot
        if over:
            if self._t_over is None:
                self._t_over = now
            if ticks_diff(now, self._t_over) >= _OVER_MS:
                self._t_over = now
                return self._shed(now, power_w, ceiling)
        else:
            self._t_over = None
        if self.phase == 2:
            self._hold(now, power_w, ths, ceiling)
            return False
        blocked = not allow and e.idle() > 0
        if blocked:
            if self._t_blocked is None:
                self._t_blocked = now
            blocked = ticks_diff(now, self._t_blocked) >= _BLOCKED_MS
        else:
            self._t_blocked = None
        if not (e.settled() or blocked):
            return False
        return self._probe_done(now, power_w, ths, blocked)

    def _ceiling(self, power_w):
        c = self.goal if self.mode == POWER else None
        sus = self.heat.sustainable(power_w, self.t_lim)
        if sus is not None:  # an estimate, smoothed (~10 s): the fit moves with every sample
            self._sus = sus if self._sus is None else self._sus + 0.1 * (sus - self._sus)
            sus = self._sus
        if sus is not None and (c is None or sus < c):
            c = sus
        cw = self.current_w
        if cw is not None and (c is None or cw < c):
            c = cw  # 400 W at 4.0 V is 100 A: a goal never pushes the regulator toward its trip
        return c

    def _probe_done(self, now, power_w, ths, blocked):
        s = self.search
        self._park()
        if self.edges.at_limit() or self.fcap < self.flim["max"] - 0.01:
            blocked = True  # the cap, not the chips' edges, holds the power: too much voltage
        if self.mode == POWER and self.ceiling_w is not None:
            s.goal = self.ceiling_w  # the cooling may allow less than the operator's goal
        goal_ths = self.mode != POWER
        if goal_ths and self.ceiling_w is not None and power_w >= self.ceiling_w * (1 - TOL):
            v = s.over(power_w)  # the cooling, not the target, limits this module: lower
        else:
            v = s.settled(power_w, ths, blocked, self.edges.at_max())
        if s.done:
            self._converge(now)
        return self._move(v)

    def _converge(self, now):
        self.phase = 2
        self._t_done = now
        if self.converged_ms is None:
            self.converged_ms = ticks_diff(now, self._t_start)

    def _shed(self, now, power_w, ceiling):
        """Over the ceiling (or hot, or throttled): less power now, by the voltage if the
        search still has room below, else by the frequency cap."""
        s = self.search
        if self.vs > self.vlim["min"] + 1e-6:
            if self.phase == 2:  # converged, then over (hotter air, a changed goal): search down
                self.phase = 1
                s.start(self.mode, self.goal, self.vs)
            v = s.over(power_w)
            if s.done:
                self._converge(now)
            return self._move(v)
        return False  # at the lowest voltage the frequency cap sheds (_cap_control)

    def _cap_control(self, power_w, ceiling, hot):
        """The module-wide frequency cap: the power control below the lowest voltage (and while
        hot). Power follows frequency at once, so it is driven straight to the ceiling; the
        ceiling itself (the cooling's) moves slowly."""
        base = min(self.fcap, self._top())
        if hot:
            self.fcap = max(self.flim["min"], base * 0.98)
            return
        if ceiling is None or power_w <= 0:
            self.fcap = min(self.flim["max"], self.fcap * 1.02)
            return
        if self.vs > self.vlim["min"] + 1e-6 and self.fcap >= self.flim["max"]:
            return  # the voltage search carries the goal
        rel = (ceiling * (1 - TOL / 2) - power_w) / power_w
        k = max(-0.05, min(0.03, 0.6 * rel))
        if self.mode == HASHRATE and self.ths > self.goal and k > 0:
            k = 0.0
        self.fcap = max(self.flim["min"], min(self.flim["max"], (base if k < 0 else self.fcap) * (1 + k)))

    def _hold(self, now, power_w, ths, ceiling):
        """Converged: the chip loop keeps running, and a goal that drifted away (ambient,
        airflow, aging) starts a new search."""
        if self.mode == HASHRATE and ths > self.goal * (1 + TOL) and ths > 0:
            self.fcap = max(self.flim["min"], min(self.fcap, self._top()) * (0.5 + 0.5 * self.goal / ths))
        if ticks_diff(now, self._t_done) < _RETUNE_MS:
            return
        drift = False
        if self.mode == POWER and ceiling is not None:
            drift = power_w < ceiling * (1 - 3 * TOL) and self.vs < self.search.vmax - 1e-6 and not self.edges.at_max()
        elif self.mode != POWER:
            drift = ths < self.goal * (1 - 2 * TOL) and self.vs < self.search.vmax - 1e-6
        if drift:
            self.phase = 1
            self.search.start(self.mode, self.goal, self.vs)
            self.edges.reopen()

    def _top(self):
        top = 0.0
        for i in range(self.n):
            top = max(top, self.edges.freq[i])
        return top

    def _park(self):
        """A chip far below its neighbours (a weak or failing chip) is parked at the minimum
        rather than holding its whole voltage domain to its pace."""
        med = self._median()
        self.edges.park_below = max(self.flim["min"], med * _PARK_FRACTION)

    def _median(self):
        vals = sorted(self.edges.freq[i] for i in range(self.n))
        return vals[len(vals) // 2]

    def _move(self, v):
        if abs(v - self.vs) < 1e-6:
            self.edges.reopen()  # same voltage (a closing bracket): confirm the edges there
            return False
        # the edge moves roughly with the voltage above the transistors' threshold (the chip
        # family's figure); a first guess, which the chip loop then measures
        thr = self.v_thr
        ratio = max(0.5, (v - thr) / max(0.1, self.vs - thr))
        self.edges.scale(ratio)
        self.vs = v
        return True

    # ------------------------------------------------------------ report
    def doc(self):
        return {"mode": MODES[self.mode], "goal": self.goal, "phase": PHASES[self.phase],
                "converged": self.phase == 2, "vout": self.vs, "fcap_mhz": self.fcap,
                "ceiling_w": self.ceiling_w, "converged_ms": self.converged_ms,
                "parked": self.edges.parked(), "probes_left": not self.search.done}

