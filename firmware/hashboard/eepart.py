# The module EEPROM part a board definition names (module.eeprom.part, docs/eeprom.md). Every
# part keeps the first 256 bytes in one layout (identity, the last profile, repair log), so a
# module written for a 24C02 reads the same on any board; a 24C64 adds a table of profiles,
# one per tuning goal, above them.
PARTS = {"24c02": (256, 8, 8), "24c64": (8192, 16, 32)}  # bytes, address bits, page bytes
DEFAULT = "24c02"


def of(board):
    """(name, bytes, address bits, page bytes) of the board's module EEPROM part."""
    name = board["module"].get("eeprom", {}).get("part", DEFAULT)
    size, bits, page = PARTS[name]
    return name, size, bits, page


class Wide:
    """An I2C bus seen through 16-bit memory addresses (24C32 and larger parts), with the
    calls the EEPROM codecs make, so they need not know the part."""

    def __init__(self, i2c):
        self.i2c = i2c

    def readfrom_mem_into(self, addr, mem, buf):
        self.i2c.readfrom_mem_into(addr, mem, buf, addrsize=16)

    def writeto_mem(self, addr, mem, buf):
        self.i2c.writeto_mem(addr, mem, buf, addrsize=16)
