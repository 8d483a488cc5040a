"""Steady state of one module under fixed settings, computed with the emulator's own physics
(hostlib.sim.physics.ModuleModel, normative text: docs/chip-model.md), and the
board definition's limits those settings must keep. Used by tools/tune_bound.py and the tests.

Power is at the regulator output: Σ chip power = VS · I (what the firmware reads as vout·iout)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from hashboard import pmbus
from hashboard.tuning import CURRENT_SHARE
from hostlib.sim.physics import ModuleModel
from hostlib.sim.simboard import SimBoard

SINK_TOL_C = 1e-9
MAX_ITER = 400
RUNAWAY_C = 250.0  # no fixed point below this: leakage outruns the cooling
ERR_EDGE = 0.01
VOUT_MODE = 0x97  # the TPS546's (and the emulator's): linear, exponent -9, 1/512 V a step
# outlet reads T_sink + 2, inlet T_in + 0.3·(T_sink − T_in) (chip-model.md; noise left out)
OUTLET_OFFSET_C = 2.0
INLET_FRACTION = 0.3


@dataclass(frozen=True)
class Limits:
    """What a setting must keep (boards/*.json "limits")."""
    vs_min: float
    vs_max: float
    vs_step: float
    vs_default: float
    f_min: float
    f_max: float
    f_default: float
    hot_c: float
    iout_max: float

    @classmethod
    def from_board(cls, cfg: dict) -> "Limits":
        lim = cfg["limits"]
        v, f = lim["vout"], lim["freq_mhz"]
        # the current a tuned module may draw: the firmware's share of the over-current trip
        return cls(v["min"], v["max"], v["step"], v["default"], f["min"], f["max"], f["default"],
                   lim["thermal"]["hot_c"], lim["iout_max_a"] * CURRENT_SHARE)

    def settable(self, volts: float) -> float:
        """The string voltage the regulator really sets for a request (VOUT_COMMAND truncates)."""
        return pmbus.ulinear16_decode(pmbus.ulinear16_encode(volts + 1e-9, VOUT_MODE), VOUT_MODE)

    def vs_codes(self) -> range:
        """Every VOUT_COMMAND code inside the board's envelope, lowest first."""
        lo = pmbus.ulinear16_encode(self.vs_min - 1e-9, VOUT_MODE) + 1
        return range(lo, pmbus.ulinear16_encode(self.vs_max + 1e-9, VOUT_MODE) + 1)

    def vs_grid(self) -> list[float]:
        """The board's step grid (vout min..max every step), as the regulator sets it."""
        n = int(round((self.vs_max - self.vs_min) / self.vs_step))
        return [self.settable(self.vs_min + i * self.vs_step) for i in range(n + 1)]

    def is_settable(self, volts: float) -> bool:
        return self.vs_min - 1e-12 <= volts <= self.vs_max + 1e-12 and self.settable(volts) == volts


@dataclass(frozen=True)
class Cooling:
    ambient_c: float = 25.0
    airflow: float = 1.0

    def r_sa(self, model: ModuleModel) -> float:
        return model.r_sa_nominal / max(self.airflow, 0.02) ** 0.8

    def max_sink_c(self, hot_c: float) -> float:
        """Highest heat-sink temperature at which both sensors read at most hot_c."""
        by_inlet = self.ambient_c + (hot_c - self.ambient_c) / INLET_FRACTION
        return min(hot_c - OUTLET_OFFSET_C, by_inlet)


@dataclass
class Operating:
    """A settled module: the settings and what they give."""
    vs: float
    freqs: list[float]
    ths: float = 0.0
    power_w: float = 0.0
    current_a: float = 0.0
    errs: list[float] = field(default_factory=list)
    ghs: list[float] = field(default_factory=list)
    domain_v: list[float] = field(default_factory=list)
    t_sink: float = 0.0
    max_tj: float = 0.0
    inlet_c: float = 0.0
    outlet_c: float = 0.0
    settled: bool = True

    @property
    def max_err(self) -> float:
        return max(self.errs) if self.errs else 0.0

    @property
    def jth(self) -> float:
        return self.power_w / self.ths if self.ths > 0 else math.inf

    def summary(self) -> dict:
        return {"ths": round(self.ths, 4), "power_w": round(self.power_w, 2), "jth": round(self.jth, 3),
                "max_err": round(self.max_err, 5), "vs": self.vs, "outlet_c": round(self.outlet_c, 2),
                "current_a": round(self.current_a, 2), "max_tj": round(self.max_tj, 2)}


def module_model(cfg: dict, seed: int, slot: int, profile: dict | None) -> ModuleModel:
    """The silicon the emulator puts in `slot`, built by the emulator itself (same seed, profile
    and cooling as a virtual board's), so the two cannot drift apart."""
    model = SimBoard(cfg, seed=seed, chip_profile=profile).modules[slot].model  # type: ignore[union-attr]
    return model


def settle(model: ModuleModel, vs: float, freqs: list[float], cooling: Cooling) -> Operating:
    """Run the model's own electrical solve to its thermal fixed point (no time stepping: the
    heat sink at T_in + R_SA·P, each junction at T_sink + Rjc·P_i, leakage at those). It starts
    from the model's last state: searches settle nearby settings one after another."""
    for c, f in zip(model.chips, freqs):
        c.f_mhz = f
    model.vs = vs
    r_sa = cooling.r_sa(model)
    t_sink = model.t_sink
    ok = False
    for _ in range(MAX_ITER):
        model.t_sink = t_sink
        hottest = 0.0
        for c in model.chips:
            c.t_j = t_sink + c.Rjc * c.p
            hottest = max(hottest, c.t_j)
        if hottest > RUNAWAY_C:
            break  # leakage runs away in a junction (hot air, weak airflow): no fixed point
        model.solve_electrical()
        new = cooling.ambient_c + r_sa * model.power()
        if new > RUNAWAY_C:
            break
        done = abs(new - t_sink) < SINK_TOL_C and all(
            abs(c.t_j - (new + c.Rjc * c.p)) < SINK_TOL_C for c in model.chips)
        t_sink = new
        if done:
            ok = True
            break
    model.t_sink = t_sink if ok else cooling.ambient_c  # a runaway is not the next search's start
    return Operating(
        vs=vs, freqs=list(freqs), ths=sum(c.ghs for c in model.chips) / 1000.0,
        power_w=model.power(), current_a=model.current, errs=[c.err for c in model.chips],
        ghs=[c.ghs for c in model.chips], domain_v=list(model.domain_v), t_sink=t_sink,
        max_tj=max(c.t_j for c in model.chips),
        inlet_c=cooling.ambient_c + INLET_FRACTION * (t_sink - cooling.ambient_c),
        outlet_c=t_sink + OUTLET_OFFSET_C, settled=ok)


def violations(op: Operating, limits: Limits, cap_w: float | None, tol: float = 1e-6) -> list[str]:
    """Every constraint the bound holds a setting to; empty when it keeps them all."""
    out = []
    if not op.settled:
        out.append("no thermal fixed point")
    if not limits.is_settable(op.vs):
        out.append(f"VS {op.vs} is not a regulator setting inside {limits.vs_min}..{limits.vs_max} V")
    for i, f in enumerate(op.freqs):
        if not limits.f_min - tol <= f <= limits.f_max + tol:
            out.append(f"chip {i} at {f} MHz outside {limits.f_min}..{limits.f_max}")
    for i, e in enumerate(op.errs):
        if e > ERR_EDGE + tol:
            out.append(f"chip {i} error {e:.4%} > 1 %")
    if cap_w is not None and op.power_w > cap_w * (1 + tol):
        out.append(f"power {op.power_w:.2f} W > cap {cap_w} W")
    if op.current_a > limits.iout_max * (1 + tol):
        out.append(f"current {op.current_a:.1f} A > {limits.iout_max} A")
    for name, t in (("inlet", op.inlet_c), ("outlet", op.outlet_c)):
        if t > limits.hot_c + tol:
            out.append(f"{name} {t:.2f} °C > hot {limits.hot_c} °C")
    return out
