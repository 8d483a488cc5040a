# TPS546-class PMBus regulator driver. Limits come from the board definition, never constants.
from . import pmbus as pm
from .compat import const

_DEVICE_IDS = (b"TITm$A", b"TITm$b", b"TITk$A")  # 54 49 54 6D 24 41 / ..62 / 54 49 54 6B 24 41
_RETRIES = const(3)
_READ = const(0)  # _retry kinds
_WRITE = const(1)
_SEND = const(2)
# STATUS_WORD bits faults() names; none set is the steady state, answered by one shared tuple
_NAMED = pm.SW_TEMP | pm.SW_IOUT_OC | pm.SW_IOUT | pm.SW_VOUT_OV | pm.SW_VOUT | pm.SW_VIN_UV | pm.SW_CML
_NO_FAULTS = ()


class RegulatorError(OSError):
    pass


OC_WARN_SHARE = 0.95  # of the over-current trip: a warning (reported, cleared), never a trip


class TPS546:
    def __init__(self, i2c, addr, vout_min, vout_max, iout_max, ot_warn=105, ot_fault=145):
        self.i2c = i2c
        self.addr = addr
        self.vout_min = vout_min
        self.vout_max = vout_max
        self.iout_max = iout_max
        self.ot_warn = ot_warn
        self.ot_fault = ot_fault
        self.vout_mode = 0x97
        self.vout_set = 0.0
        self._b1 = bytearray(1)
        self._b2 = bytearray(2)
        self._b3 = bytearray(3)
        self._id = bytearray(7)
        self.nacks = 0

    # -- bus primitives with a bounded retry budget (a NACK is often a busy regulator) --
    def _retry(self, cmd, kind, buf):
        """One transfer (_READ: cmd into buf, _WRITE: buf to cmd, _SEND: buf alone) with up to
        _RETRIES attempts. The bus methods are called, never passed: a bound method taken as a
        value is an object made every time, and this runs every control period."""
        i2c = self.i2c
        for _ in range(_RETRIES):
            try:
                if kind == _READ:
                    return i2c.readfrom_mem_into(self.addr, cmd, buf)
                if kind == _WRITE:
                    return i2c.writeto_mem(self.addr, cmd, buf)
                return i2c.writeto(self.addr, buf)
            except OSError:
                self.nacks += 1
        raise RegulatorError("regulator 0x%02x not answering (cmd 0x%02x)" % (self.addr, cmd))

    def _read(self, cmd, buf):
        self._retry(cmd, _READ, buf)
        return buf

    def _write(self, cmd, data):
        self._retry(cmd, _WRITE, data)

    def _word(self, cmd):
        b = self._read(cmd, self._b2)
        return b[0] | (b[1] << 8)

    def _write_word(self, cmd, value):
        b = self._b2
        b[0] = value & 0xFF
        b[1] = (value >> 8) & 0xFF
        self._write(cmd, b)

    def _write_byte(self, cmd, value):
        self._b1[0] = value
        self._write(cmd, self._b1)

    def send_byte(self, cmd):
        self._b1[0] = cmd
        self._retry(cmd, _SEND, self._b1)

    # -- bring-up (the PMBus order of ESP-Miner main/power/TPS546.c; limits from the board file) --
    def init(self, vout_nominal):
        ident = self._read(pm.IC_DEVICE_ID, self._id)
        if bytes(ident[1 : 1 + ident[0]]) not in _DEVICE_IDS:
            raise RegulatorError("regulator 0x%02x: unexpected IC_DEVICE_ID" % self.addr)
        self._write_byte(pm.OPERATION, pm.OPERATION_OFF)
        self._write_byte(pm.ON_OFF_CONFIG, 0x1B)
        self.vout_mode = self._read(pm.VOUT_MODE, self._b1)[0]
        enc = self._ulin
        self._write_word(pm.VOUT_MAX, enc(self.vout_max))
        self._write_word(pm.VOUT_MIN, enc(self.vout_min))
        self._write_word(pm.VOUT_COMMAND, enc(vout_nominal))
        # OV/UV limits are fractions of VOUT_COMMAND (relative VOUT_MODE), as EM programs them
        self._write_word(pm.VOUT_OV_FAULT_LIMIT, enc(1.25))
        self._write_word(pm.VOUT_OV_WARN_LIMIT, enc(1.16))
        self._write_word(pm.VOUT_UV_WARN_LIMIT, enc(0.90))
        self._write_word(pm.VOUT_UV_FAULT_LIMIT, enc(0.75))
        # the warning above what a tuned module may draw (tuning.CURRENT_SHARE, 0.9 of the trip)
        self._write_word(pm.IOUT_OC_WARN_LIMIT, pm.slinear11_encode(self.iout_max * OC_WARN_SHARE))
        self._write_word(pm.IOUT_OC_FAULT_LIMIT, pm.slinear11_encode(self.iout_max))
        self._write_byte(pm.IOUT_OC_FAULT_RESPONSE, 0xC0)
        self._write_word(pm.OT_WARN_LIMIT, pm.slinear11_encode(self.ot_warn))
        self._write_word(pm.OT_FAULT_LIMIT, pm.slinear11_encode(self.ot_fault))
        self._write_byte(pm.OT_FAULT_RESPONSE, 0xFF)
        self.send_byte(pm.CLEAR_FAULTS)
        self.vout_set = 0.0

    def _ulin(self, volts):
        return pm.ulinear16_encode(volts, self.vout_mode)

    def set_vout(self, volts):
        """Program and enable the output (power-on only). Refuses anything outside the board's
        envelope."""
        self.move_vout(volts)
        self._write_byte(pm.OPERATION, pm.OPERATION_ON)

    def move_vout(self, volts):
        """Move a running output: VOUT_COMMAND only, never OPERATION. A part that is not on (a
        module swapped in faster than a presence sample) stays off, and reads back off, so the
        swap is seen; switching it on here once put the old module's voltage on a new one."""
        if not (self.vout_min <= volts <= self.vout_max):
            raise ValueError(
                "vout %.3f V outside [%.3f, %.3f]" % (volts, self.vout_min, self.vout_max)
            )
        self._write_word(pm.VOUT_COMMAND, self._ulin(volts))
        self.vout_set = volts

    def off(self):
        self.vout_set = 0.0
        self._write_byte(pm.OPERATION, pm.OPERATION_OFF)

    def operation_on(self):
        """OPERATION reads back on (a regulator that lost its input comes back with it off)."""
        return bool(self._read(pm.OPERATION, self._b1)[0] & pm.OPERATION_ON)

    def clear_faults(self):
        self.send_byte(pm.CLEAR_FAULTS)

    def clear_warnings(self, names):
        """Let go of latched warnings only (PMBus: a 1 written to a status bit clears that bit),
        so a trip can never be cleared by accident on the way."""
        if "oc_warn" in names:
            self._write_byte(pm.STATUS_IOUT, 0x20)
        if "ot_warn" in names:
            self._write_byte(pm.STATUS_TEMPERATURE, 0x40)

    # -- telemetry --
    def read_vout(self):
        return pm.ulinear16_decode(self._word(pm.READ_VOUT), self.vout_mode)

    def read_iout(self):
        return pm.slinear11_decode(self._word(pm.READ_IOUT))

    def read_temp(self):
        return pm.slinear11_decode(self._word(pm.READ_TEMPERATURE_1))

    # the same in integer thousandths, for the control loop (no float per reading)
    def read_mv(self):
        return pm.ulinear16_milli(self._word(pm.READ_VOUT), self.vout_mode)

    def read_ma(self):
        return pm.slinear11_milli(self._word(pm.READ_IOUT))

    def read_mc(self):
        return pm.slinear11_milli(self._word(pm.READ_TEMPERATURE_1))

    def status_word(self):
        return self._word(pm.STATUS_WORD)

    @staticmethod
    def power_good(sw):
        """Output on and in regulation, from a STATUS_WORD."""
        return not sw & (pm.SW_OFF | pm.SW_PGOOD_N)

    def faults(self, sw=None):
        """Named faults from STATUS_WORD (read now unless given) refined by
        STATUS_TEMPERATURE/IOUT/VOUT."""
        if sw is None:
            sw = self.status_word()
        if not sw & _NAMED:
            return _NO_FAULTS  # the steady state: no list made every control period
        names = []
        if sw & pm.SW_TEMP:
            st = self._read(pm.STATUS_TEMPERATURE, self._b1)[0]
            names.append("ot" if st & 0x80 else "ot_warn")
        if sw & pm.SW_IOUT_OC:
            names.append("oc")
        elif sw & pm.SW_IOUT:  # the IOUT byte: a trip, or only the warning (not a trip)
            si = self._read(pm.STATUS_IOUT, self._b1)[0]
            names.append("oc" if si & 0x80 else "oc_warn")
        if sw & (pm.SW_VOUT_OV | pm.SW_VOUT):
            sv = self._read(pm.STATUS_VOUT, self._b1)[0]
            if sv & 0x80:
                names.append("ov")
            if sv & 0x10:
                names.append("uv")
        if sw & pm.SW_VIN_UV:
            names.append("vin_uv")
        if sw & pm.SW_CML:
            names.append("cml")
        return names
