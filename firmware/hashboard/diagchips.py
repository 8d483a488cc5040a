# Diagnostic stages of the chain and its chips (docs/diagnostics.md): where the chain breaks,
# which chip loses or garbles its answers, which returns wrong nonces for known work.
# Generators driven by diag.DiagRun: each yields None while it waits, then (result, evidence).
from . import refs
from .compat import ticks_diff
from .health import BAD_ID, CRC_ERRORS, NO_RESPONSE

# an error rate the health policy calls unstable is not judged here: the nonce stage tests
# every chip at the stock point (a tuned point, or the grade stage's climb, would blame it)
_CHAIN_CAUSES = {NO_RESPONSE: "no_response", CRC_ERRORS: "crc_errors", BAD_ID: "bad_id"}
_READS = 8  # id read-backs per chip (a chip failing 60 % of them shows 2 or more 99 % of times)
_NOISE_CHIPS = 4  # failures on this many chips, no chip with a third of them: the UART, not a chip
_NONCE_JOB_MS = 25  # known-answer jobs this often during the nonce stage (each chip: every 0.6 s)
_NONCE_S = 5  # seconds per operating point: ~8 known answers a chip
_NONCE_BAD = 0.25  # wrong-nonce fraction above this at an operating point: the chip fails there
_SLOW = 0.8  # the second operating point: this share of the stock frequency


def chain(run):
    """The chain as bring-up left it (the first chip that failed and why), then, on a running
    module, every chip's id register read back _READS times: lost or corrupt answers
    concentrated on one chip are that chip (or its link); spread over many, the UART."""
    c = run.m.chain
    if not run.live() and c.fault_chip < 0:
        yield "skip", "module not powered (%s); nothing recorded of its chain" % run.m.state
        return
    live = run.live()
    if c.fault_chip >= 0 and (c.fault_cause == BAD_ID or (not live and c.fault_cause == NO_RESPONSE)):
        # an id mismatch is definitive; a module that is off keeps what its last bring-up saw
        i = c.fault_chip
        cause = _CHAIN_CAUSES[c.fault_cause]
        ev = "chip %d (%s) first to fail: %s; %d of %d answer" % (i, refs.chip_ref(run.board, i), cause,
                                                                    c.found, c.expected)
        if cause == "no_response" and c.found > i:
            # later chips answered: this one's answers are lost now and then (a flaky chip
            # or link), not a cut chain
            cause = "crc_errors"
            ev += "; later chips answer: intermittent"
        elif cause == "no_response" and c.expected - i > 1:
            # every chip from i on is silent: the chain is cut at i (that chip, or the link
            # into it; without domain voltages the two look alike from the UART)
            ev += "; chips %d..%d silent" % (i, c.expected - 1)
        run.find(cause, ev, chip=i)
        yield "fail", ev
        return
    if not live:
        yield "skip", "module not powered (%s)" % run.m.state
        return
    n = c.expected
    bad = bytearray(n)
    for i in range(n):
        if not c.enabled[i]:
            continue
        for _ in range(_READS):
            crc = c.parser.crc_errors
            if not c._read_id(i * c.interval, False) or c.parser.crc_errors != crc:
                bad[i] += 1
        yield None  # one chip a control period: the other modules' loop keeps its pace
    hit = 0
    total = 0
    worst = 0
    for i in range(n):
        hit += bad[i] > 0
        total += bad[i]
        if bad[i] > bad[worst]:
            worst = i
    ev = "%d of %d reads failed over %d chips" % (total, n * _READS, hit)
    cut = n
    while cut > 0 and bad[cut - 1] == _READS:
        cut -= 1  # every chip from cut on silent: the chain is cut there
    if cut < n and (cut == 0 or bad[cut - 1] < _READS):
        run.find("no_response", ev + "; chips %d..%d silent" % (cut, n - 1), chip=cut)
        yield "fail", ev
        return
    if hit >= _NOISE_CHIPS and bad[worst] * 3 < total:
        run.find("uart_noise", ev, part="connector")
        yield "fail", ev
        return
    if bad[worst] >= 2:  # one lost answer is a glitch; two on one chip are that chip
        run.find("crc_errors", ev + "; chip %d: %d of %d" % (worst, bad[worst], _READS), chip=worst)
        yield "fail", ev
        return
    if c.found < n:
        run.find("chip_count", "%d of %d chips answer" % (c.found, n))
        yield "fail", "%d of %d chips" % (c.found, n)
        return
    yield "pass", "%d of %d chips answer; %s" % (c.found, n, ev)


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
        while ticks_diff(run.now, t) < _NONCE_S * 1000:
            for _ in range(extra):
                w.send_next()
            yield None
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
        else:  # right again at 80 %: a chip whose limit sits far below its neighbours'
            run.find("weak", ev + "; right at %.0f MHz" % (stock * _SLOW), chip=i)
    if at_stock:
        yield "fail", "%d chips fail the known-answer test at %.0f MHz" % (len(at_stock), stock)
        return
    yield "pass", "every chip returned its known nonces at %.0f and %.0f MHz" % (stock, stock * _SLOW)
