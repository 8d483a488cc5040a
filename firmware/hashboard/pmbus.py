# PMBus number formats (LINEAR11, ULINEAR16 with VOUT_MODE) and the TPS546 command codes we use.
from .compat import const

OPERATION = const(0x01)
ON_OFF_CONFIG = const(0x02)
CLEAR_FAULTS = const(0x03)
VOUT_MODE = const(0x20)
VOUT_COMMAND = const(0x21)
VOUT_MAX = const(0x24)
VOUT_MIN = const(0x2B)
VOUT_OV_FAULT_LIMIT = const(0x40)
VOUT_OV_WARN_LIMIT = const(0x42)
VOUT_UV_WARN_LIMIT = const(0x43)
VOUT_UV_FAULT_LIMIT = const(0x44)
IOUT_OC_FAULT_LIMIT = const(0x46)
IOUT_OC_FAULT_RESPONSE = const(0x47)
IOUT_OC_WARN_LIMIT = const(0x4A)
OT_FAULT_LIMIT = const(0x4F)
OT_FAULT_RESPONSE = const(0x50)
OT_WARN_LIMIT = const(0x51)
STATUS_WORD = const(0x79)
STATUS_VOUT = const(0x7A)
STATUS_IOUT = const(0x7B)
STATUS_INPUT = const(0x7C)
STATUS_TEMPERATURE = const(0x7D)
READ_VIN = const(0x88)
READ_VOUT = const(0x8B)
READ_IOUT = const(0x8C)
READ_TEMPERATURE_1 = const(0x8D)
IC_DEVICE_ID = const(0xAD)

OPERATION_OFF = const(0x00)
OPERATION_ON = const(0x80)

# STATUS_WORD bits (TPS546.h)
SW_VOUT = const(0x8000)
SW_IOUT = const(0x4000)
SW_INPUT = const(0x2000)
SW_PGOOD_N = const(0x0800)
SW_OFF = const(0x0040)
SW_VOUT_OV = const(0x0020)
SW_IOUT_OC = const(0x0010)
SW_VIN_UV = const(0x0008)
SW_TEMP = const(0x0004)
SW_CML = const(0x0002)


def _exp11(word):
    e = (word >> 11) & 0x1F
    return e - 32 if e & 0x10 else e


def _mant11(word):
    m = word & 0x7FF
    return m - 2048 if m & 0x400 else m


def slinear11_decode(word):
    return _mant11(word) * (2.0 ** _exp11(word))


def slinear11_milli(word):
    """LINEAR11 in thousandths (mA, m°C), an integer: the control loop boxes no float."""
    return _scaled(_mant11(word) * 1000, _exp11(word))


def _scaled(v, e):
    """v * 2**e rounded, in integers."""
    return v << e if e >= 0 else (v + (1 << (-e - 1))) >> -e


def slinear11_encode(value):
    """Encode with the finest exponent that keeps the mantissa in 11-bit two's complement."""
    for exp in range(-16, 16):
        mant = int(round(value / (2.0**exp)))
        if -1024 <= mant <= 1023:
            return ((exp & 0x1F) << 11) | (mant & 0x7FF)
    raise ValueError("LINEAR11 out of range")


def vout_exponent(vout_mode):
    e = vout_mode & 0x1F
    return e - 32 if e & 0x10 else e


def ulinear16_decode(raw, vout_mode):
    return raw * (2.0 ** vout_exponent(vout_mode))


def ulinear16_milli(raw, vout_mode):
    """ULINEAR16 in thousandths (mV), an integer."""
    return _scaled(raw * 1000, vout_exponent(vout_mode))


def ulinear16_encode(volts, vout_mode):
    """Truncating, like the regulator's own resolution; never rounds above the request."""
    raw = int(volts / (2.0 ** vout_exponent(vout_mode)))
    if raw < 0 or raw > 0xFFFF:
        raise ValueError("ULINEAR16 out of range")
    return raw


_FAULT_BITS = (
    (SW_VOUT_OV, "vout_ov"),
    (SW_IOUT_OC, "iout_oc"),
    (SW_VIN_UV, "vin_uv"),
    (SW_TEMP, "temp"),
    (SW_CML, "cml"),
    (SW_OFF, "off"),
)


def status_word_faults(word):
    """Names of the fault bits set in STATUS_WORD (detail registers refine them elsewhere)."""
    return [name for bit, name in _FAULT_BITS if word & bit]
