"""Tuner benchmark (issue 13; prints numbers, not a test). Runs the firmware on a virtual board
(the real MicroPython unix port by default), asks it to tune in `power` mode at W per module
through the host protocol, waits in board time until it reports convergence, holds, and prints
per module and for the board: TH/s, W, J/TH, highest chip error and board seconds to converge,
beside the same figures for stock (525 MHz, default voltage), the best single frequency +
voltage and the per-chip bound (tools/tune_bound.py), all at steady state on the same silicon.

The firmware's figures are the emulator's truth (exact good hashrate, chip power at the
regulator output, error fractions, noiseless sensor readings), averaged over the last
--window board seconds of the hold; "steady" replays its final settings to thermal steady state
(the bound's terms). --swap also pulls module 0 after the hold and seats it again with its
EEPROM, and times how long it takes to be back at its tuned per-chip settings.

Usage: python -m tools.bench_tune --chip-profile tools/profiles/hidden-a.json --cap 250 331 400
       [--seed N] [--modules 0 1 2 3] [--ambient C] [--airflow A] [--per-module]
       [--lane micropython|cpython] [--speed X] [--max-board-s S] [--hold S] [--swap] [--json]"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from pathlib import Path

from hostlib import boards

from . import tune_bound as tb
from .bench_tune_report import print_run
from .steady_state import Cooling, Limits, module_model, settle
from .tune_lanes import LANES

POLL_S = 2.0
SWAP_POLL_S = 0.1
SWAP_LIMIT_S = 30.0
SWAP_TOL_MHZ = 4.0  # the stored profile's 2.5 MHz units, then the PLL's grid
SWAP_TOL_V = 0.011


def truth(sim, slot: int, cooling: Cooling) -> dict:
    """What the emulated module is doing right now, noiseless."""
    with sim.lock:  # the emulators' own threads step the same models
        return _now(sim.modules[slot].model, cooling)


def _now(model, cooling: Cooling) -> dict:
    return {"ths": sum(c.ghs for c in model.chips) / 1000.0, "power_w": model.power(),
            "max_err": max(c.err for c in model.chips),
            "outlet_c": model.t_sink + 2.0,
            "inlet_c": cooling.ambient_c + 0.3 * (model.t_sink - cooling.ambient_c)}


def mean(rows: list[dict]) -> dict:
    out = {k: sum(r[k] for r in rows) / len(rows) for k in rows[0]}
    out["jth"] = out["power_w"] / out["ths"] if out["ths"] > 0 else float("inf")
    return out


def yardsticks(cfg: dict, seed: int, profile: dict | None, slot: int, cooling: Cooling, cap: float) -> dict:
    model = module_model(cfg, seed, slot, profile)
    limits = Limits.from_board(cfg)
    single = tb.best_single(model, limits, cooling, cap)
    bound = tb.per_chip(model, limits, cooling, cap, single=single)
    return {"stock": tb.stock(model, limits, cooling).summary(),
            "single": None if single is None else dict(single.summary(), freq_mhz=round(single.freqs[0], 2)),
            "bound": None if bound is None else bound.summary()}


def run_firmware(args, profile: dict | None, cooling: Cooling, cap: float) -> dict:
    faults = [f"ambient:{args.ambient:g}", f"airflow:{args.airflow:g}"]
    lane = LANES[args.lane](args.seed, profile, faults, args.speed)
    try:
        return _tune(lane, args, cooling, cap)
    finally:
        lane.close()


def _tune(lane, args, cooling: Cooling, cap: float) -> dict:
    slots = args.modules
    for s in range(len(lane.sim.modules)):
        if s not in slots:
            lane.sim.remove_module(s)
    t = lane.now_s()
    while not all(m["state"] == "hashing" for m in lane.request("status")["modules"] if m["slot"] in slots):
        if lane.now_s() - t > 120:
            raise RuntimeError("modules not hashing after 120 board s")
        lane.run(0.5)
    if args.per_module:
        for s in slots:
            lane.request("tune", mode="power", target=cap, module=s)
    else:
        lane.request("tune", mode="power", target=cap * len(slots))
    t0 = lane.now_s()
    peak = {s: {"outlet_c": 0.0, "inlet_c": 0.0, "power_w": 0.0} for s in slots}
    converged_at = None
    samples: list[dict] = []
    while True:
        lane.run(POLL_S)
        now = lane.now_s() - t0
        doc = lane.request("tune_status")
        doc = doc.get("tune", doc)
        row = {s: truth(lane.sim, s, cooling) for s in slots}
        for s in slots:
            for k in peak[s]:
                peak[s][k] = max(peak[s][k], row[s][k])
        samples.append({"t": now, "row": row})
        if converged_at is None and doc.get("converged"):
            converged_at = now
        if converged_at is not None and now >= converged_at + args.hold:
            break
        if converged_at is None and now >= args.max_board_s:
            break
    window = [x["row"] for x in samples if x["t"] >= samples[-1]["t"] - args.window]
    out = {"converged_s": converged_at, "board_s": samples[-1]["t"], "modules": {}}
    for m in doc["modules"]:
        s = m.get("module", m.get("slot"))  # "slot" before the names of interfaces.md
        if s not in slots:
            continue
        chips = lane.request("tune_status", module=s, chips=True)
        chips = chips.get("tune", chips)["modules"][0]
        freqs = [c["freq_mhz"] for c in chips["chips"]]
        with lane.sim.lock:
            model = copy.deepcopy(lane.sim.modules[s].model)  # replayed aside: the live one runs on
        vs = model.vs
        steady = settle(model, vs, freqs, cooling)
        cm = m.get("converged_ms")
        out["modules"][s] = {
            "firmware": mean([r[s] for r in window]), "peak": peak[s], "phase": m.get("phase"),
            "converged_s": None if cm is None else cm / 1000.0, "vout": vs, "freqs": freqs,
            "parked": sum(1 for c in chips["chips"] if c.get("parked")),
            "reported": {"ths": m.get("ths"), "power_w": m.get("power_w")},
            "tuner": {k: v for k, v in m.items() if k != "chips"},  # its own account (ceiling, phase)
            "steady": steady.summary()}
    if args.swap:
        first = out["modules"][slots[0]]
        out["swap"] = swap_back(lane, slots[0], first["freqs"], first["vout"])
    return out


def swap_back(lane, slot: int, freqs: list[float], vout: float) -> dict:
    """Pull the module and seat it again with its EEPROM (the tuner's goal stays on): board
    seconds from insertion until every chip is at its tuned frequency again (within the stored
    profile's 2.5 MHz units and the PLL's grid) and the string at its voltage, or None if not
    within SWAP_LIMIT_S."""
    image = lane.module_eeprom(slot)
    lane.sim.remove_module(slot)
    lane.run(2.0)
    lane.sim.insert_module(slot, image)
    t0 = lane.now_s()
    stored = None
    while lane.now_s() - t0 < SWAP_LIMIT_S:
        lane.run(SWAP_POLL_S)
        if stored is None:  # the profile it carries for this goal (the first convergence's, not
            # the live settings continuous re-tuning moved since): what "back" means
            doc = lane.request("profiles", module=slot)
            p = doc["modules"][0]["profile"]
            if p is not None:
                stored = p
                freqs, vout = p["freqs_mhz"], p["vout"]
            else:
                continue
        with lane.sim.lock:
            model = lane.sim.modules[slot].model
            now = [c.f_mhz for c in model.chips]  # what each chip's PLL runs at while hashing
            vs = model.vs
        if all(abs(a - b) <= SWAP_TOL_MHZ for a, b in zip(now, freqs)) and abs(vs - vout) <= SWAP_TOL_V:
            return {"back_s": round(lane.now_s() - t0, 2)}
    return {"back_s": None, "limit_s": SWAP_LIMIT_S}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--chip-profile", type=Path, default=None)
    ap.add_argument("--cap", type=float, nargs="+", required=True, help="W per module")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--modules", type=int, nargs="+", default=[0, 1, 2, 3])
    ap.add_argument("--ambient", type=float, default=25.0)
    ap.add_argument("--airflow", type=float, default=1.0)
    ap.add_argument("--per-module", action="store_true", help="one power target per module")
    ap.add_argument("--lane", choices=sorted(LANES), default="micropython")
    ap.add_argument("--speed", type=float, default=5.0, help="board seconds per wall second (micropython)")
    ap.add_argument("--max-board-s", type=float, default=900.0)
    ap.add_argument("--hold", type=float, default=120.0, help="board s held after convergence")
    ap.add_argument("--window", type=float, default=30.0, help="board s averaged at the end")
    ap.add_argument("--swap", action="store_true")
    ap.add_argument("--yardsticks-only", action="store_true", help="stock, single and bound only")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    cfg = boards.load("modular-4x")
    profile = json.loads(args.chip_profile.read_text()) if args.chip_profile else None
    cooling = Cooling(args.ambient, args.airflow)
    runs = []
    for cap in args.cap:
        run = {"cap_w": cap, "profile": str(args.chip_profile), "seed": args.seed, "ambient_c": args.ambient,
               "airflow": args.airflow, "lane": args.lane, "speed": args.speed,
               "yardsticks": {s: yardsticks(cfg, args.seed, profile, s, cooling, cap) for s in args.modules}}
        if not args.yardsticks_only:
            try:
                run["firmware"] = run_firmware(args, profile, cooling, cap)
            except Exception as e:  # noqa: BLE001 - one cap's failure is reported, the rest still run
                run["firmware_error"] = f"{type(e).__name__}: {e}"
                print(f"cap {cap:g} W: {run['firmware_error']}", file=sys.stderr)
        runs.append(run)
        if not args.json:
            print_run(run, sys.stdout)
    if args.json:
        json.dump(runs, sys.stdout, indent=1)
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
