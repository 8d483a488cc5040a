# Module identity record in the module's 24C02 EEPROM (layout v1, docs/eeprom.md).
# Pure encode/decode so the host (provisioning, tests) and the firmware share one definition.
import struct

from . import eerecord
from .crc import crc16

MAGIC = b"HBID"
LAYOUT_VERSION = 1
RECORD_LEN = 64
SLOTS = (0x00, 0x40)  # two copies: a write goes to the older one, so a torn write loses nothing
# magic, version, length, model, serial, chip_id, chips, domains, yy, mm, dd, grade,
# vout_mv (string voltage), freq_mhz, seq (which copy is newer), calibration (two temperature
# sensor offsets in 0.1 degC, current-sense gain trim in 1e-4), the rated maximum string voltage
# (mV), 4 reserved; crc16 appended. Calibration and the rating sit in bytes that were reserved
# (zero) in the first records: zero = uncalibrated, and no rating above the nominal voltage.
_FMT = ">4sBB16s16sHBBBBBBHHHbbhH4s"
CAL_TEMP_MAX = 50  # 0.1 degC: a sensor offset beyond 5 degC is not a calibration
CAL_GAIN_MAX = 500  # 1e-4: a current-sense trim beyond 5 % is not a calibration


class IdentityError(ValueError):
    pass


def encode(model, serial, chip_id, chips, domains, date, grade, vout_mv, freq_mhz, seq=0, cal=(0, 0, 0),
           vout_max_mv=0):
    """cal: (sensor 0 offset, sensor 1 offset) in 0.1 degC and the current gain trim in 1e-4;
    vout_max_mv: the highest string voltage the module is rated for (0: its nominal)."""
    yy, mm, dd = date
    body = struct.pack(
        _FMT, MAGIC, LAYOUT_VERSION, RECORD_LEN, model.encode(), serial.encode(), chip_id,
        chips, domains, yy, mm, dd, grade, vout_mv, freq_mhz, seq, cal[0], cal[1], cal[2], vout_max_mv, bytes(4),
    )
    return body + struct.pack(">H", crc16(body))


def _text(b):
    return bytes(b).split(b"\0", 1)[0].decode()


def decode(data):
    """Return a dict for a valid record; raise IdentityError naming why it is not one."""
    if len(data) < RECORD_LEN:
        raise IdentityError("short")
    if bytes(data[0:4]) == b"\xff\xff\xff\xff":
        raise IdentityError("blank")
    if bytes(data[0:4]) != MAGIC:
        raise IdentityError("bad_magic")
    if crc16(data, 0, RECORD_LEN - 2) != (data[RECORD_LEN - 2] << 8) | data[RECORD_LEN - 1]:
        raise IdentityError("bad_crc")
    f = struct.unpack(_FMT, bytes(data[0 : RECORD_LEN - 2]))
    if f[1] != LAYOUT_VERSION:
        raise IdentityError("unknown_version")
    if abs(f[15]) > CAL_TEMP_MAX or abs(f[16]) > CAL_TEMP_MAX or abs(f[17]) > CAL_GAIN_MAX:
        # a calibration this far off is a bad record, not a sensor: it would blind the thermal
        # guard (-12.8 degC) or the power limit (-50 % current); the module is not powered
        raise IdentityError("calibration")
    return {
        "model": _text(f[3]),
        "serial": _text(f[4]),
        "chip_id": f[5],
        "chips": f[6],
        "domains": f[7],
        "date": (f[8], f[9], f[10]),
        "grade": f[11],
        "vout_mv": f[12],
        "freq_mhz": f[13],
        "seq": f[14],
        "cal": {"temp_offset_c": (f[15] / 10.0, f[16] / 10.0), "iout_gain": 1.0 + f[17] / 10000.0},
        "cal_raw": (f[15], f[16], f[17]),  # as stored: a new record carries it over unchanged
        "vout_max_mv": max(f[18], f[12]),  # never below the nominal; 0 (older records): the nominal
    }


def read(i2c, addr, buf):
    """The newest valid copy in a 24C02 at addr (buf: RECORD_LEN bytes). Raises IdentityError
    (naming why copy A is not valid) when neither copy is, OSError when the part does not answer."""
    return eerecord.read(i2c, addr, SLOTS, buf, decode, IdentityError)


def write(i2c, addr, record, buf, settle=None):
    """Write a new record into the copy that is NOT the current newest, page by page, then read
    it back. Its seq must be newer than the current one (callers take read()['seq'] + 1).
    A power cut at any point leaves the previous copy valid. Returns the slot written."""
    return eerecord.write(i2c, addr, SLOTS, record, buf, decode, IdentityError, settle)


# The board's own identity: a small JSON document on the MCU's flash (written by provision.py).
# Read here, at boot and by info, so that the writer loads only when a factory station asks.
BOARD_DOC = "identity"


def board_identity(store):
    doc = store.read(BOARD_DOC)
    if isinstance(doc, dict) and isinstance(doc.get("serial"), str) and doc["serial"]:
        return doc
    return None
