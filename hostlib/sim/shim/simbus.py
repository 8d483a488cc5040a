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


def call(op, ch, payload):
    """One bus transaction. Like a hardware peripheral it completes even if Ctrl-C arrives in
    the middle (the KeyboardInterrupt is raised afterwards), so the link never desynchronises."""
    n = len(payload)
    _hdr[0] = op
    _hdr[1] = ch
    _hdr[2] = n & 0xFF
    _hdr[3] = n >> 8
    msg = bytes(_hdr) + bytes(payload)
    sent = 0
    got = 0
    length = -1
    body = 0
    interrupted = False
    st = memoryview(_st)
    # A pending KeyboardInterrupt is raised at the VM's next jump: every syscall result is
    # added to its counter before any jump, so an interrupt can never lose bytes.
    while True:
        try:
            while sent < len(msg):
                sent += _s.write(msg[sent:])
            while got < 3:
                before = got
                got += _s.readinto(st[got:])
                if got == before:
                    raise OSError(104)  # the board's emulated hardware went away
            if length < 0:
                length = _st[1] | (_st[2] << 8)
            while body < length:
                before = body
                body += _s.readinto(rmv[body:length])
                if body == before:
                    raise OSError(104)
            break
        except KeyboardInterrupt:
            interrupted = True
    if interrupted:
        raise KeyboardInterrupt
    if _st[0]:
        raise OSError(_st[0])
    if op != _OP_TARGET_SYNC:
        after_call()
    return length


# An emulated I2CTarget's memory (machine.I2CTarget in the shim): synchronised with the host
# side every few bus transactions, the way a memory-mode target peripheral would let the bus
# controller read and write it without the firmware's involvement.
_OP_TARGET_SYNC = 0x60
_SYNC_EVERY = 8
_target = None
_count = 0


def attach_target(t):
    global _target
    _target = t


def _sync():
    t = _target
    n = call(_OP_TARGET_SYNC, t.addr, t.mem)
    i = 0
    wrote = False
    while i + 2 <= n:  # host writes queued since the last sync: (reg, len, bytes)
        reg, ln = resp[i], resp[i + 1]
        t.mem[reg:reg + ln] = resp[i + 2:i + 2 + ln]
        i += 2 + ln
        wrote = True
    if wrote and t.handler is not None:
        t.handler(t)


def after_call():
    global _count
    if _target is None:
        return
    _count += 1
    if _count >= _SYNC_EVERY:
        _count = 0
        _sync()


def hello():
    n = call(1, 0, b"")
    return struct.unpack("<qd", resp[0:n])


connect()
