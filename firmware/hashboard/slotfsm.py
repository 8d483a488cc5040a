# Hot-swap state machine of one module slot, as pure code: it takes presence, the outcome of the
# last action and now_ms, and says which action the executor (module.py) performs next. No I/O
# here, so hypothesis drives it through any sequence of events (hil_tests/test_slot_fsm.py).
#
#   empty -> identifying -> powering -> enumerating -> ramping -> hashing <-> throttled
#   any failure -> unidentified | incompatible | fault (powered off, cause kept); removal -> empty
from .compat import const, ticks_diff

EMPTY = "empty"
IDENTIFYING = "identifying"
POWERING = "powering"
ENUMERATING = "enumerating"
RAMPING = "ramping"
HASHING = "hashing"
THROTTLED = "throttled"
OFF = "off"
FAULT = "fault"
UNIDENTIFIED = "unidentified"
INCOMPATIBLE = "incompatible"
RUNNING = (HASHING, THROTTLED)
FAULTY = (FAULT, UNIDENTIFIED, INCOMPATIBLE)  # held off by a fault the host must look at
POWERED = (POWERING, ENUMERATING, RAMPING, HASHING, THROTTLED)

# actions the executor performs
NONE = const(0)
IDENTIFY = const(1)  # read and check the identity EEPROM (and its stored profile)
POWER_ON = const(2)  # chain held in reset, regulator enabled and soft-started at the module's voltage
CHECK_POWER = const(3)  # regulator status after its soft start
ENUMERATE = const(4)  # release reset, enumerate, restore the stored profile or board defaults
RAMP = const(5)  # one frequency step toward the targets
RUN = const(6)  # steady state: jobs, nonces, thermal steps
POWER_OFF = const(7)  # enable low, regulator off, chain held in reset

# outcomes reported back by the executor
OK = const(0)
RETRY = const(1)  # nothing decided yet (EEPROM NACK while contacts settle, ramp not finished)
FAIL = const(2)  # -> fault with the given cause
NOT_IDENTIFIED = const(3)  # blank / corrupt / unanswering EEPROM -> unidentified
NOT_COMPATIBLE = const(4)  # chip type, count or voltage does not fit the slot -> incompatible

# default per-step budgets (ms); a board's "timing" may override each ("<state>_timeout_ms")
TIMEOUTS = {IDENTIFYING: 1000, POWERING: 500, ENUMERATING: 3000, RAMPING: 15000}
_PGOOD_WAIT_MS = const(30)  # regulator soft start before its status means anything
_RESET_MS = const(100)  # chain reset released this long before enumeration
_ID_TRIES = const(3)  # EEPROM NACKs tolerated while the contacts settle
_WAIT = {POWERING: _PGOOD_WAIT_MS, ENUMERATING: _RESET_MS}
_ACTION = {IDENTIFYING: IDENTIFY, POWERING: CHECK_POWER, ENUMERATING: ENUMERATE, RAMPING: RAMP,
           HASHING: RUN, THROTTLED: RUN}


class SlotFSM:
    def __init__(self, timing=None, settle_ms=50, notify=None):
        t = timing or {}
        self.timeout = {}
        for s in TIMEOUTS:
            self.timeout[s] = t.get(s + "_timeout_ms", TIMEOUTS[s])
        self.ramp_every = settle_ms  # one frequency step per PLL settle time
        self.notify = notify  # notify(now, state, cause) on every transition
        self.state = EMPTY
        self.cause = None
        self.since = 0  # when the state was entered
        self.last = 0  # when the state's action last ran
        self.tries = 0
        self.act = NONE  # the action last handed to the executor
        self.powered = False  # what we have commanded: enable high / regulator on
        self.identified = False  # a valid, compatible identity was read for this insertion
        self.hold_off = False  # curtailed: identify but do not power

    def _enter(self, now, state, cause=None):
        self.state = state
        self.cause = cause
        self.since = now
        self.last = now
        if self.notify is not None:
            self.notify(now, state, cause)

    def off(self, now, state, cause=None):
        """Power off into a resting state (fault, off, unidentified, incompatible, empty)."""
        self.powered = False
        if state in (EMPTY, UNIDENTIFIED, INCOMPATIBLE):
            self.identified = False
        self._enter(now, state, cause)
        self.act = POWER_OFF
        return POWER_OFF

    def removed(self, now):
        """Presence lost (debounced, or at once if powered): off and empty, whatever it was doing."""
        if self.state == EMPTY:
            return NONE
        return self.off(now, EMPTY)

    def restart(self, now):
        """From off or fault back through identification (resume, thermal recovery, clear)."""
        if self.state in (OFF, FAULT):
            self.tries = 0
            self._enter(now, IDENTIFYING)

    def tick(self, now, present):
        """Once per control period: the action due now."""
        if not present:
            return self.removed(now)
        s = self.state
        if s == EMPTY:
            self.tries = 0
            self.identified = False
            self._enter(now, IDENTIFYING)
            self.act = IDENTIFY
            return IDENTIFY
        act = _ACTION.get(s, NONE)
        if s in _WAIT and ticks_diff(now, self.since) < _WAIT[s]:
            return NONE
        if s == RAMPING and ticks_diff(now, self.last) < self.ramp_every:
            return NONE
        self.last = now
        self.act = act
        return act

    def done(self, now, outcome, cause=None):
        """Outcome of the action the executor just performed; returns the next action now."""
        s = self.state
        if outcome == FAIL:
            return self.off(now, FAULT, cause)
        if outcome == NOT_IDENTIFIED:
            return self.off(now, UNIDENTIFIED, cause)
        if outcome == NOT_COMPATIBLE:
            return self.off(now, INCOMPATIBLE, cause)
        if outcome == RETRY:
            if s == RAMPING:
                # the ramp's budget is counted in its own steps (budget / settle time): a ramp
                # that keeps stepping on a slow loop is progressing, one that never arrives is not
                self.tries += 1
                if self.tries * self.ramp_every > self.timeout[RAMPING]:
                    return self.off(now, FAULT, "timeout:" + s)
                return NONE
            if s in self.timeout and ticks_diff(now, self.since) > self.timeout[s]:
                # still not done when its budget is spent. (A late success counts: a slow
                # control loop must not fail a healthy module; a hung one is the watchdog's.)
                return self.off(now, UNIDENTIFIED if s == IDENTIFYING else FAULT, "timeout:" + s)
            if s == IDENTIFYING:
                self.tries += 1
                if self.tries >= _ID_TRIES:
                    return self.off(now, UNIDENTIFIED, cause or "eeprom:no_response")
            return NONE
        if s == IDENTIFYING:
            self.identified = True
            if self.hold_off:
                return self.off(now, OFF, "curtailed")
            self.powered = True
            self._enter(now, POWERING)
            self.act = POWER_ON
            return POWER_ON
        if s == POWERING:
            if self.act == POWER_ON:
                return NONE  # soft start commanded: its status is checked after _PGOOD_WAIT_MS
            self._enter(now, ENUMERATING)
            return NONE
        if s == ENUMERATING:
            self.tries = 0
            self._enter(now, RAMPING)
            return NONE
        if s == RAMPING:
            self._enter(now, HASHING)
            return NONE
        return NONE

    def running(self, now, throttled):
        """Hashing and throttled are one running state seen two ways."""
        want = THROTTLED if throttled else HASHING
        if self.state in RUNNING and want != self.state:
            self._enter(now, want, "thermal" if throttled else None)
