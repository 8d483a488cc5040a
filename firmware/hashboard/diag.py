# One module's diagnostic run (docs/diagnostics.md): a staged test plan stepped from the control
# loop once a control period, so the other modules keep hashing while this one is tested.
# Each stage is a generator that yields while it waits for board time; it records a result
# (pass / fail / skip), its board time and findings from the catalogue (diagcodes). The first
# finding is the root cause: stages run from the part everything else depends on (identity,
# regulator, sensors) to what depends on them (chain, then each chip), and a fault found early
# turns later stages into consequences (skipped, with the reason), not rival findings.
import gc
from array import array

from . import identity, refs
from .compat import ticks_diff, unload
from .diagcodes import FAILING, finding

# (stage, module holding it): each stage module is imported when its first stage starts, so
# a board that compiles from sources never holds more than one of them in its compiler at once
STAGES = (("identity", "diagparts"), ("regulator", "diagparts"), ("sensors", "diagparts"),
          ("chain", "diagchips"), ("balance", "diagbalance"), ("nonce", "diagnonce"), ("grade", "diaggrade"), ("cooling", "diagcool"))
_SAMPLES = 64  # once a second while the module runs: the cooling stage's heat evidence


_loaded = [None]  # the stage module in memory now (one at a time: a small heap holds one)


def _stages(where):
    """The module holding a stage, imported now; the one before it is dropped (sys.modules and
    the package's attribute), so four stage modules never sit in the heap together."""
    import sys

    last = _loaded[0]
    if last is not None and last != where:
        _unload(last)
        gc.collect()  # the next one compiles (from sources) into the room the last one left
    _loaded[0] = where
    name = "hashboard." + where
    mod = sys.modules.get(name)
    if mod is None:
        __import__(name)
        mod = sys.modules[name]
    return mod


def _unload(where):
    unload(where)
    _loaded[0] = None


class DiagRun:
    def __init__(self, app, m, passes, now, days=None):
        self.app = app
        self.m = m
        self.board = app.board
        self.passes = passes
        self.days = days  # the host's date for the repair log entry (None: no entry)
        self.gen = m.generation  # the module tested: a swap ends the run
        self.logged = None
        self.t0 = now
        self.now = now
        self.stages = []
        self.findings = []
        self.chip_ok = [True] * m.chain.expected
        self._buf = bytearray(identity.RECORD_LEN)
        self._saved_job = m.job_interval
        self.saved_targets = None  # per-chip targets a stage moved: put back however the run ends
        self.saved_point = None  # (volts, module MHz cap) before the chip stages moved to stock
        self.grades = None  # per chip: the highest MHz held at <= 1 % errors (grade stage)
        self.rebrought = False  # the chain stage brought a stopped module up once (diagchips)
        # (board s, power W, outlet - inlet C) once a second while the module runs; the other
        # modules' rise per watt beside it (same air), for the cooling stage
        self.heat = array("f", [0.0] * (3 * _SAMPLES))
        self.peers = array("f", [0.0] * _SAMPLES)
        self.n_heat = 0
        self._t_heat = now
        self.done = False
        self.aborted = False
        self._gen = self._plan()

    # ------------------------------------------------------------ driving
    def step(self, now):
        """Once a control period; True when the run is over."""
        self.now = now
        if not self.done:
            if ticks_diff(now, self._t_heat) >= 1000:
                self._t_heat = now
                self._sample()
            try:
                next(self._gen)
            except StopIteration:
                self._finish()
        return self.done

    def abort(self, why):
        if not self.done:
            self.aborted = True  # no verdict on the module: never logged as a pass
            self.stages.append({"name": "aborted", "result": "fail", "board_s": 0.0, "evidence": why})
            self._finish()

    def _finish(self):
        self.done = True
        self.heat = self.peers = array("f")  # the result is kept per slot; the evidence is not
        self._buf = bytearray(0)
        self._gen = None  # a finished generator still holds its frame
        if _loaded[0] is not None:
            _unload(_loaded[0])
            gc.collect()
        m = self.m
        m.job_interval = self._saved_job
        if m.state != "empty":
            self.put_back()
        m.under_test = False

    def put_back(self):
        """The per-chip targets and the operating point the chip stages moved, back as they were."""
        if self.saved_targets is not None:
            for i, f in enumerate(self.saved_targets):
                self.m.chain.set_targets(f, i)
            self.saved_targets = None
        if self.saved_point is not None:
            self.m.vout_user, self.m.target_mhz = self.saved_point
            self.saved_point = None

    def at_stock(self):
        """Generator: the module at its stock point (its identity's nominal voltage, the module
        cap at the board's maximum so per-chip targets decide; thermal and power caps still
        hold), the present one saved for put_back. Chips are judged where the catalogue's
        tolerances were set, not at a tuned point below stock that would blame healthy chips."""
        m = self.m
        if self.saved_targets is None:
            self.saved_targets = list(m.chain.target)
        if self.saved_point is None:
            self.saved_point = (m.vout_user, m.target_mhz)
        ident = m.ident
        m.vout_user = ident["vout_mv"] / 1000.0 if ident is not None else m.vlim["default"]
        m.target_mhz = m.flim["max"]
        t = self.now
        while abs(m.vrm.vout_set - m.vout_goal()) > 1e-3 and ticks_diff(self.now, t) < 5000:
            yield None

    def _sample(self):
        m = self.m
        k = self.n_heat
        if k >= _SAMPLES or not self.live():
            return
        rise = _rise(m)
        if rise is None:
            return
        h = self.heat
        h[3 * k] = ticks_diff(self.now, self.t0) / 1000.0
        h[3 * k + 1] = m.vout * m.iout
        h[3 * k + 2] = rise
        # the median rise per watt of the other running modules (the same air), now
        n = 0
        r = [0.0, 0.0, 0.0, 0.0]
        for o in self.app.modules:
            if o is m or o.state not in ("hashing", "throttled") or n >= 4:
                continue
            ro = _rise(o)
            p = o.vout * o.iout
            if ro is not None and p > 1.0:
                r[n] = ro / p
                n += 1
        r = sorted(r[:n])
        self.peers[k] = r[n // 2] if n else 0.0
        self.n_heat = k + 1

    def _plan(self):
        for p in range(self.passes):
            for name, where in STAGES:
                t = self.now
                gc.collect()
                gen = getattr(_stages(where), name)(self)
                result = None
                while result is None:
                    result = next(gen)
                    if result is None:
                        yield
                res, ev = result
                self.stages.append({"name": name if self.passes == 1 else "%s.%d" % (name, p + 1),
                                    "result": res, "board_s": ticks_diff(self.now, t) / 1000.0, "evidence": ev})

    def find(self, cause, evidence, chip=None, part=None, k=0, name=None, action=None, domain=None):
        for f in self.findings:  # a second pass confirms, it does not repeat
            if f["cause"] == cause and f["chip"] == chip and f.get("name") == name:
                return
        ref = refs.chip_ref(self.board, chip) if chip is not None else refs.part_ref(self.board, part, k) if part else None
        prev = refs.chip_ref(self.board, chip - 1) if chip else None
        dom = refs.chip_pos(self.board, chip)[2] if chip is not None else domain
        if chip is None and domain is not None:  # a whole domain: its chips' designators
            ref = refs.domain_refs(self.board, domain)
        f = finding(cause, self.m.slot, evidence, chip, dom, ref, prev, name, action)
        if name is not None:
            f["name"] = name
        self.findings.append(f)
        if chip is not None and f["severity"] in FAILING:
            self.chip_ok[chip] = False

    def root(self):
        """The first finding that fails the verdict (the root cause), or None."""
        for f in self.findings:
            if f["severity"] in FAILING:
                return f
        return None

    def failed(self):
        return self.root() is not None

    def live(self):
        return self.m.state in ("hashing", "throttled")

    # ------------------------------------------------------------ result
    def doc(self):
        m = self.m
        verdict = "fail" if self.failed() or self.aborted else "pass"  # unfinished: not passed
        if not self.done:
            verdict = "running"
        # the chips' designators and positions are the board definition's: the host adds them
        # (hbctl diag), so a small heap does not hold 24 of them per module
        bad = [i for i in range(m.chain.expected) if not self.chip_ok[i]]
        grades = None if self.grades is None else [round(g, 1) if g > 0 else None for g in self.grades]
        return {"grades": grades, "module": m.slot, "serial": m.serial, "verdict": verdict,
                "board_s": ticks_diff(self.now, self.t0) / 1000.0, "stages": self.stages,
                "findings": self.findings, "chips_total": m.chain.expected, "bad_chips": bad}


def _rise(m):
    """A module's hottest minus coolest sensor (the heat its sink passes to the air), or None."""
    if len(m.temps) < 2:
        return None
    hi = -1000.0
    lo = 1000.0
    for t in m.temps:
        if t is None:
            return None  # a missed read: no rise from half a picture
        hi = max(hi, t)
        lo = min(lo, t)
    return hi - lo
