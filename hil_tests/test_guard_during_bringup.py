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
