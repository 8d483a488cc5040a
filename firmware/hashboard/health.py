# Chain health policy: per-sweep observations in, the first failing chip and its cause out.
# Pure (no I/O, no clock), so properties can be checked with hypothesis.
from .compat import const

OK = const(0)
NO_RESPONSE = const(1)
CRC_ERRORS = const(2)
BAD_ID = const(3)
UNSTABLE = const(4)
CAUSES = ("ok", "no_response", "crc_errors", "bad_id", "unstable")

MISS_LIMIT = const(3)  # consecutive silent sweeps before a chip counts as not answering
INTERMITTENT_LIMIT = const(4)  # score of lost/corrupt replies before "crc_errors"
HOLD_SWEEPS = const(10)  # a fault stays reported this many clean sweeps (no flicker)
UNSTABLE_ERROR_RATE = 0.05


class ChainHealth:
    def __init__(self, n):
        self.n = n
        self.miss = bytearray(n)
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
            else:
                self.miss[i] = 0
                if a < reads:
                    self.intermittent[i] = min(255, self.intermittent[i] + 1)
                elif self.intermittent[i]:
                    self.intermittent[i] -= 1

    def observe_ids(self, enabled, id_state):
        """id_state[i]: 0 no answer, 1 right chip id, 2 wrong chip id."""
        for i in range(self.n):
            if enabled[i] and id_state[i]:
                self.bad_id[i] = 1 if id_state[i] == 2 else 0

    def verdict(self, enabled, err_rate):
        """Update and return (chip, cause): the first chip on the chain that is not healthy."""
        chip, cause = -1, OK
        for i in range(self.n):
            if not enabled[i]:
                continue
            if self.miss[i] >= MISS_LIMIT:
                chip, cause = i, NO_RESPONSE
            elif self.bad_id[i]:
                chip, cause = i, BAD_ID
            elif self.intermittent[i] >= INTERMITTENT_LIMIT:
                chip, cause = i, CRC_ERRORS
            elif err_rate[i] > UNSTABLE_ERROR_RATE:
                chip, cause = i, UNSTABLE
            if chip >= 0:
                break
        if chip >= 0:
            self.chip, self.cause, self._hold = chip, cause, HOLD_SWEEPS
        elif self._hold:
            self._hold -= 1
        else:
            self.chip, self.cause = -1, OK
        return self.chip, self.cause
