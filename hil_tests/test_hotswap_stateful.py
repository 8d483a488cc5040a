"""Stateful property test: random insert / remove / contact bounce / bad EEPROM / regulator
fault / thermal trip sequences against the whole firmware (fast lane). Invariants: a regulator
is on only for a present, identified, compatible module; a removal ends powered off within one
control period; slots never share an I2C address."""

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from hashboard import identity
from hostlib.sim.fastlane import FastBoard

GOOD = "good"
KINDS = (GOOD, "blank", "corrupt", "incompatible")


def image(kind, slot):
    if kind == GOOD:
        return identity.encode("HBM-1370-24", f"SW{slot}", 0x1370, 24, 4, (26, 1, 1), 1, 4600, 525)
    if kind == "blank":
        return b"\xff" * 64
    if kind == "corrupt":
        good = bytearray(image(GOOD, slot))
        good[20] ^= 0x55
        return bytes(good)
    return identity.encode("HBM-1366-24", f"SW{slot}", 0x1366, 24, 4, (26, 1, 1), 1, 4600, 525)


class HotSwap(RuleBasedStateMachine):
    @initialize()
    def boot(self):
        self.fb = FastBoard()
        self.kind = [GOOD] * 4
        self.fb.run_for(3000)

    def _vrm_on(self, slot):
        hw = self.fb.sim.modules[slot]
        return hw is not None and hw.vrm.enabled()

    @rule(slot=st.integers(0, 3))
    def remove(self, slot):
        if self.fb.sim.modules[slot] is None:
            return
        self.fb.sim.remove_module(slot)
        self.fb.run_for(100)  # one control period: whatever it was doing, it is off
        assert not self.fb.sim.vrm_enable[slot]
        assert not self.fb.app.modules[slot].powered()
        self.fb.run_for(200)  # an unpowered module's removal is debounced
        assert self.fb.app.modules[slot].state == "empty"

    @rule(slot=st.integers(0, 3), kind=st.sampled_from(KINDS))
    def insert(self, slot, kind):
        if self.fb.sim.modules[slot] is not None:
            return
        self.fb.sim.insert_module(slot, image(kind, slot))
        self.kind[slot] = kind

    @rule(slot=st.integers(0, 3), ms=st.integers(1, 90))
    def bounce(self, slot, ms):
        """Contact bounce: out and back in faster than the debounce."""
        if self.fb.sim.modules[slot] is None:
            return
        eeprom = bytes(self.fb.sim.modules[slot].eeprom.mem[:64])
        self.fb.sim.remove_module(slot)
        self.fb.run_for(ms)
        self.fb.sim.insert_module(slot, eeprom)

    @rule(slot=st.integers(0, 3), phase=st.sampled_from(["enumeration", "ramp"]))
    def yank_during(self, slot, phase):
        """Re-seat the module and pull it at an exact bring-up phase."""
        if self.fb.sim.modules[slot] is None:
            return
        self.fb.sim.remove_module(slot)
        self.fb.run_for(300)
        self.fb.sim.yank_when(slot, phase)
        self.fb.sim.insert_module(slot, image(GOOD, slot))
        self.kind[slot] = GOOD
        self.fb.run_for(3000)
        if self.fb.sim.modules[slot] is None:  # the yank happened
            self.fb.sim.yank_armed.pop(slot, None)
            assert self.fb.app.modules[slot].state == "empty"
            assert not self.fb.sim.vrm_enable[slot]
        else:
            self.fb.sim.yank_armed.pop(slot, None)

    @rule(slot=st.integers(0, 3), mode=st.sampled_from(["ot", "oc", "uv", "nack"]))
    def regulator_fault(self, slot, mode):
        if self.fb.sim.modules[slot] is None:
            return
        self.fb.sim.inject(f"vrm:{slot}:{mode}")
        self.fb.run_for(300)
        self.fb.sim.clear(f"vrm:{slot}:{mode}")

    @rule(c=st.sampled_from([25, 60, 75]))
    def ambient(self, c):
        self.fb.sim.set_ambient(c)

    @rule(ms=st.integers(100, 6000))
    def run(self, ms):
        self.fb.run_for(ms)

    @invariant()
    def powered_only_when_present_identified_compatible(self):
        for slot in range(4):
            if self._vrm_on(slot):
                assert self.kind[slot] == GOOD, (slot, self.kind[slot])
                m = self.fb.app.modules[slot]
                assert m.state in ("powering", "enumerating", "ramping", "hashing", "throttled"), m.state
                assert m.ident is not None and m.ident["chips"] == 24

    @invariant()
    def firmware_never_thinks_an_empty_slot_is_powered(self):
        for slot in range(4):
            if self.fb.sim.modules[slot] is None and self.fb.app.present[slot] == 0:
                assert not self.fb.app.modules[slot].powered()

    @invariant()
    def no_shared_addresses(self):
        # no part was ever seated on an address another part held on the same I2C bus ...
        assert self.fb.sim.collisions == []
        # ... and on every chain, the chips the firmware addressed hold distinct addresses
        for hw in self.fb.sim.modules:
            if hw is not None:
                addrs = [c.addr for c in hw.chain.chips if c.assigned]
                assert len(addrs) == len(set(addrs)), addrs


HotSwap.TestCase.settings = settings(max_examples=25, stateful_step_count=15, deadline=None,
                                     suppress_health_check=[HealthCheck.too_slow])
TestHotSwap = HotSwap.TestCase
