# Append-only repair log in a module's 24C02 at 0xC0..0xFF (docs/eeprom.md): 8 entries of one
# 8-byte page each, so an entry is written by one page write and a torn write spoils only itself.
# Entries are never edited; once all 8 hold entries the oldest page takes the next one.
import struct

from . import eerecord
from .crc import crc16

BASE = 0xC0
ENTRY = 8
ENTRIES = 8
# codes a technician records (the host names them; the firmware stores the number)
CODES = {"chip_replaced": 1, "reflow": 2, "vrm_replaced": 3, "eeprom_written": 4, "tested_ok": 5,
         "tuned": 6, "cleaned": 7, "note": 255}


def encode(seq, days, code, arg):
    e = bytearray(ENTRY)
    struct.pack_into(">HHBB", e, 0, seq & 0xFFFF, days & 0xFFFF, code & 0xFF, arg & 0xFF)
    struct.pack_into(">H", e, 6, crc16(e, 0, 6))
    return e


def decode_all(data):
    """Valid entries of a 64-byte log image, oldest first, each (seq, days, code, arg, index)."""
    out = []
    for i in range(min(ENTRIES, len(data) // ENTRY)):  # a short image holds fewer (tools/fuzz.py)
        o = i * ENTRY
        if crc16(data, o, o + 6) != (data[o + 6] << 8) | data[o + 7]:
            continue  # blank or torn: never an entry
        seq, days, code, arg = struct.unpack_from(">HHBB", data, o)
        out.append((seq, days, code, arg, i))
    if out:
        newest = out[0][0]
        for e in out:
            if eerecord.newer(e[0], newest):
                newest = e[0]
        out.sort(key=lambda e: (e[0] - newest - 1) & 0xFFFF)  # oldest first, across the wrap
    return out


def read(i2c, addr, buf):
    i2c.readfrom_mem_into(addr, BASE, buf)
    return decode_all(buf)


def append(i2c, addr, days, code, arg, buf, settle=None):
    """Add one entry after the newest; returns its sequence number. Verified by read-back."""
    entries = read(i2c, addr, buf)
    if entries:
        last = entries[-1]
        seq, index = last[0] + 1, (last[4] + 1) % ENTRIES
    else:
        seq, index = 1, 0
    e = encode(seq, days, code, arg)
    eerecord.write_pages(i2c, addr, BASE + index * ENTRY, e, settle)
    i2c.readfrom_mem_into(addr, BASE, buf)
    if bytes(buf[index * ENTRY : index * ENTRY + ENTRY]) != bytes(e):
        raise OSError(5)
    return seq & 0xFFFF
