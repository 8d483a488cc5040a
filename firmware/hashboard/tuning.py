# The tuner's actuator and the board's tuning goal (docs/tuning.md). One ModuleTuner per slot;
# a board-wide goal is shared equally by the modules that are hashing (re-shared when one
# comes or goes), a per-module goal overrides it. Every telemetry period each hashing module's
# tuner gets that sweep's counters, the regulator's power and the hottest sensor, and its
# targets are applied through Module.set_freq / set_vout: the board's limits, the thermal
# policy's throttle and curtailment act after the tuner and win over it.
from . import argcheck
from .compat import ticks_diff
from .tunemodes import MODE_IDS, MODES, OFF, TOL

CURRENT_SHARE = 0.9  # of the regulator's over-current trip a tuned module may draw: a trip is a
# fault threshold, not an operating point (current sense noise would trip a module parked on it)
_SAVE_EVERY_MS = 3600000  # a goal's first convergence is saved; re-saved at most hourly
_NO_GOAL = (OFF, 0.0)  # one shared tuple: "no goal" is asked for every module every period


class Tuning:
    def __init__(self, app, chip):
        self.app = app
        b = app.board
        lim = b["limits"]
        cool = b["module"].get("cooling", {})
        n = b["module"]["chips"]
        # the tuners (and their ~15 KB of code) are made when a module first gets a goal: a
        # board that is never tuned keeps that heap for its diagnostics and health history
        self._args = (n, b["module"].get("domains", 1), lim["freq_mhz"], lim["vout"], lim["thermal"]["hot_c"],
                      chip.EDGE_V0, cool.get("c_th_j_per_k", 550.0), cool.get("r_th_k_per_w"))
        self.tuners = [None] * len(app.modules)  # type: list
        self.mode = OFF
        self.goal = 0.0  # board-wide: W, TH/s or a TH/s floor
        self.own = [None] * len(app.modules)  # type: list  # per-module (mode, goal) overriding the board's
        self._share = [0.0] * len(app.modules)
        self._applied = [None] * len(app.modules)  # type: list  # (mode, goal) each tuner was started with
        self._saved = bytearray(len(app.modules))  # this convergence is in the module's EEPROM
        self._t_saved = [{} for _ in app.modules]  # type: list  # per module: goal -> when it was saved
        self._t_start = 0
        self._gen = [0] * len(app.modules)  # the module generation each tuner's heat fit is of
        self._fresh = bytearray([1] * len(app.modules))  # seated since its tuner last started
        self._hashing = bytearray(len(app.modules))  # step's "which modules hash now"
        for i, m in enumerate(app.modules):
            m.goal_hint = self._hint(i)  # an inserted module starts from its profile for this goal

    def tuner(self, i):
        """Module i's tuner, made (and the tuner's code loaded) when first needed."""
        tu = self.tuners[i]
        if tu is None:
            from .tuner import ModuleTuner

            tu = self.tuners[i] = ModuleTuner(*self._args)
        return tu

    def _hint(self, i):
        return lambda: self.goal_hint(i)

    def goal_hint(self, i):
        """The goal module i would get if it started hashing now (its own, or its share of the
        board's counting itself), or None."""
        g = self.own[i]
        if g is None:
            if self.mode == OFF:
                return None
            n = 1
            for k in range(len(self.own)):
                n += k != i and self.own[k] is None and self._applied[k] is not None
            g = (self.mode, self.goal / n)
        return None if g[0] == OFF else g

    # ------------------------------------------------------------ goals
    def validate(self, mode, goal, module):
        """Raise ValueError naming what is wrong; returns (mode id, goal)."""
        if not isinstance(mode, str):
            raise ValueError("mode must be power, hashrate, efficiency or off")
        if mode == "off":
            return OFF, 0.0
        if mode not in MODE_IDS:
            raise ValueError("mode must be power, hashrate, efficiency or off")
        if isinstance(goal, bool) or not isinstance(goal, (int, float)) or goal != goal:
            raise ValueError("target must be a number")
        n = 1 if module is not None else len(self.app.modules)
        if mode == "power":
            hi = argcheck.power_max_w(self.app.board) * n / len(self.app.modules)
            if not 0 < goal <= hi:
                raise ValueError("power target %s W outside (0, %d] W" % (goal, hi))
        else:
            hi = self._ths_ceiling() * n
            lo = 0 if mode == "efficiency" else 1e-3
            if not lo <= goal <= hi:
                raise ValueError("%s target %s TH/s outside [%s, %.1f] TH/s" % (mode, goal, lo, hi))
        return MODE_IDS[mode], float(goal)

    def _ths_ceiling(self):
        """TH/s one module could make with every chip at the board's maximum frequency."""
        b = self.app.board
        return b["module"]["chips"] * b["limits"]["freq_mhz"]["max"] * self.app.chip.SMALL_CORES / 1e6

    def set(self, mode, goal, module=None):
        m, g = self.validate(mode, goal, module)
        if module is None:
            self.mode, self.goal = m, g
            for i in range(len(self.own)):
                self.own[i] = None
        else:
            self.own[module] = None if m == OFF and self.mode == OFF else (m, g)
        self._t_start = self.app.clock.ticks_ms()
        return self.doc()

    def load(self, doc):
        """A goal stored in the settings (validated as if typed: a bad one is dropped)."""
        if not isinstance(doc, dict):
            return
        self.set(doc.get("mode", "off"), doc.get("goal", 0.0))
        own = doc.get("modules")
        if isinstance(own, list):
            for i, o in enumerate(own[:len(self.own)]):
                if isinstance(o, list) and len(o) == 2:
                    self.set(o[0], o[1], i)

    def stored(self):
        own = [None if o is None else [MODES[o[0]], o[1]] for o in self.own]
        return {"mode": MODES[self.mode], "goal": self.goal, "modules": own}

    def owner(self, i):
        """The goal that owns module i's frequencies and voltage, as words, or None. A manual
        setting under it would be undone at the tuner's next step, so it is refused instead."""
        g = self.own[i]
        if g is None and self.mode != OFF:
            g = (self.mode, self.goal)
        if g is None or g[0] == OFF:
            return None
        return "%s %s%s" % (MODES[g[0]], g[1], "" if self.own[i] is not None else " (board)")

    def _goal_for(self, i, hashing):
        if self.own[i] is not None:
            return self.own[i]
        if self.mode == OFF:
            return _NO_GOAL
        shared = 0
        for k in range(len(self.own)):
            shared += hashing[k] and self.own[k] is None
        return self.mode, self.goal / max(1, shared)

    # ------------------------------------------------------------ each telemetry period
    def step(self, now, running):
        """running: module states counted as hashing. Called after the telemetry sweep."""
        app = self.app
        mods = app.modules
        # curtailment has priority: a curtailed board (any level) is held by the power cap alone
        curtailed = app.power.curtailed
        hashing = self._hashing  # (reused: this runs every telemetry period)
        for i in range(len(mods)):
            m = mods[i]
            hashing[i] = m.state in running and not m.curtail_off and not curtailed and not m.under_test
        for i in range(len(mods)):
            m = mods[i]
            tu = self.tuners[i]
            if m.generation != self._gen[i]:
                self._gen[i] = m.generation
                self._t_saved[i] = {}  # a new module: its first convergence of each goal is saved
                self._fresh[i] = 1
                if tu is not None:
                    tu.forget_heat()  # another module's heat sink (a swap, however fast)
                self._stop(i)  # nor its voltage ceiling and search position
            if not hashing[i]:
                self._stop(i)
                continue
            want = self._goal_for(i, hashing)
            if want[0] == OFF:
                self._stop(i)
                continue
            tu = self.tuner(i)
            if self._applied[i] is None or self._applied[i] != want:  # new goal, or a new share
                # a module seated with a stored profile starts at its chips' edges: fine steps
                # only, so it stays at the profile it brought instead of climbing off it
                near = self._fresh[i] and m.store.profile is not None
                tu.start(want[0], want[1], m.chain.target, m.vout_user, now, self._rating(m), near)
                self._applied[i] = want
                self._fresh[i] = 0
            self._observe(m, tu, now)
            self._keep(i, m, tu, now)

    def _stop(self, i):
        """Module i's tuner lets go (if it was made and running)."""
        tu = self.tuners[i]
        if tu is not None and tu.mode != OFF:
            tu.stop()
            self._applied[i] = None

    def _keep(self, i, m, tu, now):
        """The first convergence of a goal goes into the module's EEPROM profile, so the module
        starts from it in any slot of any board (one write per convergence, not per period)."""
        if tu.phase != 2:
            self._saved[i] = 0
            return
        if self._saved[i] or m.store.addr is None:
            return
        self._saved[i] = 1
        goal = self._applied[i]
        saved = self._t_saved[i]
        last = saved.get(goal)
        if last is not None and ticks_diff(now, last) < _SAVE_EVERY_MS:
            return  # re-tuning, or goals alternating: a goal's entry is rewritten at most hourly
        if len(saved) >= 16:
            saved.clear()  # bounded: goals that come and go (a board share moves with every swap)
        saved[goal] = now
        try:
            p = m.save_profile(goal)
            self.app.emit(now, "tune", i, "converged: profile %d saved (%.2f V)" % (p["seq"], p["vout_mv"] / 1000.0))
        except (OSError, ValueError) as e:
            self.app.emit(now, "tune", i, "converged: profile not saved (%s)" % e)

    def _rating(self, m):
        """A module is never tuned above the voltage it is rated for (its identity EEPROM: the
        rated maximum, or the nominal voltage when the record names none), or above what the
        host set for it if that is higher: the board's limit is the board's, the module's
        rating is the module's."""
        mv = m.rated_mv()
        return max(mv / 1000.0 if mv else m.vlim["default"], m.vout_user)

    def _observe(self, m, tu, now):
        c = m.chain
        hottest = None
        for t in m.temps:
            if t is None:  # a missed read: the rest is not the hottest (the inlet reads 30 C
                hottest = None  # low), and one such sample pulled the heat fit's Tb down
                break
            if hottest is None or t > hottest:
                hottest = t
        power = m.vout * m.iout
        # CURRENT_SHARE of the regulator's over-current trip, at the voltage it holds now. The
        # tuner settles in the band just under a ceiling and sheds above ceiling*(1+TOL): half a
        # band under the share, it holds 90 % on average and touches at most 91 % in a probe
        tu.current_w = CURRENT_SHARE * m.vrm.iout_max * m.vout / (1 + TOL / 2) if m.vout > 0 else None
        tu.observe(now, c._dtot, c._derr, power, m.ghs() / 1000.0, hottest, m.thermal.level > 0)
        # through the module's own setters: the board's limits are checked there again
        for i in range(c.expected):
            f = tu.target(i)
            if abs(c.target[i] - f) > 0.01 and c.enabled[i]:
                m.set_freq(f, i)
        if abs(m.vout_user - tu.vs) > 1e-6:
            m.set_vout(tu.vs)

    # ------------------------------------------------------------ report
    def doc(self, module=None, chips=False):
        """The goal and each module's tuner; one module's chips on request (a board's 96
        chips at once would be a large reply for a small heap)."""
        now = self.app.clock.ticks_ms()
        mods = []
        conv = True
        active = False
        for i, m in enumerate(self.app.modules):
            if module is not None and i != module:
                continue
            tu = self.tuner(i)  # asked for: made if it was not yet
            d = tu.doc()
            d["module"] = i
            # the module's own telemetry now, whether a goal runs or not (an empty slot: 0)
            pw = m.vout * m.iout
            ths = m.ghs() / 1000.0
            d["power_w"] = round(pw, 1)
            d["ths"] = round(ths, 3)
            d["jth"] = round(pw / ths, 2) if ths > 0 else None
            if tu.mode != OFF:
                active = True
                conv = conv and tu.phase == 2
            if chips:
                from .chipedge import PARKED, STATES

                c = m.chain
                e = tu.edges
                d["chips"] = [{"index": k, "freq_mhz": c.target[k], "error_rate": c.err_ppm[k] / 1000000,
                               "ghs": round(c.mhs[k] / 1000, 1), "state": STATES[e.state[k]], "parked": e.state[k] == PARKED}
                              for k in range(c.expected)]
            mods.append(d)
        own = [None if o is None else {"mode": MODES[o[0]], "target": o[1]} for o in self.own]
        return {"mode": MODES[self.mode], "target": self.goal, "modules_own": own,
                "converged": active and conv, "since_ms": ticks_diff(now, self._t_start), "modules": mods}
