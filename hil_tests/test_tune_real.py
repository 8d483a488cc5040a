"""The tuner on the real interpreter, driven as an operator would (hbctl over a pty): one
module tuned to a power goal converges with every chip inside the limits and at or below 1 %
errors, beats stock J/TH, keeps its result in its EEPROM, and brings it to another slot."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from board_time import settle_hashing
from hostlib.link import Link
from hostlib.sim import VirtualBoard

BIN = Path(sys.executable).parent
GOAL_W = 300.0


def hb(port, *a, timeout=600):
    return subprocess.run([str(BIN / "hbctl"), "--port", port, *a], capture_output=True, text=True, timeout=timeout)


def error_rates(vb, slot, board_s):
    """Each chip's true error fraction, averaged over board_s board seconds (one sample a
    board second); also bounds every instant by the chip loop's quick-test threshold."""
    sums = None
    for _ in range(board_s):
        vb.wait_board(1.0)
        with vb.sim.lock:  # the emulator's threads step the same models
            now = [c.err for c in vb.sim.modules[slot].model.chips]
        assert max(now) < 0.03, now  # past this the chip loop steps down within a second
        sums = now if sums is None else [a + b for a, b in zip(sums, now)]
    return [s / board_s for s in sums]


def test_one_module_converges_and_its_profile_travels(sim_only):
    with VirtualBoard(speed=10) as vb:
        assert vb.wait_ready(60)
        settle_hashing(vb)
        with Link(vb.port, timeout=10) as link:
            stock = link.request("status", {})
        m1 = stock["modules"][1]
        stock_jth = m1["power_w"] / (m1["ghs"] / 1000)
        with Link(vb.port, timeout=10) as link:
            link.request("tune", {"mode": "power", "target": GOAL_W, "module": 1})
            t0 = vb.board_ms()
            while True:  # board time: however busy this machine, the firmware gets its 10 minutes
                vb.wait_board(10)
                doc = link.request("tune_status", {"module": 1})
                if doc["modules"][0]["converged"] or vb.board_ms() - t0 > 600_000:
                    break
        r = hb(vb.port, "tune", "--status", "--module", "1", "--json")
        assert r.returncode == 0, r.stderr
        doc = json.loads(r.stdout)
        # interfaces.md, "Tuning": the keys scripts rely on
        assert {"mode", "target", "converged", "board_s", "modules"} <= set(doc)
        mod = doc["modules"][0]
        assert {"module", "vout", "ths", "power_w", "chips"} <= set(mod) and mod["module"] == 1
        assert {"index", "freq_mhz", "error_rate", "parked"} <= set(mod["chips"][0])
        assert mod["converged"] and mod["mode"] == "power", mod
        assert mod["power_w"] <= GOAL_W * 1.03
        assert mod["jth"] < stock_jth * 0.97, (mod["jth"], stock_jth)  # better than stock
        assert 4.0 <= mod["vout"] <= 5.0
        for c in mod["chips"]:
            assert 50.0 <= c["freq_mhz"] <= 625.0, c
        # each chip's error rate: the silicon's own error fraction (the emulator's truth,
        # free of the counters' Poisson noise), averaged over 30 board seconds of the hold.
        # An instant is not a rate: the sink is still warming after convergence, so a chip's
        # edge drifts down under it and the chip loop follows one 7 s window later (one CI
        # run caught a chip at 1.15 % for that instant)
        mean_err = error_rates(vb, 1, board_s=30)
        assert max(mean_err) <= 0.01, mean_err
        # the other modules were not touched
        st = json.loads(hb(vb.port, "status", "--json").stdout)
        assert {c["freq_mhz"] for c in st["chips"] if c["module"] != 1} == {525.0}
        tuned = {c["index"]: c["freq_mhz"] for c in st["chips"] if c["module"] == 1}
        assert len(set(tuned.values())) > 3  # per chip, not one frequency

        # the result is in the module's EEPROM: moved to slot 3, it starts from it there. The
        # profile is the first convergence's; the chip loop keeps running after it (continuous
        # mode), so the frequencies read above may since have moved a fine step or two
        with Link(vb.port, timeout=10) as link:
            link.request("tune", {"mode": "off", "module": 1})
        r = hb(vb.port, "profiles", "1", "--json")
        carried = json.loads(r.stdout)["modules"][0]["profile"]
        assert r.returncode == 0 and carried is not None
        # and in its profile table (a 24C64 on this board), under the goal it was tuned for
        table = json.loads(r.stdout)["modules"][0]["targets"]
        assert [(t["mode"], t["target"], t["vout"]) for t in table] == [("power", GOAL_W, carried["vout"])]
        assert carried["freqs_mhz"] == pytest.approx([tuned[i] for i in range(24)], abs=12.5)
        image = vb.module_eeprom(1)
        vb.remove_module(1)
        vb.remove_module(3)
        vb.wait_board(1.0)
        with Link(vb.port, timeout=10) as link:
            seen = max((e["seq"] for e in link.request("events", {})), default=0)
        vb.insert_module(3, image)
        t_in = vb.board_ms()
        while True:
            vb.wait_board(0.5)
            st = json.loads(hb(vb.port, "status", "--json").stdout)
            if st["modules"][3]["state"] == "hashing" or vb.board_ms() - t_in > 20_000:
                break
        assert st["modules"][3]["state"] == "hashing" and st["modules"][3]["profile"] == "stored"
        # how long the firmware took, from its own event times: the moment the host saw it
        # also holds the board time that passed while an hbctl process started on a busy host
        # (the MCU sleeps between periods, and its clock runs on meanwhile: one CI run read 8.6 s)
        with Link(vb.port, timeout=10) as link:
            ev = [e for e in link.request("events", {"since": seen}) if e["kind"] == "module" and e["module"] == 3]
        seated = ev[0]["ms"]  # presence seen (after its debounce): identifying
        hashing = next(e["ms"] for e in ev if e["detail"].startswith("hashing"))
        assert hashing - seated <= 6_000, ev  # identify + power + enumerate + ramp
        moved = [c["freq_mhz"] for c in sorted(st["chips"], key=lambda c: c["index"]) if c["module"] == 3]
        assert moved == pytest.approx(carried["freqs_mhz"], abs=4.0)  # the PLL's grid
        assert st["regulators"][3]["vout_set"] == pytest.approx(carried["vout"], abs=0.011)
        r = hb(vb.port, "profiles", "3", "--json")
        prof = json.loads(r.stdout)["modules"][0]["profile"]
        assert r.returncode == 0 and prof == carried
