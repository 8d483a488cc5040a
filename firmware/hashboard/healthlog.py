# The board's per-chip health history (docs/diagnostics.md, "Health history"): every health
# period (board timing health_period_s, default an hour) each hashing module's chips' error rate
# at their setting and frequency, with the module's power and temperatures, as one record a module
# in a bounded ring of fixed slots on the flash (healthrec). A diagnostic run adds its grades.
# The trend judgement (healthtrend) runs on the host, which reads the records back (op health):
# the board only counts, which costs it two counters a chip and one record buffer.
from array import array

from . import healthrec as rec
from .compat import ticks_diff
from .slotfsm import RUNNING

NAME = "health"  # health.bin next to the settings


class _Period:
    """One module's sums since its period began (None: not counting)."""

    def __init__(self, n):
        self.tot = array("i", [0] * n)  # diff-1 counts done, per chip
        self.err = array("i", [0] * n)  # ... of them errors
        self.ran = array("H", [0] * n)  # sweeps with both counters read
        self.f0 = array("f", [0.0] * n)  # the frequency it began at
        self.moved = bytearray(n)
        self.sums = array("f", [0.0] * 3)  # power W, hottest sensor C, hottest - coolest C
        self.t0 = None
        self.gen = -1
        self.sweeps = 0
        self.v0 = 0.0
        self.vmoved = False

    def start(self, m, now):
        c = m.chain
        for i in range(len(self.tot)):
            self.tot[i] = self.err[i] = self.ran[i] = 0
            self.f0[i] = c.freq[i]
            self.moved[i] = 0
        self.sums[0] = self.sums[1] = self.sums[2] = 0.0
        self.sweeps = 0
        self.t0 = now
        self.gen = m.generation
        self.v0 = m.vrm.vout_set
        self.vmoved = False

    def add(self, m):
        c = m.chain
        for i in range(len(self.tot)):
            if not c.enabled[i]:
                continue
            if c.answered[i] >= 2:  # both counters read this sweep: their deltas belong together
                self.tot[i] += c._dtot[i]
                self.err[i] += c._derr[i]
                self.ran[i] += 1
            if abs(c.freq[i] - self.f0[i]) > 0.05:
                self.moved[i] = 1
        if abs(m.vrm.vout_set - self.v0) > 0.005:
            self.vmoved = True
        hot = cold = None
        for t in m.temps:
            if t is not None:
                if hot is None or t > hot:
                    hot = t
                if cold is None or t < cold:
                    cold = t
        self.sums[0] += m.vout * m.iout
        if hot is not None:
            self.sums[1] += hot
            self.sums[2] += hot - cold
        self.sweeps += 1


class HealthLog:
    def __init__(self, app):
        self.app = app
        t = app.board["timing"]
        self.period_ms = int(t.get("health_period_s", 3600) * 1000)
        self.slots = t.get("health_slots", 192)
        self.n = max(m.chain.expected for m in app.modules)
        self.size = rec.size(self.n)
        self.buf = bytearray(self.size)
        self.periods = [_Period(m.chain.expected) for m in app.modules]
        self.write_errors = 0
        self.seq, self.slot, self.t_base = self._scan()

    def _scan(self):
        """The newest record's sequence and operating time: the ring goes on after it."""
        best = -1
        slot = t_base = 0
        for k in range(self.slots):
            if self.app.store.blob_read(NAME, k * self.size, self.buf) < self.size:
                break  # the ring's first pass ended here
            p = rec.peek(self.buf)
            if p is not None and p[0] > best:
                best, slot, t_base = p[0], (k + 1) % self.slots, p[1]
        return best + 1, slot, t_base

    def op_seconds(self, now):
        """Operating seconds: the last recorded plus this boot's (a cut loses at most a period)."""
        return self.t_base + ticks_diff(now, self.app.boot_ms) // 1000

    def step(self, now):
        """After every telemetry sweep: count, and close the periods that are due."""
        for m in self.app.modules:
            p = self.periods[m.slot]
            if m.state not in RUNNING or m.curtail_off or m.under_test or m.serial is None:
                p.t0 = None  # a period with a stop, a test or a swap in it says nothing
                continue
            if p.t0 is None or p.gen != m.generation:
                p.start(m, now)
                continue
            p.add(m)
            if ticks_diff(now, p.t0) >= self.period_ms and p.sweeps:
                self._write_period(m, p, now)
                p.start(m, now)

    def _write_period(self, m, p, now):
        b = self.buf
        n = len(p.tot)
        k = p.sweeps
        alive = counts = 0
        for i in range(n):
            fl = 0
            tot = p.tot[i]
            e = 0
            if tot > 0 and p.ran[i] * 10 >= k * 9:
                fl = rec.CHIP_RAN
                e = (p.err[i] * 1000000 + tot // 2) // tot
                alive += 1
                counts += tot
            if p.moved[i]:
                fl |= rec.CHIP_MOVED
            rec.pack_chip(b, i, int(m.chain.freq[i] * 10 + 0.5), e, 0, fl)
        rec.pack_header(b, rec.PERIOD, m.slot, n, self.seq, self.op_seconds(now), ticks_diff(now, p.t0) // 1000,
                        int(p.v0 * 1000 + 0.5), int(p.sums[0] / k * 10 + 0.5), int(p.sums[1] / k * 10),
                        int(p.sums[2] / k * 10), rec.serial_tag(m.serial), counts // alive if alive else 0,
                        rec.VOUT_MOVED if p.vmoved else 0)
        self._put(n)

    def note_grades(self, m, grades, now):
        """A diagnostic run's grades (MHz per chip, 0 = none) as a record of their own."""
        b = self.buf
        n = m.chain.expected
        for i in range(n):
            g = grades[i] if i < len(grades) else 0.0
            rec.pack_chip(b, i, int(m.chain.freq[i] * 10 + 0.5), 0, int(g / 5.0 + 0.5) if g > 0 else 0, 0)
        rec.pack_header(b, rec.DIAG, m.slot, n, self.seq, self.op_seconds(now), 0,
                        int(m.vrm.vout_set * 1000 + 0.5), 0, 0, 0, rec.serial_tag(m.serial), 0)
        self._put(n)

    def _put(self, n):
        b = self.buf
        for i in range(rec.HDR + rec.CHIP * n, self.size - 2):
            b[i] = 0  # a module with fewer chips than the slot: a defined tail
        rec.seal(b, n)
        try:
            self.app.store.blob_write(NAME, self.slot * self.size, b)
        except OSError:  # a full or failing flash: the history pauses, the board hashes on
            self.write_errors += 1
            return
        self.seq += 1
        self.slot = (self.slot + 1) % self.slots

    def read(self, k, buf):
        """Slot k's bytes into buf; False past the ring's written part."""
        return self.app.store.blob_read(NAME, k * self.size, buf) == self.size
