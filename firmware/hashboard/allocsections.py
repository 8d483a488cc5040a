# Where the control loop allocates (tools/bench_ram.py --sections): the steady-state calls of the
# app, its modules and their parts are wrapped, for one measurement, by counters of the heap each
# call allocated (exclusive of nothing: nested calls count in their callers too). Profiling only,
# loaded by alloc_probe on request, never at boot.
import gc

_U = object()  # "argument not given"

_APP = ("power_mw", "_check_heartbeat", "_board_state", "_sample_heap", "_update_presence")
_PARTS = (  # (attribute of a module or None for the module itself, method names)
    (None, ("step", "check_vrm", "telemetry", "thermal_guard", "ramp_step", "read_vrm", "_run")),
    ("chain", ("poll", "sweep", "step_toward_targets", "collect", "send", "_frame", "_update_fault")),
    ("health", ("observe_sweep", "observe_ids", "judge")),
    ("parser", ("feed",)),
    ("work", ("send_next", "on_nonce")),
    ("vrm", ("read_vout", "read_iout", "read_temp", "status_word", "faults", "move_vout")),
    ("thermal", ("decide",)),
    ("guard", ("read",)),
)


def _wrap(obj, name, label, counts):
    fn = getattr(obj, name, None)
    if fn is None:
        return

    def counted(a=_U, b=_U, c=_U, d=_U):  # no *args: a tuple per call would count as the caller's
        a0 = gc.mem_alloc()
        try:
            if a is _U:
                return fn()
            if b is _U:
                return fn(a)
            if c is _U:
                return fn(a, b)
            if d is _U:
                return fn(a, b, c)
            return fn(a, b, c, d)
        finally:
            c = counts.get(label)
            d = gc.mem_alloc() - a0
            if c is None:
                counts[label] = [d, 1]
            else:
                c[0] += d
                c[1] += 1

    setattr(obj, name, counted)


def instrument(app):
    """Wrap the loop's calls; returns {label: [bytes, calls]} (nested calls count in both)."""
    counts = {}  # type: dict
    for n in _APP:
        _wrap(app, n, "app." + n, counts)
    for n in ("step_cap", "observe_full"):
        _wrap(app.power, n, "power." + n, counts)
    for obj, n in ((app.healthlog, "step"), (app.tuning, "step"), (app.ctl, "service"), (app.ctl, "refresh")):
        if obj is not None:
            _wrap(obj, n, type(obj).__name__ + "." + n, counts)
    for m in app.modules:
        for attr, names in _PARTS:
            obj = m if attr is None else getattr(m, attr, None)
            if attr in ("work", "health", "parser"):
                obj = getattr(m.chain, attr)
            for n in names:
                _wrap(obj, n, (attr or "module") + "." + n, counts)
    return counts
