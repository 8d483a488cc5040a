"""A module's tuner closed around the emulator's physics alone (no chain, no regulator, no
firmware loop): seconds-per-step plant for hypothesis and for developing the policy. The firmware
lanes (fast and real interpreter) run the same ModuleTuner through Module and the chain."""

from __future__ import annotations

import math
import random

from hashboard.tuner import ModuleTuner
from hostlib.sim.physics import ModuleModel, build_module

FLIM = {"min": 50.0, "max": 625.0, "default": 525.0, "step": 12.5}
VLIM = {"min": 4.0, "max": 5.0, "default": 4.6, "step": 0.05}
HOT_C = 75.0


def poisson(rng: random.Random, lam: float) -> int:
    if lam < 30:
        k, p, t = 0, 1.0, math.exp(-lam)
        while True:
            p *= rng.random()
            if p <= t:
                return k
            k += 1
    return max(0, int(rng.gauss(lam, math.sqrt(lam)) + 0.5))


class Plant:
    def __init__(self, seed: int, profile: dict | None = None, ambient: float = 25.0, airflow: float = 1.0,
                 slot: int = 0) -> None:
        self.m: ModuleModel = build_module(seed, slot, 24, 4, profile, 550.0, 0.108)
        self.rng = random.Random(seed)
        self.ambient = ambient
        self.airflow = airflow
        self.m.t_sink = ambient
        self.vs = VLIM["default"]
        self.m.vs = self.vs
        for c in self.m.chips:
            c.f_mhz = FLIM["default"]
        self.t = 0.0
        self.max_sensor = -1e9
        self.max_err_after: dict[float, float] = {}

    def sensors(self) -> tuple[float, float]:
        m = self.m
        inlet = self.ambient + 0.3 * (m.t_sink - self.ambient) + self.rng.uniform(-0.25, 0.25)
        outlet = m.t_sink + 2 + self.rng.uniform(-0.25, 0.25)
        return inlet, outlet

    def step(self, dt: float = 1.0) -> tuple[list[int], list[int]]:
        m = self.m
        m.vs = self.vs
        m.step(dt, self.ambient, self.airflow)
        tot, err = [], []
        for c in m.chips:
            lam = c.f_mhz * 2040 * dt * 1e6 / 4294967296.0 if c.f_mhz > 0 else 0.0
            tot.append(int(lam))
            err.append(poisson(self.rng, lam * c.err))
        self.t += dt
        return tot, err

    def power(self) -> float:
        return self.m.power()

    def ths(self) -> float:
        return sum(c.ghs for c in self.m.chips) / 1000.0


def run(plant: Plant, mode: int, goal: float, seconds: int, tuner: ModuleTuner | None = None,
        on_step=None) -> ModuleTuner:
    tu = tuner or ModuleTuner(24, 4, FLIM, VLIM, HOT_C, 0.6, 550.0)
    if tuner is None:
        tu.start(mode, goal, [c.f_mhz for c in plant.m.chips], plant.vs, 0)
    for s in range(seconds):
        tot, err = plant.step(1.0)
        inlet, outlet = plant.sensors()
        now = int(plant.t * 1000)
        tu.observe(now, tot, err, plant.power(), plant.ths(), max(inlet, outlet), False)
        # the actuator: the board's limits always, as Module does
        plant.vs = max(VLIM["min"], min(VLIM["max"], tu.vs))
        for i, c in enumerate(plant.m.chips):
            c.f_mhz = max(FLIM["min"], min(FLIM["max"], tu.target(i)))
        if on_step is not None:
            on_step(plant, tu)
    return tu
