# Chain health policy: per-sweep observations in, the first failing chip and its cause out.
# Pure (no I/O, no clock), so properties can be checked with hypothesis.
from .compat import const

OK = const(0)
NO_RESPONSE = const(1)
CRC_ERRORS = const(2)
BAD_ID = const(3)
UNSTABLE = const(4)
CAUSES = ("ok", "no_response", "crc_errors", "bad_id", "unstable")
_SEVERITY = (NO_RESPONSE, BAD_ID, CRC_ERRORS, UNSTABLE)  # the order causes are judged in

MISS_LIMIT = const(3)  # consecutive sweeps silent from this chip to the end: the chain is cut here
LONG_SILENCE = const(10)  # silent this long while later chips answer: its reply path is dead
INTERMITTENT_LIMIT = const(4)  # score of lost/corrupt replies before "crc_errors"
HOLD_SWEEPS = const(10)  # a fault stays reported this many clean sweeps (no flicker)
UNSTABLE_PPM = const(50000)  # error rate (ppm) above which a chip is unstable: 5 %


class ChainHealth:
    def __init__(self, n):
        self.n = n
        self.miss = bytearray(n)
        self.cut = bytearray(n)
        self.intermittent = bytearray(n)
        self.bad_id = bytearray(n)
        self.chip = -1
        self.cause = OK
        self._hold = 0

    def observe_sweep(self, enabled, answered, reads):
        """answered[i] = how many of this sweep's `reads` broadcast reads chip i answered."""
        last = -1
        for i in range(self.n):
            if enabled[i] and answered[i]:
                last = i
        for i in range(self.n):
            if not enabled[i]:
                continue
            a = answered[i]
            if a == 0:
                if self.miss[i] < 255:
                    self.miss[i] += 1
                if i < last:  # silent while chips behind it answer: its own replies are lost
                    self.intermittent[i] = min(255, self.intermittent[i] + 2)
                    self.cut[i] = 0
                elif self.cut[i] < 255:
                    self.cut[i] += 1
            else:
                self.miss[i] = 0
                self.cut[i] = 0
                if a < reads:
                    self.intermittent[i] = min(255, self.intermittent[i] + 1)
                elif self.intermittent[i]:
                    self.intermittent[i] -= 1

    def observe_ids(self, enabled, id_state):
        """id_state[i]: 0 no answer, 1 right chip id, 2 wrong chip id."""
        for i in range(self.n):
            if enabled[i] and id_state[i]:
                self.bad_id[i] = 1 if id_state[i] == 2 else 0

    def _first(self, enabled, cause, err_ppm):
        for i in range(self.n):
            if not enabled[i]:
                continue
            if cause == NO_RESPONSE and (self.cut[i] >= MISS_LIMIT or self.miss[i] >= LONG_SILENCE):
                return i
            if cause == BAD_ID and self.bad_id[i]:
                return i
            if cause == CRC_ERRORS and self.intermittent[i] >= INTERMITTENT_LIMIT:
                return i
            if cause == UNSTABLE and err_ppm[i] > UNSTABLE_PPM:
                return i
        return -1

    def verdict(self, enabled, err_ppm):
        """judge(), returned as (chip, cause)."""
        self.judge(enabled, err_ppm)
        return self.chip, self.cause

    def judge(self, enabled, err_ppm):
        """Update chip and cause: the first failing chip of the most severe kind (no tuple made:
        every sweep). Severity first, because a chip that stops answering unbalances its series
        string and makes healthy chips elsewhere look unstable; the root cause is the one to report."""
        chip, cause = -1, OK
        for kind in _SEVERITY:
            chip = self._first(enabled, kind, err_ppm)
            if chip >= 0:
                cause = kind
                break
        if chip >= 0:
            self.chip, self.cause, self._hold = chip, cause, HOLD_SWEEPS
        elif self._hold:
            self._hold -= 1
        else:
            self.chip, self.cause = -1, OK
