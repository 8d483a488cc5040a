# Diagnostic stage of the chain (docs/diagnostics.md): where the chain breaks, which chip
# loses or garbles its answers, or whether the line itself is noisy.
# Generators driven by diag.DiagRun: each yields None while it waits, then (result, evidence).
from . import refs
from .balance import BALANCED, DEAD
from .compat import ticks_diff
from .health import BAD_ID, CRC_ERRORS, NO_RESPONSE

# an error rate the health policy calls unstable is not judged here: the nonce stage tests
# every chip at the stock point (a tuned point, or the grade stage's climb, would blame it)
_CHAIN_CAUSES = {NO_RESPONSE: "no_response", CRC_ERRORS: "crc_errors", BAD_ID: "bad_id"}
_READS = 8  # id read-backs per chip (a chip failing 60 % of them shows 2 or more 99 % of times)
_RESTING = ("fault", "off", "unidentified", "incompatible", "empty")
_REBRING_MS = 15000  # identify, power, enumerate, the domain probe: a few seconds at most
_NOISE_CHIPS = 4  # failures on this many chips, 3 or more besides the worst one's: the UART, not a chip


def chain(run):
    """The chain as bring-up left it (the first chip that failed and why), then, on a running
    module, every chip's id register read back _READS times: lost or corrupt answers
    concentrated on one chip are that chip (or its link); spread over many, the UART."""
    c = run.m.chain
    if not run.live() and c.fault_chip < 0:
        yield "skip", "module not powered (%s); nothing recorded of its chain" % run.m.state
        return
    live = run.live()
    m = run.m
    if (not live and c.fault_cause == NO_RESPONSE and m.taps is not None and not run.rebrought
            and m.rebring_up(run.now)):
        run.rebrought = True  # once a run: an intermittent chain is not cycled again and again
        # the domains tell a dead chip from a broken link: measured by a fresh bring-up
        t = run.now
        while m.state not in _RESTING and ticks_diff(run.now, t) < _REBRING_MS:
            if run.live():
                break
            yield None
        live = run.live()
    if c.fault_chip >= 0 and (c.fault_cause == BAD_ID or (not live and c.fault_cause == NO_RESPONSE)):
        # an id mismatch is definitive; a module that is off keeps what its last bring-up saw
        i = c.fault_chip
        cause = _CHAIN_CAUSES[c.fault_cause]
        ev = "chip %d (%s) first to fail: %s; %d of %d answer" % (i, refs.chip_ref(run.board, i), cause,
                                                                    c.found, c.expected)
        if cause == "no_response" and c.diag_chip == i and c.diag_garbled:
            # no clean answer, but corrupt ones arrived from it: a chip that garbles, not a cut
            cause = "crc_errors"
            ev += "; %d corrupt answers from it" % c.diag_garbled
        elif cause == "no_response" and c.found > i:
            # later chips answered: this one's answers are lost now and then (a flaky chip
            # or link), not a cut chain
            cause = "crc_errors"
            ev += "; later chips answer: intermittent"
        elif cause == "no_response" and c.expected - i > 1:
            # every chip from i on is silent: the chain is cut at i (that chip, or the link
            # into it; without domain voltages the two look alike from the UART)
            ev += "; chips %d..%d silent" % (i, c.expected - 1)
        action = None
        b = m.balance
        if cause == "no_response" and b is not None and b[3] == i:  # measured for this cut
            cause, action, ev = _cut(run, i, b, ev)
        run.find(cause, ev, chip=i, action=action)
        yield "fail", ev
        return
    if not live:
        yield "skip", "module not powered (%s)" % run.m.state
        return
    n = c.expected
    bad = bytearray(n)
    reads = 0
    while True:
        for i in range(n):
            if not c.enabled[i]:
                continue
            for _ in range(_READS):
                crc = c.parser.crc_errors
                if not c._read_id(i * c.interval, False) or c.parser.crc_errors != crc:
                    bad[i] += 1
            yield None  # one chip a control period: the other modules' loop keeps its pace
            if not run.live():
                break
        if not run.live():
            # the module stopped mid-test (its own sweep saw the chain fail, or the guard):
            # judged as a stopped module, from what stopped it (reads after that prove nothing)
            for r in chain(run):
                yield r
            return
        reads += _READS
        hit = 0
        total = 0
        worst = 0
        for i in range(n):
            hit += bad[i] > 0
            total += bad[i]
            if bad[i] > bad[worst]:
                worst = i
        # failures on more than one chip and not a cut: one chip, or the line? A second round
        # settles it (low line noise leaves a few failures that can pile up on one chip)
        # (a silent last chip alone gets its second round too: a flaky one answers once in 16)
        cut_now = bad[n - 1] == _READS and (n < 2 or bad[n - 2] == _READS)
        if reads > _READS or cut_now or (hit < 2 and bad[n - 1] < _READS):
            break
    ev = "%d of %d reads failed over %d chips" % (total, n * reads, hit)
    cut = n
    while cut > 0 and bad[cut - 1] == reads:
        cut -= 1  # every chip from cut on silent: the chain is cut there
    if cut < n and (cut == 0 or bad[cut - 1] < reads):
        run.find("no_response", ev + "; chips %d..%d silent" % (cut, n - 1), chip=cut)
        yield "fail", ev
        return
    # the line, not a chip: failures on many chips besides the worst (a flaky chip's
    # neighbours answer every read; line noise leaves a few failures everywhere)
    if hit >= _NOISE_CHIPS and total - bad[worst] >= _NOISE_CHIPS - 1:
        run.find("uart_noise", ev, part="connector")
        yield "fail", ev
        return
    if bad[worst] >= 2:  # one lost answer is a glitch; two on one chip are that chip
        run.find("crc_errors", ev + "; chip %d: %d of %d" % (worst, bad[worst], reads), chip=worst)
        yield "fail", ev
        return
    if c.found < n:
        run.find("chip_count", "%d of %d chips answer" % (c.found, n))
        yield "fail", "%d of %d chips" % (c.found, n)
        return
    yield "pass", "%d of %d chips answer; %s" % (c.found, n, ev)


def _cut(run, i, balance, ev):
    """A cut chain at chip i, judged by its domains: (cause, catalogue action key, evidence).
    Chip i's domain conducting short of its neighbours: chip i is dead. Every domain alike:
    every chip still draws, so the chain is broken in the link into chip i."""
    kind, dom, why = balance[0], balance[1], balance[2]
    ev += "; " + why
    here = refs.chip_pos(run.board, i)[2]
    if kind == DEAD and dom == here:
        return "no_response", "no_response_dead", ev
    if kind == BALANCED:
        return "chain_break", None, ev
    return "no_response", None, ev  # another domain's trouble: reported by the balance stage
