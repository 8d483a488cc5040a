"""A chain brought up blocks the control loop for a while (24 chips' id reads and register
writes, up to ~0.4 s of bus time): the other modules' thermal guard still reads every sensor each
control period meanwhile (App._between, called by the chain between chips). The safety campaign
caught a hashing module's sensor unread for 564 ms while a neighbour was enumerated."""

import pytest

from hostlib.sim.fastlane import FastBoard

PERIOD_S = 0.1


def sensor_keys(fb, slot):
    return [(sc["bus"], sc["addr"]) for sc in fb.cfg["slots"][slot].get("sensors", [])]


@pytest.mark.parametrize("fault", [None, "chip:0.5:dead", "link:0.11"])
def test_neighbours_sensors_are_read_every_period_while_a_chain_is_brought_up(fault):
    """A chain with a dead chip or a broken link is the slow case: every silent position is
    asked three times and waited out."""
    fb = FastBoard(faults=(fault,) if fault else ())
    fb.run_for(8000)
    assert [m.state for m in fb.app.modules[1:]] == ["hashing"] * 3
    image = bytes(fb.sim.modules[0].eeprom.mem)
    fb.sim.remove_module(0)
    fb.run_for(1500)
    fb.sim.io_gap_max.clear()
    fb.sim.insert_module(0, image)
    saw_enumeration = False
    for _ in range(400):  # 8 board s in 20 ms steps
        fb.run_for(20)
        saw_enumeration |= fb.app.modules[0].state in ("enumerating", "ramping", "hashing")
    assert saw_enumeration
    for slot in (1, 2, 3):
        for key in sensor_keys(fb, slot):
            gap = fb.sim.io_gap_max.get(key, 0.0)
            assert gap <= 1.5 * PERIOD_S, (slot, key, gap)


def _gaps_while_powered(fb, board_ms):
    """Longest unread stretch (s) of each slot's sensors, counted only while it is powered."""
    from hashboard.slotfsm import POWERED
    worst = [0.0] * 4
    for _ in range(int(board_ms / 20)):
        fb.sim.io_gap_max.clear()
        fb.run_for(20)
        for s in range(4):
            if fb.app.modules[s].state in POWERED:
                for key in sensor_keys(fb, s):
                    worst[s] = max(worst[s], fb.sim.io_gap_max.get(key, 0.0))
    return worst


def test_modules_brought_up_together_guard_each_other():
    """At boot (or a resume) the modules reach enumerating in lockstep: the others were skipped
    by state, not only the one being brought up (audit: 404-588 ms unread)."""
    fb = FastBoard(faults=("link:0.11",))
    worst = _gaps_while_powered(fb, 6000)
    assert max(worst[1:]) <= 1.5 * PERIOD_S, worst


def test_a_stale_guard_stamp_after_days_of_uptime_does_not_silence_the_hook():
    """ticks wrap at 2^30 ms: a stamp more than half the range old reads as the future (audit)."""
    fb = FastBoard(faults=("link:0.11",))
    fb.app._t_between = (fb.app.clock.ticks_ms() + (1 << 29) + 5) & ((1 << 30) - 1)
    worst = _gaps_while_powered(fb, 6000)
    assert max(worst[1:]) <= 1.5 * PERIOD_S, worst
