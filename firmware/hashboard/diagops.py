# Diagnostics on the board (docs/diagnostics.md): the runs in progress, stepped once a control
# period, and their protocol ops (diag, diag_status), kept out of Protocol and App. A finished
# run appends one compact entry to its module's repair log (date from the host, verdict, first
# finding's code, chip), so the next technician sees the history.
import gc

from . import argcheck
from .protocol import ProtocolError

# diag and diagcodes are imported when a run starts, not at boot: a board flashed from sources
# compiles every module it imports at start-up, and the test plan is not needed until asked for

DIAG_PASS = 8  # repair-log code of a passed diag; a failed one: 0x80 + group/number (below)


def log_code(finding):
    """The repair log's one-byte code for a diag's first finding: 0x80 | (group - 1) << 4 |
    (number - 1), group 1..6 (chain .. storage), number 1..16 within it."""
    c = finding["code"]
    return 0x80 | ((c // 1000 - 1) << 4) | ((c % 100 - 1) & 0x0F)


def finding_code(log):
    """The catalogue code a repair-log code stands for, or None."""
    if log < 0x80 or log > 0xDF:
        return None
    return ((log >> 4 & 0x07) + 1) * 1000 + (log & 0x0F) + 1


class _Result:
    """A finished run: its document."""

    done = True

    def __init__(self, doc):
        self.d = doc
        self.logged = doc["logged"]

    def doc(self):
        return self.d


class Diagnostics:
    """Runs one module's test at a time (the others queue): a small heap holds one test plan,
    and a module under test draws more power than usual while its neighbours keep hashing."""

    def __init__(self, app):
        self.app = app
        self.runs = [None] * len(app.modules)  # type: list  # the last run per slot (kept for its result)
        self.queue = []  # type: list  # (slot, passes, days) waiting for the running one
        self.not_run = [None] * len(app.modules)  # type: list  # why a queued run could not start

    def busy(self, slot):
        r = self.runs[slot]
        return (r is not None and not r.done) or any(q[0] == slot for q in self.queue)

    def start(self, slot, passes, days):
        m = self.app.modules[slot]
        if m.state == "empty":
            raise ValueError("slot %d is empty" % slot)
        if self.busy(slot):
            raise ValueError("module %d is already being diagnosed" % slot)
        self.runs[slot] = None  # the previous result gives way to the new run's
        self.not_run[slot] = None
        self.queue.append((slot, passes, days))

    def _active(self):
        for r in self.runs:
            if r is not None and not r.done:
                return r
        return None

    def step(self, now):
        r = self._active()
        if r is None and self.queue:
            slot, passes, days = self.queue.pop(0)
            m = self.app.modules[slot]
            if m.state == "empty":
                return  # left while queued: nothing to test
            gc.collect()  # the test plan is compiled/loaded now, not at boot
            try:
                from .diag import DiagRun

                r = DiagRun(self.app, m, passes, now, days)
            except MemoryError:  # a board compiling from sources with no room: refuse, do not fall
                self.not_run[slot] = "not enough memory to load the test plan"
                return
            m.under_test = True  # the tuner lets go of it while the test runs
            self.runs[slot] = r
        if r is None:
            return
        m = r.m
        if m.generation != r.gen or m.state == "empty":
            r.abort("module removed during the test")
            self._keep(r)
            return
        try:
            done = r.step(now)
        except Exception as e:  # a test must never take the control loop down with it
            r.abort("test error: %s" % e)
            done = True
        if done:
            self._log(r)
            self._keep(r)

    def _keep(self, r):
        """A finished run is kept as its document only (its run object, stages and arrays go).
        The test plan's code stays loaded: compiled again into a heap the first run left
        fragmented, it did not fit (measured: the second of four modules was refused)."""
        d = r.doc()
        d["logged"] = r.logged
        self.runs[r.m.slot] = _Result(d)
        gc.collect()

    def _log(self, r):
        """The verdict into the module's repair log: pass, or the root cause's code and chip."""
        m = r.m
        if r.aborted:
            r.logged = False  # it tested nothing to the end: no verdict for the log
            return
        if r.grades is not None and m.state != "empty":
            self.app.healthlog.note_grades(m, r.grades, self.app.clock.ticks_ms())
        if r.days is None or m.store.addr is None or m.state == "empty":
            return
        f = r.root()
        code = DIAG_PASS if f is None else log_code(f)
        arg = 255 if f is None or f["chip"] is None else f["chip"]
        try:
            m.repair_log((r.days, code, arg))
            r.logged = True
        except (OSError, ValueError):
            r.logged = False

    def doc(self, slot=None):
        out = []
        for i, r in enumerate(self.runs):
            if r is None or (slot is not None and i != slot):
                continue
            d = r.doc()
            d["logged"] = r.logged
            out.append(d)
        for i, why in enumerate(self.not_run):
            if why is not None and (slot is None or i == slot):
                out.append({"module": i, "serial": self.app.modules[i].serial, "verdict": "not_run",
                            "error": why, "board_s": 0.0, "stages": [], "findings": [], "bad_chips": []})
        for q in self.queue:
            if slot is None or q[0] == slot:
                out.append({"module": q[0], "serial": self.app.modules[q[0]].serial, "verdict": "queued",
                            "board_s": 0.0, "stages": [], "findings": [], "bad_chips": []})
        running = self.queue != [] or self._active() is not None
        return {"running": running, "modules": out}


def install(protocol, app):
    if app.diag is None:
        app.diag = Diagnostics(app)

    def op_diag(args):
        """{"module": M, "passes": 1..3, "days": D}: start a diagnostic run on module M (every
        present module without one); D, the host's date, goes into the repair log entry."""
        mods = protocol._module_arg(args)  # the one named, else every present module
        passes = args.get("passes", 1)
        if isinstance(passes, bool) or not isinstance(passes, int) or not 1 <= passes <= 3:
            raise ProtocolError("bad_args", "passes must be 1, 2 or 3")
        days = args.get("days")
        if days is not None and (isinstance(days, bool) or not isinstance(days, int) or not 0 <= days <= 0xFFFF):
            raise ProtocolError("bad_args", "days must be an integer 0..65535")
        for m in mods:
            try:
                app.diag.start(m.slot, passes, days)
            except ValueError as e:
                raise ProtocolError("bad_args", str(e))
        return {"started": [m.slot for m in mods], "passes": passes}

    def op_diag_status(args):
        """{"module": M}: the runs (in progress or finished) and their documents."""
        m = args.get("module")
        if m is not None:  # a finished run stays readable after its module left
            argcheck.integer("module", m, 0, len(app.modules) - 1)
        return app.diag.doc(m)

    protocol.ops["diag"] = op_diag
    protocol.ops["diag_status"] = op_diag_status
