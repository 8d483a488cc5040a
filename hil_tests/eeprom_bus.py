"""An I2C bus with one 24C02 whose power can fail part-way through a write."""

from hostlib.sim.i2c_emu import EEPROM24C02


class Bus:
    """One 24C02 at 0x50 whose power can fail after `budget` bytes have reached the array, in
    the middle of a page write if it falls there."""

    def __init__(self, image=None):
        self.eeprom = EEPROM24C02(image)
        self.budget = None

    def readfrom_mem_into(self, addr, mem, buf):
        self.eeprom.write(bytes((mem,)))
        buf[:] = self.eeprom.read(len(buf))

    def writeto_mem(self, addr, mem, data):
        data = bytes(data)
        if self.budget is not None:
            if self.budget < len(data):
                if self.budget:
                    self.eeprom.write(bytes((mem,)) + data[: self.budget])  # torn page
                self.budget = 0
                raise OSError(19)
            self.budget -= len(data)
        self.eeprom.write(bytes((mem,)) + data)
