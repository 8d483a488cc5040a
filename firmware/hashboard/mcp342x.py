# MCP3428 (MCP342x family) delta-sigma ADC codec, shared by the firmware driver and the emulator.
# One-shot conversions: a config byte starts one on a channel; the read returns the code and the
# config byte, whose bit 7 (RDY) is 0 once that conversion is done (datasheet DS22226A, 5.2).
from .compat import const

RDY = const(0x80)
ONE_SHOT = const(0x00)
RATE_14 = const(0x04)  # 14 bits at 60 samples/s: 16.7 ms, 250 uV per code at gain 1
CONV_MS_14 = const(17)
LSB_14_V = 0.00025  # 2 * 2.048 V / 2^14
FULL_SCALE_V = 2.048


def config(channel):
    """Config byte: start a one-shot 14-bit conversion of channel 0..3 at gain 1."""
    if not 0 <= channel <= 3:
        raise ValueError("MCP3428 channel %d (0..3)" % channel)
    return RDY | (channel << 5) | ONE_SHOT | RATE_14


def channel_of(cfg):
    return (cfg >> 5) & 3


def encode(volts):
    """Code the part outputs for volts at its input (clipped at full scale), as two bytes."""
    code = int(round(volts / LSB_14_V))
    code = max(-8192, min(8191, code))
    return (code & 0xFFFF).to_bytes(2, "big")


def decode(buf):
    """Volts from a 3-byte read (code, config), or None while the conversion is not done."""
    if buf[2] & RDY:
        return None
    code = (buf[0] << 8) | buf[1]
    if code & 0x8000:
        code -= 0x10000
    return code * LSB_14_V
