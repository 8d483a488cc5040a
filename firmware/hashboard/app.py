# The controller: builds drivers from the board definition and runs the control loop.
# Hardware, clock and settings store are injected (hal on a board, emulators in the fast lane).
import gc
import json

from . import PROTOCOL_VERSION, VERSION, argcheck, bm1370, ctltarget, identity
from .auth import Authority
from .compat import ticks_add, ticks_diff
from .consoleguard import ConsoleGuard
from .events import Events
from .healthlog import HealthLog
from .expander import TCA9535
from .module import EMPTY, OFF, RUNNING, Module
from .slotfsm import FAULTY
from .power import PowerManager
from .protocol import Protocol, ProtocolError
from .settings import MemoryStore
from .trial import TrialGuard
from .tuning import Tuning

CHIPS = {"BM1370": bm1370}
_PRESENT_SAMPLES = 2  # consecutive equal samples before a presence change counts (debounce)
_BUSY = ("identifying", "powering", "enumerating", "ramping")
_LINES_PER_PASS = 4  # host requests served per loop pass: a flood cannot starve the control step


# (module, its ops) for Protocol.lazy
_LAZY_OPS = (
    ("secops", ("challenge", "lock", "unlock", "repl", "verify_key")),
    ("admitcheck", ("admit_check",)),
    ("storeops", ("provision", "save_profile", "repair_log")),
    ("tuneops", ("tune", "tune_status", "profiles")),
    ("diagops", ("diag", "diag_status")),
)


class App:
    def __init__(self, board, hw, clock, out, store=None, boot=None):
        self.board = board
        self.hw = hw
        self.clock = clock
        self.out = out
        self.store = store if store is not None else MemoryStore()
        self.events = Events()
        chip = CHIPS[board["chip"]]
        self.chip = chip
        t = board["timing"]
        lim = board["limits"]
        self.period = t["control_period_ms"]
        self.tele_period = t["telemetry_period_ms"]
        self.expander = None
        self.int_pin = None
        if "expander" in board:
            e = board["expander"]
            self.expander = TCA9535(hw.i2c(e["bus"]), e["addr"])
            hw.attach_expander(self.expander)
            if "int_pin" in e:
                self.int_pin = hw.pin_in(e["int_pin"])
        self.poll_ms = t.get("presence_poll_ms", 500)
        self._t_poll = 0
        self.id_check_ms = t.get("identity_check_ms", 1000)
        self._t_id = 0
        self.modules = [
            Module(i, s, board, hw, clock, self.emit, chip) for i, s in enumerate(board["slots"])
        ]
        self._t_between = 0
        for m in self.modules:
            m.chain.between = self._between  # one bound method, made once
        n = len(self.modules)
        if self.expander is not None:
            for m in self.modules:
                if not m.fixed:
                    m.still_present = self._present_line(m.slot)
        self.present = bytearray(n)
        self._pending = bytearray(n)
        self._pending_count = bytearray(n)
        f = lim["freq_mhz"]
        nominal = lim.get("nominal_power_w", 330.0 * n)
        self.power = PowerManager(f["min"], f["max"], f["default"], f["step"], self.period, nominal,
                                  argcheck.power_max_w(board))
        self.auth = Authority(clock, self.store)
        self.repl_requested = False  # an authorized host asked for the REPL (secops.op_repl)
        self.protocol = Protocol(self)
        # ops loaded at their first use: a board that never needs them never holds their code
        for where, ops in _LAZY_OPS:
            for op in ops:
                self.protocol.lazy[op] = where
        self.tuning = Tuning(self, chip)
        self.diag = None  # diagops.Diagnostics, made when the diag ops first load
        self.ctl = None
        ct = board.get("control_target")
        if ct is not None:
            mem = bytearray(ctltarget.SIZE)
            ident = identity.board_identity(self.store)
            ctl = ctltarget.ControlTarget(mem, VERSION, PROTOCOL_VERSION, n, ident["serial"] if ident else "")
            if hw.control_target(ct, mem) is not None:
                self.ctl = ctl
        self.state = "booting"
        self.settings = self.store.load(board)
        self.hb_lost = False
        self.hb_applied = None
        self.wdt = None
        now = clock.ticks_ms()
        self.boot_ms = now
        self._next = now
        self._next_tele = ticks_add(now, self.tele_period)
        self.ticks = 0
        self.exp_ok = True
        self.heap_peak = 0
        self.heap_total = 0
        self.boot = boot
        self.trial = TrialGuard(boot, t.get("trial_window_ms", 60000), now)
        self.healthlog = HealthLog(self)  # after boot_ms: its operating seconds count from it
        self.protocol.ops["health"] = self._op_health
        self.alloc = None  # an allocation measurement (op alloc_probe, tools/bench_ram.py)
        self.protocol.ops["alloc_probe"] = self._op_alloc_probe

    def _op_alloc_probe(self, args):
        """{"periods": N}: measure heap allocation over the next N control periods; {}: the
        measurement so far (docs/benchmarks.md, "RAM")."""
        n = args.get("periods")
        if n is not None:
            argcheck.integer("periods", n, 1, 100000)
            if not hasattr(gc, "mem_alloc"):
                raise ProtocolError("bad_args", "this runtime has no gc.mem_alloc")
            from .allocprobe import AllocProbe

            self.alloc = AllocProbe(n, [m.chain.work for m in self.modules])
            if args.get("sections") is True:  # profiling: where it goes (allocsections.py)
                from .allocsections import instrument

                self.alloc.sections = instrument(self)
        return None if self.alloc is None else self.alloc.doc()

    def _op_health(self, args):
        """The health history's records, a page a request (healthwrite.op_health)."""
        r = self.healthlog.run(lambda w: w.op_health(self.healthlog, self, args))
        if r is None:
            raise ProtocolError("busy", "no room to read the health history now (a diag run holds the heap): ask again")
        return r

    def start(self):
        now = self.clock.ticks_ms()
        if self.expander is not None:
            try:
                self.expander.init()
            except OSError:
                self.exp_ok = False
        for m in self.modules:
            m.reset(True)
            m.enable(False)
        s = self.settings
        if s["power_target_w"] is not None:
            try:
                self.power.set_target(s["power_target_w"])
            except ValueError as e:  # stored under other limits (another board file): dropped
                s["power_target_w"] = None
                self._save()
                self.emit(now, "settings", None, "power_target_w dropped: %s" % e)
        if s["tune"] is not None:
            try:
                self.tuning.load(s["tune"])
            except (TypeError, ValueError) as e:  # a hand-edited or foreign file: never fatal  # stored under other limits: dropped, as a power target
                s["tune"] = None
                self._save()
                self.emit(now, "settings", None, "tune dropped: %s" % e)
        for m in self.modules:  # shed modules stay off across a reset, as a curtailment does
            if s["shed"] >> m.slot & 1:
                m.shed = True
                m.curtail(now, True)
        if s["curtailed"]:
            self._curtail(now, s["curtail_level"], persist=False)
        wdt_ms = self.board["timing"].get("watchdog_ms")
        if wdt_ms:
            self.wdt = self.hw.watchdog(wdt_ms)
        self.emit(now, "boot", None, self.board["name"])

    # ------------------------------------------------------------ events
    def emit(self, now, kind, module, detail):
        """Record an event and announce it on the link as an @ev line (hosts may ignore it)."""
        self.events.add(now, kind, module, detail)
        self.out('@ev {"seq": %d, "ms": %d, "kind": "%s", "module": %s, "detail": %s}\n' % (
            self.events.seq, now, kind, "null" if module is None else module, json.dumps(detail)))

    # ------------------------------------------------------------ settings that persist
    def _save(self):
        try:
            self.store.save(self.settings)
        except OSError:
            self.emit(self.clock.ticks_ms(), "fault", None, "settings:write_failed")

    def set_power_target(self, watts):
        """A board power target: held at once by the frequency cap (PowerManager), reached at
        the best J/TH by the tuner underneath it."""
        if watts is None:
            self.set_tuning("off", 0.0)
        else:
            self.set_tuning("power", watts)
        self.emit(self.clock.ticks_ms(), "power", None, "target %s W%s" % (
            watts, " (after resume)" if self.power.curtailed else ""))

    def set_tuning(self, mode, goal, module=None):
        if module is None and mode == "power":
            self.power.validate_target(goal)  # ValueError before anything changes or is stored
        self.tuning.set(mode, goal, module)
        if module is None and mode == "power":
            self.power.set_target(float(goal))  # a curtailment stays: the target applies from resume on
        elif module is None:
            self.power.target_w = None  # another goal replaces the board's power target
        self.settings["power_target_w"] = self.power.target_w
        self.settings["tune"] = self.tuning.stored()
        self._save()
        self.emit(self.clock.ticks_ms(), "tune", module, "%s %s" % (mode, goal))

    def _curtail(self, now, level, persist=True):
        self.power.curtail(level)
        for m in self.modules:
            m.curtail(now, level == 0 or m.shed)
        if persist:
            self.settings["curtailed"] = True
            self.settings["curtail_level"] = level
            self._save()
        self.emit(now, "curtail", None, "level %d%%" % level)

    def curtail(self, level):
        self._curtail(self.clock.ticks_ms(), level)

    def shed(self, slot, on):
        """One module off (grid dispatch sheds the least efficient first) or back on; persisted.
        Back on only as far as the board's own curtailment allows."""
        now = self.clock.ticks_ms()
        m = self.modules[slot]
        m.shed = on
        mask = self.settings["shed"]
        self.settings["shed"] = mask | (1 << slot) if on else mask & ~(1 << slot)
        self._save()
        m.curtail(now, on or (self.power.curtailed and self.power.level == 0))
        self.emit(now, "shed" if on else "unshed", slot, "")

    def resume(self):
        """End the board's curtailment, the modules' sheds and a heartbeat policy in force."""
        now = self.clock.ticks_ms()
        self.power.resume()
        self.hb_lost = False
        self.hb_applied = None  # status heartbeat.applied: a policy in force until this resume
        self.settings["shed"] = 0
        for m in self.modules:
            m.shed = False
            m.curtail(now, False)
            m.hold_heartbeat(now, False)
            if m.state == OFF and m.cause in ("heartbeat", "cleared"):
                m.restart(now)  # gated: never a module the thermal policy holds off
        self.settings["curtailed"] = False
        self._save()
        self.emit(now, "resume", None, "target %s" % self.power.target_w)

    def arm_heartbeat(self, policy, timeout_s):
        self.settings["heartbeat"] = None if policy is None else {"policy": policy, "timeout_s": timeout_s}
        self._save()

    def host_seen(self, now):
        self.protocol.last_seen_ms = now  # the serial link or the control-board I2C interface
        if self.hb_lost:
            self.hb_lost = False
            self.emit(now, "heartbeat", None, "restored after %s" % self.hb_applied)

    def _check_heartbeat(self, now):
        hb = self.settings["heartbeat"]
        if hb is None or self.hb_lost:
            return
        last = self.protocol.last_seen_ms
        if last is None:
            last = self.boot_ms  # a stored contract runs from boot, host or no host
        if ticks_diff(now, last) < hb["timeout_s"] * 1000:
            return
        self.hb_lost = True
        self.hb_applied = hb["policy"]
        self.emit(now, "heartbeat", None, "lost: " + hb["policy"])
        if hb["policy"] == "curtail":
            self._curtail(now, 0, persist=False)
        elif hb["policy"] == "off":
            for m in self.modules:
                m.hold_heartbeat(now, True)

    # ------------------------------------------------------------ presence (debounced)
    def _presence_due(self, now):
        """Read the expander when its INT line is asserted (a present line changed), while a
        debounce is in progress, or on the slow fallback poll (a broken INT line)."""
        if self.expander is None:
            return True
        if self.int_pin is not None and self.int_pin.value() == 0:
            return True
        for c in self._pending_count:
            if c:
                return True
        if ticks_diff(now, self._t_poll) >= self.poll_ms:
            return True
        return False

    def _present_line(self, slot):
        def still_present():
            """The slot's present line right now (a failed step asks: was it a yank?)."""
            mask = self._sample_presence()
            if mask < 0 or (mask >> slot) & 1:
                return True
            self.present[slot] = 0  # as for any powered removal: no debounce wait
            self._pending_count[slot] = 0
            return False

        return still_present

    def _sample_presence(self):
        if self.expander is None:
            return 1  # fixed single slot
        try:
            mask = self.expander.present_mask()
            if not self.exp_ok:
                self.emit(self.clock.ticks_ms(), "fault", None, "expander:answering")
            self.exp_ok = True
            return mask
        except OSError:
            if self.exp_ok:  # said once: presence is held as it was, the off path is PMBus alone
                self.emit(self.clock.ticks_ms(), "fault", None, "expander:no_response")
            self.exp_ok = False
            return -1

    def _update_presence(self, now):
        if not self._presence_due(now):
            return
        self._t_poll = now
        mask = self._sample_presence()
        for i in range(len(self.modules)):  # (no enumerate: every control period)
            m = self.modules[i]
            if m.fixed:
                self.present[i] = 1
                continue
            if mask < 0:
                continue  # expander unreadable: keep last known state
            p = (mask >> i) & 1
            if p == self.present[i]:
                self._pending_count[i] = 0
                continue
            if p == self._pending[i]:
                self._pending_count[i] += 1
            else:
                self._pending[i] = p
                self._pending_count[i] = 1
            if self._pending_count[i] >= _PRESENT_SAMPLES or (p == 0 and m.powered()):
                # removal of a powered module acts at once: power off within one period
                self.present[i] = p
                self._pending_count[i] = 0

    # ------------------------------------------------------------ control
    def _sample_heap(self):
        # Live heap after a collection, once per telemetry period: a planned 1-2 ms pause instead
        # of an unplanned full-heap one, and a true high-water mark of retained data.
        # (MicroPython only; CPython has no gc.mem_*.)
        alloc = getattr(gc, "mem_alloc", None)
        if self.alloc is not None and self.alloc.left > 0:
            return  # a step's allocation is being measured: no collection inside it
        if alloc is not None:
            gc.collect()
            r = self.hw.heap_reserved()
            a = alloc() - r
            if a > self.heap_peak:
                self.heap_peak = a
            self.heap_total = a + gc.mem_free()

    def control_step(self, now):
        self.ticks += 1
        if self.wdt is not None:
            self.wdt.feed()
        self._update_presence(now)
        id_due = ticks_diff(now, self._t_id) >= self.id_check_ms
        if id_due:
            self._t_id = now
        for i in range(len(self.modules)):  # (no enumerate: no iterator and tuples a period)
            m = self.modules[i]
            m.step(now, self.present[i])
            m.check_vrm(now)
            if id_due and self.present[i]:
                m.check_identity(now)
        p = self.power_mw()
        cap = self.power.step_cap(p, now)
        at_default = True  # a plain loop: no generator object per control period
        for m in self.modules:
            if m.state != EMPTY and (m.state != "hashing" or not m.default_band[0] < m.chain.cur_mhz < m.default_band[1]):
                at_default = False
        self.power.observe_full(p, at_default)
        for m in self.modules:
            m.power_cap = cap
        if self.ctl is not None:
            self.ctl.service(self, now)
        if self.diag is not None:
            self.diag.step(now)  # a diagnostic run's next piece (one chip's read-back at most)
        self._check_heartbeat(now)
        if ticks_diff(now, self._next_tele) >= 0:
            self._next_tele = ticks_add(now, self.tele_period)
            for m in self.modules:
                m.telemetry(now)
            self.healthlog.step(now)
            self.tuning.step(now, RUNNING)
            self._sample_heap()
            if self.ctl is not None:
                self.ctl.refresh(self)
            if self.trial.active():
                self._trial_step(now)
        state = self._board_state()
        if state != self.state:
            self.state = state
            self.emit(now, "state", None, state)

    def _between(self, chain):
        """Called by a chain between chips while it is brought up (up to ~0.6 s in one call):
        every other module's thermal guard still sees its sensors each control period."""
        now = self.clock.ticks_ms()
        if 0 <= ticks_diff(now, self._t_between) < self.period:
            return  # (a stamp from more than half the tick range ago reads negative: go on)
        self._t_between = now
        for m in self.modules:
            if m.chain is not chain:  # the one being brought up is in this call (others may
                m.thermal_guard(now)  # be enumerating too, in lockstep after a resume)

    def _trial_step(self, now):
        verdict = self.trial.step(self, now)
        if verdict == "confirmed":
            self.emit(now, "update", None, "confirmed: %s" % self.trial.why)
        elif verdict == "failed":
            self.emit(now, "update", None, "trial failed: %s" % self.trial.why)
            self.shutdown("trial app unhealthy")
            self.boot.restart()  # the next boot counts against the trial; 3 and it is reverted

    def _board_state(self):
        # counted in one plain pass: no list or generator per control period
        busy = running = faulty = empty = 0
        throttled = hashing = False
        for m in self.modules:
            s = m.state
            if s in _BUSY:
                busy += 1
            if s in RUNNING:
                running += 1
            if s in FAULTY:
                faulty += 1
            if s == EMPTY:
                empty += 1
            if s == "throttled":
                throttled = True
            elif s == "hashing":
                hashing = True
        if self.power.curtailed:
            return "curtailed"
        if busy and not running:
            return "booting"
        if throttled:
            return "throttled"
        if hashing:
            return "hashing"
        if faulty:
            return "fault"
        if empty == len(self.modules) and ticks_diff(self.clock.ticks_ms(), self.boot_ms) < 2000:
            return "booting"
        return "off"

    def power_w(self):
        return self.power_mw() / 1000

    def power_mw(self):
        """The board's draw in mW, an integer (every control period: no float boxed)."""
        p = 0
        for m in self.modules:
            if m.state != EMPTY:
                p += m.mv * m.ma // 1000
        return p

    def shutdown(self, cause):
        now = self.clock.ticks_ms()
        for m in self.modules:
            if m.state != EMPTY:
                m.power_off(now, "off", cause)
        self.state = "off"

    def poll_due(self):
        """Run a control step if one is due; return ms until the next one."""
        now = self.clock.ticks_ms()
        wait = ticks_diff(self._next, now)
        if wait <= 0:
            self._next = ticks_add(self._next, self.period)
            if ticks_diff(self._next, now) <= 0:  # fell behind: do not try to catch up
                self._next = ticks_add(now, self.period)
            if self.alloc is not None and self.alloc.left > 0:
                self.alloc.step(self.control_step, now)
            else:
                self.control_step(now)
            wait = ticks_diff(self._next, self.clock.ticks_ms())
            ramp = False
        else:
            ramp = True
        # frequency ramps step at the board's PLL settle time, not only once per control period
        for i in range(len(self.modules)):  # (no enumerate: this runs every loop pass)
            m = self.modules[i]
            if m.state == "ramping" and self.present[i]:
                if ramp:
                    m.ramp_step(now)
                wait = min(wait, m.flim["settle_ms"])
        return wait

    def run(self, link):
        """Main loop: host lines and control steps, sleeping in small slices between."""
        self.start()
        guard = ConsoleGuard(self, link)
        self.out('@hb {"ready":true,"proto":%d}\n' % self.protocol.version)
        while True:
            wait = self.serve(link)
            guard.tick(self.clock.ticks_ms())
            if wait > 0:
                self.clock.sleep_ms(min(wait, 5))

    def serve(self, link):
        """One pass of the main loop: at most _LINES_PER_PASS host lines, then the control step
        if it is due, so a flood of requests gets a bounded share of each control period.
        Returns ms the loop may sleep (0 while more input may be waiting)."""
        n = 0
        while n < _LINES_PER_PASS:
            line = link.poll()
            if line is None:
                break
            self.protocol.handle(line)
            n += 1
        wait = self.poll_due()
        return 0 if n == _LINES_PER_PASS else wait
