# Diagnostic stage: the module's cooling (docs/diagnostics.md), from what the run recorded once
# a second (diag.DiagRun._sample): its sensors' rise (hottest minus coolest, the heat its sink
# passes to the air) per watt, against the other running modules' in the same air, and against
# the board definition's nominal. A generator driven by diag.DiagRun, like the other stages.
#
# Against its neighbours the comparison needs no model of where the sensors sit: the same air,
# the same heat sinks, the same sensors. A board-wide loss of airflow moves every module alike,
# so the nominal check catches that one ("check the fan"). Only a sink at its steady state shows
# its resistance (one still heating shows its heat capacity): a module seated a minute ago is
# not judged (skip, with the reason).
_MIN_SAMPLES = 12  # seconds of a running module before the stage judges
_PEER_LIMIT = 1.2  # rise per watt this much above the neighbours' median: its cooling is worse
# (healthy modules measure x0.95-1.05 of theirs; a sink at 1.5x its resistance, throttled, x1.26)
_NOMINAL_LIMIT = 1.25  # ... or this much above the board's nominal sink resistance
_STEADY = 0.1  # the rise may move this share between the run's halves (the run moves the power)


def cooling(run):
    m = run.m
    cause = m.cause or ""
    if cause.startswith("thermal") and not run.live():
        _found(run, "module stopped by the thermal guard (%s)" % cause)
        yield "fail", "stopped hot"
        return
    k = run.n_heat
    if k < _MIN_SAMPLES:
        yield "skip", "module ran %d s of the test: too little to judge its cooling" % k
        return
    h = run.heat
    rise = power = peer = 0.0
    early = late = 0.0
    n_peer = 0
    for j in range(k):
        power += h[3 * j + 1]
        rise += h[3 * j + 2]
        if j < k // 2:
            early += h[3 * j + 2]
        else:
            late += h[3 * j + 2]
        if run.peers[j] > 0:
            peer += run.peers[j]
            n_peer += 1
    if power <= 1.0 * k:
        yield "skip", "module drew no power"
        return
    early /= k // 2
    late /= k - k // 2
    if abs(late - early) > _STEADY * late:
        # a sink still heating (or cooling) carries its heat capacity, not its resistance
        yield "skip", "not at its thermal steady state (rise %.1f -> %.1f C): run it after a few minutes" % (early, late)
        return
    r = rise / power  # K/W, averaged over the run
    ev = "rise %.1f C at %.0f W: %.3f K/W" % (rise / k, power / k, r)
    if n_peer * 2 >= k:
        p = peer / n_peer
        ev += "; neighbours %.3f K/W (x%.2f)" % (p, r / p)
        if r > _PEER_LIMIT * p:
            _found(run, ev)
            yield "fail", ev
            return
    nominal = run.board["module"].get("cooling", {}).get("r_th_k_per_w")
    if nominal:
        ev += "; nominal %.3f K/W (x%.2f)" % (nominal, r / nominal)
        if r > _NOMINAL_LIMIT * nominal:
            _found(run, ev)
            yield "fail", ev
            return
    yield "pass", ev


def _found(run, ev):
    """A hot module's chips lose frequency: what the chip stages blamed on them follows from
    the cooling, so the cooling goes before them (the root cause first)."""
    before = len(run.findings)
    run.find("cooling", ev)
    if len(run.findings) == before:
        return  # a second pass confirmed it
    f = run.findings.pop()
    at = len(run.findings)
    for j, g in enumerate(run.findings):
        if g["cause"] in ("unstable", "weak"):
            at = j
            break
    run.findings.insert(at, f)
