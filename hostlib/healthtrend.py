# Warnings before failure (docs/diagnostics.md, "Health history"): a board's health records in
# (healthrec.decode, oldest first), per chip a flag and its evidence out. Pure (no I/O, no clock):
# the host runs it on what `health` reads back, hypothesis drives it with made-up histories.
#
# A chip's margin shows three ways, each judged against what a healthy chip does:
# - errors rising at a fixed setting (frequency, voltage, temperature within 3 C): the model's
#   error fraction is logistic in (f - fmax)/W, so while it is small its log rises linearly as
#   fmax falls. A Poisson fit of log(rate) over time gives the slope, its standard error, and
#   the hours left until 1 %. Three degrees C move the rate at most x1.65 (K = 0.0015/C at
#   fmax ~660 MHz, W = 6 MHz), so a rise of x3 or more, 3 standard errors clear of zero, is the
#   chip, not the weather.
# - frequency falling relative to its module's median (a tuner that keeps a chip at <= 1 %
#   lowers it as it ages; a board-wide change, such as a throttle, moves the median too).
# - grade falling between diagnostic runs, beyond the module median's fall.
# And per module: its sink's rise per watt growing faster than its neighbours' (dust, a pad).
import math

ERR_LIMIT = 0.01
RISE_MIN = 3.0
Z_MIN = 4.0
MIN_ERRORS = 20  # error counts in the window: fewer say nothing about a trend
TEMP_BAND = 3.0
HORIZON_H = 720.0  # watch: 1 % within 30 days at this rate
REPLACE_H = 24.0  # replace: within a day (or there already)
MIN_POINTS = 3
FREQ_DROP = 0.04  # share of the module median: more than a tuner's dither of one step
GRADE_DROP = 25.0  # MHz: two of the grade's steps
HOT_RATIO = 1.2  # as diag's cooling stage: healthy sinks read x0.95-1.05 of their neighbours
C_TEMP = 0.165  # d ln(rate)/dT per C: F * K / W at the model's nominal (660 * 0.0015 / 6)
C_PRIOR = 1.0 / 0.3 ** 2  # ... known to +-0.3 per C (domains shift with leakage as sinks warm)
_RANK = {"ok": 0, "watch": 1, "replace": 2}


def _solve3(h, g):
    """h (3x3, symmetric positive definite) solved against g by Gaussian elimination; also
    returns h's inverse's middle diagonal term (the slope's variance). None when singular."""
    m = [h[0][:] + [g[0], 0.0], h[1][:] + [g[1], 1.0], h[2][:] + [g[2], 0.0]]
    for c in range(3):
        if abs(m[c][c]) < 1e-12:
            return None
        for r in range(3):
            if r != c:
                f = m[r][c] / m[c][c]
                for k in range(c, 5):
                    m[r][k] -= f * m[c][k]
    return [m[r][3] / m[r][r] for r in range(3)], m[1][4] / m[1][1]


def poisson_slope(points):
    """points: (hours, counts n, errors k, temperature C). Fit k ~ Poisson(n * exp(a + b*t + c*T))
    by Newton's method, c held near the model's C_TEMP by a prior (a warming sink raises the rate
    too, and its tail must not pass for a trend); returns (b per hour, its standard error, the
    fitted rate at the last point) or None."""
    if len(points) < 2:
        return None
    ks = sum(p[2] for p in points)
    ns = sum(p[1] for p in points)
    if ks <= 0 or ns <= 0:
        return None
    t0 = sum(p[0] for p in points) / len(points)
    T0 = sum(p[3] for p in points) / len(points)
    xs = [(p[0] - t0, p[3] - T0) for p in points]
    if max(x[0] for x in xs) - min(x[0] for x in xs) <= 0:
        return None
    th = [math.log(ks / ns), 0.0, C_TEMP]
    var_b = 0.0
    for _ in range(40):
        g = [0.0, 0.0, -(th[2] - C_TEMP) * C_PRIOR]
        h = [[0.0] * 3 for _ in range(3)]
        h[2][2] = C_PRIOR
        for (x, y), p in zip(xs, points):
            mu = p[1] * math.exp(min(50.0, th[0] + th[1] * x + th[2] * y))
            v = (1.0, x, y)
            for r in range(3):
                g[r] += (p[2] - mu) * v[r]
                for c in range(3):
                    h[r][c] += mu * v[r] * v[c]
        sol = _solve3(h, g)
        if sol is None:
            return None
        d = sol[0]
        var_b = sol[1]
        for r in range(3):
            th[r] += d[r]
        if max(abs(v) for v in d) < 1e-9:
            break
    x, y = xs[-1]
    return th[1], math.sqrt(max(var_b, 0.0)), math.exp(min(50.0, th[0] + th[1] * x + th[2] * y))


def _median(v):
    s = sorted(v)
    n = len(s)
    if n == 0:
        return None
    return s[n // 2] if n % 2 else 0.5 * (s[n // 2 - 1] + s[n // 2])


def _fixed_window(periods, i):
    """The latest run of records in which chip i held one setting (newest last)."""
    last = periods[-1]
    c = last["chips"][i]
    if not c["ran"] or c["moved"] or last["vout_moved"]:
        return []
    out = []
    for r in reversed(periods):
        ci = r["chips"][i]
        if (not ci["ran"] or ci["moved"] or r["vout_moved"] or abs(ci["freq_mhz"] - c["freq_mhz"]) > 0.05
                or abs(r["vout"] - last["vout"]) > 0.005 or abs(r["temp_c"] - last["temp_c"]) > TEMP_BAND):
            break
        out.append(r)
    out.reverse()
    return out


def _dur(hours):
    return "%.0f min" % (hours * 60) if hours < 1 else "%.1f h" % hours


def _pct(e):
    return "%.3g %%" % (e * 100)


def error_trend(periods, i):
    """(flag, evidence) from chip i's errors at its current fixed setting."""
    w = _fixed_window(periods, i)
    if len(w) < MIN_POINTS:
        return "ok", None
    pts = [(r["t_s"] / 3600.0, r["counts"], r["chips"][i]["err"] * r["counts"], r["temp_c"]) for r in w]
    setting = "at %.1f MHz, %.2f V" % (w[-1]["chips"][i]["freq_mhz"], w[-1]["vout"])
    fit = poisson_slope(pts)
    if fit is not None and sum(p[2] for p in pts) >= MIN_ERRORS:
        b, se, e_now = fit
        span = pts[-1][0] - pts[0][0]
        if b > 0 and b >= Z_MIN * se and math.exp(b * span) >= RISE_MIN:
            hours = math.log(ERR_LIMIT / e_now) / b if e_now < ERR_LIMIT else 0.0
            e0 = pts[0][2] / max(1.0, pts[0][1])
            ev = "errors %s -> %s %s over %s (%d records, x%.0f); 1 %% in ~%s at this rate" % (
                _pct(e0), _pct(pts[-1][2] / max(1.0, pts[-1][1])), setting, _dur(span), len(pts),
                math.exp(b * span), _dur(hours))
            if hours <= REPLACE_H:
                return "replace", ev
            if hours <= HORIZON_H:
                return "watch", ev
    return "ok", None


def freq_medians(periods):
    """Each record's median frequency of the chips that ran (None when none did)."""
    return [_median([c["freq_mhz"] for c in r["chips"] if c["ran"]]) for r in periods]


def freq_trend(periods, i, medians=None):
    """(flag, evidence) from chip i's frequency against its module's median at one voltage;
    `medians` (freq_medians) is computed once for all of a module's chips when given."""
    last = periods[-1]
    rows = []
    for r, med in zip(periods, medians or freq_medians(periods)):
        if r["vout_moved"] or abs(r["vout"] - last["vout"]) > 0.005 or not r["chips"][i]["ran"]:
            continue
        if med:
            rows.append((r["chips"][i]["freq_mhz"] / med, r["chips"][i]["freq_mhz"], med))
    if len(rows) < MIN_POINTS + 1:
        return "ok", None
    old = rows[:-2]
    ref = _median([x[0] for x in old])
    now = max(x[0] for x in rows[-2:])
    if ref - now < FREQ_DROP:
        return "ok", None
    o = old[len(old) // 2]
    ev = "frequency fell %.1f -> %.1f MHz at %.2f V while the module median went %.1f -> %.1f MHz (%.0f %% below it)" % (
        o[1], rows[-1][1], last["vout"], o[2], rows[-1][2], (1 - now) * 100)
    return ("replace" if now < 0.85 else "watch"), ev


def grade_trend(diags, i):
    if len(diags) < 2:
        return "ok", None
    first, last = diags[0], diags[-1]
    g0, g1 = first["chips"][i]["grade_mhz"], last["chips"][i]["grade_mhz"]
    m0 = _median([c["grade_mhz"] for c in first["chips"] if c["grade_mhz"]])
    m1 = _median([c["grade_mhz"] for c in last["chips"] if c["grade_mhz"]])
    if not g0 or not g1 or not m0 or not m1:
        return "ok", None
    if (g0 - g1) - (m0 - m1) < GRADE_DROP:
        return "ok", None
    return "watch", "grade fell %.1f -> %.1f MHz across %d diag runs (module median %.1f -> %.1f)" % (
        g0, g1, len(diags), m0, m1)


def heat_growth(periods):
    """How much the module's rise per watt grew (newest third over oldest third), or None."""
    rows = [r["rise_c"] / r["power_w"] for r in periods if r["power_w"] >= 50.0 and r["rise_c"] > 0]
    if len(rows) < 2 * MIN_POINTS:
        return None
    k = len(rows) // 3
    old, new = _median(rows[:k]), _median(rows[-k:])
    return (new / old, old, new) if old and old > 0 else None


def _worse(a, b):
    return a if _RANK[a] >= _RANK[b] else b


def assess(records, modules, tag_of):
    """records: decoded health records, any order; modules: [{"module", "serial", "nchips",
    "present"}] (the board's slots now); tag_of(serial): healthrec.serial_tag. The health
    document."""
    by_mod = {}  # type: dict
    for r in sorted(records, key=lambda r: r["seq"]):
        by_mod.setdefault(r["module"], []).append(r)
    hist = []  # (module, its records, its period records, its diag records)
    for m in modules:
        if not m.get("present", True):
            continue  # an empty slot: the records of whatever left it are not judged
        tag = tag_of(m["serial"])
        mine = [r for r in by_mod.get(m["module"], []) if r["tag"] == tag and len(r["chips"]) == m["nchips"]]
        hist.append((m, mine, [r for r in mine if r["kind"] == "period"], [r for r in mine if r["kind"] == "diag"]))
    growth = {}
    for m, _, periods, _ in hist:
        g = heat_growth(periods)
        if g is not None:
            growth[m["module"]] = g
    chips = []
    mods = []
    for m, mine, periods, diags in hist:
        slot = m["module"]
        medians = freq_medians(periods)
        for i in range(m["nchips"]):
            found = [error_trend(periods, i), freq_trend(periods, i, medians)] if periods else []
            found.append(grade_trend(diags, i))
            flag = "ok"
            for f, _ in found:
                flag = _worse(flag, f)
            evs = [ev for _, ev in found if ev]
            chips.append({"module": slot, "index": i, "flag": flag,
                          "evidence": "; ".join(evs) if evs else "%d records, no trend" % len(periods)})
        span = (periods[-1]["t_s"] - periods[0]["t_s"]) / 3600.0 if periods else 0.0
        flag, ev = "ok", "%d records over %.1f h" % (len(periods), span)
        g = growth.get(slot)
        if g is not None:
            peers = [growth[s][0] for s in growth if s != slot]
            peer = _median(peers) if peers else 1.0
            ev = "rise per watt %.4f -> %.4f K/W (x%.2f; neighbours x%.2f)" % (g[1], g[2], g[0], peer)
            if g[0] >= HOT_RATIO * max(1.0, peer):
                flag = "watch"
                ev += ": re-seat the heat sink / replace the thermal pad"
        mods.append({"module": slot, "serial": m["serial"], "records": len(mine), "flag": flag, "evidence": ev})
    return {"chips": chips, "modules": mods}
