"""Diagnostics campaign (issue 14): every fault kind the simulator knows, injected at seeded
random positions and modules, then `diag` on that module; prints a confusion matrix (injected
cause x first finding's cause), how often the component (chip index, or the part's designator)
is exact, the board time per run, and the false failures on healthy seeded modules.

    python -m tools.diag_campaign [--per-kind 3] [--healthy 50] [--seed 1] [--passes 1]

Runs the firmware's modules on CPython with simulated time (the fast lane: hostlib.sim.fastlane),
the same code the real interpreter runs. A cooling fault shows only once the heat sink stops
heating, so those boards run 300 board s before the test; the others 3 s."""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for p in (ROOT, ROOT / "firmware"):
    sys.path.insert(0, str(p))

from hashboard import refs  # noqa: E402
from hashboard.diagcodes import FAILING  # noqa: E402
from hostlib import boards  # noqa: E402
from hostlib.sim.fastlane import FastBoard  # noqa: E402

BOARD = "modular-4x"
SENSOR_MODES = ("open", "short", "stuck")
VRM_MODES = ("ot", "oc", "uv", "nack")


def expected(kind: str, mode: str, slot: int, i: int | None, k: int | None, cfg: dict) -> tuple[str, str | None]:
    """The cause and the component (designator) a correct diagnosis names first."""
    if kind == "chip":
        if mode == "leaky":  # its domain (the taps see domains; the bench finds the chip)
            return "domain_leak", refs.domain_refs(cfg, refs.chip_pos(cfg, i)[2])
        cause = {"dead": "no_response", "flaky": "crc_errors", "badid": "bad_id"}.get(mode, mode)
        return cause, refs.chip_ref(cfg, i)
    if kind == "link":  # the break between I and I+1: the first chip cut off, its link named
        return "chain_break", refs.chip_ref(cfg, i + 1)
    if kind == "vrm":
        return "vrm_" + mode, refs.part_ref(cfg, "vrm")
    if kind == "sensor":
        return "sensor_" + mode, refs.part_ref(cfg, "sensors", k)
    if kind == "uart":
        return "uart_noise", refs.part_ref(cfg, "connector")
    return "cooling", None  # the module's heat sink: no designator


def cases(per_kind: int, rng: random.Random, cfg: dict) -> list[tuple[str, str, int, str, str | None]]:
    n = cfg["module"]["chips"]
    slots = len(cfg["slots"])
    out = []
    for _ in range(per_kind):
        for mode in ("dead", "flaky", "badid", "unstable", "weak", "leaky"):
            m, i = rng.randrange(slots), rng.randrange(n)
            out.append(("chip", f"chip:{m}.{i}:{mode}", m) + expected("chip", mode, m, i, None, cfg))
        m, i = rng.randrange(slots), rng.randrange(n - 1)
        out.append(("link", f"link:{m}.{i}", m) + expected("link", "", m, i, None, cfg))
        for mode in VRM_MODES:
            m = rng.randrange(slots)
            out.append(("vrm", f"vrm:{m}:{mode}", m) + expected("vrm", mode, m, None, None, cfg))
        for mode in SENSOR_MODES:
            m, k = rng.randrange(slots), rng.randrange(2)
            name = cfg["slots"][m]["sensors"][k]["name"]
            out.append(("sensor", f"sensor:{name}:{mode}", m) + expected("sensor", mode, m, None, k, cfg))
        m = rng.randrange(slots)
        out.append(("uart", f"uart:{m}:noise={rng.choice([0.003, 0.005, 0.01])}", m)
                   + expected("uart", "", m, None, None, cfg))
        m = rng.randrange(slots)
        out.append(("cooling", f"cooling:{m}:{rng.choice([1.5, 1.8, 2.5])}", m)
                   + expected("cooling", "", m, None, None, cfg))
    return out


def run_diag(fb: FastBoard, slot: int, passes: int) -> dict:
    r = json.loads(fb.request("diag", module=slot, passes=passes, days=2500)[4:])
    assert r["ok"], r
    for _ in range(400):
        fb.run_for(1000)
        d = json.loads(fb.request("diag_status", module=slot)[4:])["data"]
        if not d["running"]:
            return d["modules"][0]
    raise RuntimeError(f"diag of module {slot} did not finish")


def campaign(per_kind: int, healthy: int, seed: int, passes: int = 1) -> dict:
    """Run it: the matrix (injected cause -> first failing finding's cause -> count), exact
    counts per cause, the misses, and the board time of each diag."""
    cfg = boards.load(BOARD)
    rng = random.Random(seed)
    matrix: dict[str, Counter] = defaultdict(Counter)
    exact: Counter = Counter()
    total: Counter = Counter()
    misses = []
    faulty_s = []
    for n_case, (kind, spec, slot, cause, ref) in enumerate(cases(per_kind, rng, cfg)):
        fb = FastBoard(BOARD, seed=seed * 1000 + n_case)
        fb.sim.inject(spec)
        fb.run_for(300_000 if kind == "cooling" else 3000)
        doc = run_diag(fb, slot, passes)
        failing = [f for f in doc["findings"] if f["severity"] in FAILING]
        first = failing[0] if failing else None
        got = first["cause"] if first else "(pass)"
        matrix[cause][got] += 1
        total[cause] += 1
        if first and got == cause and first["ref"] == ref and first["module"] == slot:
            exact[cause] += 1
        else:
            misses.append(f"{spec}: expected {cause} at {ref or 'module'}, got {got} at "
                          f"{(first or {}).get('ref') or '-'}")
        faulty_s.append(doc["board_s"])
    healthy_fail = healthy_minor = 0
    healthy_s = []
    for h in range(healthy):
        board_seed = 50_000 + seed * 1000 + h
        fb = FastBoard(BOARD, seed=board_seed)
        slot = h % len(cfg["slots"])
        fb.run_for(3000)
        doc = run_diag(fb, slot, passes)
        healthy_s.append(doc["board_s"])
        if doc["verdict"] != "pass":
            healthy_fail += 1
            misses.append(f"healthy seed {board_seed} module {slot}: "
                          + "; ".join(f"{f['cause']} at {f['ref']}" for f in doc["findings"]))
        healthy_minor += any(f["severity"] == "minor" for f in doc["findings"])
    return {"matrix": matrix, "exact": exact, "total": total, "misses": misses, "faulty_s": faulty_s,
            "healthy": healthy, "healthy_fail": healthy_fail, "healthy_minor": healthy_minor, "healthy_s": healthy_s}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--per-kind", type=int, default=3, help="random positions per fault kind (default 3)")
    ap.add_argument("--healthy", type=int, default=50, help="healthy modules to diagnose (default 50)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--passes", type=int, default=1)
    a = ap.parse_args()
    t0 = time.monotonic()
    r = campaign(a.per_kind, a.healthy, a.seed, a.passes)
    matrix, exact, total = r["matrix"], r["exact"], r["total"]
    causes = sorted(matrix)
    cols = sorted({c for row in matrix.values() for c in row})
    print(f"diag campaign: seed {a.seed}, {a.per_kind} positions per kind, passes {a.passes}, "
          f"{time.monotonic() - t0:.0f} s wall")
    print()
    print("| injected \\ first finding | " + " | ".join(cols) + " | exact component |")
    print("|---" * (len(cols) + 2) + "|")
    for c in causes:
        print(f"| {c} | " + " | ".join(str(matrix[c][k] or "") for k in cols)
              + f" | {exact[c]}/{total[c]} |")
    print()
    print(f"exact cause and component: {sum(exact.values())}/{sum(total.values())}")
    print(f"healthy modules: {r['healthy']}, failed {r['healthy_fail']}, with a minor finding {r['healthy_minor']}")
    for what, ts in (("a healthy", r["healthy_s"]), ("a faulty", r["faulty_s"])):
        if ts:
            print(f"board time of {what} module's diag: median {statistics.median(ts):.1f} s, max {max(ts):.1f} s")
    for m in r["misses"]:
        print("MISS", m)
    return 0 if not r["misses"] else 1


if __name__ == "__main__":
    sys.exit(main())
