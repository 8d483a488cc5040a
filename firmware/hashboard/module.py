# One hashing module in one slot: identity, regulator, chain and sensors, stepped by the
# control loop. States follow the status document (interfaces.md).
from . import identity
from .chain import NO_RESPONSE, Chain
from .compat import const, ticks_diff
from .tps546 import TPS546

EMPTY = "empty"
IDENTIFYING = "identifying"
POWERING = "powering"
ENUMERATING = "enumerating"
RAMPING = "ramping"
HASHING = "hashing"
OFF = "off"
FAULT = "fault"
UNIDENTIFIED = "unidentified"
INCOMPATIBLE = "incompatible"

_PGOOD_WAIT_MS = const(30)
_RESET_MS = const(100)
_STEP_TIMEOUT_MS = const(2000)
_BAD_SENSOR_LIMIT = const(3)


class Module:
    def __init__(self, slot, slot_cfg, board, hw, clock, emit, chip):
        self.slot = slot
        self.board = board
        self.emit = emit
        self.clock = clock
        lim = board["limits"]
        self.vlim = lim["vout"]
        self.flim = lim["freq_mhz"]
        self.tlim = lim["thermal"]
        self.fixed = slot_cfg.get("fixed", False)
        i2c = hw.i2c(slot_cfg["vrm"]["bus"])
        self.i2c = i2c
        self.vrm = TPS546(
            i2c, slot_cfg["vrm"]["addr"], self.vlim["min"], self.vlim["max"], lim["iout_max_a"]
        )
        self.eeprom_addr = slot_cfg["eeprom"]["addr"] if "eeprom" in slot_cfg else None
        self._id_buf = bytearray(identity.RECORD_LEN)
        self.reset = hw.reset_line(slot, slot_cfg)
        self.enable = hw.enable_line(slot, slot_cfg)
        self.chain = Chain(hw.uart(slot_cfg["uart"], chip.SLOW_BAUD), chip, board["module"]["chips"], clock)
        self.sensors = [hw.sensor(s) for s in slot_cfg["sensors"]]
        self.temps = [None] * len(self.sensors)
        self._bad = bytearray(len(self.sensors))
        self.state = EMPTY
        self.cause = None
        self.serial = None
        self.ident = None
        self.target_mhz = self.flim["default"]
        self.vout_target = self.vlim["default"]
        self._t = 0
        self._t_job = 0
        self._t_freq = 0
        self.job_interval = board["timing"].get("job_interval_ms", 250)
        self.vout = 0.0
        self.iout = 0.0
        self.vrm_temp = 0.0
        self.vrm_faults = []
        self.vrm_ok = True

    # ------------------------------------------------------------ helpers
    def powered(self):
        return self.state in (POWERING, ENUMERATING, RAMPING, HASHING)

    def _enter(self, state, now, cause=None):
        self.state = state
        self.cause = cause
        self._t = now
        self.emit(now, "module", self.slot, state if cause is None else state + ":" + cause)

    def power_off(self, now, state, cause=None):
        """Regulator off and chain held in reset; safe from any state."""
        self.enable(False)  # hardware path first: works even if PMBus does not
        try:
            self.vrm.off()
        except OSError:
            pass  # a regulator that does not answer cannot be commanded; report it
        self.reset(True)
        self.chain.found = 0 if state == EMPTY else self.chain.found
        for i in range(self.chain.expected):
            self.chain.freq[i] = 0.0
            self.chain.ghs[i] = 0.0
            self.chain.ghs_long[i] = 0.0
        self._enter(state, now, cause)

    # ------------------------------------------------------------ the state machine
    def step(self, now, present):
        if not present:
            if self.state != EMPTY:
                self.power_off(now, EMPTY)
                self.serial = None
                self.ident = None
            return
        s = self.state
        if s == EMPTY:
            self._enter(IDENTIFYING, now)
        elif s == IDENTIFYING:
            self._identify(now)
        elif s == POWERING:
            self._powering(now)
        elif s == ENUMERATING:
            self._enumerate(now)
        elif s == RAMPING:
            self._ramp(now)
        elif s == HASHING:
            self._hashing(now)
        if self.powered():
            self._guard(now)

    def _identify(self, now):
        if self.eeprom_addr is None:
            m = self.board["module"]
            self.ident = {"serial": None, "chips": m["chips"], "chip_id": 0x1370}
        else:
            try:
                self.ident = identity.read(self.i2c, self.eeprom_addr, self._id_buf)
            except (OSError, ValueError) as e:
                self.power_off(now, UNIDENTIFIED, "eeprom:" + (str(e) or "read_error"))
                return
            self.serial = self.ident["serial"]
            if self.ident["chips"] != self.chain.expected or self.ident["chip_id"] != self.chain.chip.CHIP_ID:
                self.power_off(now, INCOMPATIBLE, "chips")
                return
            v = self.ident["vout_mv"] / 1000.0
            if not (self.vlim["min"] <= v <= self.vlim["max"]):
                self.power_off(now, INCOMPATIBLE, "vout")
                return
            self.vout_target = v
        self.reset(True)
        self.enable(True)
        try:
            self.vrm.init(self.vout_target)
            self.vrm.set_vout(self.vout_target)
        except (OSError, ValueError) as e:
            self.power_off(now, FAULT, "vrm")
            return
        self._enter(POWERING, now)

    def _powering(self, now):
        if ticks_diff(now, self._t) < _PGOOD_WAIT_MS:
            return
        try:
            faults = self.vrm.faults()
        except OSError:
            faults = ["nack"]
        if faults:
            self.vrm_faults = faults
            self.power_off(now, FAULT, "vrm:" + faults[0])
            return
        self.reset(False)
        self._enter(ENUMERATING, now)

    def _enumerate(self, now):
        if ticks_diff(now, self._t) < _RESET_MS:
            return
        found = self.chain.bring_up()
        if found == 0:
            self.power_off(now, FAULT, "no_chips")
            return
        if self.chain.fault_cause == NO_RESPONSE:
            # chips the controller cannot reach stay unconfigured: in series voltage domains
            # they unbalance the string, so the module is not run (the break stays reported)
            self.power_off(now, FAULT, "chain:no_response")
            return
        self.chain.set_targets(self.clamp(self.target_mhz))
        self._enter(RAMPING, now)

    def clamp(self, mhz):
        return max(self.flim["min"], min(self.flim["max"], mhz))

    def set_freq(self, mhz, chip=-1):
        """Per-module or per-chip frequency target; refused outside the board's limits."""
        if not (self.flim["min"] <= mhz <= self.flim["max"]):
            raise ValueError("%s MHz outside the board's limits [%s, %s]" % (mhz, self.flim["min"], self.flim["max"]))
        if chip >= self.chain.expected:
            raise ValueError("chip %d does not exist (module has %d)" % (chip, self.chain.expected))
        if chip < 0:
            self.target_mhz = mhz
        self.chain.set_targets(mhz, chip)

    def _ramp(self, now):
        if ticks_diff(now, self._t) < self.flim["settle_ms"]:
            return
        self._t = now
        if self.chain.step_toward_targets(self.flim["step"]):
            self.chain.finish_bring_up()
            self._enter(HASHING, now)

    def _hashing(self, now):
        c = self.chain
        c.poll()  # nonces
        if ticks_diff(now, self._t_job) >= self.job_interval:
            self._t_job = now
            c.work.send_next()
        if ticks_diff(now, self._t_freq) >= self.flim["settle_ms"]:
            self._t_freq = now
            c.step_toward_targets(self.flim["step"])

    # ------------------------------------------------------------ safety and telemetry
    def _guard(self, now):
        """Every control period: read sensors; dangerous or unreadable for long -> off."""
        dangerous = self.tlim["dangerous_c"]
        for i, s in enumerate(self.sensors):
            t = s.read()
            self.temps[i] = t
            if t is None:
                self._bad[i] = min(255, self._bad[i] + 1)
                if self._bad[i] >= _BAD_SENSOR_LIMIT:
                    self.power_off(now, FAULT, "sensor:" + s.name + ":" + (s.error or "bad"))
                    return
            else:
                self._bad[i] = 0
                if t >= dangerous:
                    self.power_off(now, FAULT, "dangerous:" + s.name)
                    return

    def read_vrm(self):
        try:
            self.vout = self.vrm.read_vout()
            self.iout = self.vrm.read_iout()
            self.vrm_temp = self.vrm.read_temp()
            self.vrm_faults = self.vrm.faults()
            self.vrm_ok = True
        except OSError:
            self.vrm_ok = False
            self.vrm_faults = ["nack"]

    def telemetry(self, now):
        if self.state == HASHING:
            self.chain.sweep(now)
            if self.chain.fault_cause == NO_RESPONSE:
                self.power_off(now, FAULT, "chain:no_response")
        if self.state != EMPTY:
            self.read_vrm()
            if self.powered() and self.vrm_faults and self.vrm_faults != ["ot_warn"]:
                self.power_off(now, FAULT, "vrm:" + self.vrm_faults[0])

    def ghs(self):
        g = 0.0
        for v in self.chain.ghs:
            g += v
        return g
