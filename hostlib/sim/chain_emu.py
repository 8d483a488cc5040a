"""BM1370 chain emulator. Bus side: the bytes a real chain exchanges on its UART (frames, CRC5/
CRC16, addressing, register reads, baud register). Backend side: the ModuleModel in physical
units plus injected faults (dead chip, flaky, bad id, unstable, broken link, line noise)."""

from __future__ import annotations

import random
from functools import lru_cache

from hashboard import bm13xx, jobs, ka_headers, pll
from hashboard.crc import crc5, crc16

from .physics import ModuleModel

CHIP_ID = 0x1370
# A chain is re-synced with its physics model on every bus transaction: decode each PLL register
# value once (a board programs a handful of them), not 24 chips x 4 slots x thousands per second.
_pll_mhz = lru_cache(maxsize=256)(pll.decode_register)

RESET_PLL = pll.register_value(160, 2, 7, 6) & 0x0FFFFFFF  # about 47.6 MHz, PLL not "locked"
RESET_BAUD_REG = 0x01301A00
BAUD_TOLERANCE = 0.05
COUNTER_SPACE = 1 << 25
# Known-answer work: the emulator "computes" these jobs by lookup (real headers, real nonces)
KNOWN = {bytes(h[:76]): int.from_bytes(h[76:80], "little") for h in ka_headers.headers()}


def ticket_difficulty(mask_reg: int) -> int:
    """Inverse of the firmware's 0x14 encoding: bytes bit-reversed, mask = difficulty - 1."""
    mask = 0
    for shift in (24, 16, 8, 0):
        b = (mask_reg >> shift) & 0xFF
        mask |= int(f"{b:08b}"[::-1], 2) << shift
    return mask + 1


def baud_from_reg(value: int) -> float:
    return 25e6 / (8 * (((value >> 8) & 0xFF) + 1))


class ChipState:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.addr = 0
        self.assigned = False
        self.regs: dict[int, int] = {0x08: RESET_PLL, 0x28: RESET_BAUD_REG, 0x18: 0x0000C100}
        self.long_frames = False  # 11-byte responses once version rolling (0xA4) is written
        self.cores_on = False


class ChainEmu:
    def __init__(self, model: ModuleModel, rng: random.Random) -> None:
        self.model = model
        self.n = len(model.chips)
        self.chips = [ChipState() for _ in range(self.n)]
        self.rng = rng
        self.rx_buf = bytearray()  # host -> chain bytes not yet framed
        self.tx_queue = bytearray()  # chain -> host bytes
        self.in_reset = True
        self.powered = False
        # faults
        self.dead: set[int] = set()
        self.flaky: set[int] = set()
        self.badid: set[int] = set()
        self.link_break: int | None = None  # chips after this index unreachable
        self.noise = 0.0
        self.bytes_in = 0
        self.bytes_out = 0
        self.frames_in = 0
        self.jobs: dict[int, bytes] = {}
        self.latest_job: int | None = None
        self.nonces_sent = 0
        self._sim_due = [0.0] * self.n

    # ------------------------------------------------------------------ topology
    def reach(self) -> int:
        """Number of chips a command reaches from the host (and whose replies come back)."""
        r = self.n
        if self.dead:
            r = min(r, min(self.dead))
        if self.link_break is not None:
            r = min(r, self.link_break + 1)
        return r

    def alive(self) -> bool:
        return self.powered and not self.in_reset

    def chain_baud(self) -> float:
        return baud_from_reg(self.chips[0].regs.get(0x28, RESET_BAUD_REG))

    def set_reset(self, asserted: bool) -> None:
        if asserted and not self.in_reset:
            for c in self.chips:
                c.reset()
            self._sync_model()
            self.rx_buf.clear()
        self.in_reset = asserted
        self._sync_model()

    def set_power(self, on: bool) -> None:
        if on == self.powered:  # called on every bus transaction: only a change needs a re-sync
            return
        if self.powered and not on:
            for c in self.chips:
                c.reset()
            self._sync_model()
            self.rx_buf.clear()
            self.tx_queue.clear()
        self.powered = on
        self._sync_model()

    # ------------------------------------------------------------------ bus side
    def _mismatch(self, host_baud: float) -> bool:
        cb = self.chain_baud()
        return abs(host_baud - cb) / cb > BAUD_TOLERANCE

    def _garble(self, data: bytes) -> bytes:
        # a receiver sampling at the wrong rate sees framing garbage, deterministic per byte
        return bytes(((b * 7 + 0x35) ^ 0xA5) & 0xFF for b in data)

    def _noisy(self, data: bytes) -> bytes:
        if self.noise <= 0:
            return data
        out = bytearray(data)
        for i in range(len(out)):
            if self.rng.random() < self.noise:
                out[i] ^= 1 << self.rng.randrange(8)
        return bytes(out)

    def host_write(self, data: bytes, host_baud: float) -> None:
        self.bytes_in += len(data)
        if not self.alive():
            return
        if self._mismatch(host_baud):
            data = self._garble(data)
        self.rx_buf += self._noisy(data)
        self._parse()

    def host_read(self, maxlen: int, host_baud: float) -> bytes:
        out = bytes(self.tx_queue[:maxlen])
        del self.tx_queue[:maxlen]
        if out and self._mismatch(host_baud):
            out = self._garble(out)
        return out

    def pending(self) -> int:
        return len(self.tx_queue)

    def _parse(self) -> None:
        buf = self.rx_buf
        while True:
            i = buf.find(b"\x55\xaa")
            if i < 0:
                del buf[:-1]
                return
            if i:
                del buf[:i]
            if len(buf) < 4:
                return
            hdr, length = buf[2], buf[3]
            total = length + 2
            if length < 3 or total > 200:
                del buf[:2]
                continue
            if len(buf) < total:
                return
            frame = bytes(buf[:total])
            if hdr & 0x60 == 0x20:  # job
                ok = crc16(frame, 2, total - 2) == (frame[-2] << 8 | frame[-1])
            else:
                ok = crc5(frame, 2, total - 1) == frame[-1]
            if not ok:
                del buf[:2]  # resync inside the bad frame, as a chip would
                continue
            del buf[:total]
            self.frames_in += 1
            self._command(hdr, frame[4:total - (2 if hdr & 0x60 == 0x20 else 1)])

    def _command(self, hdr: int, data: bytes) -> None:
        reach = self.reach()
        cmd = hdr & 0x0F
        broadcast = bool(hdr & 0x10)
        if hdr & 0x60 == 0x20:
            self._job(data, reach)
            return
        if cmd == bm13xx.CMD_INACTIVE:
            for c in self.chips[:reach]:
                c.assigned = False
            return
        if cmd == bm13xx.CMD_SETADDRESS:
            for c in self.chips[:reach]:
                if not c.assigned:
                    c.addr = data[0]
                    c.assigned = True
                    break
            return
        targets = range(reach) if broadcast else [i for i in range(reach) if self.chips[i].addr == data[0]][:1]
        reg = data[1]
        if cmd == bm13xx.CMD_WRITE and len(data) >= 6:
            value = int.from_bytes(data[2:6], "big")
            for i in targets:
                self._write_reg(i, reg, value)
            self._sync_model()
        elif cmd == bm13xx.CMD_READ:
            for i in targets:
                self._reply(i, reg)

    def _write_reg(self, i: int, reg: int, value: int) -> None:
        c = self.chips[i]
        c.regs[reg] = value
        if reg == 0xA4:
            c.long_frames = True
        elif reg == 0x3C and value & 0xFFFF == 0x82AA:
            c.cores_on = True

    def _read_value(self, i: int, reg: int) -> int:
        c = self.chips[i]
        m = self.model.chips[i]
        if reg == 0x00:
            cid = 0x1366 if i in self.badid else CHIP_ID
            return (cid << 16) | c.addr
        if reg == 0x8C:
            return int(m.hash_counts) & 0xFFFFFFFF
        if reg == 0x4C:
            return int(m.err_counts) & 0xFFFFFFFF
        if reg == 0x08:
            return c.regs.get(0x08, RESET_PLL) | (0x80000000 if self.alive() else 0)
        return c.regs.get(reg, 0)

    def _reply(self, i: int, reg: int) -> None:
        c = self.chips[i]
        body = self._read_value(i, reg).to_bytes(4, "big") + bytes((c.addr, reg))
        if c.long_frames:
            body += b"\x00\x00"
        frame = bytearray(bm13xx.make_response(body, 0))
        if i in self.flaky:
            r = self.rng.random()
            if r < 0.25:
                return  # lost reply
            if r < 0.6:
                frame[2 + self.rng.randrange(len(frame) - 3)] ^= 0x10  # CRC will fail
        self.bytes_out += len(frame)
        self.tx_queue += self._noisy(bytes(frame))

    # ------------------------------------------------------------------ jobs and nonces
    def _slice_start(self, i: int, starting_nonce: int) -> int:
        offset = self.chips[i].regs.get(0x0C, 0)
        start = (offset & 0xFFFF) << 9 if offset & 0x80000000 else 0
        return (start + starting_nonce) % COUNTER_SPACE

    def _hashing(self, i: int) -> bool:
        return self.alive() and self.chips[i].cores_on and i not in self.dead

    def _job(self, payload: bytes, reach: int) -> None:
        if len(payload) != jobs.JOB_LEN:
            return
        job_id = payload[0]
        self.jobs[job_id] = payload
        self.latest_job = job_id
        starting = int.from_bytes(payload[2:6], "little")
        version = jobs.job_version(payload)
        header = bytes(jobs.header_from_job(payload, 0, version))
        nonce = KNOWN.get(header[:76])
        if nonce is None:
            return  # unknown work: simulated nonces arrive over time (tick)
        nonce_be = int.from_bytes(nonce.to_bytes(4, "little"), "big")
        counter = nonce_be & (COUNTER_SPACE - 1)
        slice_len = COUNTER_SPACE // self.n
        for i in range(reach):
            if not self._hashing(i):
                continue
            if (counter - self._slice_start(i, starting)) % COUNTER_SPACE < slice_len:
                err = self.model.chips[i].err
                found = nonce
                if self.rng.random() < err:  # a marginal chip reports a wrong nonce
                    found ^= 1 << self.rng.randrange(32)
                self._nonce_reply(i, job_id, found, 0)

    def _nonce_reply(self, i: int, job_id: int, nonce_le: int, version_bits: int) -> None:
        body = nonce_le.to_bytes(4, "little") + bytes((0, ((job_id << 1) & 0xF0) | self.rng.randrange(16)))
        body += version_bits.to_bytes(2, "big")
        frame = bm13xx.make_response(body, 4)
        self.nonces_sent += 1
        self.bytes_out += len(frame)
        self.tx_queue += self._noisy(frame)

    def tick(self, dt: float) -> None:
        """Unknown jobs: nonces meeting the ticket mask at the rate the good hashrate implies
        (their values are simulated, so they do not verify by SHA-256d)."""
        if self.latest_job is None or not self.alive():
            return
        payload = self.jobs[self.latest_job]
        version = jobs.job_version(payload)
        if bytes(jobs.header_from_job(payload, 0, version))[:76] in KNOWN:
            return
        diff = ticket_difficulty(self.chips[0].regs.get(0x14, 0))
        slice_len = COUNTER_SPACE // self.n
        for i in range(self.reach()):
            if not self._hashing(i):
                continue
            self._sim_due[i] += self.model.chips[i].ghs * 1e9 * dt / (4294967296.0 * diff)
            while self._sim_due[i] >= 1.0:
                self._sim_due[i] -= 1.0
                counter = (self._slice_start(i, 0) + self.rng.randrange(slice_len)) % COUNTER_SPACE
                nonce_be = (self.rng.randrange(128) << 25) | counter
                nonce_le = int.from_bytes(nonce_be.to_bytes(4, "big"), "little")
                self._nonce_reply(i, self.latest_job, nonce_le, self.rng.randrange(1 << 16))

    # ------------------------------------------------------------------ backend side
    def _sync_model(self) -> None:
        for i, c in enumerate(self.chips):
            m = self.model.chips[i]
            m.dead = i in self.dead
            running = self.alive() and c.cores_on and i < self.n
            m.f_mhz = _pll_mhz(c.regs.get(0x08, RESET_PLL)) if running else 0.0

    def on_power_change(self) -> None:
        self._sync_model()

    def freq_of(self, i: int) -> float:
        return _pll_mhz(self.chips[i].regs.get(0x08, RESET_PLL))
