"""The board's safety invariants (docs/architecture.md, "Safety invariants"), checked from
outside the firmware against the emulated hardware, and a hypothesis state machine that drives
the whole firmware (fast lane) through random host commands, faults, swaps, floods and reboots.

The oracle never asks the firmware what it thinks: it reads the emulated parts (regulator
output, enable and reset lines, true sensor temperatures, what is seated in each slot) and its
own record of what the host asked. Used by test_safety_stateful.py (a bounded slice) and by
tools/safety_campaign.py (long runs, and the planted-defect check)."""

from __future__ import annotations

import json

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from hostlib.eeprom_image import module_image
from hostlib.sim.fastlane import FastBoard

CHECK_MS = 20  # the oracle looks at the hardware this often (board ms)
PERIOD_MS = 100  # modular-4x control period
SENSOR_GAP_MS = int(1.5 * PERIOD_MS)  # longest a powered module's sensor may go unread (see check)
NOISE_C = 0.5  # sensor noise margin: a true temperature this far past dangerous reads past it
GOOD = "good"
KINDS = (GOOD, "blank", "corrupt", "incompatible", "overvolt")
VOUTS_MV = (4200, 4600, 5000)
SENSORS = ("inlet", "outlet")


def image(kind: str, serial: str, vout_mv: int = 4600) -> bytes:
    if kind == GOOD:
        return module_image(serial, vout_mv=vout_mv)
    if kind == "blank":
        return b"\xff" * 256
    if kind == "corrupt":
        img = bytearray(module_image(serial, vout_mv=vout_mv))
        img[20] ^= 0x55
        img[0x40 + 20] ^= 0x55
        return bytes(img)
    if kind == "incompatible":
        return module_image(serial, chip_id=0x1366, vout_mv=vout_mv)
    return module_image(serial, vout_mv=9000)  # rated outside the board's envelope


class Violation(AssertionError):
    pass


class Oracle:
    """What may be true of the hardware at any instant, given what the test did."""

    def __init__(self, fb: FastBoard) -> None:
        self.fb = fb
        lim = fb.cfg["limits"]
        self.danger = lim["thermal"]["dangerous_c"]
        self.vmin, self.vmax = lim["vout"]["min"], lim["vout"]["max"]
        self.fmax = lim["freq_mhz"]["max"]
        n = len(fb.cfg["slots"])
        self.slots = range(n)
        self.kind = [GOOD] * n
        self.serial = [f"HB0000-{i:02d}" for i in self.slots]  # the simulator's defaults
        self.allowed_v = [lim["vout"]["default"]] * n  # highest voltage this insertion may get
        self.was_on = [False] * n  # the regulator has been up since reset was last asserted
        self.tripped = [False] * n  # a regulator trip latched, not yet cleared by the host
        self.trip_clears = [0] * n  # the regulator's CLEAR_FAULTS-while-tripped count the host allowed
        self.hb: tuple[str, float] | None = None  # the armed contract (persists on flash)
        self.last_host = 0.0
        self.boot_ms = 0.0
        self.hb_off = False  # the 'off' policy has fired: everything off until resume
        self.curtailed = False
        self.curtail_stored = False
        self.since: dict[tuple, float] = {}
        self.ticks = (0.0, fb.app.ticks)

    # -------------------------------------------------------------- what the test tells it
    def host_request(self, op: str, args: dict, reply: dict) -> None:
        now = self.fb.clock.ms
        self.last_host = now
        if not reply.get("ok"):
            return
        slots = [args["module"]] if "module" in args else list(self.slots)
        if op == "clear":
            for s in slots:
                self.tripped[s] = False
                hw = self.fb.sim.modules[s]
                self.trip_clears[s] = 0 if hw is None else hw.vrm.trip_clears  # the host allowed these
        elif op == "resume":
            self.hb_off = self.curtailed = self.curtail_stored = False
        elif op == "curtail" and args.get("level", 0) == 0:
            self.curtailed = self.curtail_stored = True
        elif op == "curtail":
            self.curtailed = self.curtail_stored = False  # a level > 0 keeps modules running
        elif op == "heartbeat":
            p = args.get("policy")
            self.hb = None if p is None else (p, float(args["timeout_s"]))
        elif op == "set_vout":
            for s in slots:
                if self.fb.app.modules[s].serial == self.serial[s] and self.kind[s] == GOOD:
                    self.allowed_v[s] = max(self.allowed_v[s], float(args["volts"]))

    def seated(self, slot: int, kind: str, serial: str, vout_mv: int) -> None:
        self.kind[slot] = kind
        self.serial[slot] = serial
        self.allowed_v[slot] = vout_mv / 1000.0
        self.tripped[slot] = False
        self.trip_clears[slot] = 0

    def rebooted(self) -> None:
        self.boot_ms = self.fb.clock.ms
        self.fb.sim.io_last.clear()  # the MCU's reset is not a gap in its own looking
        self.fb.sim.io_gap_max.clear()
        self.hb_off = False
        self.curtailed = self.curtail_stored
        self.since.clear()
        self.ticks = (self.fb.clock.ms, self.fb.app.ticks)

    # -------------------------------------------------------------- the invariants
    def _hold(self, key: tuple, active: bool, tol_ms: float, what: str) -> None:
        now = self.fb.clock.ms
        if not active:
            self.since.pop(key, None)
            return
        t0 = self.since.setdefault(key, now)
        if now - t0 > tol_ms:
            raise Violation(f"at {now:.0f} board ms, for {now - t0:.0f} ms: {what}")

    def check(self) -> None:
        fb = self.fb
        sim = fb.sim
        now = fb.clock.ms
        if self.hb is not None and self.hb[0] in ("off", "curtail"):
            if now - max(self.last_host, self.boot_ms) > self.hb[1] * 1000 + PERIOD_MS:
                if self.hb[0] == "off":
                    self.hb_off = True
                else:
                    self.curtailed = True
        ms, ticks = self.ticks
        if fb.app.ticks != ticks:
            self.ticks = (now, fb.app.ticks)
        elif now - ms > 2 * PERIOD_MS + CHECK_MS:
            raise Violation(f"at {now:.0f} board ms: no control step for {now - ms:.0f} ms")
        assert sim.vrm_commands_outside() == [], f"VOUT_COMMAND outside limits: {sim.vrm_commands_outside()}"
        for s in self.slots:
            hw = sim.modules[s]
            if hw is None:
                continue
            on = hw.vrm.enabled()
            for i in range(len(hw.chain.chips)):
                f = hw.chain.freq_of(i)
                assert f <= self.fmax + 0.5, f"slot {s} chip {i} at {f} MHz > {self.fmax}"
            if (self.tripped[s] and not hw.vrm.tripped) or hw.vrm.trip_clears > self.trip_clears[s]:
                raise Violation(f"slot {s}: regulator trip cleared without a host clear")
            if hw.vrm.tripped:
                self.tripped[s] = True
            fw = fb.app.modules[s]
            if on:
                self.was_on[s] = True
            elif sim.reset_lines[s]:
                self.was_on[s] = False  # held in reset while off: the next release needs power-good
            # a regulator that drops out under a running chain gets a control period to be seen;
            # a chain released from reset before its regulator was ever up gets none
            # while the expander does not answer nobody can move its lines; from the moment it
            # does, the firmware gets the same time as ever (an off that did not take is re-sent)
            self._hold(("reset", s), not sim.reset_lines[s] and not on and not sim.expander_nack,
                       PERIOD_MS + CHECK_MS if self.was_on[s] else 0,
                       f"slot {s}: chain out of reset without power-good")
            if not on:
                for k in list(self.since):
                    if k[1] == s and k[0] != "reset":
                        self.since.pop(k)
                for _, key in self._sensor_keys(s):  # gaps count from power-up
                    sim.io_last.pop(key, None)
                    sim.io_gap_max.pop(key, None)
                continue
            assert self.kind[s] == GOOD, f"slot {s}: powered a module that is {self.kind[s]}"
            v = hw.vrm._v(0x21)
            if v > self.allowed_v[s] + 0.026:
                tu = fb.app.tuning.tuner(s)
                raise Violation(
                    f"slot {s}: {v:.3f} V on a module allowed {self.allowed_v[s]:.3f} V ({self.serial[s]}); "
                    f"writes {list(hw.vrm.vout_writes)}, fw vout_user {fw.vout_user} ident "
                    f"{fw.ident and fw.ident.get('vout_mv')}, tuner mode {tu.mode} vs {tu.vs} vmax {tu.search.vmax}")
            hot = [name for name, d in hw.sensors.items() if d.fault is None and d.source() >= self.danger + NOISE_C]
            self._hold(("hot", s), bool(hot), PERIOD_MS + CHECK_MS, f"slot {s} powered with {hot} dangerous")
            bad = [name for name, d in hw.sensors.items() if d.fault in ("open", "short")]
            self._hold(("sensor", s), bool(bad), 3 * PERIOD_MS + CHECK_MS, f"slot {s} powered with sensor {bad} failed")
            self._hold(("nack", s), hw.vrm.nack and sim.vrm_enable[s], 2 * PERIOD_MS,
                       f"slot {s}: regulator not answering, enable still high")
            self._hold(("swap", s), fw.serial != self.serial[s], fb.app.id_check_ms + 2 * PERIOD_MS,
                       f"slot {s}: powered as {fw.serial}, holds {self.serial[s]}")
            self._hold(("hb", s), self.hb_off, PERIOD_MS + CHECK_MS, f"slot {s} powered under heartbeat policy off")
            # the thermal guard looks at every sensor of a powered module, seen on the bus
            # whatever the firmware thinks it did (a flood must not starve it). Each control
            # period, also while another module's chain is brought up (App._between guards
            # the others between chips); the half period is the oracle's own sampling
            for name, key in self._sensor_keys(s):
                gap = sim.io_gap_max.pop(key, 0.0) * 1000
                if gap > SENSOR_GAP_MS:
                    raise Violation(f"at {now:.0f} board ms: slot {s} sensor {name} unread for {gap:.0f} ms "
                                    f"while powered (firmware: {fw.state}/{fw.cause}; last events "
                                    f"{list(fb.app.events.items)[-4:]})")
            self._hold(("curtail", s), self.curtailed, 1000, f"slot {s} powered while curtailed to 0")

    def _sensor_keys(self, slot: int) -> list[tuple[str, tuple[int, int]]]:
        """(name, (bus, addr)) of each temperature sensor of a slot."""
        return [(sc["name"], (sc["bus"], sc["addr"])) for sc in self.fb.cfg["slots"][slot].get("sensors", [])]

    def run(self, board_ms: float) -> None:
        end = self.fb.clock.ms + board_ms
        while self.fb.clock.ms < end:
            self.fb.run_for(min(CHECK_MS, end - self.fb.clock.ms))
            self.check()


def sensor_specs(slots=range(4)) -> list[str]:
    return [f"sensor:m{s}.{n}:{mode}" for s in slots for n in SENSORS for mode in ("open", "short", "stuck")]


FAULTS = (sensor_specs() + [f"vrm:{s}:{m}" for s in range(4) for m in ("ot", "oc", "uv", "nack", "enable_low")]
          + [f"chip:{s}.5:dead" for s in range(4)] + [f"link:{s}.11" for s in range(4)])


class SafetyMachine(RuleBasedStateMachine):
    """Random sequences against the whole firmware; the oracle checks every CHECK_MS."""

    @initialize()
    def boot(self):
        import tempfile
        from pathlib import Path

        from safety_cases import quick_board  # the same policy with a 3 s cool-down
        self.fb = FastBoard(quick_board(Path(tempfile.mkdtemp(prefix="hbsafety-"))))
        self.oracle = Oracle(self.fb)
        self.active: set[str] = set()
        self.n = 0
        self.oracle.run(3000)

    # ------------------------------------------------------------------ host
    def _host(self, op: str, **args) -> dict:
        self.n += 1
        text = self.fb.request(op, rid=self.n, **args)
        reply = json.loads(text.splitlines()[-1][4:])
        self.oracle.host_request(op, args, reply)
        return reply

    @rule(module=st.one_of(st.none(), st.integers(0, 3)))
    def clear(self, module):
        self._host("clear", **({} if module is None else {"module": module}))

    @rule()
    def resume(self):
        self._host("resume")

    @rule(level=st.sampled_from([0, 0, 50]))
    def curtail(self, level):
        self._host("curtail", level=level)

    @rule(w=st.sampled_from([400.0, 900.0, 1300.0, 5000.0]))
    def power(self, w):
        self._host("power", target_w=w)

    @rule(mhz=st.sampled_from([50.0, 400.0, 525.0, 625.0, 700.0]), module=st.one_of(st.none(), st.integers(0, 3)))
    def freq(self, mhz, module):
        self._host("set_freq", mhz=mhz, **({} if module is None else {"module": module}))

    @rule(v=st.sampled_from([4.0, 4.3, 4.6, 5.0, 5.5]), module=st.one_of(st.none(), st.integers(0, 3)))
    def vout(self, v, module):
        self._host("set_vout", volts=v, **({} if module is None else {"module": module}))

    @rule(policy=st.sampled_from(["off", "curtail", "hold", None]), timeout=st.integers(1, 8))
    def heartbeat(self, policy, timeout):
        self._host("heartbeat", policy=policy, timeout_s=timeout)

    @rule(policy=st.sampled_from(["off", "curtail"]), timeout=st.integers(1, 5))
    def heartbeat_then_power_cut(self, policy, timeout):
        """Issue 10 case 4 as one step: a stored contract, a power cut, and no host after it."""
        self.heartbeat(policy, timeout)
        self.reboot()
        self.oracle.run((timeout + 3) * 1000)

    @rule(slot=st.integers(0, 3), away=st.integers(0, 1500))
    def enable_stuck_then_reseat(self, slot, away):
        """Issue 10 case 5 as one step: a module whose regulator enable line is stuck low is
        seated again: its chain must stay in reset (no power-good), blamed on the regulator."""
        spec = f"vrm:{slot}:enable_low"
        self.fb.sim.inject(spec)
        self.active.add(spec)
        self.swap(slot, GOOD, VOUTS_MV[1], away)
        self.oracle.run(4000)

    @rule(slot=st.integers(0, 3), ms=st.integers(50, 1500), why=st.sampled_from(["oc", "curtail", "overheat"]))
    def off_during_expander_nack(self, slot, ms, why):
        """The audit's off-that-did-not-take as one step: the expander (enable and reset lines)
        stops answering just as a module must go off; once it answers, every line must follow."""
        spec = "i2c:expander:nack"
        self.fb.sim.inject(spec)
        if why == "oc":
            self.inject(f"vrm:{slot}:oc")
        elif why == "curtail":
            self.curtail(0)
        else:
            self.ambient(80.0)
        self.oracle.run(ms)
        self.fb.sim.clear(spec)
        self.oracle.run(2000)

    @rule(n=st.integers(20, 200))
    def flood(self, n):
        """Pipelined requests, junk among them: served in bounded shares of each period."""
        for i in range(n):
            self.fb.link.lines.append(b"@hb {junk" if i % 3 else
                                      b'@hb {"id": %d, "op": "status"}' % (10000 + i))
        while self.fb.link.lines:
            self.oracle.run(CHECK_MS)
        self.oracle.last_host = self.fb.clock.ms
        self.fb.output.clear()

    # ------------------------------------------------------------------ faults
    @rule(spec=st.sampled_from(FAULTS))
    def inject(self, spec):
        self.fb.sim.inject(spec)
        self.active.add(spec)

    @precondition(lambda self: self.active)
    @rule(data=st.data())
    def clear_fault(self, data):
        spec = data.draw(st.sampled_from(sorted(self.active)))
        self.fb.sim.clear(spec)
        self.active.discard(spec)

    @rule(slot=st.integers(0, 3), n=st.integers(1, 4))
    def trip_repeatedly(self, slot, n):
        """Sensor dropouts n times, each followed by its recovery: up to the latched lockout."""
        spec = f"sensor:m{slot}.inlet:open"
        for i in range(n):
            self.fb.sim.inject(spec)
            self.oracle.run(500)
            self.fb.sim.clear(spec)
            self.active.discard(spec)
            self.oracle.run((3000 << i) + 2500)  # the cool-down doubles per retry

    @rule(slot=st.integers(0, 3), away=st.integers(0, 1500), which=st.sampled_from(SENSORS))
    def latch_then_replace(self, slot, away, which):
        """Issue 10 case 1 as one step: a slot latched by repeated trips gets a new module,
        whose own sensor then fails: the new module must be guarded like any other."""
        self.trip_repeatedly(slot, 4)
        self.swap(slot, GOOD, VOUTS_MV[0], away)
        self.oracle.run(3000)
        spec = f"sensor:m{slot}.{which}:open"
        self.fb.sim.inject(spec)
        self.active.add(spec)
        self.oracle.run(1000)

    @rule(slot=st.one_of(st.none(), st.integers(0, 3)), hot=st.sampled_from([72.0, 80.0]))
    def overheat_then_clear_resume(self, slot, hot):
        """Issue 10 case 2 as one step: hot air until the guard shuts modules down, then the
        host clears and resumes during the cool-down."""
        self.ambient(hot)
        mods = self.fb.app.modules
        for _ in range(30):  # until the guard has shut something down (or a minute passed)
            self.oracle.run(2000)
            if any(m.thermal_stop for m in mods):
                break
        self.clear(slot)
        self.resume()
        self.oracle.run(8000)

    @rule(c=st.sampled_from([25.0, 60.0, 72.0, 80.0]))
    def ambient(self, c):
        self.fb.sim.set_ambient(c)

    @rule(f=st.sampled_from([1.0, 0.5, 0.2]))
    def airflow(self, f):
        self.fb.sim.inject(f"airflow:{f:g}")

    # ------------------------------------------------------------------ swaps and power
    def _seat(self, slot, kind, vout_mv):
        self.n += 1
        serial = f"S{self.n}"
        self.fb.sim.insert_module(slot, image(kind, serial, vout_mv))
        self.oracle.seated(slot, kind, serial, vout_mv if kind == GOOD else 0)

    @rule(slot=st.integers(0, 3), kind=st.sampled_from(KINDS), vout=st.sampled_from(VOUTS_MV),
          away=st.integers(0, 1500))
    def swap(self, slot, kind, vout, away):
        """Another module into the slot: slowly, or faster than one presence sample (away=0)."""
        if self.fb.sim.modules[slot] is not None:
            self.fb.sim.remove_module(slot)
        if away:
            self.oracle.run(away)
        self._seat(slot, kind, vout)

    @rule(slot=st.integers(0, 3))
    def remove(self, slot):
        if self.fb.sim.modules[slot] is not None:
            self.fb.sim.remove_module(slot)

    @rule()
    def reboot(self):
        """An MCU reset or a power cut: the firmware starts again from its flash."""
        self.fb.reboot()
        self.oracle.rebooted()

    @rule(w=st.sampled_from([2000.0, -5.0, 900.0]))
    def stored_settings(self, w):
        """Settings written by another board file or an older firmware, then a reboot: an
        invalid value is dropped with an event, never fatal."""
        self.fb.store.data = {"power_target_w": w, "curtailed": False, "curtail_level": 0,
                              "heartbeat": None}
        self.oracle.hb = None
        self.oracle.curtail_stored = False
        self.reboot()

    @rule(ms=st.integers(100, 8000))
    def run(self, ms):
        self.oracle.run(ms)

    @invariant()
    def hardware_is_safe_now(self):
        if hasattr(self, "oracle"):
            self.oracle.check()
