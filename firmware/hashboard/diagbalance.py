# Diagnostic stage of the series domains (docs/diagnostics.md, "Series-domain balance"): on a
# running module at the lowest frequency, the string at its stock voltage and 0.3 V below, every domain's conductance
# and leakage from its taps. A leaky or partly shorted chip shows as its domain's leakage; the
# chip itself is then found on the bench (no part of the module measures one chip's current).
# A generator driven by diag.DiagRun: yields None while it waits, then (result, evidence).
from .balance import BALANCED, DEAD, DomainProbe
from .compat import ticks_diff
from .domaintaps import read_point

_SETTLE_MS = 300
STEP_V = 0.3  # the second point below stock (a few percent more errors for a second, no harm)


def balance(run):
    m = run.m
    if m.taps is None:
        yield "skip", "no domain taps on this slot"
        return
    if not run.live() or run.failed():
        yield "skip", "module not powered, or a fault already found (a cut chain's domains: chain stage)"
        return
    for _ in run.at_stock():
        yield None
    c = m.chain
    # every chip at the board's lowest frequency: the same clock at both points whatever the
    # thermal guard does (a throttled module's cap moves), little power, leakage in plain view
    low = run.board["limits"]["freq_mhz"]["min"]
    c.set_targets(low)
    t = run.now
    while c.cur_mhz > low + 0.5 and ticks_diff(run.now, t) < 10000:
        yield None
    t = run.now
    while ticks_diff(run.now, t) < _SETTLE_MS:  # the last step's PLLs and the string settle
        yield None
    n = run.board["module"].get("domains", 1)
    per = c.expected // n
    probe = DomainProbe(n)
    units = [0.0] * n
    v0 = m.vout_user
    try:
        for point in (0, 1, 2):
            if point:
                m.vout_user = max(m.vlim["min"], v0 - STEP_V) if point == 1 else v0
                t = run.now  # the loop moves the string one board step a period
                while abs(m.vrm.vout_set - m.vout_goal()) > 1e-3 and ticks_diff(run.now, t) < 5000:
                    yield None
                yield None
            for _ in read_point(m, probe, point):
                yield None
            if not run.live():  # stopped mid-measurement (guard, chain, curtailment)
                m.vout_user = v0
                yield "skip", "the module stopped during the measurement (%s)" % m.state
                return
            for i in range(c.expected):  # each chip conducts in proportion to its clock
                units[i // per] += c.freq[i] / 3.0
    except OSError as e:
        m.vout_user = v0
        yield "skip", "domain tap ADC does not answer (%s)" % e
        return
    m.vout_user = v0
    moved = probe.string_moved()
    if moved < 0.5 * STEP_V:  # the thermal guard held the string where it was: no second point
        yield "skip", "the string moved %.3f V of %.1f (thermal guard): domains not judged" % (moved, STEP_V)
        return
    kind, dom, why = probe.judge(units)
    if kind == BALANCED:
        yield "pass", why
        return
    run.find("domain_open" if kind == DEAD else "domain_leak", why, domain=dom)
    yield "fail", why
