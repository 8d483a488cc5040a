# BM1370 constants and bring-up register sequence (in the order of ESP-Miner components/asic/bm1370.c).
# A BM1366/BM1368 port is another module with the same names.
from .compat import const

NAME = "BM1370"
CHIP_ID = const(0x1370)
CORES = const(128)
SMALL_CORES = const(2040)
FB_MIN = const(160)
FB_MAX = const(239)
RESET_MHZ = 50.0
EDGE_V0 = 0.6  # volts a chip: its stable frequency scales with (V - EDGE_V0); a tuning prior only
VERSION_MASK = const(0x9000FFFF)  # 0xA4: version rolling on; responses grow to 11 bytes
FAST_BAUD_REG = const(0x11300200)  # 0x28: 25 MHz / (8 * 3) = 1.0417 Mbaud
FAST_BAUD = const(1000000)
SLOW_BAUD = const(115200)
HCN_ERRATA = const(2 * 134)

REG_CHIP_ID = const(0x00)
REG_PLL0 = const(0x08)
REG_NONCE_OFFSET = const(0x0C)
REG_HCN = const(0x10)
REG_TICKET_MASK = const(0x14)
REG_MISC = const(0x18)
REG_UART_BAUD = const(0x28)
REG_CORE_CTRL = const(0x3C)
REG_ERROR_COUNT = const(0x4C)
REG_ANALOG_MUX = const(0x54)
REG_IO_DRIVE = const(0x58)
REG_HASH_TOTAL = const(0x8C)
REG_VERSION = const(0xA4)
REG_SOFT_RESET = const(0xA8)
REG_ADC_CTRL = const(0xB9)

# (reg, value) broadcast writes between "chain inactive + set addresses" and the per-chip block
POST_ADDRESS = ((REG_CORE_CTRL, 0x80008B00), (REG_CORE_CTRL, 0x8000800C))
# written after the ticket mask
POST_TICKET = ((REG_IO_DRIVE, 0x00011111),)
PER_CHIP = (
    (REG_SOFT_RESET, 0x000701F0),
    (REG_MISC, 0xF000C100),
    (REG_CORE_CTRL, 0x80008B00),
    (REG_CORE_CTRL, 0x8000800C),
    (REG_CORE_CTRL, 0x800082AA),
)
FINAL = (
    (REG_ADC_CTRL, 0x00004480),
    (REG_ANALOG_MUX, 0x00000002),
    (REG_ADC_CTRL, 0x00004480),
    (REG_CORE_CTRL, 0x80008DEE),
)
PRE_INACTIVE = ((REG_SOFT_RESET, 0x00070000), (REG_MISC, 0xF000C100))


def ticket_mask(difficulty):
    """0x14 value for a share difficulty: (2^floor(log2 d) - 1), each byte bit-reversed."""
    power = 0
    d = int(difficulty + 0.999999)
    while (1 << (power + 1)) <= d:
        power += 1
    mask = (1 << power) - 1
    out = 0
    for shift in (24, 16, 8, 0):
        b = (mask >> shift) & 0xFF
        r = 0
        for i in range(8):
            if b & (1 << i):
                r |= 1 << (7 - i)
        out |= r << shift
    return out


def _next_pow2(n):
    p = 1
    while p < n:
        p <<= 1
    return p


def hash_counting_number(freq_mhz, chips):
    return int((4294967296 / CORES / _next_pow2(chips)) * 25.0 / freq_mhz * 0.5) - HCN_ERRATA


def nonce_offset(index, chips):
    """CHIP_NONCE_OFFSET (0x0C): enable bit + start of this chip's slice of the 25-bit counter."""
    return 0x80000000 | ((index * 0x10000) // chips)
