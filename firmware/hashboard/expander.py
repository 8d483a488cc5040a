# TCA9535-class 16-bit GPIO expander: port 0 inputs carry module-present (active low),
# port 1 outputs drive module chain resets (bits 0-3, active low) and regulator enables
# (bits 4-7, active high). Pull-downs keep every module off while the MCU is in reset.
from .compat import const

_IN0 = const(0)
_OUT1 = const(3)
_CFG0 = const(6)
_CFG1 = const(7)


class TCA9535:
    def __init__(self, i2c, addr):
        self.i2c = i2c
        self.addr = addr
        self._b1 = bytearray(1)
        self.out1 = 0x00

    def init(self):
        self._w(_OUT1, 0x00)  # every module held in reset
        self._w(_CFG1, 0x00)  # port 1 all outputs
        self._w(_CFG0, 0xFF)  # port 0 all inputs

    def _w(self, reg, value):
        self._b1[0] = value
        self.i2c.writeto_mem(self.addr, reg, self._b1)

    def present_mask(self):
        """Bit k set when slot k reports a module (reading also clears the INT line)."""
        self.i2c.readfrom_mem_into(self.addr, _IN0, self._b1)
        return (~self._b1[0]) & 0xFF

    def _set_bit(self, bit, high):
        if high:
            self.out1 |= 1 << bit
        else:
            self.out1 &= ~(1 << bit)
        self._w(_OUT1, self.out1)

    def set_reset(self, slot, asserted):
        self._set_bit(slot, not asserted)

    def set_enable(self, slot, on):
        self._set_bit(4 + slot, on)
