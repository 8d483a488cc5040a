# The controller: builds drivers from the board definition and runs the control loop.
# Hardware and clock are injected (hal.Hardware on a board, emulator-backed in the fast lane).
import gc
import json

from . import bm1370
from .compat import ticks_add, ticks_diff
from .events import Events
from .expander import TCA9535
from .module import EMPTY, HASHING, Module
from .protocol import Protocol

CHIPS = {"BM1370": bm1370}
_PRESENT_SAMPLES = 2  # consecutive equal samples before a presence change counts (debounce)


class App:
    def __init__(self, board, hw, clock, out):
        self.board = board
        self.hw = hw
        self.clock = clock
        self.out = out
        self.events = Events()
        chip = CHIPS[board["chip"]]
        self.period = board["timing"]["control_period_ms"]
        self.tele_period = board["timing"]["telemetry_period_ms"]
        self.expander = None
        if "expander" in board:
            e = board["expander"]
            self.expander = TCA9535(hw.i2c(e["bus"]), e["addr"])
            hw.attach_expander(self.expander)
        self.modules = [
            Module(i, s, board, hw, clock, self.emit, chip) for i, s in enumerate(board["slots"])
        ]
        n = len(self.modules)
        self.present = bytearray(n)
        self._pending = bytearray(n)
        self._pending_count = bytearray(n)
        self.protocol = Protocol(self)
        self.state = "booting"
        now = clock.ticks_ms()
        self.boot_ms = now
        self._next = now
        self._next_tele = ticks_add(now, self.tele_period)
        self.ticks = 0
        self.exp_ok = True
        self.heap_peak = 0
        self.heap_total = 0

    def start(self):
        now = self.clock.ticks_ms()
        if self.expander is not None:
            try:
                self.expander.init()
            except OSError:
                self.exp_ok = False
        for m in self.modules:
            m.reset(True)
            m.vrm.vout_set = 0.0
        self.emit(now, "boot", None, self.board["name"])

    # ------------------------------------------------------------ presence (debounced)
    def _sample_presence(self):
        if self.expander is None:
            return 1  # fixed single slot
        try:
            mask = self.expander.present_mask()
            self.exp_ok = True
            return mask
        except OSError:
            self.exp_ok = False
            return -1

    def _update_presence(self):
        mask = self._sample_presence()
        for i, m in enumerate(self.modules):
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
        if alloc is not None:
            gc.collect()
            a = alloc()
            if a > self.heap_peak:
                self.heap_peak = a
            self.heap_total = a + gc.mem_free()

    def control_step(self, now):
        self.ticks += 1
        self._update_presence()
        for i, m in enumerate(self.modules):
            m.step(now, self.present[i])
        if ticks_diff(now, self._next_tele) >= 0:
            self._next_tele = ticks_add(now, self.tele_period)
            for m in self.modules:
                m.telemetry(now)
            self._sample_heap()
        state = self._board_state()
        if state != self.state:
            self.state = state
            self.emit(now, "state", None, state)

    def _board_state(self):
        busy = False
        hashing = False
        fault = False
        for m in self.modules:
            if m.state == HASHING:
                hashing = True
            elif m.state in ("identifying", "powering", "enumerating", "ramping"):
                busy = True
            elif m.state in ("fault", "unidentified", "incompatible"):
                fault = True
        if busy and not hashing:
            return "booting"
        if hashing:
            return "hashing"
        if fault:
            return "fault"
        if all(m.state == EMPTY for m in self.modules) and ticks_diff(self.clock.ticks_ms(), self.boot_ms) < 2000:
            return "booting"
        return "off"

    def emit(self, now, kind, module, detail):
        """Record an event and announce it on the link as an @ev line (hosts may ignore it)."""
        self.events.add(now, kind, module, detail)
        self.out('@ev {"seq": %d, "ms": %d, "kind": "%s", "module": %s, "detail": %s}\n' % (
            self.events.seq, now, kind, "null" if module is None else module, json.dumps(detail)))

    def power_w(self):
        p = 0.0
        for m in self.modules:
            if m.state != EMPTY:
                p += m.vout * m.iout
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
            self.control_step(now)
            wait = ticks_diff(self._next, self.clock.ticks_ms())
        return wait

    def run(self, link):
        """Main loop: host lines and control steps, sleeping in small slices between."""
        self.start()
        self.out('@hb {"ready":true,"proto":%d}\n' % self.protocol.version)
        while True:
            line = link.poll()
            while line is not None:
                self.protocol.handle(line)
                line = link.poll()
            wait = self.poll_due()
            if wait > 0:
                self.clock.sleep_ms(min(wait, 5))
