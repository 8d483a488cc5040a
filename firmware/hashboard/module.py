# One hashing module in one slot: identity, regulator, chain and sensors, stepped by the
# control loop. States follow the status document (interfaces.md).
from . import identity, profile, repairlog, slotfsm, thermal
from .chain import NO_RESPONSE, Chain
from .compat import const, ticks_diff
from .slotfsm import (  # noqa: F401  (state names re-exported for app/status)
    EMPTY,
    ENUMERATING,
    FAULT,
    HASHING,
    IDENTIFYING,
    INCOMPATIBLE,
    OFF,
    POWERED,
    POWERING,
    RAMPING,
    RUNNING,
    THROTTLED,
    UNIDENTIFIED,
)
from .tps546 import TPS546

_BAD_SENSOR_LIMIT = const(3)  # consecutive unreadable samples before the sensor counts as failed
_STUCK_READS = const(60)  # identical readings in a row (6 s) while powered: a frozen sensor
_CURTAIL_STEP_MHZ = 125.0


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
        vt = lim.get("vrm_temp_c", {})
        self.vrm = TPS546(
            i2c, slot_cfg["vrm"]["addr"], self.vlim["min"], self.vlim["max"], lim["iout_max_a"],
            vt.get("warn", 105), vt.get("fault", 145),
        )
        self.eeprom_addr = None
        self.ee_i2c = i2c
        if "eeprom" in slot_cfg:
            self.eeprom_addr = slot_cfg["eeprom"]["addr"]
            self.ee_i2c = hw.i2c(slot_cfg["eeprom"].get("bus", slot_cfg["vrm"]["bus"]))
        self._id_buf = bytearray(identity.RECORD_LEN)
        self.reset = hw.reset_line(slot, slot_cfg)
        self.enable = hw.enable_line(slot, slot_cfg)
        self.chain = Chain(hw.uart(slot_cfg["uart"], chip.SLOW_BAUD), chip, board["module"]["chips"], clock)
        self.sensors = [hw.sensor(s) for s in slot_cfg["sensors"]]
        ns = len(self.sensors)
        self.temps = [None] * ns
        self.sensor_err = [""] * ns  # "" = healthy, else why it failed
        self._bad = bytearray(ns)
        self._same = bytearray(ns)
        self._last = [None] * ns
        nf = int((self.flim["max"] - self.flim["min"]) / self.flim["step"] + 0.5)
        nv = int((self.vlim["default"] - self.vlim["min"]) / self.vlim["step"] + 0.5)
        self._nf = nf
        t = board["timing"]
        self.thermal = thermal.ThermalPolicy(
            self.tlim["target_c"], self.tlim["hot_c"], self.tlim["dangerous_c"],
            self.tlim["hysteresis_c"], nf + nv, t.get("thermal_period_ms", 1000),
            t.get("thermal_release_ms", 5000), t.get("cooldown_ms", 30000), t.get("thermal_retries", 3))
        self.fsm = slotfsm.SlotFSM(t, self.flim["settle_ms"], self._notify)
        self.still_present = None  # callable reading the present line now (set by the app)
        self.serial = None
        self.ident = None
        self.profile = None  # stored tuned profile in use, or None (board defaults)
        self.profile_note = None  # why a stored profile was not used
        self._prof_buf = bytearray(profile.RECORD_LEN)
        self._fresh = True  # next identification is of a newly inserted module
        self.cal_temp = [0.0, 0.0]
        self.cal_iout = 1.0
        self._restore = False  # enumerate applies the stored profile / defaults to every chip
        self.target_mhz = self.flim["default"]
        self.vout_user = self.vlim["default"]
        self.power_cap = self.flim["max"]
        self.curtail_off = False
        self._t_job = 0
        self._t_freq = 0
        self._t_curtail = 0
        self.job_interval = t.get("job_interval_ms", 250)
        self.vout = 0.0
        self.iout = 0.0
        self.vrm_temp = 0.0
        self.vrm_faults = []
        self.vrm_ok = True

    # ------------------------------------------------------------ helpers
    @property
    def state(self):
        return self.fsm.state

    @property
    def cause(self):
        return self.fsm.cause

    def powered(self):
        return self.fsm.state in POWERED

    def _notify(self, now, state, cause):
        self.emit(now, "module", self.slot, state if cause is None else state + ":" + cause)

    def power_off(self, now, state, cause=None):
        """Regulator off and chain held in reset into a resting state; safe from any state."""
        if state == FAULT and self._gone():
            state, cause = EMPTY, None  # its sensors, regulator or chips vanished with it
        self.fsm.off(now, state, cause)
        self._hw_off()

    def _gone(self):
        """A failure may be a yank: the present line, read now, tells."""
        return self.still_present is not None and not self.still_present()

    def _hw_off(self):
        self.enable(False)  # hardware path first: works even if PMBus does not
        try:
            self.vrm.off()
        except OSError:
            pass  # a regulator that does not answer cannot be commanded; report it
        self.reset(True)
        for i in range(self.chain.expected):
            self.chain.freq[i] = 0.0
            self.chain.ghs[i] = 0.0
            self.chain.ghs_long[i] = 0.0
        self.vout = self.iout = 0.0
        if self.fsm.state == EMPTY:
            # the module left: the next one brings its own identity, profile and settings
            self.chain.found = 0
            self.serial = None
            self.ident = None
            self.profile = None
            self._fresh = True

    def freq_cap(self):
        """Highest frequency any chip may run now: thermal throttle, power target, board max."""
        t = self.target_mhz - self.flim["step"] * min(self.thermal.level, self._nf)
        return max(self.flim["min"], min(self.flim["max"], t, self.power_cap))

    def vout_goal(self):
        """Voltage to hold now: the module's own, lowered by thermal levels past the frequency
        floor, never outside the board's envelope."""
        extra = self.thermal.level - int((self.target_mhz - self.flim["min"]) / self.flim["step"] + 0.5)
        v = self.vout_user - (self.vlim["step"] * extra if extra > 0 else 0.0)
        return max(self.vlim["min"], min(self.vlim["max"], v))

    # ------------------------------------------------------------ executing the slot's FSM
    def step(self, now, present):
        act = self.fsm.tick(now, present)
        while act != slotfsm.NONE:
            act = self._do(act, now)
        self._guard(now)

    def _do(self, act, now):
        """Perform one action of the slot FSM and report its outcome; returns the next action."""
        fsm = self.fsm
        if act == slotfsm.POWER_OFF:
            self._hw_off()
            return slotfsm.NONE
        if act == slotfsm.IDENTIFY:
            outcome, cause = self._identify()
        elif act == slotfsm.POWER_ON:
            outcome, cause = self._power_on()
        elif act == slotfsm.CHECK_POWER:
            outcome, cause = self._check_power()
        elif act == slotfsm.ENUMERATE:
            outcome, cause = self._enumerate()
        elif act == slotfsm.RAMP:
            outcome = slotfsm.OK if self.chain.step_toward_targets(self.flim["step"], self.freq_cap()) else slotfsm.RETRY
            cause = None
        else:  # RUN
            self._run(now)
            return slotfsm.NONE
        if outcome >= slotfsm.FAIL and self._gone():
            # the module left mid-step (a yank): that is a removal, not a fault of the module
            return fsm.removed(now)
        nxt = fsm.done(now, outcome, cause)
        if fsm.state == slotfsm.HASHING and act == slotfsm.RAMP:
            self.chain.finish_bring_up()
        return nxt

    def ramp_step(self, now):
        """Between control periods: the next ramp step if its settle time is over."""
        act = self.fsm.tick(now, True)
        while act != slotfsm.NONE:
            act = self._do(act, now)

    def restart(self, now):
        """From off/fault back through identification (resume, thermal recovery, host clear)."""
        self.fsm.restart(now)

    def _identify(self):
        """Identity, compatibility, stored profile: (outcome, cause)."""
        if self.eeprom_addr is None:
            m = self.board["module"]
            self.ident = {"serial": None, "chips": m["chips"], "chip_id": 0x1370}
            if self._fresh:
                self._fresh = False
                self._restore = True
            return slotfsm.OK, None
        try:
            self.ident = identity.read(self.ee_i2c, self.eeprom_addr, self._id_buf)
        except OSError:
            return slotfsm.RETRY, "eeprom:no_response"  # contacts may still be settling
        except ValueError as e:  # blank, bad CRC, unknown layout: never guess a voltage
            return slotfsm.NOT_IDENTIFIED, "eeprom:" + str(e)
        self.serial = self.ident["serial"]
        cal = self.ident["cal"]
        self.cal_temp[0], self.cal_temp[1] = cal["temp_offset_c"]
        self.cal_iout = cal["iout_gain"]
        if self.ident["chips"] != self.chain.expected or self.ident["chip_id"] != self.chain.chip.CHIP_ID:
            return slotfsm.NOT_COMPATIBLE, "chips"
        v = self.ident["vout_mv"] / 1000.0
        if not (self.vlim["min"] <= v <= self.vlim["max"]):
            return slotfsm.NOT_COMPATIBLE, "vout"
        if self._fresh:
            # a newly inserted module: its stored profile, else its nominal voltage and the
            # board's default frequency. A restart (resume, recovery) keeps the live settings.
            self._fresh = False
            self._restore = True
            self.vout_user = v
            self.target_mhz = self.flim["default"]
            self._load_profile()
        return slotfsm.OK, None

    def _load_profile(self):
        self.profile = None
        self.profile_note = None
        try:
            p = profile.read(self.ee_i2c, self.eeprom_addr, self._prof_buf)
        except OSError:
            self.profile_note = "no_response"
            return
        except ValueError as e:
            self.profile_note = None if str(e) == "blank" else str(e)
            return
        why = profile.check(p, self.chain.expected, self.vlim, self.flim)
        if why is not None:
            self.profile_note = why  # stored values outside this board's limits: defaults instead
            return
        self.profile = p
        self.vout_user = p["vout_mv"] / 1000.0

    def _power_on(self):
        self.fsm.hold_off = self.curtail_off
        self.reset(True)
        self.enable(True)
        try:
            self.vrm.init(self.vout_goal())
            self.vrm.set_vout(self.vout_goal())
        except (OSError, ValueError):
            return slotfsm.FAIL, "vrm"
        return slotfsm.OK, None

    def _check_power(self):
        try:
            faults = self.vrm.faults()
        except OSError:
            faults = ["nack"]
        if faults:
            self.vrm_faults = faults
            return slotfsm.FAIL, "vrm:" + faults[0]
        self.reset(False)
        return slotfsm.OK, None

    def _enumerate(self):
        found = self.chain.bring_up()
        if found == 0:
            return slotfsm.FAIL, "no_chips"
        if self.chain.fault_cause == NO_RESPONSE:
            # chips the controller cannot reach stay unconfigured: in series voltage domains
            # they unbalance the string, so the module is not run (the break stays reported)
            return slotfsm.FAIL, "chain:no_response"
        p = self.profile
        if not self._restore:
            pass  # restart of the same module: per-chip targets as they were
        elif p is None:
            self.chain.set_targets(self.target_mhz)
        elif len(p["freqs"]) == 1:
            self.target_mhz = p["freqs"][0]
            self.chain.set_targets(self.target_mhz)
        else:
            for i in range(self.chain.expected):
                self.chain.set_targets(p["freqs"][i], i)
            self._top_target()
        self._restore = False
        return slotfsm.OK, None

    # ------------------------------------------------------------ module EEPROM: profile, repairs
    def save_profile(self):
        """Store the live per-chip frequency targets and string voltage as the module's tuned
        profile (verified by read-back; the previous profile survives a failed write)."""
        if self.eeprom_addr is None or self.state not in RUNNING:
            raise ValueError("module %d is not hashing with an identity EEPROM (state %s)" % (self.slot, self.state))
        n = self.chain.expected
        t = self.chain.target
        freqs = t if n <= profile.MAX_CHIPS else [self.target_mhz]
        try:
            seq = profile.read(self.ee_i2c, self.eeprom_addr, self._prof_buf)["seq"] + 1
        except ValueError:
            seq = 1
        rec = profile.encode(freqs, int(self.vout_user * 1000 + 0.5), seq)
        profile.write(self.ee_i2c, self.eeprom_addr, rec, self._prof_buf, self.clock.sleep_ms)
        self.profile = profile.decode(rec)
        self.profile_note = None
        return self.profile

    def repair_log(self, add=None):
        """Entries of the append-only repair log, oldest first; add=(days, code, arg) appends."""
        if self.eeprom_addr is None or self.state == EMPTY:
            raise ValueError("module %d has no identity EEPROM present" % self.slot)
        if add is not None:
            repairlog.append(self.ee_i2c, self.eeprom_addr, add[0], add[1], add[2], self._id_buf,
                             self.clock.sleep_ms)
        return repairlog.read(self.ee_i2c, self.eeprom_addr, self._id_buf)

    def set_freq(self, mhz, chip=-1):
        """Per-module or per-chip frequency target; refused outside the board's limits."""
        if not (self.flim["min"] <= mhz <= self.flim["max"]):
            raise ValueError("%s MHz outside the board's limits [%s, %s]" % (mhz, self.flim["min"], self.flim["max"]))
        if chip >= self.chain.expected:
            raise ValueError("chip %d does not exist (module has %d)" % (chip, self.chain.expected))
        self.chain.set_targets(mhz, chip)
        self._top_target()

    def _top_target(self):
        # thermal and power caps count down from the fastest chip's target
        top = 0.0
        for f in self.chain.target:
            top = max(top, f)
        self.target_mhz = top

    def set_vout(self, volts):
        """Module voltage (string volts); refused outside the board's and regulator's envelope."""
        if not (self.vlim["min"] <= volts <= self.vlim["max"]):
            raise ValueError("%s V outside the board's limits [%s, %s]" % (volts, self.vlim["min"], self.vlim["max"]))
        self.vout_user = volts

    def _run(self, now):
        c = self.chain
        c.poll()  # nonces
        if self.curtail_off:
            # quick ramp down, then the regulator off
            if c.cur_mhz <= self.flim["min"] + 0.5 or ticks_diff(now, self._t_curtail) >= 600:
                self.power_off(now, OFF, "curtailed")
                return
            c.step_toward_targets(_CURTAIL_STEP_MHZ, self.flim["min"])
            return
        if ticks_diff(now, self._t_job) >= self.job_interval:
            self._t_job = now
            c.work.send_next()
        if ticks_diff(now, self._t_freq) >= self.flim["settle_ms"]:
            self._t_freq = now
            c.step_toward_targets(self.flim["step"], self.freq_cap())
        self._ramp_vout()
        self.fsm.running(now, self.thermal.level > 0)

    def _ramp_vout(self):
        """Voltage changes move one board step per control period, never outside the envelope."""
        goal = self.vout_goal()
        cur = self.vrm.vout_set
        if cur <= 0 or abs(goal - cur) < 1e-6:
            return
        step = self.vlim["step"]
        nxt = goal if abs(goal - cur) <= step else (cur + step if goal > cur else cur - step)
        try:
            self.vrm.set_vout(nxt)
        except (OSError, ValueError):
            pass  # reported by telemetry (nack/fault); never written outside limits

    def curtail(self, now, off):
        self.curtail_off = off
        self.fsm.hold_off = off
        self._t_curtail = now
        if not off and self.state == OFF and self.cause == "curtailed":
            self.fsm.restart(now)

    # ------------------------------------------------------------ safety and telemetry
    def read_sensors(self):
        """Read every sensor; returns (hottest valid reading or None, all sensors healthy)."""
        hottest = None
        ok = True
        for i, s in enumerate(self.sensors):
            t = s.read()
            if t is not None and i < 2:
                t += self.cal_temp[i]  # the module's own calibration (identity EEPROM)
            err = s.error
            if t is None:
                self._bad[i] = min(255, self._bad[i] + 1)
                self._same[i] = 0
            else:
                self._bad[i] = 0
                if t != self._last[i]:
                    self._same[i] = 0  # a frozen sensor stays suspect until its value moves
                elif self.state in RUNNING:
                    self._same[i] = min(255, self._same[i] + 1)
                self._last[i] = t
            if self._same[i] >= _STUCK_READS:
                err = "stuck"
                t = None
            self.temps[i] = t
            failed = (self._bad[i] >= _BAD_SENSOR_LIMIT) or err == "stuck"
            self.sensor_err[i] = (err or "unreadable") if failed else ""
            if failed:
                ok = False
            elif t is not None and (hottest is None or t > hottest):
                hottest = t
        return hottest, ok

    def _guard(self, now):
        """Every control period: the thermal policy sees fresh readings and acts at once."""
        if self.state in (EMPTY, IDENTIFYING, UNIDENTIFIED, INCOMPATIBLE):
            return
        hottest, ok = self.read_sensors()
        act = self.thermal.decide(hottest, ok, now)
        if act == thermal.OFF:
            if self.powered():
                bad = ""
                for i, s in enumerate(self.sensors):
                    if self.sensor_err[i]:
                        bad = ":" + s.name + ":" + self.sensor_err[i]
                        break
                cause = str(self.thermal.cause) + bad
                if self.thermal.state == thermal.LATCHED:
                    cause += ":latched"
                self.power_off(now, FAULT, cause)
                if self.state == FAULT:  # not a yank (sensors that left with their module)
                    self.emit(now, "shutdown", self.slot, cause)
        elif act == thermal.RESTART:
            self.emit(now, "recover", self.slot, "retry %d" % self.thermal.retries)
            self.restart(now)
        elif act in (thermal.DOWN, thermal.UP):
            self.emit(now, "throttle", self.slot, "level %d at %d C" % (self.thermal.level, hottest))

    def clear_fault(self, now):
        """Host acknowledgement: clear a latched thermal fault and regulator faults."""
        self.thermal.clear()
        try:
            self.vrm.clear_faults()
        except OSError:
            pass
        self.vrm_faults = []
        if self.state == FAULT:
            self.power_off(now, OFF, "cleared")

    def read_vrm(self):
        try:
            self.vout = self.vrm.read_vout()
            self.iout = self.vrm.read_iout() * self.cal_iout
            self.vrm_temp = self.vrm.read_temp()
            self.vrm_faults = self.vrm.faults()
            self.vrm_ok = True
        except OSError:
            self.vrm_ok = False
            self.vrm_faults = ["nack"]

    def check_vrm(self, now):
        """Regulator telemetry every control period: its own trips and NACKs power us off."""
        if self.state == EMPTY:
            return
        self.read_vrm()
        if self.powered() and self.vrm_faults and self.vrm_faults != ["ot_warn"]:
            self.power_off(now, FAULT, "vrm:" + self.vrm_faults[0])
            if self.state == FAULT:  # not a yank (a regulator that left with its module)
                self.emit(now, "fault", self.slot, "vrm:" + self.vrm_faults[0])

    def telemetry(self, now):
        if self.state in RUNNING and not self.curtail_off:
            self.chain.sweep()
            if self.chain.fault_cause == NO_RESPONSE:
                self.power_off(now, FAULT, "chain:no_response")

    def ghs(self):
        g = 0.0
        for v in self.chain.ghs:
            g += v
        return g
