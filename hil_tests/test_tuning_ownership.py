"""What a tuning goal owns and what a module carries away (fast lane, the firmware's own code):
manual frequency and voltage under a goal are refused rather than silently undone, and a
module swapped faster than one presence sample does not hand its heat fit to the next."""

import json

from hashboard.vsearch import TOL
from hostlib.eeprom_image import module_image
from hostlib.sim.fastlane import FastBoard


def reply(fb, op, **args):
    return json.loads(fb.request(op, **args)[4:])


def test_manual_settings_under_a_goal_are_refused_naming_it():
    fb = FastBoard("modular-4x")
    fb.run_for(3000)
    assert reply(fb, "set_freq", mhz=500.0, module=1)["ok"]  # no goal yet: accepted
    assert reply(fb, "tune", mode="power", target=300.0, module=1)["ok"]
    for op, args in (("set_freq", {"mhz": 450.0, "module": 1}), ("set_vout", {"volts": 4.5, "module": 1}),
                     ("set_freq", {"mhz": 450.0})):  # every module: module 1 among them
        r = reply(fb, op, **args)
        assert not r["ok"] and r["error"]["code"] == "tuning_active", r
        assert "module 1" in r["error"]["message"] and "power 300" in r["error"]["message"]
    assert fb.app.modules[1].vout_user != 4.5
    assert reply(fb, "set_freq", mhz=450.0, module=2)["ok"]  # a module without a goal is free
    assert reply(fb, "tune", mode="off", module=1)["ok"]
    assert reply(fb, "set_vout", volts=4.5, module=1)["ok"]
    # a board power target owns every module
    assert reply(fb, "power", target_w=900.0)["ok"]
    r = reply(fb, "set_vout", volts=4.4, module=3)
    assert r["error"]["code"] == "tuning_active" and "(board)" in r["error"]["message"]
    assert reply(fb, "power", target_w=None)["ok"]
    assert reply(fb, "set_vout", volts=4.4, module=3)["ok"]


def test_a_fast_swap_starts_the_heat_fit_over():
    fb = FastBoard("modular-4x")
    fb.run_for(3000)
    assert reply(fb, "tune", mode="power", target=300.0, module=0)["ok"]
    tu = fb.app.tuning.tuners[0]
    fb.run_for(60000)
    assert tu.heat.n > 0  # it has been learning this module's heat sink
    fb.sim.remove_module(0)
    fb.sim.insert_module(0, module_image("SWAPPED-1", vout_mv=4600))  # within one presence sample
    fb.run_for(1500)
    assert fb.app.modules[0].generation >= 1
    assert tu.heat.n == 0 and tu.heat.coef is None


def test_a_power_goal_never_pushes_the_regulator_toward_its_trip():
    """400 W at 4.0 V is 100 A against a 90 A trip: the tuner's ceiling is the lower of the goal
    and 90 % of the trip at the voltage the module runs (the firmware's own actuator sets it)."""
    fb = FastBoard("modular-4x")
    fb.run_for(3000)
    assert reply(fb, "tune", mode="power", target=400.0, module=0)["ok"]
    fb.run_for(5000)
    m, tu = fb.app.modules[0], fb.app.tuning.tuners[0]
    assert abs(tu.current_w * (1 + TOL / 2) - 0.9 * 90.0 * m.vout) < 1e-6  # held a half band under 90 %
    assert tu.ceiling_w is not None and tu.ceiling_w <= 0.9 * 90.0 * m.vout + 1e-6 < 400.0


def test_the_tuner_never_goes_above_the_modules_rating():
    """The voltage ceiling is the module's rated maximum from its EEPROM, or its nominal when the
    record names none (then 400 W is out of reach: 0.9 x 90 A x 4.6 V = 372.6 W)."""
    fb = FastBoard("modular-4x")
    fb.sim.remove_module(1)
    fb.sim.insert_module(1, module_image("NOMINAL-ONLY", vout_mv=4600))
    fb.run_for(4000)
    assert reply(fb, "tune", mode="power", target=1600.0)["ok"]
    fb.run_for(3000)
    t = fb.app.tuning.tuners
    assert t[1].search.vmax == 4.6  # named no rating: its nominal
    assert t[0].search.vmax == 5.0  # the emulated reference module is rated for the board's range
    fb.run_for(120000)
    for i in (0, 1):
        assert fb.app.modules[i].vout_user <= t[i].search.vmax + 1e-6


def test_a_current_warning_is_reported_and_let_go_never_treated_as_a_trip():
    """A TPS546 latches IOUT_OC_WARN (STATUS_IOUT bit 5) and raises the IOUT byte of STATUS_WORD.
    It is a warning: the module keeps hashing, and only that bit is cleared (a trip never is)."""
    fb = FastBoard("modular-4x")
    fb.run_for(3000)
    vrm = fb.sim.modules[0].vrm
    with fb.sim.lock:
        vrm.status_iout |= 0x20
    assert fb.app.modules[0].vrm.faults() == ["oc_warn"]
    fb.run_for(500)
    assert fb.app.modules[0].state == "hashing"
    assert not vrm.status_iout & 0x20 and vrm.trip_clears == 0


def test_a_400_w_goal_holds_below_the_current_warning():
    """The tuner's current share (0.9 of the trip) sits under the regulator's warning (0.95)."""
    fb = FastBoard("modular-4x")
    fb.run_for(3000)
    assert reply(fb, "tune", mode="power", target=400.0, module=0)["ok"]
    vrm = fb.sim.modules[0].vrm
    peak = 0.0
    for _ in range(200):  # convergence (the probes that draw the most) and a minute's hold
        fb.run_for(1000)
        peak = max(peak, vrm.measured_iout())
        assert fb.app.modules[0].state in ("hashing", "throttled"), fb.app.modules[0].state
    assert peak < 0.95 * 90.0, peak
