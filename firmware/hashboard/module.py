# One hashing module in one slot: identity, regulator, chain and sensors, stepped by the
# control loop. States follow the status document (interfaces.md).
from . import identity, slotfsm, thermal
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
from .modstore import ModuleStore
from .sensorguard import SensorGuard
from .tps546 import TPS546

_CURTAIL_STEP_MHZ = 125.0
_ID_CHECK_FAILS = const(3)  # identity checks in a row the EEPROM may miss before it is re-identified
_LATCHED_TRIPS = ("ot", "oc", "ov", "uv")  # regulator trips only a host clear may reset
_WARNINGS = ("ot_warn", "oc_warn")  # reported in status, never a reason to turn a module off


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
        ee = slot_cfg.get("eeprom")
        self.store = ModuleStore(hw.i2c(ee.get("bus", slot_cfg["vrm"]["bus"])) if ee else i2c,
                                 ee["addr"] if ee else None, board, clock)
        self.goal_hint = None  # callable: the tuning goal (mode, target) this slot would get
        self._id_buf = bytearray(identity.RECORD_LEN)
        self._id_rec = bytearray(identity.RECORD_LEN)  # the record this module was identified by
        self._id_base = 0
        self._id_fails = 0
        self.reset = hw.reset_line(slot, slot_cfg)
        self.enable = hw.enable_line(slot, slot_cfg)
        self.chain = Chain(hw.uart(slot_cfg["uart"], chip.SLOW_BAUD), chip, board["module"]["chips"], clock)
        self.sensors = [hw.sensor(s) for s in slot_cfg["sensors"]]
        self.taps = slot_cfg.get("taps")  # the slot's domain-tap ADC (balance), or None
        self._adc = None  # its driver, made at the first measurement (tap_adc)
        self._make_adc = hw.taps
        self._slot_cfg = slot_cfg
        self.balance = None  # the last cut chain's domain verdict (breakprobe), for diag
        self._probe = None  # that measurement while it runs (bring-up, module powered)
        self.guard = SensorGuard(self.sensors)
        self.temps_mc = self.guard.temps  # the same list (m°C): the I2C map and the health log read it
        self.sensor_err = self.guard.errors
        nf = int((self.flim["max"] - self.flim["min"]) / self.flim["step"] + 0.5)
        nv = int((self.vlim["default"] - self.vlim["min"]) / self.vlim["step"] + 0.5)
        self._nf = nf
        t = board["timing"]
        mc = self._hot_mc = int(self.tlim["hot_c"] * 1000)  # the policy works in m°C, as the readings
        self.thermal = thermal.ThermalPolicy(
            int(self.tlim["target_c"] * 1000), mc, int(self.tlim["dangerous_c"] * 1000),
            int(self.tlim["hysteresis_c"] * 1000), nf + nv, t.get("thermal_period_ms", 1000),
            t.get("thermal_release_ms", 5000), t.get("cooldown_ms", 30000), t.get("thermal_retries", 3))
        self.fsm = slotfsm.SlotFSM(t, self.flim["settle_ms"], self._notify)
        self.still_present = None  # callable reading the present line now (set by the app)
        self.serial = None
        self.ident = None
        self._fresh = True  # next identification is of a newly inserted module
        self.generation = 0  # counts departures: a swap (even within one presence sample) moves it
        self.cal_iout = 1.0
        self.thermal_stop = False  # off because the thermal guard stopped it (recovery may restart)
        self.hb_off = False  # held off by the host heartbeat policy 'off' until resume
        self._restore = False  # enumerate applies the stored profile / defaults to every chip
        self.target_mhz = self.flim["default"]
        self.vout_user = self.vlim["default"]
        self.power_cap = self.flim["max"]
        self.curtail_off = False
        self.shed = False  # switched off on its own by a grid dispatch (App.shed)
        self._t_job = 0
        self._t_freq = 0
        self._t_curtail = 0
        self.job_interval = t.get("job_interval_ms", 250)
        # regulator telemetry in integer mV, mA and m°C (read every period: no float boxed);
        # vout, iout and vrm_temp give them in V, A and °C to everything else
        self.mv = 0
        self.ma = 0
        self.mc = 0
        self.cal_pm = 1000  # cal_iout in thousandths
        d = self.flim["default"]
        self.default_band = (d - 0.5, d + 0.5)  # "at the default frequency", precomputed
        self._fc_in = [-1, None, None]  # freq_cap's and vout_goal's inputs when last worked out
        self._fc = 0.0
        self._vg_in = [-1, None, None]
        self._vg = 0.0
        self.vrm_faults = []
        self.vrm_ok = True
        self.off_pending = False  # an off command did not take: retried every control period
        self.under_test = False  # a diagnostic run owns its frequencies (the tuner lets go)

    # ------------------------------------------------------------ helpers
    @property
    def temps(self):
        """The sensors' last readings in °C (None: unreadable or failed), for reports."""
        return [None if t is None else t / 1000 for t in self.temps_mc]

    @property
    def vout(self):
        return self.mv / 1000

    @property
    def iout(self):
        return self.ma / 1000

    @property
    def vrm_temp(self):
        return self.mc / 1000

    @property
    def state(self):
        return self.fsm.state

    @property
    def cause(self):
        return self.fsm.cause

    def powered(self):
        return self.fsm.state in POWERED or self.off_pending

    def _notify(self, now, state, cause):
        self.emit(now, "module", self.slot, state if cause is None else state + ":" + cause)

    def power_off(self, now, state, cause=None, thermal_stop=False):
        """Regulator off and chain held in reset into a resting state; safe from any state.
        thermal_stop: the thermal guard stopped it, so its recovery may restart it."""
        if state == FAULT and self._gone():
            state, cause = EMPTY, None  # its sensors, regulator or chips vanished with it
        self.thermal_stop = thermal_stop
        self.fsm.off(now, state, cause)
        self._hw_off()

    def _gone(self):
        """A failure may be a yank: the present line, read now, tells."""
        return self.still_present is not None and not self.still_present()

    def _hw_off(self):
        self._probe = None  # a domain measurement ends with the power
        ok = self.enable(False)  # hardware path first: works even if PMBus does not
        try:
            self.vrm.off()
        except OSError:
            ok = False  # a regulator that does not answer cannot be commanded now: retried
        ok = self.reset(True) and ok
        # the bus disturbance that tripped the guard may also eat the off commands: until every
        # one of them took, the module counts as powered and the off is sent again each period
        self.off_pending = not ok and self.fsm.state != EMPTY
        self.chain.stopped()
        self.mv = self.ma = 0
        if self.fsm.state == EMPTY:
            self._forget()

    def _forget(self):
        """The module left (or was swapped): the next one brings its own identity, profile and
        settings, and inherits none of this one's safety history (thermal latch, sensor
        failures, regulator faults, calibration)."""
        self.generation += 1  # whatever learned this module (the tuner's heat fit) starts over
        self.balance = None
        self.chain.found = 0
        self.serial = None
        self.ident = None
        self.store.forget()
        self._fresh = True
        self._id_fails = 0
        self.thermal.reset()
        self.guard.reset()
        self.thermal_stop = False
        self.vrm_faults = []
        self.vrm.vout_set = 0.0
        self.cal_iout = 1.0
        self.cal_pm = 1000
        self.target_mhz = self.flim["default"]
        self.vout_user = self.vlim["default"]
        self.chain.set_targets(self.target_mhz)

    def freq_cap(self):
        """Highest frequency any chip may run now: thermal throttle, power target, board max.
        Asked every control period: worked out again only when an input moved (float
        arithmetic boxes a float each time)."""
        lv = self.thermal.level
        if lv != self._fc_in[0] or self.target_mhz != self._fc_in[1] or self.power_cap != self._fc_in[2]:
            self._fc_in[0], self._fc_in[1], self._fc_in[2] = lv, self.target_mhz, self.power_cap
            t = self.target_mhz - self.flim["step"] * min(lv, self._nf)
            self._fc = max(self.flim["min"], min(self.flim["max"], t, self.power_cap))
        return self._fc

    def vout_goal(self):
        """Voltage to hold now: the module's own, lowered by thermal levels past the frequency
        floor, never outside the board's envelope (worked out again only when an input moved)."""
        lv = self.thermal.level
        if lv != self._vg_in[0] or self.target_mhz != self._vg_in[1] or self.vout_user != self._vg_in[2]:
            self._vg_in[0], self._vg_in[1], self._vg_in[2] = lv, self.target_mhz, self.vout_user
            extra = lv - int((self.target_mhz - self.flim["min"]) / self.flim["step"] + 0.5)
            v = self.vout_user - (self.vlim["step"] * extra if extra > 0 else 0.0)
            self._vg = max(self.vlim["min"], min(self.vlim["max"], v))
        return self._vg

    # ------------------------------------------------------------ executing the slot's FSM
    def step(self, now, present):
        if self.curtail_off and self.state in (POWERING, ENUMERATING, RAMPING):
            self.power_off(now, OFF, "curtailed")  # nothing hashes yet: no ramp-down to wait for
        act = self.fsm.tick(now, present)
        while act != slotfsm.NONE:
            act = self._do(act, now)
        self.thermal_guard(now)

    def _do(self, act, now):
        """Perform one action of the slot FSM and report its outcome; returns the next action."""
        fsm = self.fsm
        if act == slotfsm.POWER_OFF:
            self._hw_off()
            return slotfsm.NONE
        if act == slotfsm.IDENTIFY:
            outcome, cause = self._identify()
            if outcome == slotfsm.OK:
                why = self._power_gate(now)
                if why is not None:
                    return fsm.off(now, OFF, why)  # identified, but not to be powered now
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

    def restart(self, now, recovery=False):
        """From off back through identification (resume, curtail lifted); from a thermal
        shutdown only as the thermal recovery (recovery=True). Never while the thermal policy
        holds the module off, never from a regulator or chain fault (the host clears those)."""
        if not self.thermal.allows_power():
            return False
        # recovery restarts only what the thermal guard stopped; anything else never a fault
        if not (self.thermal_stop if recovery else self.state != FAULT):
            return False
        self.fsm.restart(now)
        return True

    def tap_adc(self):
        """The domain-tap ADC's driver, loaded at the first measurement: a board that never
        needs one (no cut chain, no diag) does not keep its code in the heap."""
        if self._adc is None:
            self._adc = self._make_adc(self._slot_cfg)
        return self._adc

    def rebring_up(self, now):
        """diag: a module a cut chain stopped goes through its bring-up once more (power gate
        and thermal guard as always), so its domains are measured now. False if it may not."""
        if self.state != FAULT or self.cause != "chain:no_response" or not self.thermal.allows_power():
            return False
        self.fsm.restart(now)
        return True

    def _power_gate(self, now):
        """Why an identified module may not be powered now, or None. Checked before every
        power-on: insertion, resume, recovery."""
        if self.hb_off:
            return "heartbeat"
        if not self.thermal.allows_power():
            return "thermal:" + thermal.STATES[self.thermal.state]
        hottest = self.guard.read(False)
        ok = self.guard.ok
        for t in self.guard.temps:
            if t is None:
                ok = False  # every sensor must read now: an unknown temperature is never cool
        if not ok or hottest is None or hottest >= self._hot_mc:
            # too hot, or no trustworthy reading: wait for a cool, readable module
            self.thermal.hold(now, "hot" if ok and hottest is not None else "sensor")
            self.thermal_stop = True
            return "thermal:hold"
        return None

    def _identify(self):
        """Identity, compatibility, stored profile: (outcome, cause)."""
        if self.store.addr is None:
            m = self.board["module"]
            self.ident = {"serial": None, "chips": m["chips"], "chip_id": 0x1370}
            if self._fresh:
                self._fresh = False
                self._restore = True
            return slotfsm.OK, None
        try:
            self.ident = identity.read(self.store.i2c, self.store.addr, self._id_buf)
        except OSError:
            return slotfsm.RETRY, "eeprom:no_response"  # contacts may still be settling
        except ValueError as e:  # blank, bad CRC, unknown layout: never guess a voltage
            return slotfsm.NOT_IDENTIFIED, "eeprom:" + str(e)
        ident = self.ident
        if self.serial is not None and ident["serial"] != self.serial:
            self._forget()  # another module than last time (a swap while off): a fresh insertion
            self.ident = ident
        try:  # the exact bytes it was identified by, for the identity check while it runs
            self.store.i2c.readfrom_mem_into(self.store.addr, ident["slot"], self._id_rec)
        except OSError:
            return slotfsm.RETRY, "eeprom:no_response"
        self._id_base = ident["slot"]
        self.serial = ident["serial"]
        cal = ident["cal"]
        off = cal["temp_offset_c"]
        self.guard.cal[0], self.guard.cal[1] = int(off[0] * 1000), int(off[1] * 1000)
        self.cal_iout = cal["iout_gain"]
        self.cal_pm = int(self.cal_iout * 1000 + 0.5)
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

    def rated_mv(self):
        """The highest string voltage the module is rated for (its identity: the rated maximum,
        the nominal when the record names none), or None before it is identified."""
        return self.ident.get("vout_max_mv") if self.ident is not None else None

    def _load_profile(self):
        hint = self.goal_hint() if self.goal_hint is not None else None
        p = self.store.load(self.chain.expected, self.vlim, self.flim, self.rated_mv(), hint)
        if p is not None:
            self.vout_user = p["vout_mv"] / 1000.0

    def _power_on(self):
        if not self.reset(True):
            return slotfsm.FAIL, "expander:reset"  # the chain cannot be held in reset: no power
        try:  # a trip the regulator still holds (it outlives an MCU reset) needs a host clear
            for f in self.vrm.faults():
                if f in _LATCHED_TRIPS:
                    self.vrm_faults = [f]
                    return slotfsm.FAIL, "vrm:" + f
        except OSError:
            return slotfsm.FAIL, "vrm:nack"
        if not self.enable(True):
            return slotfsm.FAIL, "vrm:enable"  # the expander did not take the enable line
        try:
            self.vrm.init(self.vout_goal())
            self.vrm.set_vout(self.vout_goal())
        except (OSError, ValueError):
            return slotfsm.FAIL, "vrm"
        return slotfsm.OK, None

    def _check_power(self):
        """Reset is released only on power-good with no regulator fault."""
        try:
            sw = self.vrm.status_word()
            faults = self.vrm.faults(sw)
        except OSError:
            sw, faults = 0, ["nack"]
        if not faults and not self.vrm.power_good(sw):
            faults = ["no_power_good"]
        if faults:
            self.vrm_faults = faults
            return slotfsm.FAIL, "vrm:" + faults[0]
        self.reset(False)
        return slotfsm.OK, None

    def _enumerate(self):
        if self._probe is not None:  # a cut chain's domains being measured (breakprobe)
            for _ in self._probe:
                return slotfsm.RETRY, None
            self._probe = None
            return slotfsm.FAIL, "chain:no_response"
        self.balance = None  # whatever an earlier cut measured is not this bring-up's
        found = self.chain.bring_up()
        if found == 0:
            return slotfsm.FAIL, "no_chips"
        if self.chain.fault_cause == NO_RESPONSE:
            # chips the controller cannot reach stay unconfigured: in series voltage domains
            # they unbalance the string, so the module is not run (the break stays reported).
            # Where the slot has domain taps, a few periods first tell a dead chip from a link
            if self.taps is not None:
                try:
                    from . import breakprobe

                    self._probe = breakprobe.run(self)
                    return slotfsm.RETRY, None
                except MemoryError:  # a small heap: the cut is reported without its domains
                    pass
            return slotfsm.FAIL, "chain:no_response"
        p = self.store.profile
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
    def save_profile(self, goal=None):
        """Store the live per-chip frequency targets and string voltage as the module's tuned
        profile, and as goal's (mode, target) on a part with a profile table (verified by
        read-back; the previous profile survives a failed write)."""
        if self.store.addr is None or self.state not in RUNNING:
            raise ValueError("module %d is not hashing with an identity EEPROM (state %s)" % (self.slot, self.state))
        return self.store.save(self.chain.target, int(self.vout_user * 1000 + 0.5), goal,
                               self.ghs() / 1000.0, self.vout * self.iout)

    def repair_log(self, add=None):
        """Entries of the append-only repair log, oldest first; add=(days, code, arg) appends."""
        if self.store.addr is None or self.state == EMPTY:
            raise ValueError("module %d has no identity EEPROM present" % self.slot)
        return self.store.repairs(add)

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
        if cur <= 0 or goal == cur:  # a ramp ends on the goal itself (move_vout keeps it as given)
            return
        step = self.vlim["step"]
        nxt = goal if abs(goal - cur) <= step else (cur + step if goal > cur else cur - step)
        try:
            self.vrm.move_vout(nxt)
        except (OSError, ValueError):
            pass  # reported by telemetry (nack/fault); never written outside limits

    def curtail(self, now, off):
        self.curtail_off = off
        self.fsm.hold_off = off
        self._t_curtail = now
        if not off and self.state == OFF and self.cause == "curtailed":
            self.restart(now)

    def hold_heartbeat(self, now, on):
        """The heartbeat policy 'off': power off and stay off (insertions, recoveries
        included) until the host resumes."""
        self.hb_off = on
        if on and self.powered():
            self.power_off(now, OFF, "heartbeat")

    # ------------------------------------------------------------ safety and telemetry
    def thermal_guard(self, now):
        """Every control period, in every state of a module in the slot: the thermal policy
        sees fresh readings and whether the module is powered, and acts at once."""
        if self.state == EMPTY:
            return
        powered = self.powered()
        hottest = self.guard.read(self.state in RUNNING)
        act = self.thermal.decide(hottest, self.guard.ok, now, powered)
        if act == thermal.OFF:
            cause = str(self.thermal.cause) + self.guard.first_failure()
            if self.thermal.state == thermal.LATCHED:
                cause += ":latched"
            self.power_off(now, FAULT, cause, True)
            if self.state == FAULT:  # not a yank (sensors that left with their module)
                self.emit(now, "shutdown", self.slot, cause)
        elif act == thermal.RESTART:
            if self.restart(now, True):
                self.emit(now, "recover", self.slot, "retry %d" % self.thermal.retries)
        elif act == thermal.DOWN or act == thermal.UP:  # (a tuple of another module's names is made each time)
            self.emit(now, "throttle", self.slot, "level %d at %d C" % (self.thermal.level, hottest // 1000))

    def clear_fault(self, now):
        """Host acknowledgement: a latched thermal fault goes back to cooling (the recovery
        restarts the module once it is cool), regulator faults are cleared (the host resumes).
        Never powers anything."""
        self.thermal.clear()
        try:
            self.vrm.clear_faults()
        except OSError:
            pass
        self.vrm_faults = []
        if self.state == FAULT:
            stop = self.thermal_stop
            self.power_off(now, OFF, "cleared", stop)

    def _reseated(self):
        try:
            return not self.vrm.operation_on()
        except OSError:
            return False

    def check_identity(self, now):
        """While powered: is it still the module we identified? A swap faster than a presence
        sample leaves the present line as it was; the identity bytes do not."""
        if self.store.addr is None or not self.powered() or self.ident is None:
            return
        try:
            self.store.i2c.readfrom_mem_into(self.store.addr, self._id_base, self._id_buf)
        except OSError:
            self._id_fails += 1
            if self._id_fails < _ID_CHECK_FAILS:
                return
        else:
            self._id_fails = 0
            if self._id_buf == self._id_rec:
                return
        self.emit(now, "fault", self.slot, "identity changed: re-identifying")
        self.power_off(now, EMPTY)  # as a removal: the next step identifies what is there

    def read_vrm(self):
        """Regulator telemetry; returns its status word (0 when it did not answer)."""
        try:
            self.mv = self.vrm.read_mv()
            self.ma = self.vrm.read_ma() * self.cal_pm // 1000
            self.mc = self.vrm.read_mc()
            sw = self.vrm.status_word()
            self.vrm_faults = self.vrm.faults(sw)
            self.vrm_ok = True
            return sw
        except OSError:
            self.vrm_ok = False
            self.vrm_faults = ["nack"]
            return 0

    def check_vrm(self, now):
        """Regulator telemetry every control period: its own trips and NACKs power us off."""
        if self.state == EMPTY:
            return
        if self.off_pending and self.fsm.state not in POWERED:
            self._hw_off()  # the last off did not take: again, until it does
            return
        sw = self.read_vrm()
        if not self.powered():
            return
        bad = None
        for f in self.vrm_faults:
            if f not in _WARNINGS:
                bad = f
                break
        if bad is None and self.vrm_faults:
            try:  # only warnings: reported this period, then let go so the next is seen afresh
                self.vrm.clear_warnings(self.vrm_faults)
            except OSError:
                pass
        if bad is None and self.state != POWERING and not self.vrm.power_good(sw):
            if self._reseated():
                # its regulator lost its settings: the module lost its input (a contact bounce,
                # a re-seat). Off, then identified again from the start, as after an insertion
                self.power_off(now, OFF, "reseated")
                self.fsm.restart(now)
                return
            bad = "no_power_good"  # off or out of regulation while we hold it on
        if bad is not None:
            self.power_off(now, FAULT, "vrm:" + bad)
            if self.state == FAULT:  # not a yank (a regulator that left with its module)
                self.emit(now, "fault", self.slot, "vrm:" + bad)

    def telemetry(self, now):
        if self.state in RUNNING and not self.curtail_off:
            self.chain.sweep()
            if self.chain.fault_cause == NO_RESPONSE:
                self.power_off(now, FAULT, "chain:no_response")

    def ghs(self):
        return self.chain.mhs_sum / 1000
