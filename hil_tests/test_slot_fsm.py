"""The slot state machine as pure code (firmware/hashboard/slotfsm.py), driven by hypothesis
through random sequences of insert, remove, contact bounce, identification failure, regulator
fault, thermal trip, curtail and time. A small model of the slot's hardware stands in for the
executor: it records what the machine commands (enable, reset) and answers each action with the
outcome the scenario chose."""

from hashboard import slotfsm as F
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

ID_OUTCOMES = ("ok", "nack", "blank", "incompatible")
SLOTS = 4


class Slot:
    """Executor model: physical presence, what the EEPROM will say, and the enable line."""

    def __init__(self, i, log):
        self.i = i
        self.fsm = F.SlotFSM({}, 50, lambda now, s, c: log.append((i, now, s, c)))
        self.present = False  # physically seated
        self.seen = False  # the debounced presence the controller acts on
        self.eeprom = "ok"
        self.regulator_fault = False
        self.enum_fails = False
        self.enable = False
        self.addr_assigned = False  # chip addresses on this slot's chain
        self.ramp_left = 0

    def act(self, act, now):
        while act != F.NONE:
            if act == F.POWER_OFF:
                self.enable = False
                self.addr_assigned = False
                return
            if act == F.IDENTIFY:
                outcome = {"ok": F.OK, "nack": F.RETRY, "blank": F.NOT_IDENTIFIED,
                           "incompatible": F.NOT_COMPATIBLE}[self.eeprom if self.present else "nack"]
                act = self.fsm.done(now, outcome, None if outcome == F.OK else "eeprom")
            elif act == F.POWER_ON:
                self.enable = True
                act = self.fsm.done(now, F.OK)
            elif act == F.CHECK_POWER:
                act = self.fsm.done(now, F.FAIL if self.regulator_fault else F.OK, "vrm")
            elif act == F.ENUMERATE:
                ok = self.present and not self.enum_fails
                self.addr_assigned = ok
                act = self.fsm.done(now, F.OK if ok else F.FAIL, None if ok else "no_chips")
                self.ramp_left = 5
            elif act == F.RAMP:
                self.ramp_left -= 1
                act = self.fsm.done(now, F.OK if self.ramp_left <= 0 else F.RETRY)
            else:  # RUN
                return


class SlotMachines(RuleBasedStateMachine):
    @initialize()
    def boot(self):
        self.log = []
        self.now = 0
        self.slots = [Slot(i, self.log) for i in range(SLOTS)]

    def _period(self):
        self.now += 100
        for s in self.slots:
            s.seen = s.present  # debounce outcome: the tests of app.py cover the debounce itself
            s.act(s.fsm.tick(self.now, s.seen), self.now)

    @rule(slot=st.integers(0, SLOTS - 1), eeprom=st.sampled_from(ID_OUTCOMES))
    def insert(self, slot, eeprom):
        s = self.slots[slot]
        if s.present:
            return  # occupied
        s.present = True
        s.eeprom = eeprom
        s.regulator_fault = False
        s.enum_fails = False

    @rule(slot=st.integers(0, SLOTS - 1))
    def remove(self, slot):
        s = self.slots[slot]
        s.present = False
        self._period()  # one control period
        assert s.fsm.state == F.EMPTY and not s.fsm.powered and not s.enable

    @rule(slot=st.integers(0, SLOTS - 1), eeprom=st.sampled_from(ID_OUTCOMES))
    def bounce(self, slot, eeprom):
        """Out and in between two periods: the controller sees a new insertion or nothing."""
        s = self.slots[slot]
        if s.present:
            s.present = False
            s.present = True
            s.eeprom = eeprom if s.fsm.state == F.EMPTY else s.eeprom

    @rule(slot=st.integers(0, SLOTS - 1),
          phase=st.sampled_from([F.IDENTIFYING, F.POWERING, F.ENUMERATING, F.RAMPING, F.HASHING]))
    def yank_during(self, slot, phase):
        """Run until the slot is in the given phase, then pull the module."""
        s = self.slots[slot]
        for _ in range(20):
            if s.fsm.state == phase or not s.present:
                break
            self._period()
        if s.present and s.fsm.state == phase:
            self.remove(slot)

    @rule(slot=st.integers(0, SLOTS - 1))
    def regulator_fault(self, slot):
        s = self.slots[slot]
        s.regulator_fault = True
        if s.fsm.powered:
            s.act(s.fsm.off(self.now, F.FAULT, "vrm:ot"), self.now)

    @rule(slot=st.integers(0, SLOTS - 1))
    def enumeration_fails(self, slot):
        self.slots[slot].enum_fails = True

    @rule(slot=st.integers(0, SLOTS - 1))
    def thermal_trip(self, slot):
        s = self.slots[slot]
        if s.fsm.powered:
            s.act(s.fsm.off(self.now, F.FAULT, "dangerous"), self.now)

    @rule(slot=st.integers(0, SLOTS - 1))
    def restart(self, slot):
        s = self.slots[slot]
        s.regulator_fault = False
        s.enum_fails = False
        s.fsm.restart(self.now)

    @rule(hold=st.booleans())
    def curtail(self, hold):
        for s in self.slots:
            s.fsm.hold_off = hold

    @rule(periods=st.one_of(st.integers(1, 3), st.integers(4, 40)))
    def run(self, periods):
        for _ in range(periods):
            self._period()

    @rule(ms=st.integers(1, 20000))
    def blocked_action(self, ms):
        """The loop stalls (a slow bus): steps past their budget must still end."""
        self.now += ms
        self._period()

    @invariant()
    def powered_only_when_present_identified_compatible(self):
        for s in self.slots:
            if s.enable:
                assert s.present and s.fsm.identified and s.eeprom == "ok", (s.i, s.fsm.state)
                assert s.fsm.powered and s.fsm.state in F.POWERED

    @invariant()
    def state_and_command_agree(self):
        for s in self.slots:
            assert s.fsm.powered == s.enable == (s.fsm.state in F.POWERED), (s.fsm.state, s.enable)

    @invariant()
    def failures_are_unpowered_with_a_cause(self):
        for s in self.slots:
            if s.fsm.state in (F.FAULT, F.UNIDENTIFIED, F.INCOMPATIBLE):
                assert not s.enable and s.fsm.cause

    @invariant()
    def no_step_outlives_its_budget(self):
        for s in self.slots:
            st = s.fsm.state
            if st == F.RAMPING:  # counted in ramp steps
                assert s.fsm.tries * s.fsm.ramp_every <= s.fsm.timeout[st]
            elif st in s.fsm.timeout:
                assert self.now - s.fsm.since <= s.fsm.timeout[st]

    @invariant()
    def no_shared_chain_addresses(self):
        # each slot has its own chain; addresses exist only on a powered, enumerated chain
        for s in self.slots:
            if s.addr_assigned:
                assert s.enable and s.fsm.state in (F.RAMPING, F.HASHING, F.THROTTLED)


SlotMachines.TestCase.settings = settings(max_examples=300, stateful_step_count=40, deadline=None)
TestSlotMachines = SlotMachines.TestCase


def _drive(fsm, periods, outcome_for):
    now = 0
    for _ in range(periods):
        now += 100
        act = fsm.tick(now, True)
        while act not in (F.NONE, F.POWER_OFF, F.RUN):
            act = fsm.done(now, outcome_for(act, now))
    return now


def test_every_step_has_a_timeout_from_the_board():
    fsm = F.SlotFSM({"ramping_timeout_ms": 700}, 50)
    # a ramp that never finishes faults when its budget is spent, with the step named
    _drive(fsm, 30, lambda act, now: F.RETRY if act == F.RAMP else F.OK)
    assert fsm.state == F.FAULT and fsm.cause == "timeout:ramping" and not fsm.powered


def test_eeprom_silence_ends_unidentified_not_powered():
    fsm = F.SlotFSM({}, 50)
    _drive(fsm, 10, lambda act, now: F.RETRY)
    assert fsm.state == F.UNIDENTIFIED and fsm.cause == "eeprom:no_response" and not fsm.powered


def test_a_late_success_counts_but_an_unfinished_step_past_its_budget_fails():
    fsm = F.SlotFSM({"enumerating_timeout_ms": 1000}, 50)
    now = _drive(fsm, 2, lambda act, now: F.OK)  # identified, powered
    assert fsm.state == F.ENUMERATING
    assert fsm.tick(now + 5000, True) == F.ENUMERATE  # a slow loop came back late
    assert fsm.done(now + 5000, F.OK) == F.NONE and fsm.state == F.RAMPING
    t = now + 5000
    for _ in range(15000 // 50):  # a whole budget of ramp steps, however late each came
        t += 500
        assert fsm.tick(t, True) == F.RAMP
        assert fsm.done(t, F.RETRY) == F.NONE
    assert fsm.tick(t + 50, True) == F.RAMP
    assert fsm.done(t + 50, F.RETRY) == F.POWER_OFF  # one step more: it never arrives
    assert fsm.state == F.FAULT and fsm.cause == "timeout:ramping"


def test_full_insertion_sequence_in_order():
    seen = []
    fsm = F.SlotFSM({}, 50, lambda now, s, c: seen.append(s))
    _drive(fsm, 10, lambda act, now: F.OK)
    assert seen == ["identifying", "powering", "enumerating", "ramping", "hashing"]
