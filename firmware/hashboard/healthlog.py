# The board's per-chip health history (docs/diagnostics.md, "Health history"): every health
# period (board timing health_period_s, default an hour) each hashing module's chips' error rate
# at their setting and frequency, with the module's power and temperatures, as one record a module
# in a bounded ring of fixed slots on the flash. This module is what stays in memory; the chain
# sums each chip's counters for it (Chain.acc_tot/acc_err/acc_ran, moved). The writer, the ring scan and the op (healthwrite, with the record codec
# healthrec) are loaded for their moment and dropped after: the heap is the board's scarcest part.
# The trend judgement (hostlib.healthtrend) runs on the host, which reads the records back (op health).
import gc
from array import array

from .compat import ticks_add, ticks_diff, unload
from .slotfsm import RUNNING

NAME = "health"  # health.bin next to the settings


class HealthLog:
    def __init__(self, app):
        self.app = app
        t = app.board["timing"]
        self.period_ms = int(t.get("health_period_s", 3600) * 1000)
        self.slots = t.get("health_slots", 192)
        self.n = max(m.chain.expected for m in app.modules)
        self.size = 30 + 6 * self.n  # healthrec.size(n), without loading the codec for it
        k = len(app.modules)
        self.t0 = [None] * k  # type: list  # when each module's period began (None: not counting)
        self.gen = [0] * k
        self.sweeps = array("i", [0] * k)
        self.v0 = [0.0] * k  # the regulator's set voltage it began at (the float itself: no copy)
        self.vmoved = bytearray(k)
        # tenths of W, °C, °C: power, hottest sensor, hottest - coolest; integers (added to after
        # every sweep: no float boxed), an hour of sweeps stays far below 2^30
        self.sums = array("i", [0] * (3 * k))
        self.write_errors = 0
        self.seq = self.slot = self.t_base = 0
        self._retry = app.boot_ms
        self.scanned = False  # the ring is scanned when first needed (healthwrite), not at boot

    def run(self, job):
        """job(healthwrite) with the writer loaded for it, dropped after; None when there is
        no room to load it now (a diagnostic run holds the heap): the caller tries later."""
        gc.collect()
        try:
            from . import healthwrite

            return job(healthwrite)
        except MemoryError:
            return None
        finally:
            unload("healthwrite")
            unload("healthrec")
            gc.collect()

    def _record(self, job):
        """run() for a record: whatever fails costs the history that record, counted, never
        the control loop (a hung flash, a writer bug)."""
        try:
            return self.run(job)
        except Exception:
            self.write_errors += 1
            return False

    def op_seconds(self, now):
        """Operating seconds: the last recorded plus this boot's (a cut loses at most a period)."""
        return self.t_base + ticks_diff(now, self.app.boot_ms) // 1000

    def step(self, now):
        """After every telemetry sweep: count, and close the periods that are due."""
        for m in self.app.modules:
            s = m.slot
            if m.state not in RUNNING or m.curtail_off or m.under_test:
                self.t0[s] = None  # a period with a stop, a test or a swap in it says nothing
                continue
            if self.t0[s] is None or self.gen[s] != m.generation:
                self._start(m, now)
                continue
            hot = cold = None
            for t in m.temps_mc:
                if t is not None:
                    if hot is None or t > hot:
                        hot = t
                    if cold is None or t < cold:
                        cold = t
            k = 3 * s
            self.sums[k] += m.mv * m.ma // 100000
            if hot is not None:
                self.sums[k + 1] += hot // 100
                self.sums[k + 2] += (hot - cold) // 100
            if m.vrm.vout_set != self.v0[s]:
                self.vmoved[s] = 1
            self.sweeps[s] += 1
            if ticks_diff(now, self.t0[s]) >= self.period_ms and ticks_diff(now, self._retry) >= 0:
                self._close(m, now)

    def _close(self, m, now):
        # Apart from step: a lambda there would make step's variables cells, three objects a
        # call. A period that cannot be written now (no room) runs on, tried a minute later.
        if self._record(lambda w: w.write_period(self, m, now)) is not None:
            self._start(m, now)
        else:
            self._retry = ticks_add(now, 60000)

    def _start(self, m, now):
        c = m.chain
        for i in range(c.expected):
            c.acc_tot[i] = c.acc_err[i] = c.acc_ran[i] = c.moved[i] = 0
        s = m.slot
        self.t0[s] = now
        self.gen[s] = m.generation
        self.sweeps[s] = 0
        self.v0[s] = m.vrm.vout_set
        self.vmoved[s] = 0
        self.sums[3 * s] = self.sums[3 * s + 1] = self.sums[3 * s + 2] = 0

    def note_grades(self, m, grades, now):
        """A diagnostic run's grades (MHz per chip, 0 = none) as a record of their own."""
        self._record(lambda w: w.note_grades(self, m, grades, now))
