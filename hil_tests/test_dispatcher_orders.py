"""Orders to the gateway's dispatcher (hostlib/fleet/dispatcher.py): what it
sends boards for an order, and what it leaves alone. Boards here are snapshots; the real boards,
broker and gateway process are in test_gateway.py."""

from __future__ import annotations

from types import SimpleNamespace

from hostlib.fleet.dispatcher import Dispatcher


class FakeSession:
    def __init__(self, name, modules, online=True):
        self.name = name
        self.sent = []
        self.snap = SimpleNamespace(online=online, status={"modules": modules}, t=0.0)

    def command(self, op, args, reply=None, authorize=False):
        self.sent.append((op, args["module"]))
        if reply:
            reply(True, {})


def _mod(slot, w, ghs, state="hashing", shed=False):
    return {"slot": slot, "present": True, "state": state, "power_w": w, "ghs": ghs, "shed": shed}


def _farm():
    # J/TH: a0 12.0, a1 13.0, b0 11.0, b1 14.0 (each 300 W but for b1's 320 W)
    a = FakeSession("a", [_mod(0, 300.0, 25000.0), _mod(1, 325.0, 25000.0)])
    b = FakeSession("b", [_mod(0, 275.0, 25000.0), _mod(1, 350.0, 25000.0)])
    return a, b


def test_an_order_sheds_the_least_efficient_first_and_only_what_the_limit_needs():
    a, b = _farm()
    published = []
    d = Dispatcher([a, b], lambda doc, *retain: published.append(doc))
    d.order({"id": "o1", "limit_w": 1000.0, "deadline_s": 5})  # 1250 W now: 250 W to shed
    assert b.sent == [("curtail", 1)] and a.sent == []  # b1 (14 J/TH, 350 W) is enough
    assert published[-1]["id"] == "o1" and published[-1]["state"] in ("shedding", "ordered")
    d.order({"id": "o2", "limit_w": 700.0, "deadline_s": 5})
    assert a.sent == [("curtail", 1)]  # then a1 (13 J/TH); b0, the best, runs


def test_without_an_order_the_sheds_on_the_boards_are_left_alone():
    a, b = _farm()
    b.snap.status["modules"][1] = _mod(1, 0.0, 0.0, state="off", shed=True)  # a previous gateway's shed
    d = Dispatcher([a, b], lambda doc, *retain: None)
    d.step()
    assert a.sent == [] and b.sent == []


def test_a_lifted_limit_restores_every_shed_module_even_one_never_seen_running():
    a, b = _farm()
    b.snap.status["modules"][1] = _mod(1, 0.0, 0.0, state="off", shed=True)
    d = Dispatcher([a, b], lambda doc, *retain: None)
    d.order({"id": "lift", "limit_w": None})
    assert b.sent == [("resume", 1)] and a.sent == []


def test_a_bad_order_is_refused_and_changes_nothing():
    a, b = _farm()
    published = []
    d = Dispatcher([a, b], lambda doc, *retain: published.append(doc))
    for bad in ({"limit_w": "abc"}, {"limit_w": -5}, {"limit_w": 100, "deadline_s": 0}, {"limit_w": True}):
        d.order({"id": "x", **bad})
        assert published[-1]["state"] == "refused"
    assert a.sent == b.sent == [] and d.limit_w is None


def test_a_silent_board_counts_as_off_once_its_own_policy_must_have_switched_it_off():
    import time

    a, b = _farm()
    b.snap.online = False
    b.snap.status["heartbeat"] = {"armed": {"policy": "curtail", "timeout_s": 10}}
    b.snap.t = time.monotonic() - 5  # silent for 5 s: its policy has not acted yet
    d = Dispatcher([a, b], lambda doc, *retain: None)
    assert d.measured_w() == 1250.0
    b.snap.t = time.monotonic() - 16  # 10 s timeout + the ramp-down: off by its own doing
    assert d.measured_w() == 625.0
    d.order({"id": "o", "limit_w": 700.0, "deadline_s": 5})
    assert a.sent == [] and b.sent == []  # a's 625 W fit: nothing shed for power nobody draws
    b.snap.status["heartbeat"] = {"armed": {"policy": "hold", "timeout_s": 10}}  # hold: it still runs
    assert d.measured_w() == 1250.0
