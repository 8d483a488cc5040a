# Per-chip frequency search (pure policy): each chip climbs to the highest frequency it holds
# with few hardware errors at its present domain voltage and temperature, measured from its own
# diff-1 counters (0x8C hashes, 0x4C error nonces), never from a model of the silicon.
#
# Statistics (docs/tuning.md): a chip at ~600 MHz makes ~285 diff-1 counts per second. A fine
# decision waits for FINE_N counts (7 s): at the 1 % limit that is 20 expected errors (sd 4.5),
# at the 0.35 % band centre 7. The hold band [LOW, HIGH] sits well inside 1 % so that noise
# moves a chip by one fine step, never past the limit. A chip far past its edge (after a
# voltage drop) is caught by the quick test within a second.
from array import array

from .compat import const

CLIMB = const(0)  # no errors seen yet: coarse steps
FINE = const(1)  # errors seen: fine steps inside the hold band
HOLD = const(2)  # inside the band (or at a ceiling): settled
PARKED = const(3)  # cannot hold a useful frequency: kept at the minimum, reported
STATES = ("climb", "fine", "hold", "parked")

COARSE_N = const(600)  # counts per coarse decision (~2 s)
FINE_N = const(2000)  # counts per fine decision (~7 s)
QUICK_ERRS = const(12)  # errors that settle "far past the edge" at once
LOW = 0.0025  # below: room to climb one fine step
HIGH = 0.007  # above: one fine step down (1 % is the limit it never settles at)
QUICK = 0.03  # above, with QUICK_ERRS errors: down a coarse step at once
COARSE_MHZ = 12.5
FINE_MHZ = 2.5  # the profile's resolution


class ChipEdges:
    def __init__(self, n, fmin, fmax):
        self.n = n
        self.fmin = fmin
        self.fmax = fmax
        self.freq = array("f", [0.0] * n)
        self.ceil = array("f", [fmax] * n)  # lowest frequency seen above the band, this voltage
        self.tot = array("f", [0.0] * n)
        self.err = array("f", [0.0] * n)
        self.last_err = array("f", [0.0] * n)  # error fraction of the last decision
        self.state = bytearray(n)
        self.held = bytearray(n)  # reached its band (or a ceiling) since the last change
        self.park_below = fmin  # a chip whose edge falls below this is parked
        self.limit = fmax  # the module's frequency cap: no climbing past it, held there

    def start(self, freqs, near_edge=False):
        """Begin from the given frequencies (stock, a stored profile, or the present targets).
        near_edge: they are a tuned profile's, so every chip starts with fine steps (a coarse
        climb from its edge would take it straight past it)."""
        for i in range(self.n):
            self.freq[i] = min(self.fmax, max(self.fmin, freqs[i]))
            self.ceil[i] = self.fmax
            self.tot[i] = 0.0
            self.err[i] = 0.0
            self.last_err[i] = 0.0
            self.state[i] = FINE if near_edge else CLIMB
            self.held[i] = 0

    def reopen(self):
        """Conditions changed (voltage up, cooler, re-tune): ceilings no longer hold."""
        for i in range(self.n):
            self.ceil[i] = self.fmax
            self.held[i] = self.state[i] == PARKED
            if self.state[i] == HOLD:
                self.state[i] = FINE

    def scale(self, ratio):
        """Move every unparked chip by ratio at once (a voltage step about to happen): a drop
        lands below the new edge, a rise is confirmed by measurement before climbing further."""
        for i in range(self.n):
            if self.state[i] == PARKED:
                continue
            f = self.freq[i] * ratio
            self.freq[i] = min(self.fmax, max(self.fmin, f - (f % FINE_MHZ)))
            self.tot[i] = 0.0
            self.err[i] = 0.0
            self.held[i] = 0
        if ratio > 1.0:
            self.reopen()

    def cap(self, i, mhz):
        if self.freq[i] > mhz:
            self.freq[i] = max(self.fmin, mhz)

    def observe(self, i, dtot, derr, allow_up):
        """Counts since the last sweep for chip i; True when its frequency changed.
        allow_up: the module may draw more (power, heat and any frequency cap permit)."""
        if self.state[i] == PARKED or dtot <= 0:
            return False
        self.tot[i] += dtot
        self.err[i] += derr
        t = self.tot[i]
        e = self.err[i]
        if e >= QUICK_ERRS and e > QUICK * t:
            return self._down(i, COARSE_MHZ, e / t)
        st = self.state[i]
        if t < (COARSE_N if st == CLIMB else FINE_N):
            return False
        frac = e / t
        self.tot[i] = 0.0
        self.err[i] = 0.0
        self.last_err[i] = frac
        f = self.freq[i]
        if frac > HIGH:
            return self._down(i, FINE_MHZ, frac)
        if st == CLIMB and e > 0:
            st = FINE  # the first errors: from here on, fine steps
        if frac < LOW and allow_up:
            step = COARSE_MHZ if st == CLIMB else FINE_MHZ
            nxt = min(self.limit, f + step, self.ceil[i] - FINE_MHZ)
            if nxt > f + 0.01:
                self.freq[i] = nxt
                self.state[i] = st
                return True
        if frac >= LOW or f >= self.limit - 0.01 or f >= self.ceil[i] - FINE_MHZ - 0.01:
            st = HOLD
            self.held[i] = 1
        self.state[i] = st
        return False

    def _down(self, i, step, frac):
        f = self.freq[i]
        self.ceil[i] = min(self.ceil[i], f)
        self.tot[i] = 0.0
        self.err[i] = 0.0
        self.last_err[i] = frac
        nxt = f - step
        if nxt < self.park_below:
            self.freq[i] = self.fmin
            self.state[i] = PARKED
            self.held[i] = 1
            return True
        self.freq[i] = max(self.fmin, nxt)
        self.state[i] = FINE
        return True

    def unpark(self):
        for i in range(self.n):
            if self.state[i] == PARKED:
                self.state[i] = CLIMB
                self.ceil[i] = self.fmax

    def settled(self):
        """Every chip has reached its band, a ceiling or the board's maximum since the last
        change (noise may move a held chip by a fine step afterwards: that is not unsettled)."""
        for i in range(self.n):
            if not self.held[i]:
                return False
        return True

    def idle(self):
        """Chips that still want to climb but are denied (the module is at its goal)."""
        k = 0
        for i in range(self.n):
            k += not self.held[i] and self.last_err[i] < LOW
        return k

    def parked(self):
        k = 0
        for i in range(self.n):
            k += self.state[i] == PARKED
        return k

    def at_limit(self):
        """Chips held at the module's frequency cap (below the board's maximum)."""
        if self.limit >= self.fmax - 0.01:
            return 0
        k = 0
        for i in range(self.n):
            k += self.state[i] != PARKED and self.freq[i] >= self.limit - 0.01
        return k

    def at_max(self):
        """All unparked chips at the board's maximum frequency (the voltage is more than needed)."""
        for i in range(self.n):
            if self.state[i] != PARKED and self.freq[i] < self.fmax - 0.01:
                return False
        return True
