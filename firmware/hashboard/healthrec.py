# Per-chip health history records (docs/diagnostics.md, "Health history"): the codec shared by
# the firmware that writes them, the host that reads them back and the tests. One record is one
# module's period (or one diagnostic run's grades): a header, 6 bytes a chip and a CRC16, so a
# torn write spoils only its own record and a reader skips it.
import struct

from .compat import const
from .crc import crc16

MAGIC = const(0x48)  # "H"; a blank (0xFF) or zeroed slot never starts with it
PERIOD = const(1)  # errors and frequency over one health period
DIAG = const(2)  # a diagnostic run's grades
_HDR = ">BBBBIIHHHhhHI"
HDR = const(28)
CHIP = const(6)
# header flags
VOUT_MOVED = const(1)  # the module's voltage moved during the period
# chip flags
CHIP_RAN = const(1)  # hashed with counters read the whole period
CHIP_MOVED = const(2)  # its frequency moved during the period (not a fixed setting)
ERR_FULL = const(65535)  # error rate unit 1e-6: saturates at 6.5 %


def size(nchips):
    return HDR + CHIP * nchips + 2


def serial_tag(serial):
    """16 bits of the module's serial: records of another module in the same slot are not its."""
    if not serial:
        return 0
    b = serial.encode() if isinstance(serial, str) else bytes(serial)
    return crc16(b, 0, len(b))


def pack_header(buf, kind, module, nchips, seq, t_s, span_s, vout_mv, power_dw, temp_dc, rise_dc,
                tag, counts, flags=0):
    struct.pack_into(_HDR, buf, 0, MAGIC, kind | (flags << 4), module, nchips, seq & 0xFFFFFFFF,
                     t_s & 0xFFFFFFFF, max(0, min(span_s, 0xFFFF)), vout_mv & 0xFFFF,
                     max(0, min(power_dw, 0xFFFF)), max(-32768, min(temp_dc, 32767)),
                     max(-32768, min(rise_dc, 32767)), tag & 0xFFFF, max(0, min(counts, 0xFFFFFFFF)))


def pack_chip(buf, i, freq_dmhz, err_ppm, grade_5mhz, flags):
    struct.pack_into(">HHBB", buf, HDR + CHIP * i, min(freq_dmhz, 0xFFFF), min(err_ppm, ERR_FULL),
                     min(grade_5mhz, 255), flags)


def seal(buf, nchips):
    n = HDR + CHIP * nchips
    struct.pack_into(">H", buf, n, crc16(buf, 0, n))


def peek(buf):
    """(seq, t_s, module) of a slot that holds a record by its header, else None (blank, torn
    or foreign: the CRC is checked too)."""
    if buf[0] != MAGIC:
        return None
    n = buf[3]
    end = HDR + CHIP * n
    if end + 2 > len(buf) or crc16(buf, 0, end) != (buf[end] << 8) | buf[end + 1]:
        return None
    _, _, module, _, seq, t_s = struct.unpack_from(">BBBBII", buf, 0)
    return seq, t_s, module


def decode(buf):
    """A record as a dict, or None when the slot is blank or its CRC fails."""
    if peek(buf) is None:
        return None
    (_, kf, module, n, seq, t_s, span_s, vout_mv, power_dw, temp_dc, rise_dc, tag,
     counts) = struct.unpack_from(_HDR, buf, 0)
    chips = []
    for i in range(n):
        f, e, g, fl = struct.unpack_from(">HHBB", buf, HDR + CHIP * i)
        chips.append({"freq_mhz": f / 10.0, "err": e / 1e6, "grade_mhz": g * 5.0 if g else None,
                      "ran": bool(fl & CHIP_RAN), "moved": bool(fl & CHIP_MOVED)})
    return {"kind": "diag" if kf & 15 == DIAG else "period", "module": module, "seq": seq, "t_s": t_s,
            "span_s": span_s, "vout": vout_mv / 1000.0, "power_w": power_dw / 10.0,
            "temp_c": temp_dc / 10.0, "rise_c": rise_dc / 10.0, "tag": tag, "counts": counts,
            "vout_moved": bool((kf >> 4) & VOUT_MOVED), "chips": chips}
