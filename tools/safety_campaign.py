"""Long runs of the safety state machine (hil_tests/safety_model.py), and the planted-defect
check: each defect of issue 10 put back alone must be caught.

    python -m tools.safety_campaign [--examples 200] [--steps 40] [--seed N]
    python -m tools.safety_campaign --plant all [--examples 60]

Prints, per run, whether the invariants held (or which one failed first, after how many
examples). The loader defect (foreign_bundle_boots) is caught by hil_tests/test_safety_cases.py
and test_update.py, not by this machine, which has no flash: it is reported as such."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for p in (ROOT, ROOT / "firmware", ROOT / "hil_tests"):
    sys.path.insert(0, str(p))

from hypothesis import HealthCheck, Phase, settings  # noqa: E402
from hypothesis.stateful import run_state_machine_as_test  # noqa: E402

from safety_model import SafetyMachine  # noqa: E402
from tools.safety_plants import PLANTS, planted  # noqa: E402

# issue 10's case 7 (a bundle for another board) lives in the loader, which this machine (no
# flash) does not run: hil_tests/test_safety_cases.py::test_loader_refuses_a_bundle_for_another_board
NOT_HERE = "foreign_bundle_boots: loader only, see test_loader_refuses_a_bundle_for_another_board"


def run(examples: int, steps: int, seed: int | None, shrink: bool = True) -> tuple[bool, str, float]:
    phases = list(Phase) if shrink else [Phase.explicit, Phase.generate]
    cfg = settings(max_examples=examples, stateful_step_count=steps, deadline=None, database=None,
                   suppress_health_check=list(HealthCheck), print_blob=False, derandomize=seed is None,
                   phases=phases)
    t0 = time.monotonic()
    try:
        if seed is not None:
            from hypothesis import seed as hseed
            hseed(seed)(lambda: run_state_machine_as_test(SafetyMachine, settings=cfg))()
        else:
            run_state_machine_as_test(SafetyMachine, settings=cfg)
    except Exception as e:  # noqa: BLE001 - the failure is the result
        return False, f"{type(e).__name__}: {str(e).splitlines()[0][:160]}", time.monotonic() - t0
    return True, "all invariants held", time.monotonic() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--examples", type=int, default=200)
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--seed", type=int)
    ap.add_argument("--plant", help="a defect name, or 'all' (" + ", ".join(PLANTS) + ")")
    a = ap.parse_args()
    if not a.plant:
        ok, why, secs = run(a.examples, a.steps, a.seed)
        print(f"clean firmware: {a.examples} examples x {a.steps} steps: {why} ({secs:.0f} s)")
        return 0 if ok else 1
    names = list(PLANTS) if a.plant == "all" else [a.plant]
    missed = 0
    if a.plant == "all":
        print(NOT_HERE)
    for name in names:
        with planted(name):
            ok, why, secs = run(a.examples, a.steps, a.seed, shrink=False)  # caught or not is the result
        print(f"{name:32s} {'MISSED' if ok else 'caught'} ({secs:.0f} s): {why}")
        missed += ok
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
