"""Fast lane: the firmware's modules on CPython against the emulators, on a manual board clock."""

import json

import pytest

from hashboard import identity


def settled(fb, ms=8000):
    fb.run_for(ms)
    return fb.status()


def test_modular4x_brings_up_every_chain(fast):
    fb = fast()
    st = settled(fb)
    assert st["state"] == "hashing"
    assert [m["state"] for m in st["modules"]] == ["hashing"] * 4
    for c in st["chains"]:
        assert c["expected"] == c["found"] == 24 and c["fault"] is None
        assert c["baud"] == 1000000  # the documented baud raise happened
    for r in st["regulators"]:
        assert r["vout_set"] == pytest.approx(4.6) and r["vout"] == pytest.approx(4.6, abs=0.01)
        assert r["faults"] == []
    assert len(st["chips"]) == 96
    for c in st["chips"]:
        assert c["freq_mhz"] == pytest.approx(525.0)
        assert c["ghs"] == pytest.approx(525 * 2040 / 1000, rel=0.02)
        assert c["error_rate"] < 0.01
    for t in st["temps"]:
        assert t["ok"] and 20.0 < t["celsius"] < 70.0


def test_bitaxe_gamma_single_chip(fast):
    st = settled(fast("bitaxe-gamma"), 20000)
    assert st["state"] == "hashing"
    assert st["chains"] == [dict(st["chains"][0], expected=1, found=1, fault=None)]
    assert st["regulators"][0]["vout_set"] == pytest.approx(1.15)


def test_wire_sequence_follows_bm1370_bring_up(fast):
    """The emulator saw version mask before the id read, then chain inactive and addresses."""
    fb = fast()
    fb.run_for(1500)
    ch = fb.sim.modules[0].chain
    assert all(c.long_frames and c.cores_on and c.assigned for c in ch.chips)
    assert [c.addr for c in ch.chips] == [i * 10 for i in range(24)]
    # per-chip nonce offsets are distinct so nonces can be attributed
    offsets = [c.regs[0x0C] for c in ch.chips]
    assert len(set(offsets)) == 24 and all(o & 0x80000000 for o in offsets)


@pytest.mark.parametrize("module,index", [(2, 9), (0, 0), (3, 22)])
def test_link_break_locates_first_unreachable_chip(fast, module, index):
    st = settled(fast(faults=[f"link:{module}.{index}"]))
    c = st["chains"][module]
    assert c["found"] == index + 1
    assert c["fault"] == {"chip": index + 1, "cause": "no_response"}
    assert st["modules"][module]["state"] == "fault"
    for other in range(4):
        if other != module:
            assert st["chains"][other]["found"] == 24 and st["chains"][other]["fault"] is None
            assert st["modules"][other]["state"] == "hashing"


@pytest.mark.parametrize("mode,cause,found,state", [("dead", "no_response", 7, "fault"),
                                                    ("badid", "bad_id", 23, "hashing"),
                                                    ("flaky", "crc_errors", 24, "hashing")])
def test_chip_faults_at_boot_show_in_status(fast, mode, cause, found, state):
    st = settled(fast(faults=[f"chip:1.7:{mode}"]))
    c = st["chains"][1]
    assert c["fault"] == {"chip": 7, "cause": cause}
    assert c["found"] == found
    assert st["modules"][1]["state"] == state  # an unreachable chip unbalances the string: off


def test_unstable_chip_is_named_from_its_error_rate(fast):
    st = settled(fast(faults=["chip:3.5:unstable"]), 15000)
    assert st["chains"][3]["fault"] == {"chip": 5, "cause": "unstable"}
    rates = {c["index"]: c["error_rate"] for c in st["chips"] if c["module"] == 3}
    assert rates[5] > 0.05 and max(v for k, v in rates.items() if k != 5) < 0.01


@pytest.mark.parametrize("mode,fault", [("ot", "ot"), ("oc", "oc"), ("uv", "uv"), ("nack", "nack")])
def test_regulator_faults_show_and_power_the_module_off(fast, mode, fault):
    fb = fast()
    fb.run_for(8000)
    fb.sim.inject(f"vrm:1:{mode}")
    st = settled(fb, 3000)
    assert fault in st["regulators"][1]["faults"]
    assert st["modules"][1]["state"] == "fault"
    assert fb.sim.modules[1].vrm.vout() == 0.0
    assert [m["state"] for i, m in enumerate(st["modules"]) if i != 1] == ["hashing"] * 3


def test_removed_module_is_powered_off_within_one_period(fast):
    fb = fast()
    fb.run_for(8000)
    fb.sim.remove_module(2)
    fb.run_for(100)  # one control period
    assert not fb.sim.vrm_enable[2]  # the slot's regulator enable dropped
    st = fb.status()
    assert st["modules"][2]["state"] == "empty" and st["chains"][2]["found"] == 0
    assert st["regulators"][2]["vout_set"] == 0.0


@pytest.mark.parametrize("image,state", [(b"", "unidentified"), (b"\x00" * 64, "unidentified")])
def test_blank_or_corrupt_eeprom_keeps_module_off(fast, image, state):
    fb = fast()
    fb.run_for(8000)
    fb.sim.remove_module(0)
    fb.run_for(300)
    fb.sim.insert_module(0, image or None)
    if not image:
        fb.sim.modules[0].eeprom.mem[:] = b"\xff" * 256
    fb.run_for(3000)
    st = fb.status()
    assert st["modules"][0]["state"] == state
    assert fb.sim.modules[0].vrm.vout() == 0.0


def test_incompatible_module_is_refused(fast):
    fb = fast()
    fb.run_for(8000)
    fb.sim.remove_module(3)
    fb.run_for(300)
    img = identity.encode("HBM-1366", "X1", 0x1366, 24, 4, (26, 1, 1), 1, 4600, 525)
    fb.sim.insert_module(3, img)
    fb.run_for(3000)
    st = fb.status()
    assert st["modules"][3]["state"] == "incompatible"
    assert fb.sim.modules[3].vrm.vout() == 0.0


def test_no_regulator_command_outside_board_limits(fast):
    fb = fast(faults=["chip:0.3:dead", "vrm:1:uv", "link:2.4"])
    fb.run_for(20000)
    assert fb.sim.vrm_commands_outside() == []
    lim = fb.cfg["limits"]["vout"]
    for hw in fb.sim.modules:
        v = hw.vrm._v(0x21)
        assert lim["min"] <= v <= lim["max"]


def test_events_record_module_transitions(fast):
    fb = fast()
    fb.run_for(8000)
    out = fb.request("events", since=0)
    evs = json.loads(out[4:])["data"]
    details = [e["detail"] for e in evs if e["module"] == 0]
    assert details[:5] == ["identifying", "powering", "enumerating", "ramping", "hashing"]


def test_presence_uses_the_interrupt_line_and_a_slow_fallback_poll(fast):
    fb = fast()
    fb.run_for(8000)
    reads = fb.hw.i2c_transactions
    fb.run_for(5000)  # nothing changes: only the 500 ms fallback poll reads the expander
    assert fb.hw.i2c_transactions - reads <= 11
    fb.sim.remove_module(1)  # INT asserts: read at the next control period
    fb.run_for(100)
    assert fb.status()["modules"][1]["state"] == "empty"


def test_presence_still_detected_with_a_dead_interrupt_line(fast, monkeypatch):
    fb = fast()
    fb.run_for(8000)
    monkeypatch.setattr(fb.sim, "get_pin", lambda pin: 1)  # INT stuck high
    fb.sim.remove_module(2)
    fb.run_for(600)  # the fallback poll period plus one
    assert fb.status()["modules"][2]["state"] == "empty"
