# Emulated-hardware side channel of the virtual board (runs inside MicroPython, not firmware):
# one request/response exchange per bus transaction over a unix socket to the CPython emulators.
# Frame: op, channel, u16 length, payload -> status (0 or errno), u16 length, payload.
import os
import socket
import struct

resp = bytearray(1100)
rmv = memoryview(resp)
_hdr = bytearray(4)
_st = bytearray(3)
_s = None


def connect():
    global _s
    path = os.getenv("HB_SIM_BUS")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(struct.pack("H", socket.AF_UNIX) + path.encode() + b"\0")
    _s = s


def _read_exact(mv):
    got = 0
    n = len(mv)
    while got < n:
        k = _s.readinto(mv[got:])
        if not k:
            raise OSError(104)  # the board's emulated hardware went away
        got += k


def call(op, ch, payload):
    n = len(payload)
    _hdr[0] = op
    _hdr[1] = ch
    _hdr[2] = n & 0xFF
    _hdr[3] = n >> 8
    _s.write(_hdr)
    if n:
        _s.write(payload)
    _read_exact(memoryview(_st))
    length = _st[1] | (_st[2] << 8)
    if length:
        _read_exact(rmv[0:length])
    if _st[0]:
        raise OSError(_st[0])
    return length


def hello():
    n = call(1, 0, b"")
    return struct.unpack("<qd", resp[0:n])


connect()
