# Emulated-hardware side channel of the virtual board (runs inside MicroPython, not firmware):
# one request/response exchange per bus transaction over a unix socket to the CPython emulators.
# Frame: op, channel, u16 length, i64 board µs, payload -> status (0 or errno), u16 length,
# i64 board µs, payload. The MCU's board time travels in each frame (-1 from a thread other than
# the main program: only the main program moves board time); the reply brings the host's.
import os
import socket
import struct

import _thread

resp = bytearray(1100)
rmv = memoryview(resp)
_tx = bytearray(12 + 1100)  # request frame: header, then payload
_st = bytearray(11)
_s = None
_lock = _thread.allocate_lock()  # a Timer thread's frame must not interleave with the main one's
clock = None  # the board clock (shim time.py): stamp(cost_us) -> board µs or -1; adopt(board µs)


def connect():
    global _s
    path = os.getenv("HB_SIM_BUS")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(struct.pack("H", socket.AF_UNIX) + path.encode() + b"\0")
    _s = s


def call(op, ch, payload, cost_us=0, head=None, hn=0):
    """One bus transaction taking `cost_us` of board time on the wire; its payload is the first
    `hn` bytes of `head` (an address, a baud rate) followed by `payload`. Like a hardware
    peripheral it completes even if Ctrl-C arrives in the middle (the KeyboardInterrupt is raised
    afterwards), so the link never desynchronises."""
    if _target is not None:
        _before_call()
    with _lock:
        return _call(op, ch, payload, cost_us, head, hn)


def _call(op, ch, payload, cost_us, head=None, hn=0):
    # Allocation-free, like a peripheral's register writes: the firmware's own allocation in the
    # control loop is measured through this (tools/bench_ram.py), and must not be hidden by ours.
    n = hn + len(payload)
    _tx[0] = op
    _tx[1] = ch
    _tx[2] = n & 0xFF
    _tx[3] = n >> 8
    struct.pack_into("<q", _tx, 4, clock.stamp(cost_us) if clock is not None else 0)
    for i in range(hn):
        _tx[12 + i] = head[i]
    _tx[12 + hn:12 + n] = payload
    total = 12 + n
    sent = 0
    got = 0
    length = -1
    body = 0
    interrupted = False
    # A pending KeyboardInterrupt is raised at the VM's next jump: every syscall result is
    # added to its counter before any jump, so an interrupt can never lose bytes.
    while True:
        try:
            while sent < total:
                sent += _s.write(_tx, sent, total - sent)
            while got < 11:
                before = got
                got += _s.readinto(_st, 11) if got == 0 else _s.readinto(memoryview(_st)[got:])
                if got == before:
                    raise OSError(104)  # the board's emulated hardware went away
            if length < 0:
                length = _st[1] | (_st[2] << 8)
            while body < length:
                before = body
                body += _s.readinto(resp, length) if body == 0 else _s.readinto(rmv[body:length])
                if body == before:
                    raise OSError(104)
            break
        except KeyboardInterrupt:
            interrupted = True
    if clock is not None:
        clock.adopt(_host_us())
    if interrupted:
        raise KeyboardInterrupt
    if _st[0]:
        raise OSError(_st[0])
    return length


def copy_into(buf, n):
    """The reply's first n bytes into buf, without a slice object (the DMA of a real peripheral)."""
    r = resp
    for i in range(n):
        buf[i] = r[i]


def _host_us():
    # the reply's i64 board µs, without struct.unpack's tuple (board µs stay a small int)
    v = 0
    for i in range(10, 2, -1):
        v = (v << 8) | _st[i]
    return v - (1 << 64) if v >= 1 << 63 else v


# An emulated I2CTarget's memory (machine.I2CTarget in the shim): synchronised with the host
# side every few bus transactions, the way a memory-mode target peripheral would let the bus
# controller read and write it without the firmware's involvement.
_OP_TARGET_SYNC = 0x60
_OP_CLOCK = 0x01
_SYNC_EVERY = 8
_target = None
_count = 0


def attach_target(t):
    global _target
    _target = t


def _sync(t):
    with _lock:
        n = _call(_OP_TARGET_SYNC, t.addr, t.mem, 0)
        i = 0
        wrote = False
        while i + 2 <= n:  # host writes queued since the last sync: (reg, len, bytes)
            reg, ln = resp[i], resp[i + 1]
            t.mem[reg:reg + ln] = resp[i + 2:i + 2 + ln]
            i += 2 + ln
            wrote = True
    if wrote and t.handler is not None:  # outside the lock: the handler may use the buses
        t.handler(t)


def _before_call():
    # Before, not after, the caller's transaction: its reply in `resp` must survive until read.
    global _count
    _count += 1
    if _count >= _SYNC_EVERY:
        _count = 0
        _sync(_target)


def hello():
    """(board µs, speed): where the host's board clock is, and how fast it may run at most."""
    with _lock:
        n = _call(_OP_CLOCK, 0, b"", 0)
    return _host_us(), struct.unpack("<d", resp[0:n])[0]


connect()
