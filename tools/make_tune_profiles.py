"""Write the chip profiles the tuner benchmark runs on and the tuner was not developed on
(tools/profiles/hidden-*.json): every chip of every module drawn from chip-model.md's default
distribution with the draw of hostlib.sim.physics, from seeds of their own, so a profile fixes
the silicon whatever --seed the board gets. `hidden-slow` also has a few slow chips per module.
Usage: python -m tools.make_tune_profiles"""

from __future__ import annotations

import json
import random
from pathlib import Path

from hostlib.sim.physics import draw_chip

OUT = Path(__file__).resolve().parent / "profiles"
MODULES, CHIPS = 4, 24
PLAIN = {"hidden-a": "13a", "hidden-b": "13b", "hidden-c": "13c"}
SLOW_SEED = "13slow"
SLOW_PER_MODULE = 3
SLOW_F_SCALE = (0.78, 0.86)  # a slow chip holds 78-86 % of its drawn frequency


def draw_profile(seed: str, slow: int = 0) -> dict:
    rng = random.Random(seed)
    modules = {}
    for m in range(MODULES):
        chips = []
        for _ in range(CHIPS):
            c = draw_chip(rng)
            chips.append({"F": round(c.F, 2), "C": round(c.C, 6), "L": round(c.L, 4), "Rjc": round(c.Rjc, 4)})
        for i in rng.sample(range(CHIPS), slow):
            chips[i]["F"] = round(chips[i]["F"] * rng.uniform(*SLOW_F_SCALE), 2)
        modules[str(m)] = {"chips": chips}
    return {"chip": "BM1370", "modules": modules,
            "note": f"tools/make_tune_profiles.py, seed {seed!r}, {slow} slow chips a module"}


def _one_chip_a_line(prof: dict) -> str:
    mods = ",\n".join(f' "{m}": {{"chips": [\n' + ",\n".join("  " + json.dumps(c) for c in v["chips"]) + "]}"
                      for m, v in prof["modules"].items())
    return (f'{{"chip": "{prof["chip"]}", "note": {json.dumps(prof["note"])},\n"modules": {{\n'
            + mods + "}}\n")


def main() -> None:
    OUT.mkdir(exist_ok=True)
    profiles = {name: draw_profile(seed) for name, seed in PLAIN.items()}
    profiles["hidden-slow"] = draw_profile(SLOW_SEED, SLOW_PER_MODULE)
    for name, prof in profiles.items():
        path = OUT / f"{name}.json"
        path.write_text(_one_chip_a_line(prof))
        print(path)


if __name__ == "__main__":
    main()
