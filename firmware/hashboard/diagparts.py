# Diagnostic stages of the parts a module's chips depend on (docs/diagnostics.md): its identity
# EEPROM, its regulator, its temperature sensors. Generators driven by diag.DiagRun: each yields
# None while it waits for board time, then (result, evidence).
from . import identity as idrec
from .compat import ticks_diff

_VOUT_TOL = 0.03  # measured output within 3 % (+ one 50 mV step) of the setting
_SENSOR_CAUSES = {"no_response": "sensor_open", "open": "sensor_open", "short": "sensor_short",
                  "out_of_range": "sensor_short", "unreadable": "sensor_open"}
_SENSE_S = 8  # seconds of sensor readings (TMP1075 noise moves a live reading within this)


def identity(run):
    st = run.m.store
    if st.addr is None:
        yield "skip", "no identity EEPROM on this slot"
        return
    why = []
    for base in idrec.SLOTS:
        try:
            st.i2c.readfrom_mem_into(st.addr, base, run._buf)
        except OSError:
            run.find("eeprom_nack", "no ACK at 0x%02x" % st.addr, part="eeprom")
            yield "fail", "EEPROM does not answer"
            return
        try:
            idrec.decode(run._buf)
            why.append("ok")
        except ValueError as e:
            why.append(str(e))
    ev = "copy A %s, copy B %s" % (why[0], why[1])
    if "ok" not in why:
        blank = why[0] == "blank" and why[1] == "blank"
        run.find("eeprom_blank" if blank else "eeprom_corrupt", ev, part="eeprom")
        yield "fail", ev
        return
    bad = [w for w in why if w not in ("ok", "blank")]
    if bad:  # one copy holds; the damaged one is rewritten by the next write
        run.find("eeprom_copy", ev, part="eeprom")
    yield "pass", ev


def regulator(run):
    m = run.m
    cause = m.cause or ""
    try:
        faults = m.vrm.faults()
    except OSError:
        faults = ["nack"]
    if cause.startswith("vrm:") and cause[4:] in ("ot", "oc", "uv", "nack"):
        faults = [cause[4:]] + faults
    for f in faults:
        if f in ("ot", "oc", "uv", "nack"):
            run.find("vrm_" + f, "module %s (%s); regulator faults %s" % (m.state, cause, faults), part="vrm")
            yield "fail", "regulator fault %s" % f
            return
    if not run.live():
        yield "skip", "module not powered (%s %s)" % (m.state, cause)
        return
    want = m.vrm.vout_set
    tol = _VOUT_TOL * want + run.board["limits"]["vout"]["step"]
    if abs(m.vout - want) > tol:
        run.find("vrm_regulation", "set %.3f V, measured %.3f V (tolerance %.3f V)" % (want, m.vout, tol),
                   part="vrm")
        yield "fail", "output %.3f V for %.3f V" % (m.vout, want)
        return
    yield "pass", "set %.3f V, measured %.3f V, %.1f A" % (want, m.vout, m.iout)


def sensors(run):
    """Every sensor read directly (a powered-off module's too) for _SENSE_S: one that does
    not answer or reads a short fails at once; one that never moves while the module runs
    is frozen (the thermal guard's own verdict counts too)."""
    m = run.m
    n = len(m.sensors)
    first = [None] * n
    moved = bytearray(n)
    errs = [None] * n  # type: list
    t0 = run.now
    while True:
        for k, s in enumerate(m.sensors):
            v = s.read()
            if v is None:
                errs[k] = _SENSOR_CAUSES.get(s.error, "sensor_open")
            elif first[k] is None:
                first[k] = v
            elif v != first[k]:
                moved[k] = 1
        if ticks_diff(run.now, t0) >= _SENSE_S * 1000:
            break
        yield None
    failed = False
    for k, s in enumerate(m.sensors):
        cause = errs[k]
        if cause is None and (m.guard.errors[k] == "stuck" or (run.live() and not moved[k])):
            cause = "sensor_stuck"
        if cause is not None:
            failed = True
            run.find(cause, "%s: %s over %d s" % (s.name, cause[7:], _SENSE_S), part="sensors", k=k,
                       name=s.name)
    if failed:
        yield "fail", "a sensor failed"
        return
    t = m.temps
    if len(t) >= 2 and t[0] is not None and t[1] is not None and run.live() and t[0] > t[1] + 5.0:
        # the inlet air cannot be much hotter than the outlet of a module that heats it
        run.find("sensor_implausible", "inlet %.1f C above outlet %.1f C" % (t[0], t[1]),
                   part="sensors", k=0, name=m.sensors[0].name)
    yield "pass", "readings %s" % ", ".join("-" if v is None else "%.1f" % v for v in t)
