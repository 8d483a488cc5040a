# Diagnostic stage of the chips' work (docs/diagnostics.md): which chip returns wrong nonces
# for known work, at the stock point and at 80 % of its frequency. A generator driven by
# diag.DiagRun: yields None while it waits, then (result, evidence).
from array import array

from .compat import ticks_diff
from .diagcodes import FAILING

_NONCE_JOB_MS = 25  # known-answer jobs this often during the nonce stage (each chip: every 0.6 s)
_NONCE_S = 5  # seconds per operating point: ~8 known answers a chip
_NONCE_BAD = 0.25  # wrong-nonce fraction above this at an operating point: the chip fails there
_SLOW = 0.8  # the second operating point: this share of the stock frequency
# counters' error fraction at stock that makes a chip failing its known answers weak: a chip
# 15 MHz or more past its limit errs 92 % and up (logistic width 6 MHz), one at the edge 50 %
_WEAK_ERR = 0.85


def nonce(run):
    """Known-answer jobs (real block headers, SHA-256d checked) aimed at every chip, at the
    stock frequency and at a slower point: a chip that fails at both is unstable (broken), one
    that fails only at stock is weak (its limit far below its neighbours': the tuner parks it)."""
    m = run.m
    if not run.live() or run.failed():
        # a root cause is already named: what follows from it is not a second finding
        yield "skip", "module not powered, or a fault already found: chips not tested"
        return
    c = m.chain
    w = c.work
    n = c.expected
    fails = []
    tot = array("f", [0.0] * n)
    err = array("f", [0.0] * n)
    frac = array("f", [0.0] * n)  # each chip's error fraction at stock, from its counters
    stock = run.board["limits"]["freq_mhz"]["default"]
    for _ in run.at_stock():  # tuned settings come back afterwards (run.put_back)
        yield None
    for point in (stock, stock * _SLOW):
        c.set_targets(point)
        t = run.now
        # the ramp is the module's own (thermal and power caps may hold it lower: test there)
        while abs(c.cur_mhz - point) > 1.0 and ticks_diff(run.now, t) < 10000:
            yield None
        v0 = list(w.valid)
        e0 = list(w.hw_errors)
        # one job every _NONCE_JOB_MS: the loop sends one a control period, the rest go here
        extra = run.board["timing"]["control_period_ms"] // _NONCE_JOB_MS - 1
        m.job_interval = _NONCE_JOB_MS
        t = run.now
        seen = c._sweeps
        first = True  # the first sweep's counts reach back into the ramp: not this point's
        for i in range(n):
            tot[i] = err[i] = 0.0
        while ticks_diff(run.now, t) < _NONCE_S * 1000:
            for _ in range(extra):
                w.send_next()
            yield None
            if c._sweeps != seen:  # the chips' own diff-1 counters too: ~1000 counts a chip
                seen = c._sweeps
                if first:
                    first = False
                    continue
                for i in range(n):
                    tot[i] += c._dtot[i]
                    err[i] += c._derr[i]
        if point == stock:
            for i in range(n):
                frac[i] = min(1.0, err[i] / tot[i]) if tot[i] > 0 else 1.0
        m.job_interval = run._saved_job
        bad = []
        for i in range(n):
            good = w.valid[i] - v0[i]
            wrong = w.hw_errors[i] - e0[i]
            if good + wrong == 0 or wrong > _NONCE_BAD * (good + wrong):
                bad.append((i, good, wrong))
        fails.append(bad)
    at_stock = fails[0]
    for i, good, wrong in at_stock:
        slow = [b for b in fails[1] if b[0] == i]
        ev = "at %.0f MHz %d right, %d wrong" % (stock, good, wrong)
        if slow:  # wrong nonces even well below stock: the chip itself is broken
            ev += "; at %.0f MHz %d right, %d wrong" % (stock * _SLOW, slow[0][1], slow[0][2])
            run.find("unstable", ev, chip=i)
        elif frac[i] < _WEAK_ERR:
            # right at 80 % and its counters err less than a chip well past its limit: the
            # silicon's tail at the stock edge (chip-model.md: 3 sd below the mean is 541 MHz
            # at 1.15 V and 60 C, less in a low domain). The tuner runs it lower: no repair
            run.find("slow_bin", ev + "; counters %.0f %% errors at %.0f MHz" % (100 * frac[i], stock), chip=i)
        else:  # right again at 80 %: a chip whose limit sits far below its neighbours'
            run.find("weak", ev + "; counters %.0f %% errors; right at %.0f MHz" % (100 * frac[i], stock * _SLOW),
                     chip=i)
    at_stock = [b for b in at_stock if _failed(run, b[0])]
    if at_stock:
        yield "fail", "%d chips fail the known-answer test at %.0f MHz" % (len(at_stock), stock)
        return
    if fails[0]:
        yield "pass", "%d chips at the stock edge (slow bin); the rest returned their known nonces" % len(fails[0])
        return
    yield "pass", "every chip returned its known nonces at %.0f and %.0f MHz" % (stock, stock * _SLOW)


def _failed(run, i):
    """Whether chip i carries a failing finding (a slow bin is information, not a failure)."""
    for f in run.findings:
        if f["chip"] == i and f["severity"] in FAILING:
            return True
    return False
