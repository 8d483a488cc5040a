# A module's temperature sensors as the thermal guard sees them: calibrated readings, and which
# sensors have failed (unreadable three times running, an open/short code, or frozen). Belongs
# to the module in the slot: a new module starts with no history (reset()).
from .compat import const

_BAD_SENSOR_LIMIT = const(3)  # consecutive unreadable samples before the sensor counts as failed
_STUCK_READS = const(60)  # identical readings in a row (6 s) while hashing: a frozen sensor
_CALIBRATED = const(2)  # the identity EEPROM carries offsets for the first two (inlet, outlet)


class SensorGuard:
    def __init__(self, sensors):
        self.sensors = sensors
        n = len(sensors)
        self.temps = [None] * n  # last reading per sensor (m°C), None when unreadable or failed
        self.errors = [""] * n  # "" = healthy, else why it failed
        self.cal = [0] * _CALIBRATED  # offsets in m°C
        self._bad = bytearray(n)
        self._same = bytearray(n)
        self._last = [None] * n
        self.ok = True  # every sensor healthy at the last read

    def reset(self):
        """The module left: its readings, failures and calibration go with it."""
        for i in range(len(self.sensors)):
            self.temps[i] = None
            self.errors[i] = ""
            self._bad[i] = 0
            self._same[i] = 0
            self._last[i] = None
        for i in range(_CALIBRATED):
            self.cal[i] = 0

    def read(self, running):
        """Read every sensor; returns the hottest valid reading or None, and sets ok (every
        sensor healthy; an attribute, not a tuple made every control period).
        running: the module is hashing (a value that never moves then is a frozen sensor)."""
        hottest = None
        ok = True
        for i in range(len(self.sensors)):  # (no enumerate: every control period)
            s = self.sensors[i]
            t = s.read()
            if t is not None and i < _CALIBRATED:
                t += self.cal[i]
            err = s.error
            if t is None:
                self._bad[i] = min(255, self._bad[i] + 1)
                self._same[i] = 0
            else:
                self._bad[i] = 0
                if t != self._last[i]:
                    self._same[i] = 0  # a frozen sensor stays suspect until its value moves
                elif running:
                    self._same[i] = min(255, self._same[i] + 1)
                self._last[i] = t
            if self._same[i] >= _STUCK_READS:
                err = "stuck"
                t = None
            self.temps[i] = t
            failed = (self._bad[i] >= _BAD_SENSOR_LIMIT) or err == "stuck"
            self.errors[i] = (err or "unreadable") if failed else ""
            if failed:
                ok = False
            elif t is not None and (hottest is None or t > hottest):
                hottest = t
        self.ok = ok
        return hottest

    def first_failure(self):
        """':NAME:why' of the first failed sensor, or '' (for shutdown causes)."""
        for i, s in enumerate(self.sensors):
            if self.errors[i]:
                return ":" + s.name + ":" + self.errors[i]
        return ""
