"""hbctl diag (issue 14, docs/diagnostics.md): the firmware's staged module test names the root
cause with its catalogue code and the part to replace, passes healthy modules, leaves the other
modules hashing, and writes its verdict into the module's repair log. Fast lane for every fault
kind; one run through hbctl on the real interpreter."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import browser
import pytest

from hashboard.diagcodes import CATALOGUE, FAILING
from hashboard.diagops import DIAG_PASS, finding_code, log_code
from hostlib.sim import VirtualBoard
from hostlib.sim.fastlane import FastBoard

BIN = Path(sys.executable).parent


def diag(spec: str | None, slot: int, seed: int = 0, pre_ms: int = 3000) -> tuple[FastBoard, dict]:
    fb = FastBoard("modular-4x", seed=seed)
    if spec:
        fb.sim.inject(spec)
    fb.run_for(pre_ms)
    r = json.loads(fb.request("diag", module=slot, days=2500)[4:])
    assert r["ok"], r
    for _ in range(120):
        fb.run_for(1000)
        d = json.loads(fb.request("diag_status", module=slot)[4:])["data"]
        if not d["running"]:
            break
    return fb, d["modules"][0]


# (fault, slot, cause, chip) at positions the firmware was not developed on
CASES = [
    ("chip:2.17:dead", 2, "no_response", 17),
    ("chip:0.2:flaky", 0, "crc_errors", 2),
    ("chip:3.22:badid", 3, "bad_id", 22),
    ("chip:1.19:unstable", 1, "unstable", 19),
    ("chip:0.6:weak", 0, "weak", 6),
    ("link:2.10", 2, "chain_break", 11),  # the first chip the break cuts off (its link named)
    ("link:0.5", 0, "chain_break", 6),  # the break between two domains
    ("chip:1.12:dead", 1, "no_response", 12),  # the first chip of a domain
    ("vrm:3:ot", 3, "vrm_ot", None),
    ("vrm:0:oc", 0, "vrm_oc", None),
    ("vrm:2:uv", 2, "vrm_uv", None),
    ("vrm:1:nack", 1, "vrm_nack", None),
    ("sensor:m3.inlet:open", 3, "sensor_open", None),
    ("sensor:m0.outlet:short", 0, "sensor_short", None),
    ("sensor:m2.inlet:stuck", 2, "sensor_stuck", None),
    ("uart:3:noise=0.005", 3, "uart_noise", None),
]


@pytest.mark.parametrize("spec,slot,cause,chip", CASES, ids=[c[0] for c in CASES])
def test_each_fault_is_named_first_with_its_part(spec, slot, cause, chip):
    fb, doc = diag(spec, slot)
    assert doc["verdict"] == "fail", doc
    first = doc["findings"][0]
    assert (first["cause"], first["chip"]) == (cause, chip), doc["findings"]
    assert first["code"] == CATALOGUE[cause][0] and first["severity"] in FAILING
    assert first["module"] == slot and first["action"] and "?" not in first["action"]
    if chip is not None:
        assert first["ref"] == "U%d" % (chip + 1) and doc["bad_chips"][0] == chip
    else:
        assert first["ref"], first  # the regulator's or the sensor's designator
    assert doc["board_s"] <= 60.0
    for other in range(4):  # the neighbours kept hashing while this one was tested
        if other != slot:
            assert fb.app.modules[other].state == "hashing", (other, fb.app.modules[other].state)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_healthy_modules_pass_with_nothing_above_info(seed):
    fb, doc = diag(None, seed % 4, seed=seed)
    assert doc["verdict"] == "pass", doc
    assert [f for f in doc["findings"] if f["severity"] != "info"] == []
    assert [s["name"] for s in doc["stages"]] == ["identity", "regulator", "sensors", "chain", "balance", "nonce",
                                                 "grade", "cooling"]
    assert all(s["result"] == "pass" for s in doc["stages"][:-1]), doc["stages"]
    assert doc["stages"][-1]["result"] == "skip"  # seconds after power-on: the sink still heats
    grades = [g for g in doc["grades"] if g is not None]
    assert len(grades) == 24 and all(525.0 <= g <= 625.0 for g in grades), doc["grades"]
    assert doc["board_s"] <= 60.0
    assert fb.app.modules[seed % 4].state == "hashing"


def test_a_blank_identity_is_named_and_the_verdict_logged_where_it_can_be():
    fb = FastBoard("modular-4x")
    fb.run_for(2000)
    fb.sim.remove_module(1)
    fb.sim.insert_module(1, b"\xff" * 8192)
    fb.run_for(3000)
    assert fb.app.modules[1].state == "unidentified"
    r = json.loads(fb.request("diag", module=1, days=2500)[4:])
    assert r["ok"]
    fb.run_for(15000)
    doc = json.loads(fb.request("diag_status", module=1)[4:])["data"]["modules"][0]
    assert doc["findings"][0]["cause"] == "eeprom_blank" and doc["findings"][0]["ref"] == "U31"


def test_the_verdict_goes_into_the_repair_log():
    fb, doc = diag("chip:2.17:dead", 2)
    log = json.loads(fb.request("repair_log", module=2)[4:])["data"]["entries"]
    assert log[-1]["days"] == 2500 and log[-1]["arg"] == 17
    assert finding_code(log[-1]["code"]) == CATALOGUE["no_response"][0]
    fb, doc = diag(None, 1)
    log = json.loads(fb.request("repair_log", module=1)[4:])["data"]["entries"]
    assert log[-1]["code"] == DIAG_PASS and log[-1]["arg"] == 255


def test_every_catalogue_code_survives_the_repair_logs_one_byte():
    for cause, (code, _, _) in CATALOGUE.items():
        assert finding_code(log_code({"code": code})) == code, cause
    assert len({c[0] for c in CATALOGUE.values()}) == len(CATALOGUE)  # codes are unique


def test_hbctl_diag_on_the_real_interpreter(sim_only, tmp_path):
    report = tmp_path / "diag.html"
    with VirtualBoard(speed=5, faults=["chip:1.13:flaky"]) as vb:
        assert vb.wait_ready(60)
        vb.wait_board(3)
        r = subprocess.run([str(BIN / "hbctl"), "--port", vb.port, "diag", "--module", "1", "--json",
                            "--report", str(report)], capture_output=True, text=True, timeout=600)
        assert r.returncode == 1, r.stderr  # the module failed
        doc = json.loads(r.stdout)
        assert doc["board"] == "modular-4x" and doc["passes"] == 1
        assert [(m["module"], m["verdict"]) for m in doc["modules"]] == [(1, "fail")], doc
        st = json.loads(subprocess.run([str(BIN / "hbctl"), "--port", vb.port, "status", "--json"],
                                       capture_output=True, text=True, timeout=60).stdout)
        assert [m["state"] for m in st["modules"]] == ["hashing"] * 4  # the others never stopped
        m1 = doc["modules"][0]
        assert m1["findings"][0]["cause"] == "crc_errors" and m1["findings"][0]["ref"] == "U14"
        chip = m1["chips"][13]  # interfaces.md, "Diagnostics"
        assert {"index", "ref", "domain", "grade_mhz", "ok"} <= set(chip) and chip["ok"] is False
        assert chip["domain"] == 2
        r = subprocess.run([str(BIN / "hbctl"), "--port", vb.port, "repairs", "1"], capture_output=True,
                           text=True, timeout=60)
        assert "diag failed: 1003 crc_errors chip 13" in r.stdout, r.stdout
    # the report of that run, in a real headless browser: the injected fault's chip is the part
    # marked, the history holds the run's verdict, the console is clean
    dom, console = browser.render(report)
    assert browser.failing_refs(dom) == ["U14"], browser.failing_refs(dom)
    assert console == [] and 'data-verdict="fail"' in dom and "diag failed: 1003 crc_errors" in dom


def test_the_catalogue_page_lists_every_code_with_its_cause():
    page = (Path(__file__).resolve().parents[1] / "docs" / "diagnostics.md").read_text()
    for cause, (code, severity, _) in CATALOGUE.items():
        assert f"| {code} | `{cause}` | {severity} |" in page, cause


def test_a_stage_that_raises_ends_its_run_not_the_control_loop(monkeypatch):
    from hashboard import diagparts

    def broken(run):
        raise OSError(5)
        yield  # a generator, as every stage is

    monkeypatch.setattr(diagparts, "sensors", broken)
    fb, doc = diag(None, 2)
    assert doc["verdict"] == "fail" and doc["stages"][-1]["name"] == "aborted"
    assert "test error" in doc["stages"][-1]["evidence"]
    assert not fb.app.modules[2].under_test and fb.app.modules[2].state == "hashing"
    # a run that did not finish leaves no verdict in the repair log (it once logged a pass)
    assert doc["logged"] is False


def test_a_module_run_below_its_stock_point_is_judged_at_stock():
    """A module set (or tuned) to 4.20 V holds only ~80 % of its chips' stock frequency: the
    chip stages move it to its stock point first, so healthy chips are not blamed, and put
    the setting back afterwards."""
    fb = FastBoard("modular-4x", seed=4)
    fb.run_for(2000)
    assert json.loads(fb.request("set_vout", module=3, volts=4.2)[4:])["ok"]
    fb.run_for(3000)
    r = json.loads(fb.request("diag", module=3, days=2500)[4:])
    assert r["ok"], r
    for _ in range(120):
        fb.run_for(1000)
        d = json.loads(fb.request("diag_status", module=3)[4:])["data"]
        if not d["running"]:
            break
    doc = d["modules"][0]
    assert doc["verdict"] == "pass", doc["findings"]
    m = fb.app.modules[3]
    assert abs(m.vout_user - 4.2) < 1e-6 and m.state == "hashing"
    fb.run_for(2000)
    assert abs(m.vrm.vout_set - 4.2) < 1e-6  # ramped back to the module's own setting


def test_a_sink_that_cools_badly_is_named_against_its_neighbours():
    """cooling:M:FACTOR at steady state (the sink's resistance shows only once it has stopped
    heating: 300 board s): the module is failed for its cooling, its neighbour passes."""
    fb = FastBoard("modular-4x", seed=6)
    fb.sim.inject("cooling:1:1.8")
    fb.run_for(300_000)
    docs = {}
    for slot in (1, 2):
        assert json.loads(fb.request("diag", module=slot, days=2500)[4:])["ok"]
        for _ in range(200):
            fb.run_for(1000)
            d = json.loads(fb.request("diag_status", module=slot)[4:])["data"]
            if not d["running"]:
                break
        docs[slot] = d["modules"][0]
    first = docs[1]["findings"][0]
    assert docs[1]["verdict"] == "fail" and first["cause"] == "cooling" and first["code"] == 4001, docs[1]
    cool = [s for s in docs[2]["stages"] if s["name"] == "cooling"][0]
    assert docs[2]["verdict"] == "pass" and cool["result"] == "pass", docs[2]


def test_the_grade_climb_stops_short_of_the_regulators_current_trip():
    """Every chip climbing to the board's maximum at stock voltage draws more current than the
    module's tuned point: the grade stops at 85 % of the regulator's over-current trip, so it
    can never latch a module off for over-current (a regulator rated 80 A here)."""
    fb = FastBoard("modular-4x", seed=5)
    m = fb.app.modules[0]
    m.vrm.iout_max = 80.0
    fb.run_for(3000)
    peak = [0.0]
    step = fb.app.control_step

    def watched(*a, **k):
        r = step(*a, **k)
        peak[0] = max(peak[0], m.iout)
        return r

    fb.app.control_step = watched
    assert json.loads(fb.request("diag", module=0, days=2500)[4:])["ok"]
    for _ in range(120):
        fb.run_for(1000)
        d = json.loads(fb.request("diag_status", module=0)[4:])["data"]
        if not d["running"]:
            break
    grade = [s for s in d["modules"][0]["stages"] if s["name"] == "grade"][0]
    assert "current cap" in grade["evidence"], grade
    assert peak[0] <= 0.95 * 80.0, peak  # under the regulator's warning, far from its trip
    assert m.state == "hashing"
