# CRC5 and CRC16 of the BM13xx UART protocol (as in ESP-Miner components/asic/crc.c).
from array import array


def crc5_update(crc, byte, nbits=8):
    """Feed the top `nbits` bits of `byte`, MSB first, into a CRC5 (poly x^5+x^2+1)."""
    for i in range(7, 7 - nbits, -1):
        nb = ((crc >> 4) ^ (byte >> i)) & 1
        crc = (((crc << 1) | nb) ^ (nb << 2)) & 0x1F
    return crc


def crc5(data, start=0, end=None):
    """CRC5 over data[start:end], init 0x1F, no reflection, no final XOR."""
    if end is None:
        end = len(data)
    crc = 0x1F
    for i in range(start, end):
        crc = crc5_update(crc, data[i])
    return crc


def _make_table():
    t = array("H", bytes(512))
    for i in range(256):
        c = i << 8
        for _ in range(8):
            c = ((c << 1) ^ 0x1021) if c & 0x8000 else (c << 1)
        t[i] = c & 0xFFFF
    return t


_TABLE = _make_table()


def crc16(data, start=0, end=None):
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF) over data[start:end]."""
    if end is None:
        end = len(data)
    crc = 0xFFFF
    t = _TABLE
    for i in range(start, end):
        crc = ((crc << 8) & 0xFFFF) ^ t[((crc >> 8) ^ data[i]) & 0xFF]
    return crc
