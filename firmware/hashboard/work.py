# Known-answer pattern work for one chain. Each job carries a real header whose nonce is known
# and a starting nonce that puts that nonce inside one target chip's slice, round-robin over the
# chain; every nonce that comes back is rebuilt into its header and checked with SHA-256d, and
# counted per chip as valid or as a hardware error (the repair fixtures' pattern test, in-field).
import gc
from array import array

from . import bm13xx, jobs, ka_headers
from .compat import const

_SLOTS = const(16)  # BM1370 job ids step by 24 mod 128: 16 distinct ids
_COUNTER = const(1 << 25)
_NONE = const(255)


class PatternWork:
    def __init__(self, chain):
        self.chain = chain
        n = chain.expected
        self.valid = array("I", [0] * n)
        self.hw_errors = array("I", [0] * n)
        self.frame = bytearray(6 + jobs.JOB_LEN)
        self.payload = bytearray(jobs.JOB_LEN)
        self.header = bytearray(80)  # a nonce's header, rebuilt to be checked
        self.digest = bytearray(32)  # its SHA-256d
        self.limit = jobs.target(256)
        self.headers = []
        self.counters = []
        self.slot_ka = bytearray([_NONE] * _SLOTS)
        self.slot_start = array("I", [0] * _SLOTS)
        self.next_id = 0
        self.next_chip = 0
        self.sent = 0
        self.unknown = 0
        self.ticket = 256
        self.alloc_seen = None  # bytes the nonce checks allocated, while allocprobe counts them
        self.alloc_checks = 0  # and how many checks that was

    def reset(self, ticket):
        self.ticket = ticket
        self.limit = jobs.target(ticket)
        self.headers = ka_headers.usable(ticket)
        self.counters = []
        for h in self.headers:
            be = (h[76] << 24) | (h[77] << 16) | (h[78] << 8) | h[79]  # nonce as the chip counts
            self.counters.append(be & (_COUNTER - 1))
        for i in range(_SLOTS):
            self.slot_ka[i] = _NONE

    def send_next(self):
        """Send one known-answer job aimed at the next enabled chip. False if none to send."""
        c = self.chain
        n = c.expected
        if not self.headers:
            return False
        for _ in range(n):
            chip = self.next_chip
            self.next_chip = (self.next_chip + 1) % n
            if c.enabled[chip]:
                break
        else:
            return False
        ka = self.sent % len(self.headers)
        slice_len = _COUNTER // n
        start = (self.counters[ka] - jobs.slice_start(chip, n) - slice_len // 2) % _COUNTER
        job_id = self.next_id
        self.next_id = (self.next_id + 24) % 128
        slot = job_id >> 3
        self.slot_ka[slot] = ka
        self.slot_start[slot] = start
        jobs.job_payload(self.payload, self.headers[ka], job_id, start)
        bm13xx.job_frame(self.frame, self.payload)
        c.send(self.frame)
        self.sent += 1
        return True

    def on_nonce(self, fr):
        # the fields of jobs.decode_nonce, read in place: no tuple per nonce
        slot = (fr[7] & 0xF0) >> 4
        job_id = slot << 3
        ka = self.slot_ka[slot] if slot < _SLOTS else _NONE
        if ka == _NONE:
            self.unknown += 1
            return
        h = self.headers[ka]
        counter = ((fr[2] & 1) << 24) | (fr[3] << 16) | (fr[4] << 8) | fr[5]
        jobs.job_payload(self.payload, h, job_id, 0)
        # SHA-256d into a preallocated digest (jobs.sha256d_into: viper, or hashlib where the
        # native code cannot run, whose hash objects are then counted apart when measured)
        seen = self.alloc_seen
        if seen is not None:
            a0 = gc.mem_alloc()  # type: ignore[attr-defined]
        digest = self.digest
        jobs.sha256d_into(digest, jobs.header_from_nonce(self.payload, fr, h, self.header))
        if seen is not None:
            self.alloc_seen = seen + gc.mem_alloc() - a0  # type: ignore[attr-defined]
            self.alloc_checks += 1
        n = self.chain.expected
        chip = jobs.chip_of_counter((counter - self.slot_start[slot]) % _COUNTER, n)
        if jobs.at_most(digest, self.limit):
            self.valid[chip] += 1
        else:
            self.hw_errors[chip] += 1
