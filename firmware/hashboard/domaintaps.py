# The ADC on a module's series-domain taps (board definition: slot "taps"): channel k reads the
# node above domain k through a divider. Conversions are started in one control period and read
# in the next, so no caller ever waits on the part.
from . import mcp342x


class DomainTaps:
    def __init__(self, i2c, cfg):
        self.i2c = i2c
        self.addr = cfg["addr"]
        self.divider = float(cfg.get("divider", 1.0))
        self._cmd = bytearray(1)
        self._buf = bytearray(3)

    def start(self, channel):
        self._cmd[0] = mcp342x.config(channel)
        self.i2c.writeto(self.addr, self._cmd)

    def read(self):
        """Volts at the tap whose conversion was started last, or None while it runs.
        OSError when the part does not answer."""
        self.i2c.readfrom_into(self.addr, self._buf)
        v = mcp342x.decode(self._buf)
        return None if v is None else v * self.divider


_POLLS = 5  # control periods a 17 ms conversion may take before the part counts as hung


def read_point(m, probe, point):
    """Generator: every tap of module m converted (one per control period), then the string's
    volts and amps: probe's point `point` closed. OSError when a part stops answering."""
    taps = m.tap_adc()
    for k in range(probe.n - 1):
        taps.start(k)
        v = None
        for _ in range(_POLLS):
            yield None
            v = taps.read()
            if v is not None:
                break
        if v is None:
            raise OSError(110, "domain tap ADC: conversion never finished")
        probe.set_tap(k, v)
    probe.close_point(point, m.vrm.read_vout(), m.vrm.read_iout() * m.cal_iout)
