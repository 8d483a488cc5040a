"""The cases of issue 10, each replayed as it was reported, written once for both lanes
(a lane: hotswap_scenarios.FastLane or VirtualLane). Each ends by checking the hardware (the
emulated parts), not only what the firmware reports."""

from __future__ import annotations

import json
from pathlib import Path

from hostlib import boards
from hostlib.eeprom_image import module_image

from hotswap_scenarios import RUNNING, state_is, status, wait_for

DANGER = 85.0
COOL_MS = 3000  # the test board's cool-down (30 s on modular-4x): the same policy, less waiting


def quick_board(tmp: Path) -> str:
    """modular-4x with a short thermal cool-down, as a board file path."""
    cfg = json.loads(boards.path_of("modular-4x").read_text())
    cfg["timing"]["cooldown_ms"] = COOL_MS
    p = tmp / "modular-4x-quick.json"
    p.write_text(json.dumps(cfg))
    return str(p)


def hw_on(lane, slot: int) -> bool:
    hw = lane.sim.modules[slot]
    return hw is not None and hw.vrm.enabled()


def watch(lane, board_ms: float, check, step_ms: float = 100) -> None:
    """Let board time pass without talking to the board, checking the hardware as it goes."""
    t0 = lane.now_ms()
    while lane.now_ms() - t0 < board_ms:
        lane.run(step_ms)
        check()


def hottest_true(lane, slot: int) -> float:
    hw = lane.sim.modules[slot]
    return max(d.source() for d in hw.sensors.values())


def latch_then_replace(lane) -> None:
    """1. A latched lockout stays with the module; its replacement starts with a clean policy
    and is guarded (a sensor opened on it powers it off)."""
    for _ in range(4):
        lane.sim.inject("sensor:m0.inlet:open")
        wait_for(lane, state_is(0, "fault"), 2000)
        lane.sim.clear("sensor:m0.inlet:open")
        st = status(lane)
        if st["modules"][0]["thermal"]["state"] == "latched":
            break
        wait_for(lane, state_is(0, *RUNNING), 20 * COOL_MS, step_ms=500)  # its recovery
    assert status(lane)["modules"][0]["thermal"]["state"] == "latched"
    lane.sim.remove_module(0)
    wait_for(lane, state_is(0, "empty"), 2000)
    lane.sim.insert_module(0, module_image("REPL-0"))
    st, _ = wait_for(lane, state_is(0, *RUNNING), 10_000)
    assert st["modules"][0]["thermal"]["state"] == "normal", st["modules"][0]["thermal"]
    lane.sim.inject("sensor:m0.outlet:open")
    wait_for(lane, state_is(0, "fault"), 1000)
    assert not hw_on(lane, 0)
    lane.sim.clear("sensor:m0.outlet:open")


def clear_resume_while_hot(lane) -> None:
    """2. clear + resume during a cool-down acknowledges, but never powers a hot module."""
    lane.sim.set_ambient(72.0)
    lane.sim.inject("airflow:0.4")  # a clogged filter too: the same trip, sooner
    wait_for(lane, lambda st: st["modules"][0]["state"] == "fault", 600_000, step_ms=2000)
    lane.request("clear", module=0)
    lane.request("resume")

    def check():
        if hw_on(lane, 0):
            assert hottest_true(lane, 0) < DANGER + 0.5, "powered while dangerous"
    watch(lane, 8 * COOL_MS, check, step_ms=500)
    lane.sim.set_ambient(25.0)
    lane.sim.clear("airflow:0.4")


def recovery_leaves_other_stops_alone(lane) -> None:
    """3. A regulator trip is not restarted by a thermal recovery (the trip stays latched, the
    regulator never switched on into it); a heartbeat 'off' board stays off through a dropout."""
    lane.sim.inject("vrm:1:oc")
    wait_for(lane, state_is(1, "fault"), 2000)
    lane.sim.inject("sensor:m1.inlet:open")
    lane.run(3000)
    lane.sim.clear("sensor:m1.inlet:open")

    def check():
        assert not hw_on(lane, 1), "regulator switched on into its trip"
        # the emulated part re-trips within the write that enables it: what shows the firmware
        # let a latched trip go is the CLEAR_FAULTS it received while tripped
        assert lane.sim.modules[1].vrm.tripped and lane.sim.modules[1].vrm.trip_clears == 0, \
            "trip cleared without a host clear"
    watch(lane, 4 * COOL_MS, check, step_ms=500)
    assert status(lane)["modules"][1]["cause"].startswith("vrm:oc")
    lane.sim.clear("vrm:1:oc")
    lane.request("heartbeat", policy="off", timeout_s=2)
    lane.run(3000)  # no host: the policy fires
    assert not any(hw_on(lane, s) for s in range(4))
    lane.sim.inject("sensor:m2.inlet:open")
    lane.run(1000)
    lane.sim.clear("sensor:m2.inlet:open")
    watch(lane, 4 * COOL_MS, lambda: not any(hw_on(lane, s) for s in range(4)) or _fail("re-powered"),
          step_ms=500)


def _fail(why: str) -> bool:
    raise AssertionError(why)


def enable_stuck_low(lane) -> None:
    """5. A regulator whose enable line is stuck low never gets its chain out of reset; the
    cause names the regulator, not the chain."""
    lane.sim.inject("vrm:0:enable_low")
    wait_for(lane, state_is(0, "fault"), 1000)
    lane.request("clear", module=0)
    lane.request("resume")

    def check():
        assert lane.sim.reset_lines[0] or hw_on(lane, 0), "chain out of reset without power"
    watch(lane, 3000, check, step_ms=20 if lane.name == "fast" else 100)
    st = status(lane)
    assert st["modules"][0]["state"] == "fault" and st["modules"][0]["cause"].startswith("vrm:"), st["modules"][0]
    lane.sim.clear("vrm:0:enable_low")


def fast_swap(lane) -> None:
    """6. A swap faster than one presence sample is seen by identity: the new module gets its
    own voltage, never the old one's."""
    lane.request("set_vout", volts=5.0, module=0)
    wait_for(lane, lambda st: st["regulators"][0]["vout_set"] >= 4.99, 5000)
    lane.sim.remove_module(0)
    lane.sim.insert_module(0, module_image("LOW-42", vout_mv=4200))

    def check():
        hw = lane.sim.modules[0]
        if hw.vrm.enabled():
            assert hw.vrm._v(0x21) <= 4.2 + 0.026, "the old module's voltage on the new one"
    watch(lane, 3000, check, step_ms=20 if lane.name == "fast" else 100)
    lane.request("clear", module=0)
    lane.request("resume")
    st, _ = wait_for(lane, state_is(0, *RUNNING), 10_000)
    assert st["modules"][0]["serial"] == "LOW-42"
    assert st["regulators"][0]["vout_set"] <= 4.2 + 1e-6


def off_during_expander_nack(lane) -> None:
    """The audit's off that did not take: the expander (enable and reset lines) stops answering
    just as a regulator fault turns module 0 off. The regulator goes off over PMBus, but the
    lines stay where they were until the expander answers again; then the off is sent again and
    the chain goes back into reset, with no host command."""
    lane.sim.inject("i2c:expander:nack")
    lane.sim.inject("vrm:0:oc")
    wait_for(lane, state_is(0, "fault"), 2000)
    watch(lane, 800, lambda: None)
    assert not lane.sim.reset_lines[0] and lane.sim.vrm_enable[0], "the expander took a write while NACKing"
    lane.sim.clear("i2c:expander:nack")
    watch(lane, 1500, lambda: None)
    assert lane.sim.reset_lines[0], "chain left out of reset after the expander answered again"
    assert not lane.sim.vrm_enable[0], "enable line left high after the expander answered again"
    lane.sim.clear("vrm:0:oc")
