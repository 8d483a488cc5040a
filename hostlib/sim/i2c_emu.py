"""I2C parts with real register semantics: TPS546 PMBus regulator, TMP1075 and EMC2101 sensors,
24C02 EEPROM, TCA9535 expander. Each has a bus side (write/read bytes, Nack) and a backend in
physical units with fault injection."""

from __future__ import annotations

from collections import deque

from typing import Callable

from hashboard import mcp342x
from hashboard import pmbus as pm


_V_CACHE: dict[tuple[int, int], float] = {}  # ULINEAR16 words are 64 K x a few modes at most

class Nack(OSError):
    def __init__(self) -> None:
        super().__init__(19, "ENODEV")


class I2CDevice:
    nack = False

    def write(self, data: bytes) -> None:  # one write transaction (starts with the register)
        raise NotImplementedError

    def read(self, n: int) -> bytes:
        raise NotImplementedError


class RegPointerDevice(I2CDevice):
    """Register-pointer devices: a write sets the pointer (and data), a read streams from it."""

    def __init__(self) -> None:
        self.ptr = 0

    def write(self, data: bytes) -> None:
        if self.nack:
            raise Nack()
        if data:
            self.ptr = data[0]
            if len(data) > 1:
                self.write_reg(self.ptr, bytes(data[1:]))

    def read(self, n: int) -> bytes:
        if self.nack:
            raise Nack()
        return self.read_reg(self.ptr, n)

    def write_reg(self, reg: int, data: bytes) -> None:
        pass

    def read_reg(self, reg: int, n: int) -> bytes:
        return bytes(n)


# ----------------------------------------------------------------------------- TPS546
class TPS546Emu(RegPointerDevice):
    DEVICE_ID = b"TITm$A"

    def __init__(self, vin: float = 12.0) -> None:
        super().__init__()
        self.vin = vin
        self.vout_mode = 0x97  # relative, linear, exponent -9
        self.words: dict[int, int] = {}
        self.bytes_: dict[int, int] = {pm.OPERATION: 0, pm.ON_OFF_CONFIG: 0x1F}
        self.words[pm.VOUT_COMMAND] = self._u(1.0)
        self.words[pm.VOUT_MAX] = self._u(5.5)
        self.words[pm.VOUT_MIN] = self._u(0.5)
        self.words[pm.VOUT_OV_FAULT_LIMIT] = self._u(1.25)
        self.words[pm.VOUT_UV_FAULT_LIMIT] = self._u(0.75)
        self.words[pm.IOUT_OC_FAULT_LIMIT] = pm.slinear11_encode(100.0)
        self.words[pm.IOUT_OC_WARN_LIMIT] = pm.slinear11_encode(95.0)
        self.words[pm.OT_FAULT_LIMIT] = pm.slinear11_encode(145)
        self.words[pm.OT_WARN_LIMIT] = pm.slinear11_encode(105)
        self.status_temp = 0
        self.status_iout = 0
        self.status_vout = 0
        self.tripped = False
        self.trip_clears = 0  # CLEAR_FAULTS received while tripped
        self.iout = 0.0  # backend: load current (A)
        self.temp_c = 25.0  # backend: die temperature
        self.fault: str | None = None  # injected: ot, oc, uv
        self.commanded_outside: list[float] = []  # every VOUT_COMMAND outside [min,max] seen
        self.vout_writes: deque[float] = deque(maxlen=8)  # the last VOUT_COMMANDs, for a test's story
        self.control_pin = True  # CONTROL/EN input (ON_OFF_CONFIG 0x1B needs it and OPERATION)
        self.has_input = True  # False once the module leaves its slot (no 12 V)

    def _u(self, v: float) -> int:
        return pm.ulinear16_encode(v, self.vout_mode)

    def _v(self, cmd: int) -> float:
        # decoded per (word, mode): the backend asks at every bus transaction, the words rarely move
        key = (self.words.get(cmd, 0), self.vout_mode)
        v = _V_CACHE.get(key)
        if v is None:
            v = _V_CACHE[key] = pm.ulinear16_decode(key[0], key[1])
        return v

    # backend view
    def enabled(self) -> bool:
        return (bool(self.bytes_.get(pm.OPERATION, 0) & 0x80) and not self.tripped
                and self.control_pin and self.has_input)

    def vout(self) -> float:
        if not self.enabled():
            return 0.0
        v = min(max(self._v(pm.VOUT_COMMAND), self._v(pm.VOUT_MIN)), self._v(pm.VOUT_MAX))
        return v * (0.6 if self.fault == "uv" else 1.0)

    def measured_iout(self) -> float:
        return self.iout + (150.0 if self.fault == "oc" and self.enabled() else 0.0)

    def measured_temp(self) -> float:
        return 150.0 if self.fault == "ot" else self.temp_c

    def check_trips(self) -> None:
        """Apply the programmed fault limits as the part would (shutdown responses)."""
        if not self.enabled():
            return
        cmd = self._v(pm.VOUT_COMMAND)
        if self.measured_temp() > pm.slinear11_decode(self.words[pm.OT_FAULT_LIMIT]):
            self.status_temp |= 0x80
            self.tripped = True
        iout = self.measured_iout()
        if iout > pm.slinear11_decode(self.words[pm.IOUT_OC_FAULT_LIMIT]):
            self.status_iout |= 0x80
            self.tripped = True
        elif iout > pm.slinear11_decode(self.words[pm.IOUT_OC_WARN_LIMIT]):
            self.status_iout |= 0x20  # IOUT_OC_WARN: latched until CLEAR_FAULTS, output stays on
        v = self.vout()
        if v > cmd * self._v(pm.VOUT_OV_FAULT_LIMIT) + 1e-6:
            self.status_vout |= 0x80
            self.tripped = True
        if v < cmd * self._v(pm.VOUT_UV_FAULT_LIMIT) - 1e-6:
            self.status_vout |= 0x10
            self.tripped = True

    def status_word(self) -> int:
        w = 0
        if self.status_temp:
            w |= pm.SW_TEMP
        if self.status_iout & 0x80:
            w |= pm.SW_IOUT_OC | pm.SW_IOUT
        elif self.status_iout:
            w |= pm.SW_IOUT  # a warning only: the IOUT byte, not the OC fault bit
        if self.status_vout & 0x80:
            w |= pm.SW_VOUT_OV | pm.SW_VOUT
        if self.status_vout & 0x10:
            w |= pm.SW_VOUT
        if not self.enabled():
            w |= pm.SW_OFF | pm.SW_PGOOD_N
        return w

    # bus side
    def write(self, data: bytes) -> None:
        if self.nack:
            raise Nack()
        if len(data) == 1 and data[0] == pm.CLEAR_FAULTS:
            self.trip_clears += self.tripped  # a latched trip let go: a test asks who allowed it
            self.status_temp = self.status_iout = self.status_vout = 0
            self.tripped = False
            return
        super().write(data)

    def write_reg(self, reg: int, data: bytes) -> None:
        if len(data) == 1 and reg in (pm.STATUS_IOUT, pm.STATUS_TEMPERATURE):
            # PMBus: writing 1 to a warning bit clears that bit alone; fault bits stay latched
            warn = data[0] & (0x20 if reg == pm.STATUS_IOUT else 0x40)
            if reg == pm.STATUS_IOUT:
                self.status_iout &= ~warn
            else:
                self.status_temp &= ~warn
            return
        if len(data) == 1:
            self.bytes_[reg] = data[0]
            if reg == pm.OPERATION and data[0] & 0x80:
                self.check_trips()
        elif len(data) >= 2:
            word = data[0] | (data[1] << 8)
            self.words[reg] = word
            if reg == pm.VOUT_COMMAND:
                v = self._v(reg)
                self.vout_writes.append(round(v, 3))
                if not (self._v(pm.VOUT_MIN) - 1e-9 <= v <= self._v(pm.VOUT_MAX) + 1e-9):
                    self.commanded_outside.append(v)

    def read_reg(self, reg: int, n: int) -> bytes:
        if reg == pm.IC_DEVICE_ID:
            return (bytes((len(self.DEVICE_ID),)) + self.DEVICE_ID)[:n]
        if reg == pm.VOUT_MODE:
            return bytes((self.vout_mode,))[:n]
        if reg == pm.STATUS_WORD:
            w = self.status_word()
        elif reg == pm.STATUS_TEMPERATURE:
            return bytes((self.status_temp,))
        elif reg == pm.STATUS_IOUT:
            return bytes((self.status_iout,))
        elif reg == pm.STATUS_VOUT:
            return bytes((self.status_vout,))
        elif reg == pm.READ_VOUT:
            w = self._u(self.vout())
        elif reg == pm.READ_IOUT:
            w = pm.slinear11_encode(self.measured_iout() if self.enabled() else 0.0)
        elif reg == pm.READ_TEMPERATURE_1:
            w = pm.slinear11_encode(round(self.measured_temp()))
        elif reg == pm.READ_VIN:
            w = pm.slinear11_encode(self.vin)
        elif reg in self.bytes_:
            return bytes((self.bytes_[reg],))[:n]
        else:
            w = self.words.get(reg, 0)
        return bytes((w & 0xFF, w >> 8))[:n]


# ----------------------------------------------------------------------------- domain taps
class MCP3428Emu(I2CDevice):
    """The ADC on a module's series-domain taps: channel k reads the node above domain k
    (the sum of domains 0..k, from the string's return) through a divider. One-shot
    conversions take their datasheet time in board time; a read before then says not ready."""

    def __init__(self, taps: Callable[[], list], now_ms: Callable[[], int], divider: float,
                 rng) -> None:
        self.taps = taps
        self.now_ms = now_ms
        self.divider = divider
        self.rng = rng
        self.cfg = 0
        self.code = bytes(2)
        self.ready_at = 0
        self.nack = False

    def write(self, data: bytes) -> None:
        if self.nack:
            raise Nack()
        if not data:
            return
        self.cfg = data[0]
        if self.cfg & mcp342x.RDY:  # start a one-shot conversion of the channel now
            nodes = self.taps()
            ch = mcp342x.channel_of(self.cfg)
            v = nodes[ch] if ch < len(nodes) else 0.0
            v = v / self.divider + self.rng.gauss(0.0, 0.0001)  # input-referred noise, 100 uV
            self.code = mcp342x.encode(v)
            self.ready_at = self.now_ms() + mcp342x.CONV_MS_14

    def read(self, n: int) -> bytes:
        if self.nack:
            raise Nack()
        busy = self.now_ms() < self.ready_at
        cfg = (self.cfg | mcp342x.RDY) if busy else (self.cfg & ~mcp342x.RDY)
        return (self.code + bytes((cfg & 0xFF,)))[:n]


# ----------------------------------------------------------------------------- sensors
class TMP1075Emu(RegPointerDevice):
    def __init__(self, source: Callable[[], float]) -> None:
        super().__init__()
        self.source = source
        self.fault: str | None = None  # open (NACK), short (implausible code), stuck
        self.stuck_raw: int | None = None

    @property
    def nack(self) -> bool:  # type: ignore[override]
        return self.fault == "open"

    def read_reg(self, reg: int, n: int) -> bytes:
        if reg != 0:
            return bytes(n)
        if self.fault == "short":
            raw = 0x8000
        elif self.fault == "stuck" and self.stuck_raw is not None:
            raw = self.stuck_raw
        else:
            raw = (int(round(self.source() / 0.0625)) & 0xFFF) << 4
            self.stuck_raw = raw
        return bytes((raw >> 8, raw & 0xFF))[:n]


class EMC2101Emu(RegPointerDevice):
    def __init__(self, source: Callable[[], float]) -> None:
        super().__init__()
        self.source = source
        self.fault: str | None = None
        self._lo = 0
        self.stuck: int | None = None

    def _code(self) -> int:
        if self.fault == "open":
            return 0x3F8
        if self.fault == "short":
            return 0x3FF
        if self.fault == "stuck" and self.stuck is not None:
            return self.stuck
        code = int(round(self.source() * 8)) & 0x7FF
        self.stuck = code
        return code

    def read_reg(self, reg: int, n: int) -> bytes:
        if reg == 0x01:
            code = self._code() << 5
            self._lo = code & 0xFF
            return bytes((code >> 8,))
        if reg == 0x10:
            return bytes((self._lo,))
        if reg == 0xFD:
            return b"\x16"
        return bytes(n)


# ----------------------------------------------------------------------------- EEPROM
class EEPROM24C02(I2CDevice):
    """A 24Cxx serial EEPROM: a write sets the address pointer (ADDR_BYTES bytes, high first)
    and stores what follows inside one page (wrapping there, like the part); reads run on
    from the pointer across the whole array."""

    SIZE = 256
    PAGE = 8
    ADDR_BYTES = 1

    def __init__(self, image: bytes | None = None) -> None:
        self.mem = bytearray(b"\xff" * self.SIZE)
        if image:
            self.mem[: len(image)] = image[: self.SIZE]
        self.ptr = 0

    def write(self, data: bytes) -> None:
        if self.nack:
            raise Nack()
        k = self.ADDR_BYTES
        if len(data) < k:
            return  # an address phase cut short: the part keeps its pointer
        ptr = 0
        for b in data[:k]:
            ptr = (ptr << 8) | b
        self.ptr = ptr % self.SIZE
        for b in data[k:]:
            page = self.ptr & ~(self.PAGE - 1)
            self.mem[self.ptr] = b
            self.ptr = page | ((self.ptr + 1) & (self.PAGE - 1))

    def read(self, n: int) -> bytes:
        if self.nack:
            raise Nack()
        out = bytes(self.mem[(self.ptr + i) % self.SIZE] for i in range(n))
        self.ptr = (self.ptr + n) % self.SIZE
        return out


class EEPROM24C64(EEPROM24C02):
    """8 KiB, 16-bit word address, 32-byte pages (24C64 / 24AA64 class)."""

    SIZE = 8192
    PAGE = 32
    ADDR_BYTES = 2


EEPROM_PARTS = {"24c02": EEPROM24C02, "24c64": EEPROM24C64}


# ----------------------------------------------------------------------------- expander
class TCA9535Emu(RegPointerDevice):
    def __init__(self, on_outputs: Callable[[int], None]) -> None:
        super().__init__()
        self.regs = bytearray([0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0xFF, 0xFF])
        self.inputs0 = 0xFF  # backend: present lines, active low
        self.int_asserted = False
        self.on_outputs = on_outputs
        self._latched0 = 0xFF

    def set_present(self, slot: int, present: bool) -> None:
        if present:
            self.inputs0 &= ~(1 << slot)
        else:
            self.inputs0 |= 1 << slot
        # INT follows the TCA9535: asserted while the inputs differ from the last read, and
        # released when they return to it (a swap faster than a read leaves no trace on INT)
        self.int_asserted = self.inputs0 != self._latched0

    def write_reg(self, reg: int, data: bytes) -> None:
        for i, b in enumerate(data):
            r = (reg + i) & 7
            self.regs[r] = b
            if r in (3, 7):
                self.on_outputs(self.outputs1())

    def outputs1(self) -> int:
        # a pin configured as input floats high (pull-up) -> reset released only if driven high
        cfg = self.regs[7]
        return (self.regs[3] & ~cfg) | (0x00 & cfg)

    def read_reg(self, reg: int, n: int) -> bytes:
        out = bytearray()
        for i in range(n):
            r = (reg + i) & 7
            if r == 0:
                out.append(self.inputs0)
                self._latched0 = self.inputs0
                self.int_asserted = False
            elif r == 1:
                out.append(self.outputs1())
            else:
                out.append(self.regs[r])
        return bytes(out)
