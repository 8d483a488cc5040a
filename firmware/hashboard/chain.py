# Driver for one daisy chain of BM13xx chips on one UART: enumeration, addressing, fault
# location, per-chip frequency, the telemetry sweep and known-answer work. UART and clock are
# injected; the chip family (bm1370) supplies constants and the register sequence.
from array import array

from . import bm13xx as f
from . import pll
from .compat import const, ticks_add, ticks_diff
from .health import BAD_ID, CAUSES, CRC_ERRORS, NO_RESPONSE, OK, ChainHealth  # noqa: F401
from .work import PatternWork

_IDLE_MS = const(8)  # gap after the last byte that ends a burst of responses
_DIAG_TRIES = const(3)
_SWEEP_READS = const(2)
_ID_CHECK_EVERY = const(5)  # sweeps between broadcast chip-id checks
_MHS_PER_COUNT_MS = const(429497)  # one count (2^32 hashes) per ms is 4294967.296 MH/s: / 10
_MHS_MAX = const(0x3FFFFFFF)  # ~1 PH/s a chip: above it a sweep's rate is a glitch, not a rate
_NOT_READING = const(-1)  # between reads: a late reply is stale, never the next read's answer


def _delta(hi, lo, old_hi, old_lo):
    """Counter advance since the last reading (uint32, wrapping). A counter that restarted (a
    module seated again, a chip reset) reads as a huge advance: 0 then, the next sweep counts."""
    d = ((hi - old_hi) & 0xFFFF) * 65536 + lo - old_lo
    return d if 0 <= d < 0x40000000 else 0


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
        self.between = None  # called between chips during bring-up (the app guards the others)
        self._reading = _NOT_READING
        self._count = 0
        self._got = 0
        self._bad_id_pos = -1
        n = expected
        self.status = bytearray(n)  # bring-up cause per chip (NO_RESPONSE = not on the chain)
        self.enabled = bytearray(n)
        self.answered = bytearray(n)
        self.id_state = bytearray(n)
        self.freq = array("f", [0.0] * n)
        self.target = array("f", [0.0] * n)
        # rates in integers, so the sweep's arithmetic boxes no float (the control loop allocates
        # nothing): MH/s (short and long average) and the error rate in parts per million
        self.mhs = array("i", [0] * n)
        self.mhs_long = array("i", [0] * n)
        self.err_ppm = array("i", [0] * n)
        self._hi = array("H", [0] * n)
        self._lo = array("H", [0] * n)
        self._ehi = array("H", [0] * n)
        self._elo = array("H", [0] * n)
        self._dtot = array("i", [0] * n)
        self._derr = array("i", [0] * n)
        self._t_tot = array("i", [0] * n)  # board ms of each chip's last counter reading:
        self._t_err = array("i", [0] * n)  # a lost reply must not fold two periods into one
        self._dt_tot = array("i", [0] * n)
        self._dt_err = array("i", [0] * n)
        self.acc_tot = array("i", [0] * n)  # counts summed for the health history (healthlog),
        self.acc_err = array("i", [0] * n)  # from sweeps that read both counters; zeroed by it
        self.acc_ran = array("H", [0] * n)
        self.moved = bytearray(n)  # its frequency was written since the health log last looked
        self.health = ChainHealth(n)
        self.work = PatternWork(self)
        self._primed = False
        self._sweeps = 0
        self.found = 0
        self.diag_chip = -1
        self.diag_garbled = 0  # corrupt answers from that first failing chip at bring-up
        self.diag_cause = OK
        self.fault_chip = -1
        self.fault_cause = OK
        self.cur_mhz = chip.RESET_MHZ
        self._steady_cap = -1.0  # the cap under which every chip was last found at its goal
        self.mhs_sum = 0  # the chips' MH/s (short average), as of the last sweep
        self.baud = chip.SLOW_BAUD
        self.bytes_tx = 0
        self.bytes_rx = 0
        self._rd_total = bytes(self.tx7[: f.read_reg(self.tx7, 0, chip.REG_HASH_TOTAL, True)])
        self._rd_err = bytes(self.tx7[: f.read_reg(self.tx7, 0, chip.REG_ERROR_COUNT, True)])
        self._rd_id = bytes(self.tx7[: f.read_reg(self.tx7, 0, chip.REG_CHIP_ID, True)])

    # ---------------------------------------------------------------- wire helpers
    def send(self, frame):
        self.bytes_tx += len(frame)
        self.uart.write(frame)

    def _write(self, chip_addr, reg, value, broadcast=True):
        f.write_reg(self.tx, chip_addr, reg, value, broadcast)
        self.send(self.tx)

    def _send7(self, n):
        self.send(self.tx7)

    def collect(self, want=0, idle_ms=_IDLE_MS):
        """Read until `want` valid frames arrived (0: no count) or the line is idle for idle_ms,
        feeding every byte to the parser."""
        self._collect(want, idle_ms)
        # a reply that comes after its read has ended (a slow chain, a busy line) carries an
        # older counter value: it must not count as the answer to the next read of that
        # register, whose time delta would then be a few ms for a whole period's count
        self._reading = _NOT_READING

    def _collect(self, want, idle_ms):
        clk = self.clock
        deadline = ticks_add(clk.ticks_ms(), idle_ms)
        uart = self.uart
        rx = self.rx
        self._got = 0
        while True:
            n = uart.any()
            if n:
                n = uart.readinto(rx, min(n, len(rx)))
                if n:
                    self.bytes_rx += n
                    self.parser.feed(rx, n, self._on_frame)
                    if want and self._got >= want:
                        return
                deadline = ticks_add(clk.ticks_ms(), idle_ms)
            elif ticks_diff(deadline, clk.ticks_ms()) <= 0:
                return
            else:
                clk.sleep_ms(1)

    def poll(self):
        """Take whatever the chain sent since the last look (nonces), without waiting."""
        n = self.uart.any()
        while n:
            n = self.uart.readinto(self.rx, min(n, len(self.rx)))
            if not n:
                return
            self.bytes_rx += n
            self.parser.feed(self.rx, n, self._on_frame)
            n = self.uart.any()

    def _frame(self, fr, n):
        if f.is_nonce(fr, n):
            self.work.on_nonce(fr)
            return
        reg = fr[7]
        if reg != self._reading:
            return
        self._got += 1  # replies to the read in progress (nonces do not count)
        value_hi = (fr[2] << 8) | fr[3]
        value_lo = (fr[4] << 8) | fr[5]
        if reg == 0:
            if self._count >= 0:  # enumeration / diagnosis: count in arrival order
                if value_hi == self.chip.CHIP_ID:
                    self._count += 1
                elif self._bad_id_pos < 0:
                    self._bad_id_pos = self._count
            idx = fr[6] // self.interval  # runtime id check: the address names the chip
            if idx < self.expected:
                self.id_state[idx] = 1 if value_hi == self.chip.CHIP_ID else 2
            return
        idx = fr[6] // self.interval
        if idx >= self.expected:
            return
        self.answered[idx] += 1
        now = self.clock.ticks_ms() & 0x3FFFFFFF
        if reg == self.chip.REG_HASH_TOTAL:
            self._dtot[idx] = _delta(value_hi, value_lo, self._hi[idx], self._lo[idx])
            self._hi[idx] = value_hi
            self._lo[idx] = value_lo
            self._dt_tot[idx] = ticks_diff(now, self._t_tot[idx])
            self._t_tot[idx] = now
        else:
            self._derr[idx] = _delta(value_hi, value_lo, self._ehi[idx], self._elo[idx])
            self._ehi[idx] = value_hi
            self._elo[idx] = value_lo
            self._dt_err[idx] = ticks_diff(now, self._t_err[idx])
            self._t_err[idx] = now

    def _read_id(self, addr, broadcast):
        self._reading = 0
        self._count = 0
        self._bad_id_pos = -1
        f.read_reg(self.tx7, addr, 0, broadcast)
        self.send(self.tx7)
        self.collect(0 if broadcast else 1)
        return self._count

    # ---------------------------------------------------------------- bring-up
    def reset_host_baud(self):
        self.baud = self.chip.SLOW_BAUD
        self.uart.init(baudrate=self.baud)
        self.parser.set_frame_len(9)
        self.cur_mhz = self.chip.RESET_MHZ
        self._primed = False
        self.stopped()
        for i in range(self.expected):
            self.err_ppm[i] = 0
        self.health = ChainHealth(self.expected)
        self.fault_chip = -1
        self.fault_cause = OK

    def bring_up(self, ticket_difficulty=256):
        """Enumerate, address and initialise the chain (ESP-Miner's BM1370 order).
        Returns the number of chips that answer correctly."""
        c = self.chip
        self.reset_host_baud()
        for _ in range(3):
            self._write(0, c.REG_VERSION, c.VERSION_MASK)
        self.parser.set_frame_len(11)
        self._read_id(0, True)
        self._write(0, c.REG_VERSION, c.VERSION_MASK)
        for reg, value in c.PRE_INACTIVE:
            self._write(0, reg, value)
        self._send7(f.chain_inactive(self.tx7))
        for i in range(self.expected):
            self._send7(f.set_address(self.tx7, i * self.interval))
        self.diagnose()
        for reg, value in c.POST_ADDRESS:
            self._write(0, reg, value)
        self._write(0, c.REG_TICKET_MASK, c.ticket_mask(ticket_difficulty))
        for reg, value in c.POST_TICKET:
            self._write(0, reg, value)
        for i in range(self.expected):
            if not self.enabled[i]:
                continue
            a = i * self.interval
            for reg, value in c.PER_CHIP:
                self._write(a, reg, value, False)
            self._write(a, c.REG_NONCE_OFFSET, c.nonce_offset(i, self.expected), False)
            b = self.between
            if b is not None:
                b(self)
        for reg, value in c.FINAL:
            self._write(0, reg, value)
        for i in range(self.expected):
            self.freq[i] = self.cur_mhz if self.enabled[i] else 0.0
        self._steady_cap = -1.0
        self.work.reset(ticket_difficulty)
        return self.found

    def diagnose(self):
        """Per-chip addressed id reads: classify every position, locate the first bad chip."""
        p = self.parser
        found = 0
        first = -1
        first_cause = OK
        for i in range(self.expected):
            ok = 0
            anomalies = 0
            garbled = 0
            bad_id = False
            for attempt in range(_DIAG_TRIES):
                crc_before = p.crc_errors
                if self._read_id(i * self.interval, False):
                    ok += 1
                elif self._bad_id_pos >= 0:
                    bad_id = True
                else:
                    anomalies += 1
                if p.crc_errors != crc_before:
                    anomalies += 1
                    garbled += 1
                if attempt == 0 and ok and not anomalies:
                    break  # a clean first answer needs no repeat
            if bad_id:
                cause = BAD_ID
            elif ok == 0:
                cause = NO_RESPONSE
            elif anomalies:
                cause = CRC_ERRORS
            else:
                cause = OK
            self.status[i] = cause
            self.enabled[i] = 1 if (ok or bad_id) else 0  # on the chain: configure it
            if ok:
                found += 1
            if cause != OK and first < 0:
                first = i
                first_cause = cause
                self.diag_garbled = garbled  # answers that arrived corrupt: the chip is there
            b = self.between
            if b is not None:
                b(self)
        self.found = found
        self.diag_chip = first
        self.diag_cause = first_cause
        self._update_fault(-1, OK)
        return found

    def _update_fault(self, chip, cause):
        # the first failing position wins: bring-up diagnosis or what the sweeps show now
        if self.diag_chip >= 0 and (chip < 0 or self.diag_chip <= chip):
            self.fault_chip, self.fault_cause = self.diag_chip, self.diag_cause
        else:
            self.fault_chip, self.fault_cause = chip, cause

    def finish_bring_up(self):
        """After the first ramp: hash counting number, then the documented baud raise."""
        c = self.chip
        self._write(0, c.REG_HCN, c.hash_counting_number(self.cur_mhz, self.expected))
        self._write(0, c.REG_UART_BAUD, c.FAST_BAUD_REG)
        self.uart.flush()
        self.clock.sleep_ms(2)
        self.baud = c.FAST_BAUD
        self.uart.init(baudrate=self.baud)
        self.sweep()  # prime the counters: the first real sweep has a delta

    # ---------------------------------------------------------------- frequency
    def stopped(self):
        """The chips lost power or their PLLs: no frequency, no rates."""
        for i in range(self.expected):
            self.freq[i] = 0.0
            self.mhs[i] = 0
            self.mhs_long[i] = 0
        self.mhs_sum = 0
        self._steady_cap = -1.0

    def write_freq(self, mhz, chip_index=-1):
        """Program PLL0 (all enabled chips, or one); returns the frequency actually set."""
        self._steady_cap = -1.0
        s = pll.solve(mhz, self.chip.FB_MIN, self.chip.FB_MAX)
        value = pll.register_value(s[0], s[1], s[2], s[3])
        if chip_index < 0:
            self._write(0, self.chip.REG_PLL0, value)
            self.cur_mhz = s[4]
            for i in range(self.expected):
                if self.enabled[i]:
                    self.freq[i] = s[4]
                    self.moved[i] = 1
        else:
            a = chip_index * self.interval
            self._write(a, self.chip.REG_PLL0, value, False)
            self._write(a, self.chip.REG_HCN, self.chip.hash_counting_number(s[4], self.expected), False)
            self.freq[chip_index] = s[4]
            self.moved[chip_index] = 1
        return s[4]

    def set_targets(self, mhz, chip_index=-1):
        # the frequency the PLL really makes, so a ramp can arrive exactly (e.g. 302.5 -> 302.4)
        mhz = pll.solve(mhz, self.chip.FB_MIN, self.chip.FB_MAX)[4]
        self._steady_cap = -1.0
        for i in range(self.expected):
            if chip_index < 0 or i == chip_index:
                self.target[i] = mhz

    def step_toward_targets(self, step, cap=10000.0):
        """One ramp step for every chip not at min(its target, cap). True when all are there.
        While all chips move together one broadcast write does it; otherwise per chip."""
        if cap == self._steady_cap:
            # nothing moved since every chip was found at its goal under this cap: the steady
            # state's answer without a pass over the chips (each float there is a heap object)
            return True
        common = -1.0
        same = True
        pending = False
        for i in range(self.expected):
            if not self.enabled[i]:
                continue
            cur = self.freq[i]
            tgt = min(self.target[i], cap)
            if abs(tgt - cur) < 0.01:
                nxt = cur
            else:
                pending = True
                nxt = tgt if abs(tgt - cur) <= step else (cur + step if tgt > cur else cur - step)
            if common < 0:
                common = nxt
            elif abs(nxt - common) > 0.001:
                same = False
        if not pending:
            self._steady_cap = cap
            return True
        if same:
            self.write_freq(common)
        else:
            for i in range(self.expected):
                if not self.enabled[i]:
                    continue
                cur = self.freq[i]
                tgt = min(self.target[i], cap)
                if abs(tgt - cur) >= 0.01:
                    self.write_freq(tgt if abs(tgt - cur) <= step else (cur + step if tgt > cur else cur - step), i)
        return False

    # ---------------------------------------------------------------- telemetry
    def sweep(self):
        """Broadcast reads of the hash and error counters (and every few sweeps the chip ids):
        per-chip GH/s (short and long average), error rate, and the chain's health verdict."""
        n = self.expected
        for i in range(n):
            self.answered[i] = 0
            self._dtot[i] = 0
            self._derr[i] = 0
        self.poll()
        live = 0
        for i in range(n):
            live += self.enabled[i]
        self._reading = self.chip.REG_HASH_TOTAL
        self.send(self._rd_total)
        self.collect(live)
        self._reading = self.chip.REG_ERROR_COUNT
        self.send(self._rd_err)
        self.collect(live)
        primed = self._primed
        self._primed = True
        self._sweeps += 1
        if self._sweeps % _ID_CHECK_EVERY == 0:
            for i in range(n):
                self.id_state[i] = 0
            self._count = -1  # attribute by address, not arrival order
            self._reading = 0
            self.send(self._rd_id)
            self.collect(live)
            self.health.observe_ids(self.enabled, self.id_state)
        if primed:
            self.health.observe_sweep(self.enabled, self.answered, _SWEEP_READS)
        for i in range(n):
            if not self.enabled[i] or self.answered[i] < _SWEEP_READS or not primed:
                continue
            tot = self._dtot[i]
            derr = self._derr[i]
            dtt = self._dt_tot[i]
            dte = self._dt_err[i]
            rated = tot > 0 and dtt > 0 and dte > 0
            if rated:
                # a count is 2^32 hashes: MH/s = counts/ms x 4294967.296, as 429497 x 10 so that
                # the products stay small integers on a 32-bit port too
                mhs = (tot * _MHS_PER_COUNT_MS // dtt - derr * _MHS_PER_COUNT_MS // dte) * 10
                if mhs > _MHS_MAX:
                    # no chip hashes at a PH/s: a glitched counter reply (a corrupt frame its
                    # CRC5 let through, a restarted counter). Neither a rate nor work for the
                    # health sums: never stored into their 32-bit arrays (CPython refuses it,
                    # MicroPython wraps it to a negative number)
                    continue
            self.acc_tot[i] += tot
            self.acc_err[i] += derr
            self.acc_ran[i] += 1
            if not rated:
                continue
            if mhs < 0:
                mhs = 0
            er = derr * 1000000 // tot * dtt // dte  # errors per count of work, in ppm
            if er > 1000000:
                er = 1000000
            if self.mhs[i] == 0:
                self.mhs[i] = mhs
                self.mhs_long[i] = mhs
                self.err_ppm[i] = er
            else:
                self.mhs[i] = (7 * self.mhs[i] + 3 * mhs + 5) // 10  # ~3 s
                self.mhs_long[i] = (95 * self.mhs_long[i] + 5 * mhs + 50) // 100  # ~20 s
                self.err_ppm[i] = (7 * self.err_ppm[i] + 3 * er + 5) // 10
        g = 0
        for i in range(n):  # (by index: an array iterator is an object)
            g += self.mhs[i]
        self.mhs_sum = g  # summed once a sweep; read every period (power, the I2C map, the tuner)
        h = self.health
        h.judge(self.enabled, self.err_ppm)
        self._update_fault(h.chip, h.cause)
        return h.chip
