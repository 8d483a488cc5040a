# Profile table (layout 2, docs/eeprom.md): on a 24C64-class module EEPROM, one tuned profile
# per goal (mode and target), so a module carries what it learned at 250, 331 and 400 W and
# starts from the right one wherever it goes. ENTRIES entries of two 64-byte copies each at
# BASE; each entry is a two-copy record (eerecord), so a torn write loses only the write.
import struct

from . import eerecord
from .crc import crc16

MAGIC = 0xA2  # profile layout 2
RECORD_LEN = 64
BASE = 0x100  # above the 24C02 layout (identity, last profile, repair log)
ENTRIES = 8
MAX_CHIPS = 48
UNIT_MHZ = 2.5
_HEAD = ">BBHHBBHHH"  # magic, n, vout_mv, seq, mode, flags, goal x10, TH/s x100, W x10
_FREQ0 = 14


class TableError(ValueError):
    pass


def slots(k):
    b = BASE + k * 2 * RECORD_LEN
    return (b, b + RECORD_LEN)


def key(mode, goal):
    """What identifies a goal: the mode and the target in tenths (W or TH/s)."""
    return mode, int(goal * 10 + 0.5)


def encode(mode, goal, freqs_mhz, vout_mv, ths, power_w, seq=0):
    n = len(freqs_mhz)
    if not 1 <= n <= MAX_CHIPS:
        raise TableError("chips")
    m, g = key(mode, goal)
    if not 1 <= m <= 3 or not 0 <= g <= 0xFFFF:
        raise TableError("goal")
    rec = bytearray(RECORD_LEN)
    struct.pack_into(_HEAD, rec, 0, MAGIC, n, vout_mv, seq & 0xFFFF, m, 0, g,
                     min(0xFFFF, int(ths * 100 + 0.5)), min(0xFFFF, int(power_w * 10 + 0.5)))
    for i in range(n):
        u = int(freqs_mhz[i] / UNIT_MHZ + 0.5)
        if not 1 <= u <= 255:
            raise TableError("freq")
        rec[_FREQ0 + i] = u
    struct.pack_into(">H", rec, RECORD_LEN - 2, crc16(rec, 0, RECORD_LEN - 2))
    return bytes(rec)


def decode(data):
    if len(data) < RECORD_LEN:  # found by tools/fuzz.py: a short image is refused, not an IndexError
        raise TableError("short")
    if data[0] == 0xFF and data[1] == 0xFF:
        raise TableError("blank")
    if data[0] != MAGIC:
        raise TableError("bad_magic")
    if crc16(data, 0, RECORD_LEN - 2) != (data[RECORD_LEN - 2] << 8) | data[RECORD_LEN - 1]:
        raise TableError("bad_crc")
    _, n, vout_mv, seq, mode, _, g, ths, pw = struct.unpack_from(_HEAD, data, 0)
    if not 1 <= n <= MAX_CHIPS or not 1 <= mode <= 3:
        raise TableError("chips" if mode else "goal")
    return {"vout_mv": vout_mv, "seq": seq, "mode": mode, "goal": g / 10.0, "ths": ths / 100.0,
            "power_w": pw / 10.0, "freqs": [data[_FREQ0 + i] * UNIT_MHZ for i in range(n)]}


def read(i2c, addr, k, buf):
    """Entry k's newest valid copy, or None (blank or both copies spoiled)."""
    try:
        return eerecord.read(i2c, addr, slots(k), buf, decode, TableError)
    except TableError:
        return None


def entries(i2c, addr, buf):
    """Every valid entry as (k, record), in table order."""
    out = []
    for k in range(ENTRIES):
        r = read(i2c, addr, k, buf)
        if r is not None:
            out.append((k, r))
    return out


def choose(found, mode, goal):
    """The entry to write a goal's profile into: the goal's own, else a free one, else the
    least recently written. found: entries() of the table."""
    want = key(mode, goal)
    used = []
    oldest = None
    for k, r in found:
        if key(r["mode"], r["goal"]) == want:
            return k
        used.append(k)
        if oldest is None or eerecord.newer(oldest[1], r["seq"]):
            oldest = (k, r["seq"])
    for k in range(ENTRIES):
        if k not in used:
            return k
    return oldest[0] if oldest is not None else 0


def ranked(found, mode, goal):
    """The stored profiles to start a goal from, best first: its own; then, in the same mode,
    the targets below it, nearest first (a profile for less power or hashrate cannot overshoot
    the goal); then those above, nearest first. Other modes' profiles are never used."""
    own = []
    below = []
    above = []
    want = key(mode, goal)
    for _, r in found:
        if r["mode"] != mode:
            continue
        if key(mode, r["goal"]) == want:
            own.append(r)
        elif r["goal"] < goal:
            below.append(r)
        else:
            above.append(r)
    below.sort(key=lambda r: -r["goal"])
    above.sort(key=lambda r: r["goal"])
    return own + below + above


def write(i2c, addr, k, record, buf, settle=None, page=eerecord.PAGE):
    return eerecord.write(i2c, addr, slots(k), record, buf, decode, TableError, settle, page)
