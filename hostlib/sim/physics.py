"""Physical model of hashing modules (normative text: docs/chip-model.md).

Units: MHz, V, W, A, degC, seconds. One ModuleModel per inserted module; the chain emulator
writes the digital state (PLL frequency, cores enabled) and reads hashrate/error fractions."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

DEFAULTS = {"VN": 1.15, "V0": 0.60, "K": 0.0015, "W": 6.0, "TAU_L": 40.0, "SMALL_CORES": 2040}
DEAD_LEAK_W_PER_V = 0.05
F_IDLE_MHZ = 25.0  # clock-tree load of a powered chip whose cores are not hashing (extension)
VRM_EFFICIENCY = 0.92


@dataclass
class Chip:
    F: float
    C: float
    L: float
    Rjc: float
    f_mhz: float = 0.0  # current PLL frequency while hashing (0 = not hashing)
    dead: bool = False
    F_scale: float = 1.0  # < 1 for an injected "unstable" chip
    L_extra: float = 0.0  # leakage (A at 25 C) a damaged die adds (fault chip:M.I:leaky)
    aging: float = 0.0  # MHz per hour its stable frequency loses (fault aging:M.I:RATE)
    F_loss: float = 0.0  # MHz lost to aging so far (permanent: clearing the fault stops the aging)
    v: float = 0.0
    t_j: float = 25.0
    p: float = 0.0
    err: float = 0.0
    ghs: float = 0.0
    hash_counts: float = 0.0  # counts of 2^32 hashes (0x8C), good + bad
    err_counts: float = 0.0  # error nonces at difficulty 1 (0x4C): one per 2^32 bad hashes on average
    err_due: float = 0.0  # expected error nonces since the last one
    err_next: float = 1.0  # the expected count at which the next one arrives (exponential draw)


def draw_chip(rng: random.Random) -> Chip:
    z1, z2, z3, z4 = (rng.gauss(0.0, 1.0) for _ in range(4))
    return Chip(
        F=660.0 * (1 + 0.06 * z1),
        C=0.01728 * (1 + 0.03 * z2),
        L=0.54 * (1 + 0.20 * z3 + 0.10 * z1),
        Rjc=0.5 * (1 + 0.10 * z4),
    )


@dataclass
class ModuleModel:
    chips: list[Chip]
    domains: int
    c_th: float = 550.0
    r_sa_nominal: float = 0.108
    r_factor: float = 1.0  # heat-sink resistance multiplier (fault cooling:M:FACTOR)
    consts: dict = field(default_factory=lambda: dict(DEFAULTS))
    t_sink: float = 25.0
    vs: float = 0.0  # string voltage set by the regulator (0 = off)
    current: float = 0.0
    domain_v: list[float] = field(default_factory=list)
    rng: random.Random = field(default_factory=random.Random)  # error-nonce arrivals

    @property
    def per_domain(self) -> int:
        return len(self.chips) // self.domains

    def fmax(self, chip: Chip, v: float, t: float) -> float:
        k = self.consts
        f = max(0.0, chip.F * chip.F_scale - chip.F_loss)
        return f * (v - k["V0"]) / (k["VN"] - k["V0"]) * (1 - k["K"] * (t - 60.0))

    def _leak(self, chip: Chip) -> float:
        """Current (A) that does not scale with voltage: L*exp((T-25)/TAU_L), or a dead chip's."""
        if chip.dead:
            return DEAD_LEAK_W_PER_V
        return (chip.L + chip.L_extra) * math.exp((chip.t_j - 25.0) / self.consts["TAU_L"])

    def solve_electrical(self) -> None:
        """Series string of domains: I = (VS + sum b/a) / sum 1/a, Vd = (I - b)/a."""
        n = self.per_domain
        if self.vs <= 0.0:
            self.current = 0.0
            self.domain_v = [0.0] * self.domains
            for c in self.chips:
                c.v = c.p = c.ghs = c.err = 0.0
            return
        a_list, b_list = [], []
        for d in range(self.domains):
            group = self.chips[d * n:(d + 1) * n]
            a = sum(c.C * max(c.f_mhz, F_IDLE_MHZ) for c in group if not c.dead)
            a_list.append(max(a, 0.01))
            b_list.append(sum(self._leak(c) for c in group))
        inv = sum(1.0 / a for a in a_list)
        current = (self.vs + sum(b / a for a, b in zip(a_list, b_list))) / inv
        self.current = current
        self.domain_v = [max(0.0, (current - b) / a) for a, b in zip(a_list, b_list)]
        k = self.consts
        for d in range(self.domains):
            vd = self.domain_v[d]
            for c in self.chips[d * n:(d + 1) * n]:
                c.v = vd
                if c.dead:
                    c.p = DEAD_LEAK_W_PER_V * vd
                    c.ghs = c.err = 0.0
                    continue
                c.p = c.C * vd * vd * max(c.f_mhz, F_IDLE_MHZ) + (c.L + c.L_extra) * vd * math.exp((c.t_j - 25.0) / k["TAU_L"])
                if c.f_mhz > 0:
                    x = (c.f_mhz - self.fmax(c, vd, c.t_j)) / k["W"]
                    c.err = 1.0 / (1.0 + math.exp(-x)) if x > -60 else 0.0
                    c.ghs = c.f_mhz * k["SMALL_CORES"] * (1 - c.err) / 1000.0
                else:
                    c.err = c.ghs = 0.0

    def tap_volts(self) -> list[float]:
        """The nodes between domains, from the string's return: domain 0's top, 0+1's, ..."""
        out, v = [], 0.0
        for vd in self.domain_v[:-1]:
            v += vd
            out.append(v)
        return out

    def power(self) -> float:
        return sum(c.p for c in self.chips)

    def step(self, dt: float, t_in: float, airflow: float) -> None:
        """Advance dt seconds: junction temperatures, electrical solve, heat sink."""
        for c in self.chips:
            c.t_j = self.t_sink + c.Rjc * c.p
        self.solve_electrical()
        for c in self.chips:  # second pass so leakage sees the junction temperature it causes
            c.t_j = self.t_sink + c.Rjc * c.p
        self.solve_electrical()
        r_sa = self.r_sa_nominal * self.r_factor / max(airflow, 0.02) ** 0.8
        for c in self.chips:
            if c.aging:
                c.F_loss += c.aging * dt / 3600.0
        p = self.power()
        remaining = dt
        while remaining > 0:  # explicit Euler in slices well below the sink's time constant
            h = min(remaining, 1.0)
            self.t_sink += h * (p - (self.t_sink - t_in) / r_sa) / self.c_th
            remaining -= h

    def count(self, dt: float) -> None:
        """Advance the chips' hash and error counters by dt seconds at the current state. The
        hash counter counts work done (exact); error nonces are events, a Poisson process at
        the rate the error fraction implies, so a tuner sees the noise real counters have."""
        scale = dt * 1e6 / 4294967296.0
        cores = self.consts["SMALL_CORES"]
        for c in self.chips:
            if c.f_mhz > 0 and not c.dead and self.vs > 0:
                total = c.f_mhz * cores * scale
                c.hash_counts += total
                c.err_due += total * c.err
                while c.err_due >= c.err_next:  # exponential gaps: a draw only per event
                    c.err_due -= c.err_next
                    c.err_counts += 1
                    c.err_next = self.rng.expovariate(1.0)

    def vrm_temp(self, t_in: float) -> float:
        p_out = self.vs * self.current
        return t_in + 0.35 * p_out * (1 / VRM_EFFICIENCY - 1)


def build_module(seed: int, slot: int, chips: int, domains: int, profile: dict | None,
                 c_th: float, r_sa: float) -> ModuleModel:
    """Draw silicon for one module from the seed; a chip profile overrides what it names."""
    rng = random.Random(f"{seed}:{slot}")
    consts = dict(DEFAULTS)
    mod_prof: dict = {}
    if profile:
        consts.update(profile.get("constants", {}))
        mod_prof = profile.get("modules", {}).get(str(slot), {})
    chip_list = []
    for i in range(chips):
        c = draw_chip(rng)
        over = mod_prof.get("chips", [])
        if i < len(over):
            for key in ("F", "C", "L", "Rjc"):
                if key in over[i]:
                    setattr(c, key, float(over[i][key]))
        chip_list.append(c)
    return ModuleModel(chips=chip_list, domains=domains, c_th=float(mod_prof.get("C_TH", c_th)),
                       r_sa_nominal=float(mod_prof.get("R_SA", r_sa)), consts=consts,
                       rng=random.Random(f"{seed}:{slot}:errors"))
