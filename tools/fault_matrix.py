"""Every fault kind the simulator knows, against the running firmware (issue 15): alone and in
pairs, at several positions, on the fast lane (the firmware's modules on CPython, emulators
in-process, simulated board time) and on the MicroPython unix port (tools/fault_lanes.py). Per
run it prints what the board reported, the time to detect, the time to a safe state, and the
safety checks made every 100 ms of board time (500 ms on the MicroPython lane):
- any VOUT_COMMAND the regulator received outside the board's `vout` limits,
- any sensor reading above `dangerous_c` on a module whose regulator is on,
- any stored record corrupted: the module identity EEPROMs and the board's settings read back.

    python -m tools.fault_matrix [--lane fast|micropython|both] [--positions N] [--pairs N] [--seed 1] [--run-s 90]

"Reported" is the first event or module state naming the fault's cause (module fault causes,
chain faults with the chip, sensor errors, throttling, health flags); "safe" is the first moment
the module is in the state the fault calls for (regulator off for a regulator, chain or sensor
fault the guard cannot see past; throttled or off for heat; still hashing for a degraded chip,
whose safe state is to keep running within limits). Exit 1 on any unsafe outcome or any fault
not reported with its cause."""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for p in (ROOT, ROOT / "firmware"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from hashboard import identity  # noqa: E402
from hashboard import pmbus as pm  # noqa: E402
from hostlib import boards  # noqa: E402
from tools.fault_lanes import FastLane, RealLane  # noqa: E402

BOARD = "modular-4x"

# kind -> (expected words in the report, the state that is safe for it)
EXPECT = {
    "chip:dead": (("no_response",), "off"), "link": (("no_response",), "off"),
    "chip:flaky": (("crc", "no_response"), "any"), "chip:badid": (("bad_id",), "any"),
    "chip:unstable": (("unstable",), "any"), "chip:weak": (("unstable",), "any"),
    "chip:leaky": (("throttl", "unstable", "crc"), "any"),
    "vrm:ot": (("vrm:ot",), "off"), "vrm:oc": (("vrm:oc",), "off"), "vrm:uv": (("vrm:uv",), "off"),
    "vrm:nack": (("vrm:nack", "nack"), "off"), "vrm:enable_low": (("no_power_good", "vrm"), "off"),
    "sensor:open": (("sensor", "open", "no_response"), "any"), "sensor:short": (("sensor", "short", "out_of_range"), "any"),
    "sensor:stuck": (("stuck",), "any"), "uart:noise": (("crc", "noise", "no_response"), "any"),
    "ambient": (("throttl", "thermal:"), "cool"), "airflow": (("throttl", "thermal:"), "cool"),
    "cooling": (("throttl", "thermal:"), "cool"), "i2c:expander_nack": (("expander",), "any"),
}


def singles(rng: random.Random, positions: int, cfg: dict) -> list[tuple[str, str]]:
    """(kind, spec) for every fault kind at `positions` random places."""
    n = cfg["module"]["chips"]
    slots = len(cfg["slots"])
    out = []
    for _ in range(positions):
        for mode in ("dead", "flaky", "badid", "unstable", "weak", "leaky"):
            out.append((f"chip:{mode}", f"chip:{rng.randrange(slots)}.{rng.randrange(n)}:{mode}"))
        out.append(("link", f"link:{rng.randrange(slots)}.{rng.randrange(n - 1)}"))
        for mode in ("ot", "oc", "uv", "nack", "enable_low"):
            out.append((f"vrm:{mode}", f"vrm:{rng.randrange(slots)}:{mode}"))
        for mode in ("open", "short", "stuck"):
            s = rng.choice([s["name"] for sc in cfg["slots"] for s in sc["sensors"]])
            out.append((f"sensor:{mode}", f"sensor:{s}:{mode}"))
        out.append(("uart:noise", f"uart:{rng.randrange(slots)}:noise={rng.choice([0.003, 0.01, 0.05])}"))
        out.append(("ambient", f"ambient:{rng.choice([45, 55, 70])}"))
        out.append(("airflow", f"airflow:{rng.choice([0.3, 0.1, 0.0])}"))
        out.append(("cooling", f"cooling:{rng.randrange(slots)}:{rng.choice([2.5, 4.0, 8.0])}"))
    out.append(("i2c:expander_nack", "i2c:expander:nack"))
    return out


def _slot_of(spec: str, cfg: dict) -> int | None:
    parts = spec.split(":")
    if parts[0] in ("chip", "link", "aging"):
        return int(parts[1].split(".")[0])
    if parts[0] in ("vrm", "uart", "cooling"):
        return int(parts[1])
    if parts[0] == "sensor":
        for sc in cfg["slots"]:
            if any(s["name"] == parts[1] for s in sc["sensors"]):
                return sc["slot"]
    return None


def run_case(specs: list[tuple[str, str]], seed: int, run_s: float, lane: str = "fast") -> dict:
    cfg = boards.load(BOARD)
    lim = cfg["limits"]
    ln = FastLane(BOARD, seed) if lane == "fast" else RealLane(BOARD, seed)
    try:
        return _run(ln, cfg, lim, specs, run_s)
    finally:
        ln.close()


def _run(ln, cfg: dict, lim: dict, specs: list[tuple[str, str]], run_s: float) -> dict:
    bad_vout: list[float] = []
    for hw in ln.sim.modules:  # every VOUT_COMMAND the regulators receive, checked
        if hw is None:
            continue
        orig = hw.vrm.write_reg

        def spy(reg, data, _orig=orig, _vrm=hw.vrm):
            _orig(reg, data)
            if reg == pm.VOUT_COMMAND and len(data) >= 2:
                v = _vrm._v(pm.VOUT_COMMAND)
                if not lim["vout"]["min"] - 1e-6 <= v <= lim["vout"]["max"] + 1e-6:
                    bad_vout.append(v)

        hw.vrm.write_reg = spy
    images = [bytes(hw.eeprom.mem) if hw is not None and hw.eeprom is not None else None for hw in ln.sim.modules]
    ln.run_for(5000)
    t0 = ln.now_ms()
    seen_events = ln.mark()
    for _, spec in specs:
        ln.sim.inject(spec)
    slots = {_slot_of(spec, cfg) for _, spec in specs}
    detect: dict[str, float | None] = {spec: None for _, spec in specs}
    said: dict[str, str] = {spec: "-" for _, spec in specs}
    safe: dict[str, float | None] = {spec: None for _, spec in specs}
    hot_powered = 0.0
    danger = lim["thermal"]["dangerous_c"]
    text = ""
    while ln.now_ms() - t0 < run_s * 1000:
        ln.run_for(ln.step_ms)
        now = (ln.now_ms() - t0) / 1000.0
        text = ln.report(seen_events, slots)
        for hw in ln.sim.modules:
            if hw is None or not hw.vrm.enabled() or hw.vrm.vout() <= 0:
                continue
            hot = max((r for r in (_reading(s) for s in hw.sensors.values()) if r is not None), default=None)
            if hot is not None and hot > danger:
                hot_powered = max(hot_powered, hot)
        for kind, spec in specs:
            words, want = EXPECT[kind]
            hit = [w for w in words if w in text]
            if detect[spec] is None and hit:
                detect[spec] = now
                said[spec] = hit[0].rstrip(":")
            if safe[spec] is None and _is_safe(ln, want, _slot_of(spec, cfg), danger, lim["thermal"]["hot_c"]):
                safe[spec] = now
        if all(v is not None for v in detect.values()) and all(v is not None for v in safe.values()) \
                and now > 30:
            break
    corrupt = []
    for k, hw in enumerate(ln.sim.modules):
        if hw is None or hw.eeprom is None or images[k] is None:
            continue
        try:
            identity.decode(bytes(hw.eeprom.mem[:identity.RECORD_LEN]))
        except ValueError as e:
            corrupt.append(f"module {k} identity: {e}")
    if not ln.settings_ok():
        corrupt.append("settings")
    return {"specs": [s for _, s in specs], "said": said, "report": text[-160:], "detect": detect,
            "safe": safe, "bad_vout": bad_vout, "hot_powered": hot_powered, "corrupt": corrupt, "slots": slots}


def _reading(sensor) -> float | None:
    """What the sensor measures (its emulator's backend, °C), or None for a failed one."""
    return None if getattr(sensor, "fault", None) in ("open", "short") else sensor.source()


def _is_safe(ln, want: str, slot: int | None, danger: float, hot_c: float) -> bool:
    idx = [slot] if slot is not None else range(len(ln.sim.modules))
    if want == "any":
        return True
    if want == "off":  # the regulator's output, as the emulated part has it
        return all(ln.sim.modules[k] is None or ln.sim.modules[k].vrm.vout() == 0 for k in idx)
    # cool: every module below dangerous, and throttled or off where it was hot
    for k in idx:
        state, hot = ln.module_heat(k)
        if hot >= danger or (state not in ("throttled", "off", "fault") and hot >= hot_c):
            return False
    return True


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lane", choices=("fast", "micropython", "both"), default="fast",
                    help="the firmware on CPython (fast), on the MicroPython unix port, or both")
    ap.add_argument("--positions", type=int, help="places per fault kind (default 2 fast, 1 micropython)")
    ap.add_argument("--pairs", type=int, help="random pairs (default 12 fast, 4 micropython)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--run-s", type=float, default=90.0)
    a = ap.parse_args(argv)
    cfg = boards.load(BOARD)
    lanes = ("fast", "micropython") if a.lane == "both" else (a.lane,)
    print("| lane | fault | reported (cause) | detect s | safe s | VOUT out of limits | hot while powered | records |")
    print("|---|---|---|---|---|---|---|---|")
    unsafe = unreported = runs = 0
    t_wall = time.monotonic()
    for lane in lanes:
        real = lane == "micropython"
        rng = random.Random(a.seed)
        positions = a.positions if a.positions is not None else (1 if real else 2)
        cases = [[s] for s in singles(rng, positions, cfg)]
        pool = [s for s in singles(rng, 1, cfg)]
        for _ in range(a.pairs if a.pairs is not None else (4 if real else 12)):
            x, y = rng.sample(pool, 2)
            cases.append([x, y])
        for k, specs in enumerate(cases):
            # a sink shows a lost fan over its time constant (C_TH x R_SA: minutes): heat runs longer
            thermal = any(kind in ("ambient", "airflow", "cooling") for kind, _ in specs)
            r = run_case(specs, a.seed * 1000 + k, max(a.run_s, 900.0) if thermal else a.run_s, lane)
            runs += 1
            det = " / ".join("-" if r["detect"][s] is None else f"{r['detect'][s]:.1f}" for s in r["specs"])
            saf = " / ".join("-" if r["safe"][s] is None else f"{r['safe'][s]:.1f}" for s in r["specs"])
            bad = bool(r["bad_vout"]) or r["hot_powered"] > 0 or bool(r["corrupt"])
            unsafe += bad
            unreported += any(r["detect"][s] is None for s in r["specs"])
            said = " / ".join(r["said"][s] if r["detect"][s] is not None else "NOT REPORTED" for s in r["specs"])
            print(f"| {lane} | {' + '.join(r['specs'])} | {said} | {det} | {saf} | {len(r['bad_vout'])} | "
                  f"{r['hot_powered']:.1f} | {'ok' if not r['corrupt'] else '; '.join(r['corrupt'])} |", flush=True)
    print(f"\n{runs} runs ({', '.join(lanes)}) in {time.monotonic() - t_wall:.0f} s wall, seed {a.seed}: "
          f"{unsafe} unsafe, {unreported} not reported")
    return 1 if unsafe or unreported else 0


if __name__ == "__main__":
    sys.exit(main())
