"""A slice of tools/fault_matrix.py on every suite run (the whole matrix is the tool's, quoted in
docs/benchmarks.md): faults alone and in a pair are reported with their cause, reach their safe
state, and trip none of the safety checks; and each check can fail."""

from __future__ import annotations

import pytest

from hashboard import pmbus as pm
from hostlib.sim.fastlane import FastBoard
from tools import fault_matrix as fm


@pytest.mark.parametrize("specs", [
    [("vrm:ot", "vrm:2:ot")],
    [("chip:dead", "chip:1.9:dead")],
    [("sensor:open", "sensor:m3.outlet:open"), ("vrm:nack", "vrm:0:nack")],
], ids=lambda s: "+".join(x[1] for x in s))
def test_faults_are_reported_and_made_safe(specs):
    r = fm.run_case(specs, seed=11, run_s=20)
    for _, spec in specs:
        assert r["detect"][spec] is not None and r["safe"][spec] is not None, r
    assert r["bad_vout"] == [] and r["hot_powered"] == 0.0 and r["corrupt"] == []


def test_a_pair_of_faults_on_the_real_interpreter(sim_only):
    """The same checks with the unchanged firmware on the MicroPython unix port (the matrix's
    micropython lane): a sensor gone open and a regulator that stops answering, at once."""
    specs = [("sensor:open", "sensor:m3.outlet:open"), ("vrm:nack", "vrm:0:nack")]
    r = fm.run_case(specs, seed=11, run_s=20, lane="micropython")
    for _, spec in specs:
        assert r["detect"][spec] is not None and r["safe"][spec] is not None, r
    assert r["bad_vout"] == [] and r["hot_powered"] == 0.0 and r["corrupt"] == []


def test_the_vout_check_sees_a_command_outside_the_limits(monkeypatch):
    """The spy on VOUT_COMMAND must be able to fail: a write of 5.5 V (above the board's 5.0)
    made behind the firmware's back is counted."""
    real = FastBoard.run_for

    def run_for(self, ms):
        real(self, ms)
        if not getattr(self, "_poked", False):
            self._poked = True
            vrm = self.sim.modules[1].vrm
            vrm.write_reg(pm.VOUT_COMMAND, pm.ulinear16_encode(5.5, vrm.vout_mode).to_bytes(2, "little"))

    monkeypatch.setattr(FastBoard, "run_for", run_for)
    r = fm.run_case([("vrm:oc", "vrm:3:oc")], seed=12, run_s=5)
    assert r["bad_vout"] and max(r["bad_vout"]) > 5.0
