"""The best a tuner could do on one module: stock, the best single setting, and the per-chip bound.

Everything is at steady state (heat sink, junctions, leakage and the series string all converged)
and is finally replayed through the emulator's own ModuleModel (tools/steady_state.settle), whose
figures are the ones reported and checked: power at the regulator output (Σ chip power = VS·I,
what the firmware reads as vout·iout), every chip's error ≤ 1 %, VS a setting the regulator can
make inside the board's envelope (4.0..5.0 V in 1/512 V codes: finer than the board's 0.05 V
ramp step, because a tuner may use any code), frequencies in the board's range (continuous: the
PLL's steps are < 0.5 MHz), string current ≤ iout_max (Limits: the firmware's share of the trip), both sensors' noiseless readings ≤ hot_c,
power ≤ the cap.

How the per-chip bound (`per_chip`) is computed:
  * Heat becomes a power limit: at steady state T_sink = T_in + R_SA·P, so "both sensors ≤ hot_c"
    is "P ≤ P_hot"; P* = min(cap, P_hot) and, at string voltage VS, I* = min(P*/VS, iout_max).
  * For one VS and a margin m (how far below fmax every chip runs; m ≥ W·ln 99, the 1 % point),
    with the junction temperatures held fixed (tools/tune_string.py; an outer fixed-point loop
    then updates them from the chips' powers until they stop moving):
    - a chip at its edge runs at u_i(V) = fmax_i(V, T_i) − m (clamped to the board's range),
      linear in its domain voltage V, so a domain whose chips all sit at their edges draws
      J_d(V) = V·Σ C_i·u_i(V) + Σ b_i (b_i = L_i·exp((T_i − 25)/TAU_L)), increasing in V; to carry
      a string current I the domain needs at least V_lo,d(I) = J_d⁻¹(I) (and at least the voltage
      at which its slowest chip holds 1 % at the minimum frequency);
    - every domain carries the same current and Σ V_d = VS. If Σ V_lo,d(I*) ≥ VS the cap does not
      bind: the current is the one with Σ V_lo,d(I) = VS and every chip is at its edge (this is
      the series coupling solved exactly: each domain's voltage is the one its own chips'
      frequencies give, so raising one chip lowers its five neighbours' edges and is accounted
      for). Otherwise the cap binds at I*: the slack VS − Σ V_lo,d(I*) must sit in some domains,
      whose chips then carry I* below their edges (Σ C_i·f_i = (I* − b_d)/V); for a fixed current
      a domain's hashrate falls as its voltage rises, so the slack goes where it costs least
      (each domain taking it all, an even split, then pairwise moves down to 1/64 of it); inside
      a domain the frequency budget goes to the least-C chips first (the most MHz per ampere),
      each up to its edge, the rest at the minimum (parked).
  * Search: the board's 0.05 V grid at the 1 % margin; then a golden-section search over the
    margin m (0 to 30 MHz more than the 1 % point: a chip's good hashrate f·(1 − e) is flat near
    its 1 % edge, so at a cap a common back-off that frees power for voltage pays, ~0.1–0.4 %),
    following the best VS code by code as m moves; the best replayed TH/s wins. The best single
    setting is one of the candidates, so the bound is never below it. An optional local search
    on the replayed model (single chips and pairs of chips trading frequency, 2 … 0.25 MHz)
    polishes the result.
How close to the optimum: the result is a setting that keeps every constraint, so the true
optimum is at least this; hil_tests/test_tune_bound.py checks that an independent search
(random starts at the same VS, repaired to feasibility, then local moves on the exact model)
does not beat it by more than 0.1 %, and docs/benchmarks.md gives the figures on full modules.
"""

from __future__ import annotations

import math
from typing import Callable

from hostlib.sim.physics import ModuleModel

from .steady_state import Cooling, Limits, Operating, settle, violations
from .tune_search import polish
from .tune_string import EdgeString, solve_at_vs
from .vs_search import VsSearch

MARGIN_SPAN_MHZ = 30.0  # margins searched above the 1 % point: down to ~0.07 % error
MARGIN_TOL_MHZ = 0.5  # good hashrate is flat in the margin near its best
SINGLE_TOL_MHZ = 0.02


def stock(model: ModuleModel, limits: Limits, cooling: Cooling) -> Operating:
    """Every chip at the board's default frequency and the default string voltage (no cap)."""
    return settle(model, limits.settable(limits.vs_default), [limits.f_default] * len(model.chips), cooling)


def power_limit(model: ModuleModel, limits: Limits, cooling: Cooling, cap_w: float) -> float:
    """P*: the cap, or the most power the cooling carries with both sensors ≤ hot_c."""
    hot = (cooling.max_sink_c(limits.hot_c) - cooling.ambient_c) / cooling.r_sa(model)
    return max(0.0, min(cap_w, hot))


def feasible(op: Operating, limits: Limits, cap_w: float) -> bool:
    return not violations(op, limits, cap_w)


def best_single(model: ModuleModel, limits: Limits, cooling: Cooling, cap_w: float,
                fine: bool = True) -> Operating | None:
    """All chips at one frequency: at each VS the highest f that keeps every constraint (the
    worst chip ≤ 1 %), by bisection (error, power, current and heat all rise with f); the best
    over VS, searched as finely as the per-chip bound's. None when nothing is feasible."""
    n = len(model.chips)

    def at(vs: float) -> Operating | None:
        lo = settle(model, vs, [limits.f_min] * n, cooling)
        if not feasible(lo, limits, cap_w):
            return None
        top = settle(model, vs, [limits.f_max] * n, cooling)
        if feasible(top, limits, cap_w):
            return top
        lo_f, hi_f = limits.f_min, limits.f_max
        while hi_f - lo_f > SINGLE_TOL_MHZ:
            mid = 0.5 * (lo_f + hi_f)
            op = settle(model, vs, [mid] * n, cooling)
            if feasible(op, limits, cap_w):
                lo_f, lo = mid, op
            else:
                hi_f = mid
        return lo

    search = VsSearch(at, limits)
    search.grid()
    if fine:
        search.fine()
    return search.best


def per_chip(model: ModuleModel, limits: Limits, cooling: Cooling, cap_w: float, fine: bool = True,
             polish_steps: tuple[float, ...] = (), single: Operating | None = None) -> Operating | None:
    """The per-chip bound at `cap_w` (the module docstring says how, and how close it is).
    `single`: best_single's answer if the caller has it already (it is one of the candidates)."""
    p_star = power_limit(model, limits, cooling, cap_w)
    string = EdgeString(model, limits)

    def at(vs: float) -> Operating | None:
        op = solve_at_vs(model, string, limits, cooling, vs, p_star)
        return op if op is not None and feasible(op, limits, cap_w) else None

    search = VsSearch(at, limits)
    search.grid()  # at the 1 % edge
    if search.best is not None and fine:
        def with_margin(m: float) -> float:
            string.margin = m
            search.forget()
            return search.climb(2)

        string.margin = _golden_max(with_margin, string.min_margin,
                                    string.min_margin + MARGIN_SPAN_MHZ, MARGIN_TOL_MHZ)
        search.forget()
        search.climb(1)
    if single is None:
        single = best_single(model, limits, cooling, cap_w, fine)
    found = [op for op in (search.best, single) if op is not None]
    if not found:
        return None
    top = max(found, key=lambda op: op.ths)
    if polish_steps:
        top = polish(model, top, lambda op: feasible(op, limits, cap_w), cooling, polish_steps)
    return top


def _golden_max(fn: Callable[[float], float], lo: float, hi: float, tol: float) -> float:
    """The argmax of a unimodal fn on [lo, hi] (golden-section search); lo itself is tried too."""
    g = (math.sqrt(5) - 1) / 2
    best_x, best_y = lo, fn(lo)
    a, b = lo, hi
    x1, x2 = b - g * (b - a), a + g * (b - a)
    y1, y2 = fn(x1), fn(x2)
    while b - a > tol:
        if y1 >= y2:
            b, x2, y2 = x2, x1, y1
            x1 = b - g * (b - a)
            y1 = fn(x1)
        else:
            a, x1, y1 = x1, x2, y2
            x2 = a + g * (b - a)
            y2 = fn(x2)
    for x, y in ((x1, y1), (x2, y2)):
        if y > best_y:
            best_x, best_y = x, y
    return best_x
