"""An I2C bus with one module EEPROM (24C02 by default) whose power can fail part-way
through a write."""

from hostlib.sim.i2c_emu import EEPROM24C02


class Bus:
    """One EEPROM at 0x50 whose power can fail after `budget` bytes have reached the array, in
    the middle of a page write if it falls there. A 16-bit-address part is driven as the
    firmware drives it through hashboard.eepart.Wide (addrsize=16)."""

    def __init__(self, image=None, part=EEPROM24C02):
        self.eeprom = part(image)
        self.budget = None

    def _addr(self, mem, addrsize):
        if self.eeprom.ADDR_BYTES == 2:
            assert addrsize == 16, "a 24C64 needs 16-bit memory addresses"
            return bytes((mem >> 8, mem & 0xFF))
        return bytes((mem,))

    def readfrom_mem_into(self, addr, mem, buf, addrsize=8):
        self.eeprom.write(self._addr(mem, addrsize))
        buf[:] = self.eeprom.read(len(buf))

    def writeto_mem(self, addr, mem, data, addrsize=8):
        data = bytes(data)
        a = self._addr(mem, addrsize)
        if self.budget is not None:
            if self.budget < len(data):
                if self.budget:
                    self.eeprom.write(a + data[: self.budget])  # torn page
                self.budget = 0
                raise OSError(19)
            self.budget -= len(data)
        self.eeprom.write(a + data)
