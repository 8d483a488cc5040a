# Driver for one daisy chain of BM13xx chips on one UART: enumeration, addressing, fault
# location, frequency steps and the per-chip telemetry sweep. The UART and clock are injected.
from array import array

from . import bm13xx as f
from . import pll
from .compat import const, ticks_add, ticks_diff

_IDLE_MS = const(8)  # gap after the last byte that ends a burst of responses
_DIAG_TRIES = const(3)
_MISS_LIMIT = const(3)  # sweeps a chip may miss before the chain is re-diagnosed
UNSTABLE_ERROR_RATE = 0.05

OK = const(0)
NO_RESPONSE = const(1)
CRC_ERRORS = const(2)
BAD_ID = const(3)
UNSTABLE = const(4)
CAUSES = ("ok", "no_response", "crc_errors", "bad_id", "unstable")


class Chain:
    def __init__(self, uart, chip, expected, clock):
        self.uart = uart
        self.chip = chip
        self.expected = expected
        self.clock = clock
        self.interval = max(1, 256 // expected)
        self.tx = bytearray(f.FRAME_MAX)
        self.tx7 = bytearray(7)
        self.rx = bytearray(128)
        self.parser = f.ResponseParser(9)
        self._on_frame = self._frame  # bound once: no allocation per frame
        self._reading = 0
        self._count = 0
        self._bad_id_pos = -1
        # per-chip state (fixed-size arrays; indexed by chain position)
        n = expected
        self.status = bytearray(n)  # cause code per chip
        self.answered = bytearray(n)
        self.miss = bytearray(n)
        self.freq = array("f", [0.0] * n)
        self.ghs = array("f", [0.0] * n)
        self.err_rate = array("f", [0.0] * n)
        self._hi = array("H", [0] * n)
        self._lo = array("H", [0] * n)
        self._ehi = array("H", [0] * n)
        self._elo = array("H", [0] * n)
        self._dtot = array("i", [0] * n)
        self._derr = array("i", [0] * n)
        self._primed = False
        self._last_sweep = 0
        self.found = 0
        self.fault_chip = -1
        self.fault_cause = OK
        self.cur_mhz = chip.RESET_MHZ
        self.baud = chip.SLOW_BAUD
        # constant sweep frames, built once
        self._rd_total = bytes(self.tx7[: f.read_reg(self.tx7, 0, chip.REG_HASH_TOTAL, True)])
        self._rd_err = bytes(self.tx7[: f.read_reg(self.tx7, 0, chip.REG_ERROR_COUNT, True)])

    # ---------------------------------------------------------------- wire helpers
    def _write(self, chip_addr, reg, value, broadcast=True):
        f.write_reg(self.tx, chip_addr, reg, value, broadcast)
        self.uart.write(self.tx)

    def _send7(self, n):
        self.uart.write(self.tx7)

    def _collect(self, idle_ms=_IDLE_MS):
        clk = self.clock
        deadline = ticks_add(clk.ticks_ms(), idle_ms)
        uart = self.uart
        rx = self.rx
        while True:
            n = uart.any()
            if n:
                n = uart.readinto(rx, min(n, len(rx)))
                if n:
                    self.parser.feed(rx, n, self._on_frame)
                deadline = ticks_add(clk.ticks_ms(), idle_ms)
            elif ticks_diff(deadline, clk.ticks_ms()) <= 0:
                return
            else:
                clk.sleep_ms(1)

    def _frame(self, fr, n):
        if f.is_nonce(fr, n):
            return
        value_hi = (fr[2] << 8) | fr[3]
        value_lo = (fr[4] << 8) | fr[5]
        reg = fr[7]
        if reg != self._reading:
            return
        if reg == 0:  # chip id read
            if value_hi == self.chip.CHIP_ID:
                self._count += 1
            elif self._bad_id_pos < 0:
                self._bad_id_pos = self._count
            return
        idx = fr[6] // self.interval
        if idx >= self.expected:
            return
        self.answered[idx] = 1
        if reg == self.chip.REG_HASH_TOTAL:
            self._dtot[idx] = ((value_hi - self._hi[idx]) & 0xFFFF) * 65536 + value_lo - self._lo[idx]
            self._hi[idx] = value_hi
            self._lo[idx] = value_lo
        else:
            self._derr[idx] = ((value_hi - self._ehi[idx]) & 0xFFFF) * 65536 + value_lo - self._elo[idx]
            self._ehi[idx] = value_hi
            self._elo[idx] = value_lo

    def _read_id(self, addr, broadcast):
        self._reading = 0
        self._count = 0
        self._bad_id_pos = -1
        f.read_reg(self.tx7, addr, 0, broadcast)
        self.uart.write(self.tx7)
        self._collect()
        return self._count

    # ---------------------------------------------------------------- bring-up
    def reset_host_baud(self):
        self.baud = self.chip.SLOW_BAUD
        self.uart.init(baudrate=self.baud)
        self.parser.set_frame_len(9)
        self.cur_mhz = self.chip.RESET_MHZ
        self._primed = False

    def bring_up(self, ticket_difficulty=256):
        """Enumerate, address and initialise the chain. Returns the number of chips found."""
        c = self.chip
        self.reset_host_baud()
        for _ in range(3):
            self._write(0, c.REG_VERSION, c.VERSION_MASK)
        self.parser.set_frame_len(11)
        seen = self._read_id(0, True)
        self._write(0, c.REG_VERSION, c.VERSION_MASK)
        for reg, value in c.PRE_INACTIVE:
            self._write(0, reg, value)
        self._send7(f.chain_inactive(self.tx7))
        for i in range(self.expected):
            self._send7(f.set_address(self.tx7, i * self.interval))
        self.diagnose()
        if seen > self.found and self.fault_cause == OK:
            self.fault_cause = CRC_ERRORS
        for reg, value in c.POST_ADDRESS:
            self._write(0, reg, value)
        self._write(0, c.REG_TICKET_MASK, c.ticket_mask(ticket_difficulty))
        for reg, value in c.POST_TICKET:
            self._write(0, reg, value)
        for i in range(self.found):
            a = i * self.interval
            for reg, value in c.PER_CHIP:
                self._write(a, reg, value, False)
            self._write(a, c.REG_NONCE_OFFSET, c.nonce_offset(i, self.expected), False)
        for reg, value in c.FINAL:
            self._write(0, reg, value)
        for i in range(self.expected):
            self.freq[i] = self.cur_mhz if i < self.found else 0.0
        return self.found

    def diagnose(self):
        """Per-chip addressed reads: classify every position and locate the first bad chip."""
        p = self.parser
        found = 0
        first = -1
        first_cause = OK
        for i in range(self.expected):
            ok = 0
            anomalies = 0
            bad_id = False
            for _ in range(_DIAG_TRIES):
                crc_before = p.crc_errors
                got = self._read_id(i * self.interval, False)
                if got:
                    ok += 1
                elif self._bad_id_pos >= 0:
                    bad_id = True
                else:
                    anomalies += 1
                if p.crc_errors != crc_before:
                    anomalies += 1
            if bad_id:
                cause = BAD_ID
            elif ok == 0:
                cause = NO_RESPONSE
            elif anomalies:
                cause = CRC_ERRORS
            else:
                cause = OK
            self.status[i] = cause
            if ok:
                found += 1
            if cause != OK and first < 0:
                first = i
                first_cause = cause
        self.found = found
        self.fault_chip = first
        self.fault_cause = first_cause
        return found

    def finish_bring_up(self):
        """After the ramp: hash counting number, then the documented baud raise."""
        c = self.chip
        self._write(0, c.REG_HCN, c.hash_counting_number(self.cur_mhz, self.expected))
        self._write(0, c.REG_UART_BAUD, c.FAST_BAUD_REG)
        self.uart.flush()
        self.clock.sleep_ms(2)
        self.baud = c.FAST_BAUD
        self.uart.init(baudrate=self.baud)
        self.sweep(self.clock.ticks_ms())  # prime the counters: the first real sweep has a delta

    # ---------------------------------------------------------------- frequency
    def write_freq(self, mhz, chip_index=-1):
        s = pll.solve(mhz, self.chip.FB_MIN, self.chip.FB_MAX)
        value = pll.register_value(s[0], s[1], s[2], s[3])
        if chip_index < 0:
            self._write(0, self.chip.REG_PLL0, value)
            self.cur_mhz = s[4]
            for i in range(self.expected):
                if self.status[i] != NO_RESPONSE:
                    self.freq[i] = s[4]
        else:
            self._write(chip_index * self.interval, self.chip.REG_PLL0, value, False)
            self.freq[chip_index] = s[4]
        return s[4]

    # ---------------------------------------------------------------- telemetry
    def sweep(self, now_ms=0):
        """Broadcast-read total hash and error counters; update per-chip GH/s and error rate."""
        n = self.expected
        for i in range(n):
            self.answered[i] = 0
            self._dtot[i] = 0
            self._derr[i] = 0
        self._reading = self.chip.REG_HASH_TOTAL
        self.uart.write(self._rd_total)
        self._collect()
        self._reading = self.chip.REG_ERROR_COUNT
        self.uart.write(self._rd_err)
        self._collect()
        now_ms = self.clock.ticks_ms()  # the time the counters were read, not the step's start
        dt = ticks_diff(now_ms, self._last_sweep)
        self._last_sweep = now_ms
        primed = self._primed
        self._primed = True
        missing = -1
        for i in range(n):
            if self.status[i] == NO_RESPONSE:
                continue
            if not self.answered[i]:
                if self.miss[i] < 255:
                    self.miss[i] += 1
                if self.miss[i] >= _MISS_LIMIT and missing < 0:
                    missing = i
                continue
            self.miss[i] = 0
            if not primed or dt <= 0:
                continue
            tot = self._dtot[i]
            err = self._derr[i]
            if tot <= 0:
                continue
            ghs = (tot - err) * 4294.967296 / dt  # counts of 2^32 hashes per ms -> GH/s
            er = err / tot
            self.ghs[i] = ghs if self.ghs[i] == 0.0 else 0.7 * self.ghs[i] + 0.3 * ghs
            self.err_rate[i] = er if self.err_rate[i] == 0.0 else 0.7 * self.err_rate[i] + 0.3 * er
        if missing >= 0 and (self.fault_chip < 0 or missing < self.fault_chip):
            self.fault_chip = missing
            self.fault_cause = NO_RESPONSE
        if self.fault_chip < 0:
            for i in range(n):
                if self.err_rate[i] > UNSTABLE_ERROR_RATE:
                    self.fault_chip = i
                    self.fault_cause = UNSTABLE
                    break
        return missing
