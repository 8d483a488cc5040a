"""Warnings before failure (issue 14, docs/diagnostics.md "Health history"): the board records
each chip's error rate at its setting into a bounded ring on its flash, `hbctl health` judges the
trend. An aging chip is flagged while its errors are still under 1 %; healthy chips are not; the
history survives a power cut on the real interpreter's littlefs."""

from __future__ import annotations

import json
import math
import random
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from hashboard import healthrec
from hostlib import healthtrend
from hostlib import boards, health
from hostlib.sim import VirtualBoard
from hostlib.sim.fastlane import FastBoard

BIN = Path(sys.executable).parent


def board_file(tmp_path: Path, period_s: int, slots: int = 192, board: str = "modular-4x") -> str:
    cfg = json.loads(boards.path_of(board).read_text())
    cfg["timing"].update({"health_period_s": period_s, "health_slots": slots})
    p = tmp_path / f"{board}.json"
    p.write_text(json.dumps(cfg))
    return str(p)


def requester(fb: FastBoard):
    def req(op: str, args: dict) -> dict:
        r = json.loads(fb.request(op, **args)[4:])
        assert r["ok"], r
        return r["data"]
    return req


# ---------------------------------------------------------------- the record and its ring
def test_a_record_round_trips_and_a_torn_one_is_skipped():
    n = 24
    b = bytearray(healthrec.size(n))
    for i in range(n):
        healthrec.pack_chip(b, i, 5250 + i, 12 * i, 0 if i else 137, healthrec.CHIP_RAN)
    healthrec.pack_header(b, healthrec.PERIOD, 2, n, 41, 7200, 3600, 4600, 3305, 621, 75,
                          healthrec.serial_tag("HB0001-02"), 894000)
    healthrec.seal(b, n)
    r = healthrec.decode(b)
    assert (r["module"], r["seq"], r["t_s"], r["vout"], r["power_w"], r["temp_c"]) == (2, 41, 7200, 4.6, 330.5, 62.1)
    assert r["chips"][3] == {"freq_mhz": 525.3, "err": 36e-6, "grade_mhz": None, "ran": True, "moved": False}
    assert r["chips"][0]["grade_mhz"] == 685.0
    for k in (0, 9, len(b) - 1):  # any byte a cut left half-written: the record is not read
        torn = bytearray(b)
        torn[k] ^= 0x10
        assert healthrec.decode(torn) is None
    assert healthrec.decode(bytes(len(b))) is None and healthrec.decode(b"\xff" * len(b)) is None


def test_the_ring_stays_bounded_and_goes_on_after_a_reboot(tmp_path):
    fb = FastBoard(board_file(tmp_path, 5, slots=8))
    fb.run_for(60_000)
    size = fb.app.healthlog.size
    assert size == healthrec.size(24)
    ring = fb.store.docs["health.bin"]
    assert len(ring) == 8 * size  # 4 modules x ~10 periods went round a ring of 8 slots
    before, facts, torn = health.records(requester(fb))
    assert len(before) == 8 and torn == 0
    newest = max(r["seq"] for r in before)
    fb.reboot()  # flash kept: the ring and its operating seconds go on
    fb.run_for(20_000)
    after, facts, _ = health.records(requester(fb))
    assert len(fb.store.docs["health.bin"]) == 8 * size
    assert min(r["seq"] for r in after) > newest - 8 and max(r["seq"] for r in after) > newest
    assert max(r["t_s"] for r in after) > max(r["t_s"] for r in before)
    assert facts["op_s"] >= max(r["t_s"] for r in after)


def test_a_board_whose_module_has_no_serial_keeps_a_history_too(tmp_path):
    fb = FastBoard(board_file(tmp_path, 5, board="bitaxe-gamma"))
    fb.run_for(30_000)
    doc = health.judge(requester(fb))
    assert [(c["module"], c["index"], c["flag"]) for c in doc["chips"]] == [(0, 0, "ok")], doc
    assert doc["modules"][0]["records"] >= 3, doc["modules"]


def test_a_record_that_cannot_be_written_never_stops_the_control_loop(tmp_path, monkeypatch):
    """A failing flash (or a bug in the writer) costs the history a record, counted, and the
    board hashes on; the regulator's noise around 0 A never breaks the record's packing."""
    fb = FastBoard(board_file(tmp_path, 5))
    fb.run_for(3_000)

    def broken(*a):
        raise RuntimeError("flash controller hung")
    monkeypatch.setattr(fb.store, "blob_write", broken)
    fb.run_for(15_000)
    assert fb.app.healthlog.write_errors >= 4 and fb.app.state == "hashing"
    b = bytearray(healthrec.size(1))
    healthrec.pack_header(b, healthrec.PERIOD, 0, 1, 0, 0, 0, 4600, -3, 250, -1, 0, 0)
    healthrec.seal(b, 1)
    assert healthrec.decode(b)["power_w"] == 0.0


def test_bad_paging_args_are_refused_with_their_name():
    fb = FastBoard()
    for args, word in (({"from": -1}, "from"), ({"from": "x"}, "from"), ({"module": 7}, "module")):
        r = json.loads(fb.request("health", **args)[4:])
        assert not r["ok"] and word in r["error"]["message"], r


# ---------------------------------------------------------------- the trend policy
def _pois(rng: random.Random, lam: float) -> int:
    if lam > 50:
        return max(0, int(rng.gauss(lam, math.sqrt(lam)) + 0.5))
    k, p, floor = 0, 1.0, math.exp(-lam)
    while True:
        p *= rng.random()
        if p < floor:
            return k
        k += 1


def _history(rates, temps, freqs=None, n=3750, step_s=900, median=None):
    """Decoded records of one 6-chip module: chip 0 at `rates`/`freqs`, its neighbours steady."""
    rng = random.Random(len(rates))
    out = []
    for j, (e, t) in enumerate(zip(rates, temps)):
        f0 = freqs[j] if freqs else 525.0
        chips = [{"ran": True, "moved": False, "freq_mhz": f0, "err": _pois(rng, n * e) / n, "grade_mhz": None}]
        chips += [{"ran": True, "moved": False, "freq_mhz": median[j] if median else 525.0, "err": 0.0,
                   "grade_mhz": None} for _ in range(5)]
        out.append({"kind": "period", "module": 0, "seq": j, "t_s": step_s * j, "span_s": step_s, "vout": 4.6,
                    "vout_moved": False, "power_w": 330.0, "temp_c": t, "rise_c": 23.0, "tag": 1,
                    "counts": n, "chips": chips})
    return out


@settings(max_examples=60, deadline=None)
@given(rate=st.floats(1e-5, 0.05), drift=st.floats(-3.0, 3.0), records=st.integers(3, 60),
       counts=st.sampled_from([3750, 90_000, 900_000]))
def test_a_steady_chip_is_never_flagged(rate, drift, records, counts):
    """A chip whose true error rate holds (any level, counts of 15 s to an hour, the sink drifting
    within the band) is ok: only a rise beyond chance and beyond the temperature moves it."""
    temps = [62.0 + drift * j / max(1, records - 1) for j in range(records)]
    true = [rate * math.exp(healthtrend.C_TEMP * (t - temps[0])) for t in temps]
    flag, ev = healthtrend.error_trend(_history(true, temps, n=counts), 0)
    assert flag == "ok", ev


@settings(max_examples=40, deadline=None)
@given(mhz_per_h=st.floats(0.5, 8.0), margin=st.floats(45.0, 80.0))
def test_an_aging_chip_is_flagged_before_it_reaches_one_percent(mhz_per_h, margin):
    """Hourly records of a chip whose limit falls mhz_per_h an hour from `margin` above its
    setting (the model's logistic error curve, W = 6 MHz): flagged while still under 1 %."""
    rates, flagged_at = [], None
    for h in range(400):
        x = -(margin - mhz_per_h * h) / 6.0
        e = 1.0 / (1.0 + math.exp(-x))
        if e >= 0.01:
            break
        rates.append(e)
        if len(rates) >= 3:
            flag, ev = healthtrend.error_trend(_history(rates, [62.0] * len(rates), n=900_000, step_s=3600), 0)
            if flag != "ok":
                flagged_at = e
                break
    assert flagged_at is not None and flagged_at < 0.01, (mhz_per_h, margin, rates[-3:])


def test_a_tuned_chip_whose_frequency_falls_is_watched_and_a_throttle_is_not():
    temps = [62.0] * 10
    falling = [600.0 - 6.25 * max(0, j - 4) for j in range(10)]  # the tuner lowers it step by step
    flag, ev = healthtrend.freq_trend(_history([0.0] * 10, temps, freqs=falling, median=[600.0] * 10), 0)
    assert flag == "watch" and "600.0 -> 568.8 MHz" in ev, ev
    throttle = [600.0 - 10 * j for j in range(10)]  # the whole module slows: the median moves too
    flag, ev = healthtrend.freq_trend(_history([0.0] * 10, temps, freqs=throttle, median=throttle), 0)
    assert flag == "ok", ev


def test_a_grade_falling_between_diag_runs_is_watched():
    def run(seq, g0):
        return {"kind": "diag", "module": 0, "seq": seq, "chips": [{"grade_mhz": g} for g in [g0] + [675.0] * 5]}
    assert healthtrend.grade_trend([run(1, 687.5), run(9, 650.0)], 0)[0] == "watch"
    assert healthtrend.grade_trend([run(1, 687.5), run(9, 675.0)], 0)[0] == "ok"


# ---------------------------------------------------------------- on a virtual board
def test_an_aging_chip_and_a_clogged_sink_are_flagged_before_the_chip_reaches_one_percent(tmp_path):
    """Fast lane, health period 15 board s: chip 1.7 worn to 55 MHz from its limit and aging
    300 MHz/h (0.1 % to 1 % in about 7 records), module 3's sink at 1.6x (the sinks start warm). `health`
    names chip 1.7 while the emulator's own error fraction for it is still under 1 %, and module 3
    for its cooling; no other chip is flagged."""
    fb = FastBoard(board_file(tmp_path, 15), seed=4)
    fb.run_for(20_000)
    for hw in fb.sim.modules:  # a board that has run a while: each sink at its steady state
        hw.model.t_sink = hw.t_in + hw.model.power() * hw.model.r_sa_nominal
    fb.run_for(30_000)  # (without this, 240 board s of warming; records at one temperature)
    model = fb.sim.modules[1].model
    c = model.chips[7]
    fmax = model.fmax(c, c.v, c.t_j)
    c.F_loss = (fmax - c.f_mhz - 55.0) / (fmax / (c.F * c.F_scale))  # a chip that has worn already
    fb.sim.inject("aging:1.7:300")
    fb.sim.inject("cooling:3:1.6")
    doc, true_err = None, None
    for _ in range(40):
        fb.run_for(15_000)
        doc = health.judge(requester(fb))
        if any(x["flag"] != "ok" for x in doc["chips"]):
            true_err = c.err
            break
    assert true_err is not None, "never flagged"
    assert true_err < 0.01, true_err
    flagged = [(x["module"], x["index"], x["flag"]) for x in doc["chips"] if x["flag"] != "ok"]
    assert flagged in ([(1, 7, "watch")], [(1, 7, "replace")]), flagged
    ev = next(x["evidence"] for x in doc["chips"] if x["index"] == 7 and x["module"] == 1)
    assert ev.startswith("errors ") and "at 525.0 MHz" in ev, ev
    fb.run_for(6 * 15_000)  # the sink's rise needs its time constant (x1.6: ~95 s) to show
    doc = health.judge(requester(fb))
    assert [(m["module"], m["flag"]) for m in doc["modules"]] == [(0, "ok"), (1, "ok"), (2, "ok"), (3, "watch")], doc["modules"]
    assert "heat sink" in doc["modules"][3]["evidence"]


def test_hbctl_health_on_the_real_interpreter_survives_a_power_cut(sim_only, tmp_path):
    with VirtualBoard(board=board_file(tmp_path, 5), speed=5) as vb:
        assert vb.wait_ready(60)
        vb.wait_board(14)  # (the real interpreter's board time runs near 1x wall time here)
        r = subprocess.run([str(BIN / "hbctl"), "--port", vb.port, "health", "--json"], capture_output=True,
                           text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        doc = json.loads(r.stdout)
        assert len(doc["chips"]) == 96 and {c["flag"] for c in doc["chips"]} == {"ok"}
        assert {"module", "index", "flag", "evidence"} <= set(doc["chips"][0]) and doc["chips"][30]["ref"] == "U7"
        before = {m["module"]: m["records"] for m in doc["modules"]}
        assert all(n >= 1 for n in before.values()), doc["modules"]
        vb.power_cut()
        vb.power_on()
        assert vb.wait_ready(60)
        vb.wait_board(12)
        r = subprocess.run([str(BIN / "hbctl"), "--port", vb.port, "health"], capture_output=True, text=True,
                           timeout=120)
        assert r.returncode == 0, r.stderr
        assert "96 chips: 96 ok, 0 flagged" in r.stdout, r.stdout
        r = subprocess.run([str(BIN / "hbctl"), "--port", vb.port, "health", "--json", "--module", "2"],
                           capture_output=True, text=True, timeout=120)
        after = json.loads(r.stdout)
        assert [m["module"] for m in after["modules"]] == [2] and after["torn_records"] == 0
        assert after["modules"][0]["records"] > before[2]  # what was written before the cut is still there
        assert after["op_s"] >= 14
