# Tuned operating profile of a module, kept in its 24C02 at 0x80 and 0xA0 (two copies, newest
# valid wins; docs/eeprom.md). Per-chip frequencies in 2.5 MHz units, the string voltage in mV.
import struct

from . import eerecord
from .crc import crc16

MAGIC = 0xA1  # profile layout 1
RECORD_LEN = 32
SLOTS = (0x80, 0xA0)
MAX_CHIPS = 24  # modules with more chips store one module-wide frequency (n = 1)
UNIT_MHZ = 2.5
_HEAD = ">BBHH"  # magic, n, vout_mv, seq


class ProfileError(ValueError):
    pass


def encode(freqs_mhz, vout_mv, seq=0):
    """freqs_mhz: one per chip (n <= 24) or a single module-wide value."""
    n = len(freqs_mhz)
    if not 1 <= n <= MAX_CHIPS:
        raise ProfileError("chips")
    rec = bytearray(RECORD_LEN)
    struct.pack_into(_HEAD, rec, 0, MAGIC, n, vout_mv, seq & 0xFFFF)
    for i in range(n):
        u = int(freqs_mhz[i] / UNIT_MHZ + 0.5)
        if not 1 <= u <= 255:
            raise ProfileError("freq")
        rec[6 + i] = u
    struct.pack_into(">H", rec, RECORD_LEN - 2, crc16(rec, 0, RECORD_LEN - 2))
    return bytes(rec)


def decode(data):
    if len(data) < RECORD_LEN:  # found by tools/fuzz.py: a short image is refused, not an IndexError
        raise ProfileError("short")
    if bytes(data[0:2]) == b"\xff\xff":
        raise ProfileError("blank")
    if data[0] != MAGIC:
        raise ProfileError("bad_magic")
    if crc16(data, 0, RECORD_LEN - 2) != (data[RECORD_LEN - 2] << 8) | data[RECORD_LEN - 1]:
        raise ProfileError("bad_crc")
    _, n, vout_mv, seq = struct.unpack_from(_HEAD, data, 0)
    if not 1 <= n <= MAX_CHIPS:
        raise ProfileError("chips")
    return {"vout_mv": vout_mv, "seq": seq, "freqs": [data[6 + i] * UNIT_MHZ for i in range(n)]}


def read(i2c, addr, buf):
    return eerecord.read(i2c, addr, SLOTS, buf, decode, ProfileError)


def write(i2c, addr, record, buf, settle=None, page=eerecord.PAGE):
    return eerecord.write(i2c, addr, SLOTS, record, buf, decode, ProfileError, settle, min(page, RECORD_LEN))


def check(prof, chips, vlim, flim):
    """Why a stored profile cannot be used on this board (None when it can): a module is never
    run at a stored value outside the board's limits."""
    n = len(prof["freqs"])
    if n != 1 and n != chips:
        return "chips"
    v = prof["vout_mv"] / 1000.0
    if not vlim["min"] <= v <= vlim["max"]:
        return "vout"
    for f in prof["freqs"]:
        if not flim["min"] <= f <= flim["max"]:
            return "freq"
    return None
