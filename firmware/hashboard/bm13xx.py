# BM13xx frame codec: command frames host->chain and fixed-size responses chain->host.
# Pure functions over caller-owned buffers, so the steady-state loop allocates nothing.
from .compat import const
from .crc import crc5, crc5_update, crc16

TYPE_JOB = const(0x20)
TYPE_CMD = const(0x40)
GROUP_ALL = const(0x10)
CMD_SETADDRESS = const(0x00)
CMD_WRITE = const(0x01)
CMD_READ = const(0x02)
CMD_INACTIVE = const(0x03)
FRAME_MAX = const(11)  # longest command frame (register write)


def _finish_cmd(buf, n_data):
    # buf[4:4+n_data] holds data; length byte counts header..crc (frame bytes - 2)
    buf[0] = 0x55
    buf[1] = 0xAA
    buf[3] = n_data + 3
    buf[4 + n_data] = crc5(buf, 2, 4 + n_data)
    return 5 + n_data


def write_reg(buf, chip_addr, reg, value, broadcast=False):
    buf[2] = TYPE_CMD | (GROUP_ALL if broadcast else 0) | CMD_WRITE
    buf[4] = chip_addr
    buf[5] = reg
    buf[6] = (value >> 24) & 0xFF
    buf[7] = (value >> 16) & 0xFF
    buf[8] = (value >> 8) & 0xFF
    buf[9] = value & 0xFF
    return _finish_cmd(buf, 6)


def read_reg(buf, chip_addr, reg, broadcast=False):
    buf[2] = TYPE_CMD | (GROUP_ALL if broadcast else 0) | CMD_READ
    buf[4] = chip_addr
    buf[5] = reg
    return _finish_cmd(buf, 2)


def set_address(buf, addr):
    buf[2] = TYPE_CMD | CMD_SETADDRESS
    buf[4] = addr
    buf[5] = 0
    return _finish_cmd(buf, 2)


def chain_inactive(buf):
    buf[2] = TYPE_CMD | GROUP_ALL | CMD_INACTIVE
    buf[4] = 0
    buf[5] = 0
    return _finish_cmd(buf, 2)


def job_frame(buf, payload):
    """Wrap an 82-byte BM1366+/BM1370 job payload: 55 AA 21 len data crc16(MSB first)."""
    n = len(payload)
    buf[0] = 0x55
    buf[1] = 0xAA
    buf[2] = TYPE_JOB | CMD_WRITE
    buf[3] = n + 4
    buf[4:4 + n] = payload
    c = crc16(buf, 2, 4 + n)
    buf[4 + n] = c >> 8
    buf[5 + n] = c & 0xFF
    return 6 + n


def response_crc_ok(frame, n):
    return crc5(frame, 2, n) == 0


def make_response(value_bytes, resp_type):
    """Build a chip->host frame (used by emulators and tests): AA 55 body type|crc5."""
    body = bytes(value_bytes)
    crc = 0x1F
    for b in body:
        crc = crc5_update(crc, b)
    crc = crc5_update(crc, resp_type << 5, 3)
    return b"\xaa\x55" + body + bytes(((resp_type << 5) | crc,))


def is_nonce(frame, n):
    return bool(frame[n - 1] & 0x80)


def reg_value(frame):
    return (frame[2] << 24) | (frame[3] << 16) | (frame[4] << 8) | frame[5]


class ResponseParser:
    """Splits a byte stream into fixed-size response frames, resyncing on AA 55.

    Frames failing CRC5 are counted and dropped, never passed on."""

    def __init__(self, frame_len):
        self.frame = bytearray(FRAME_MAX)
        self.set_frame_len(frame_len)
        self.crc_errors = 0
        self.garbage = 0

    def set_frame_len(self, frame_len):
        self.n = frame_len
        self.pos = 0

    def feed(self, data, count, on_frame):
        """Feed data[:count]; call on_frame(frame, n) for each CRC-valid frame. Returns frames."""
        frame = self.frame
        n = self.n
        pos = self.pos
        good = 0
        for i in range(count):
            b = data[i]
            if pos == 0:
                if b == 0xAA:
                    pos = 1
                else:
                    self.garbage += 1
                continue
            if pos == 1:
                if b == 0x55:
                    pos = 2
                elif b != 0xAA:
                    pos = 0
                    self.garbage += 2
                continue
            frame[pos] = b
            pos += 1
            if pos == n:
                pos = 0
                frame[0] = 0xAA
                frame[1] = 0x55
                if crc5(frame, 2, n) == 0:
                    good += 1
                    on_frame(frame, n)
                else:
                    self.crc_errors += 1
        self.pos = pos
        return good
