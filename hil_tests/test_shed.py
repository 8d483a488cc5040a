"""Per-module shedding (issue 16): grid dispatch switches single modules off, least efficient
first, while the others keep hashing. The firmware's side: `curtail {module}` / `resume {module}`
on the fast lane (the same App and Protocol as on the MCU)."""

from __future__ import annotations

import json

import pytest

from hashboard import settings


def _reply(fb, op, **args):
    return json.loads(fb.request(op, **args)[4:])


def _states(fb):
    return [m.state for m in fb.app.modules]


@pytest.fixture
def hashing(fast):
    fb = fast()
    fb.run_for(40000)
    assert _states(fb) == ["hashing"] * 4
    return fb


def test_a_shed_module_goes_off_alone_and_stays_off_across_a_reset(hashing):
    fb = hashing
    full = fb.app.power_w()
    r = _reply(fb, "curtail", module=2)
    assert r["ok"] and r["data"] == {"level": 0, "module": 2}
    fb.run_for(3000)  # the quick ramp-down, then the regulator off
    assert _states(fb) == ["hashing", "hashing", "off", "hashing"]
    assert fb.app.power_w() < 0.8 * full
    assert fb.status()["modules"][2]["shed"] is True
    fb.reboot()
    fb.run_for(40000)
    assert _states(fb) == ["hashing", "hashing", "off", "hashing"]  # a reset does not undo a grid order


def test_a_board_curtailment_above_zero_never_restarts_a_shed_module(hashing):
    fb = hashing
    _reply(fb, "curtail", module=1)
    fb.run_for(3000)
    _reply(fb, "curtail", level=60)
    fb.run_for(10000)
    assert fb.app.modules[1].state == "off"
    assert _reply(fb, "resume", module=1)["ok"]
    fb.run_for(40000)
    assert _states(fb) == ["hashing"] * 4
    assert fb.app.power.curtailed  # the board's own curtailment stays in force


def test_resume_of_the_board_ends_every_shed(hashing):
    fb = hashing
    for m in (0, 3):
        _reply(fb, "curtail", module=m)
    fb.run_for(3000)
    assert _states(fb) == ["off", "hashing", "hashing", "off"]
    assert _reply(fb, "resume")["ok"]
    fb.run_for(40000)
    assert _states(fb) == ["hashing"] * 4
    assert fb.app.settings["shed"] == 0


@pytest.mark.parametrize("args, words", [
    ({"module": 1, "level": 30}, "level must be 0"),
    ({"module": 9}, "module"),
    ({"module": "1"}, "module"),
])
def test_bad_shed_requests_are_refused_and_change_nothing(hashing, args, words):
    fb = hashing
    r = _reply(fb, "curtail", **args)
    assert not r["ok"] and words in r["error"]["message"]
    fb.run_for(3000)
    assert _states(fb) == ["hashing"] * 4 and fb.app.settings["shed"] == 0


def test_stored_shed_bits_are_validated_against_the_board():
    board = {"slots": [{}] * 4, "limits": {"heartbeat_policy": "curtail", "heartbeat_timeout_s": 30}}
    assert settings.validate({"shed": 0b1010}, board)["shed"] == 0b1010
    for bad in (1 << 4, -1, True, "3", 2.0):
        assert settings.validate({"shed": bad}, board)["shed"] == 0
