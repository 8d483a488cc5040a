"""tools/bench_tune.py's harness against the protocol spec (docs/protocol.md, "Tuning") on a
scripted lane: the emulated silicon is real, the firmware is a stand-in that answers `tune` and
`tune_status` and puts the chips where a tuner would. No board time is waited on a wall clock."""

from argparse import Namespace

import pytest

from hostlib import boards
from hostlib.sim.simboard import SimBoard
from tools import bench_tune
from tools.bench_tune_report import board_totals, module_rows
from tools.steady_state import Cooling, settle

COOL = Cooling()
TUNED_MHZ = 480.0
TUNED_VS = 4.4
CONVERGES_AT_S = 30.0


class ScriptedLane:
    """Board time moves only in run(); `tune` starts a stand-in tuner converging at 30 s."""

    def __init__(self) -> None:
        self.sim = SimBoard(boards.load("modular-4x"), seed=3)
        self.t = 0.0
        self.requests: list[tuple[str, dict]] = []
        self.started: float | None = None
        self.lost_profile: set[int] = set()  # re-seated modules that come back at stock

    def module_eeprom(self, slot: int) -> bytes:
        return bytes(self.sim.modules[slot].eeprom.mem)

    def now_s(self) -> float:
        return self.t

    def run(self, board_s: float) -> None:
        self.t += board_s
        for slot, hw in enumerate(self.sim.modules):
            if hw is not None:
                on = self.started is not None and slot not in self.lost_profile
                n = len(hw.model.chips)
                settle(hw.model, TUNED_VS if on else 4.6, [TUNED_MHZ if on else 525.0] * n, COOL)

    def request(self, op: str, **args):
        self.requests.append((op, args))
        present = [i for i, hw in enumerate(self.sim.modules) if hw is not None]
        if op == "status":
            return {"modules": [{"slot": i, "state": "hashing" if i in present else "empty"} for i in range(4)]}
        if op == "tune":
            self.started = self.t
            return {}
        if op == "profiles":  # what the re-seated module carries: its tuned settings, or none
            s = args["module"]
            p = None if s in self.lost_profile else {"freqs_mhz": [TUNED_MHZ] * 24, "vout": TUNED_VS}
            return {"modules": [{"module": s, "profile": p}]}
        assert op == "tune_status"
        done = self.started is not None and self.t - self.started >= CONVERGES_AT_S
        slots = [args["module"]] if "module" in args else present
        mods = [{"module": s, "phase": "converged" if done else "probing", "converged": done,
                 "converged_ms": CONVERGES_AT_S * 1000 if done else None, "ths": 1.0, "power_w": 1.0}
                for s in slots]
        if args.get("chips"):
            for m in mods:
                m["chips"] = [{"index": k, "freq_mhz": TUNED_MHZ, "error_rate": 0.0, "ghs": 0.0, "parked": False}
                              for k in range(24)]
        return {"mode": "power", "converged": done, "modules": mods}


def options(**kw) -> Namespace:
    base = dict(modules=[0, 1, 2, 3], per_module=False, hold=20.0, window=10.0, max_board_s=600.0, swap=False)
    base.update(kw)
    return Namespace(**base)


def test_board_target_is_the_cap_times_the_modules_kept():
    lane = ScriptedLane()
    out = bench_tune._tune(lane, options(modules=[0, 2]), COOL, 250.0)
    tunes = [a for op, a in lane.requests if op == "tune"]
    assert tunes == [{"mode": "power", "target": 500.0}]
    assert lane.sim.modules[1] is None and lane.sim.modules[3] is None
    assert sorted(out["modules"]) == [0, 2]


def test_per_module_targets_name_each_module():
    lane = ScriptedLane()
    bench_tune._tune(lane, options(modules=[1, 3], per_module=True), COOL, 331.0)
    tunes = [a for op, a in lane.requests if op == "tune"]
    assert tunes == [{"mode": "power", "target": 331.0, "module": 1},
                     {"mode": "power", "target": 331.0, "module": 3}]


def test_waits_for_convergence_in_board_time_then_holds_and_reports_the_silicon():
    lane = ScriptedLane()
    out = bench_tune._tune(lane, options(modules=[0]), COOL, 331.0)
    assert out["converged_s"] == pytest.approx(CONVERGES_AT_S, abs=bench_tune.POLL_S)
    assert out["board_s"] >= out["converged_s"] + 20.0
    m = out["modules"][0]
    assert m["converged_s"] == CONVERGES_AT_S and m["freqs"] == [TUNED_MHZ] * 24
    truth = settle(lane.sim.modules[0].model, TUNED_VS, [TUNED_MHZ] * 24, COOL)
    assert m["firmware"]["ths"] == pytest.approx(truth.ths, rel=1e-6)
    assert m["steady"]["ths"] == pytest.approx(truth.ths, rel=1e-4)
    assert m["firmware"]["jth"] == pytest.approx(truth.jth, rel=1e-6)


def test_a_tuner_that_never_converges_is_reported_so_after_the_limit():
    lane = ScriptedLane()
    lane.request = _never(lane.request)
    out = bench_tune._tune(lane, options(modules=[0], max_board_s=40.0), COOL, 331.0)
    assert out["converged_s"] is None and 40.0 <= out["board_s"] < 40.0 + 2 * bench_tune.POLL_S


def _never(request):
    def wrapped(op, **args):
        doc = request(op, **args)
        if op == "tune_status":
            doc["converged"] = False
        return doc
    return wrapped


@pytest.mark.parametrize("restores", [True, False])
def test_swap_times_the_return_to_the_tuned_settings(restores):
    lane = ScriptedLane()
    if not restores:  # the image is read just before the pull: from then on it comes back at stock
        read = lane.module_eeprom
        lane.module_eeprom = lambda slot: (lane.lost_profile.add(slot), read(slot))[1]
    out = bench_tune._tune(lane, options(modules=[0, 1], swap=True), COOL, 331.0)
    if restores:
        assert out["swap"] == {"back_s": pytest.approx(bench_tune.SWAP_POLL_S)}
    else:
        assert out["swap"]["back_s"] is None
    assert lane.sim.modules[0] is not None  # seated again either way


def test_report_sums_modules_and_rates_the_firmware_against_the_bound():
    f = {"ths": 27.0, "power_w": 330.0, "jth": 330 / 27, "max_err": 0.006}
    run = {"yardsticks": {s: {"stock": dict(f, ths=25.0), "single": dict(f, ths=26.0), "bound": dict(f, ths=28.0)}
                          for s in (0, 1)},
           "firmware": {"converged_s": 100.0, "modules": {
               s: {"firmware": f, "steady": f, "converged_s": 90.0, "parked": 0, "peak": {}} for s in (0, 1)}}}
    rows = module_rows(run)
    board = rows["board"]
    assert board["firmware"]["ths"] == 54.0 and board["bound"]["ths"] == 56.0
    assert board["ratios"]["of_bound_pct"] == pytest.approx(100 * 27 / 28)
    assert board["ratios"]["vs_single_pct"] == pytest.approx(100 * (27 / 26 - 1))
    assert board_totals([f, None]) is None
