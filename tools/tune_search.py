"""Local search over per-chip frequencies on the exact steady-state model (no scipy): moves one
chip, or trades frequency between two chips, keeps a move when the replayed setting stays
feasible and gives more TH/s. Used to polish the structured bound and, from other starting
points, to check it independently."""

from __future__ import annotations

from typing import Callable

from hostlib.sim.physics import ModuleModel

from .steady_state import Cooling, Operating, settle

GAIN_TOL = 1e-9


def polish(model: ModuleModel, start: Operating, feasible: Callable[[Operating], bool],
           cooling: Cooling, steps: tuple[float, ...], pairs: bool = True,
           max_rounds: int = 50) -> Operating:
    """Best setting reachable from `start` by improving moves at each step size in turn."""
    best = start
    n = len(start.freqs)

    def better(freqs: list[float]) -> Operating | None:
        op = settle(model, best.vs, freqs, cooling)
        return op if op.ths > best.ths + GAIN_TOL and feasible(op) else None

    for step in steps:
        for _ in range(max_rounds):
            improved = False
            for i in range(n):
                for sign in (1.0, -1.0):
                    f = list(best.freqs)
                    f[i] += sign * step
                    op = better(f)
                    if op is not None:
                        best, improved = op, True
            if pairs:
                # one chip up, one down: the move that stays under a cap that single moves hit
                for i in range(n):
                    for j in range(n):
                        if i == j:
                            continue
                        f = list(best.freqs)
                        f[i] += step
                        f[j] -= step
                        op = better(f)
                        if op is not None:
                            best, improved = op, True
            if not improved:
                break
    return best


def repair(model: ModuleModel, vs: float, freqs: list[float], feasible: Callable[[Operating], bool],
           cooling: Cooling, f_min: float) -> Operating | None:
    """Lower a setting until it is feasible: chips past 1 % come down by their excess over the
    edge, then everything comes down together while the cap or the heat is exceeded."""
    freqs = list(freqs)
    for _ in range(200):
        op = settle(model, vs, freqs, cooling)
        if feasible(op):
            return op
        over = [e > 0.01 for e in op.errs]
        if any(over):
            freqs = [max(f_min, f - 2.0) if o else f for f, o in zip(freqs, over)]
        else:
            freqs = [max(f_min, 0.98 * f) for f in freqs]
        if all(f <= f_min for f in freqs):
            op = settle(model, vs, freqs, cooling)
            return op if feasible(op) else None
    return None


def multistart(model: ModuleModel, vs_list: list[float], feasible: Callable[[Operating], bool],
               cooling: Cooling, f_min: float, f_max: float, starts: int, rng,
               steps: tuple[float, ...] = (32.0, 16.0, 8.0, 4.0, 2.0, 1.0, 0.5)) -> Operating | None:
    """An independent search: random settings at each VS, repaired, then polished."""
    best = None
    for vs in vs_list:
        for _ in range(starts):
            start = repair(model, vs, [rng.uniform(f_min, f_max) for _ in model.chips], feasible,
                           cooling, f_min)
            if start is None:
                continue
            op = polish(model, start, feasible, cooling, steps)
            if best is None or op.ths > best.ths:
                best = op
    return best
