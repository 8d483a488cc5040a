# Temperature sensors. A reading is an integer in m°C (no float boxed: read every control
# period) or None; None always means "unsafe/unknown".
from .compat import const

_TMP1075_TEMP = const(0x00)
_EMC2101_EXT_HI = const(0x01)
_EMC2101_EXT_LO = const(0x10)
_EMC2101_OPEN = const(0x3F8)
_EMC2101_SHORT = const(0x3FF)
VALID_MIN_MC = const(-40000)
VALID_MAX_MC = const(150000)


class TMP1075:
    """TI TMP1075-class local sensor: 12-bit big-endian, 0.0625 degC/LSB."""

    def __init__(self, i2c, addr, name):
        self.i2c = i2c
        self.addr = addr
        self.name = name
        self._b2 = bytearray(2)
        self.error = None

    def read(self):
        try:
            self.i2c.readfrom_mem_into(self.addr, _TMP1075_TEMP, self._b2)
        except OSError:
            self.error = "no_response"
            return None
        raw = (self._b2[0] << 8) | self._b2[1]
        raw >>= 4
        if raw & 0x800:
            raw -= 4096
        return self._check(raw * 125 // 2)  # 0.0625 degC a count

    def _check(self, c):
        if c < VALID_MIN_MC or c > VALID_MAX_MC:
            self.error = "out_of_range"
            return None
        self.error = None
        return c


class EMC2101External(TMP1075):
    """EMC2101 external diode channel: 11-bit, 1/8 degC, with open/short codes."""

    def __init__(self, i2c, addr, name):
        super().__init__(i2c, addr, name)
        self._hi = memoryview(self._b2)[0:1]  # made once: a slice each read would allocate
        self._lo = memoryview(self._b2)[1:2]

    def read(self):
        b = self._b2
        try:
            self.i2c.readfrom_mem_into(self.addr, _EMC2101_EXT_HI, self._hi)
            self.i2c.readfrom_mem_into(self.addr, _EMC2101_EXT_LO, self._lo)
        except OSError:
            self.error = "no_response"
            return None
        raw = ((b[0] << 8) | b[1]) >> 5
        if raw == _EMC2101_OPEN:
            self.error = "open"
            return None
        if raw == _EMC2101_SHORT:
            self.error = "short"
            return None
        if raw & 0x400:
            raw -= 2048
        return self._check(raw * 125)  # 1/8 degC a count


def make_sensor(i2c, cfg):
    kind = cfg["type"]
    if kind == "tmp1075":
        return TMP1075(i2c, cfg["addr"], cfg["name"])
    if kind == "emc2101_ext":
        return EMC2101External(i2c, cfg["addr"], cfg["name"])
    raise ValueError("unknown sensor type " + kind)
