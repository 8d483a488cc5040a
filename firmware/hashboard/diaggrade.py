# Diagnostic stage: each chip's grade (docs/diagnostics.md), the highest frequency it holds at
# <= 1 % hardware errors at the module's stock voltage, for the report and the health history.
# Informative: the model's silicon spreads 6 % (sd), so a grade far in the tail is a healthy
# chip's as often as a weak one's; a weak chip is the one the nonce stage saw fail at stock.
# A generator driven by diag.DiagRun: yields None while it waits, then (result, evidence).
#
# Every chip climbs together from the stock frequency in board steps up to the board's maximum
# (thermal and power caps still hold); a chip is measured over _SWEEPS telemetry sweeps of its
# own diff-1 counters (~500 counts: 1 % is 5 expected errors; a step is set right after a sweep,
# so the ramp, 50 ms, is all the window sees of the step before), and one that goes over 1 % is put
# back on the last step it held and climbs no further. Errors grow ~8x per 12.5 MHz step (the
# BM1370's error curve is ~6 MHz wide), so one step of noise is all the grade carries.
from array import array

from .compat import ticks_diff

_SWEEPS = 2  # telemetry sweeps (1 s each) per step
_LIMIT = 0.01  # the grade's error limit
_MIN_ERRS = 3  # fewer errors than this never fail a step (one or two are noise at any rate)
# no climbing past this share of the regulator's over-current trip (the tuner's own ceiling is
# 0.9; the warning sits at 0.95): a grade must not latch a hot module off for over-current
_CURRENT_SHARE = 0.85


def grade(run):
    m = run.m
    root = run.root()
    if not run.live() or (root is not None and root["cause"] != "weak"):
        yield "skip", "module not powered, or a fault already found: chips not graded"
        return
    c = m.chain
    n = c.expected
    lim = run.board["limits"]["freq_mhz"]
    step = lim["step"]
    stock = lim["default"]
    for _ in run.at_stock():
        yield None
    held = array("f", [0.0] * n)  # 0: not yet held at any step
    done = bytearray(n)
    for i in range(n):
        done[i] = not run.chip_ok[i]  # a weak chip is not pushed further: graded 0 (none held)
    tot = array("f", [0.0] * n)
    err = array("f", [0.0] * n)
    capped = False
    f = stock
    seen = c._sweeps
    t = run.now
    while c._sweeps == seen and ticks_diff(run.now, t) < 3000:
        yield None  # a step is set just after a sweep: the next one counts it (ramp: 50 ms)
    while f <= lim["max"] + 0.01:
        if m.freq_cap() < f - 0.01 or m.iout > _CURRENT_SHARE * m.vrm.iout_max:
            capped = True  # a thermal, power or current cap holds the module here: grade "at least"
            break
        for i in range(n):
            tot[i] = err[i] = 0.0
            if c.enabled[i] and not done[i]:
                c.set_targets(f, i)
        k = 0
        seen = c._sweeps
        while k < _SWEEPS:
            yield None
            if c._sweeps != seen:
                seen = c._sweeps
                k += 1
                for i in range(n):
                    tot[i] += c._dtot[i]
                    err[i] += c._derr[i]
            if not run.live():
                yield "skip", "module stopped during the grade (%s)" % m.state
                return
        for i in range(n):
            if not c.enabled[i] or done[i]:
                continue
            if err[i] >= _MIN_ERRS and err[i] > _LIMIT * tot[i]:
                done[i] = 1
                if held[i] > 0:
                    c.set_targets(held[i], i)
            else:
                held[i] = f
        f += step
    run.put_back()  # the tuned settings again (the cooling stage reads what the run recorded)
    run.grades = held
    got = sorted([held[i] for i in range(n) if c.enabled[i] and held[i] > 0])
    if not got:
        yield "skip", "no chip graded: %s" % ("the module's thermal, power or current cap holds it below stock" if capped
                                             else "none held the stock frequency")
        return
    med = got[len(got) // 2]
    note = " (held by the module's thermal, power or current cap)" if capped else ""
    yield "pass", "median grade %.1f MHz, lowest %.1f%s" % (med, got[0], note)
