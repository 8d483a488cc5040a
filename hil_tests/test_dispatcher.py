"""The running dispatcher and the gateway's sessions without boards or engines: fake sessions whose
status documents a test edits, and commands answered at once (the audit of issue 16: sheds the
dispatcher does not answer for, refused orders, a bad reading, a silent board's queue)."""

from __future__ import annotations

import pytest

from hostlib.fleet import config as fc
from hostlib.fleet.dispatcher import Dispatcher
from hostlib.fleet.session import BoardConfig, BoardSession, Snapshot


class FakeSession:
    def __init__(self, name: str, n: int = 4, w: float = 300.0, ghs: float = 25000.0) -> None:
        self.name = name
        self.mods = [{"slot": i, "present": True, "state": "hashing", "power_w": w + i, "ghs": ghs, "shed": False}
                     for i in range(n)]
        self.sent: list[tuple[str, dict]] = []
        self.refresh()

    def refresh(self) -> None:
        self.snap = Snapshot(online=True, status={"modules": [dict(m) for m in self.mods]})

    def command(self, op: str, args: dict, reply=None) -> None:
        self.sent.append((op, args))
        m = self.mods[args["module"]]
        m["shed"] = op == "curtail"
        m["state"] = "off" if m["shed"] else "hashing"
        m["power_w"] = 0.0 if m["shed"] else 300.0 + m["slot"]
        if reply:
            reply(True, {})


def _farm(boards: int = 2):
    ss = [FakeSession(f"b{i}") for i in range(boards)]
    pubs: list[tuple[dict, bool]] = []
    d = Dispatcher(ss, lambda doc, retain=True: pubs.append((doc, retain)))
    d.step()  # learns every module's figures while all run
    return ss, d, pubs


def _cycle(ss, d, n: int = 3) -> None:
    for _ in range(n):
        for s in ss:
            s.refresh()
        d.step()


def test_a_negative_or_broken_reading_does_not_stop_dispatch():
    ss, d, _ = _farm()
    ss[1].mods[3].update(state="fault", power_w=-0.4, ghs=float("nan"))
    ss[1].refresh()
    d.step()  # Unit refused -0.4 W: every board's session would have gone offline
    assert d.measured_w() == pytest.approx(sum(300.0 + i for i in range(4)) + sum(300.0 + i for i in range(3)))


def test_a_hand_shed_module_is_not_resumed_until_an_order_takes_it_over():
    ss, d, pubs = _farm()
    ss[0].mods[2].update(shed=True, state="off", power_w=0.0)  # an operator's `curtail {"module": 2}`
    _cycle(ss, d)
    assert ("resume", {"module": 2}) not in ss[0].sent, "the dispatcher undid an operator's shed"
    assert d.doc()["held"] == [["b0", 2]] and d.state == "unlimited"
    d.order({"id": "lift", "limit_w": None})  # an explicit order answers for every standing shed
    _cycle(ss, d)
    assert ("resume", {"module": 2}) in ss[0].sent and d.doc()["held"] == []


def test_an_order_without_limit_w_is_refused_unretained_and_the_limit_stays():
    ss, d, pubs = _farm()
    d.order({"id": "L", "limit_w": 1800, "deadline_s": 5})
    _cycle(ss, d)
    shed = {(s.name, m["slot"]) for s in ss for m in s.mods if m["shed"]}
    assert shed and d.limit_w == 1800
    pubs.clear()
    d.order({"id": "typo", "limit": 5000})
    d.order({"id": "inf", "limit_w": float("inf")})
    assert [p[0]["state"] for p in pubs] == ["refused", "refused"] and not any(r for _, r in pubs)
    assert pubs[1][0]["limit_w"] == "inf"  # JSON has no Infinity
    _cycle(ss, d)
    assert d.limit_w == 1800 and {(s.name, m["slot"]) for s in ss for m in s.mods if m["shed"]} == shed


def test_the_same_limit_sent_again_keeps_the_sheds_drift_added():
    ss, d, _ = _farm()
    d.order({"id": "a", "limit_w": 1800, "deadline_s": 5})
    d.extra = 2
    d.order({"id": "a-again", "limit_w": 1800, "deadline_s": 5})
    assert d.extra == 2
    d.order({"id": "b", "limit_w": 1500, "deadline_s": 5})
    assert d.extra == 0


def test_reports_are_published_in_the_order_they_were_made():
    ss, d, pubs = _farm()
    pubs.clear()
    first, second = (1, {"state": "shedding"}), (2, {"state": "at_limit"})
    outs = iter([second, first])  # two board threads: the later report's publish runs first
    d._step = lambda: next(outs)  # type: ignore[method-assign]
    d.step()
    d.step()
    assert [p[0]["state"] for p in pubs] == ["at_limit"]


def test_commands_queued_for_a_board_that_falls_silent_are_refused_not_kept():
    s = BoardSession(BoardConfig("/dev/null", "b0"))
    got = []
    s.command("curtail", {"module": 1}, lambda ok, data: got.append((ok, data)))
    s.command("power", {"target_w": 800}, lambda ok, data: got.append((ok, data)))
    s._offline("did not answer")
    assert [ok for ok, _ in got] == [False, False] and "not answering" in got[0][1]
    assert s._cmds.empty()


def test_a_failing_gateway_callback_leaves_the_board_online():
    s = BoardSession(BoardConfig("/dev/null", "b0"))
    s._callback(lambda _s: 1 / 0, s)
    assert s.counters.callback_errors == 1


@pytest.mark.parametrize("doc, words", [
    ({"refresh_s": 6, "boards": ["/dev/null"]}, "at most half"),
    ({"refresh_s": 2, "heartbeat": {"timeout_s": 3}, "boards": ["/dev/null"]}, "at most half"),
    ({"refresh_s": 0.01, "boards": ["/dev/null"]}, "0.2..60"),
    ({"heartbeat": {"timeoutt": 10}, "boards": ["/dev/null"]}, "unknown key"),
    ({"mqtt": "broker:0", "boards": ["/dev/null"]}, "1..65535"),
])
def test_configurations_that_would_curtail_under_a_live_gateway_are_refused(doc, words):
    with pytest.raises(fc.ConfigError, match=words):
        fc.check(fc.load(doc, lambda p: b""))


@pytest.mark.parametrize("owner_ops", [False, True])
def test_owner_ops_on_mqtt_only_when_the_config_says_so(owner_ops):
    """The gateway signs power/tune with the board's secret for any client of the broker."""
    import json

    from hostlib.fleet.mqttbridge import MqttBridge

    sent, acks = [], []
    br = MqttBridge("127.0.0.1", 1883, "gw", lambda board, cmd, reply: (sent.append(cmd), reply({"ok": True})),
                    owner_ops=owner_ops)
    br.publish = lambda topic, doc, retain=False: acks.append(doc)  # type: ignore[method-assign]
    br._handle("hashboard/gw/b0/cmd", json.dumps({"id": 7, "op": "power", "args": {"target_w": 1600}}).encode())
    br._handle("hashboard/gw/b0/cmd", json.dumps({"id": 8, "op": "curtail", "args": {"module": 1}}).encode())
    assert acks[1] == {"id": 8, "ok": True}
    if owner_ops:
        assert acks[0] == {"id": 7, "ok": True} and sent[0]["op"] == "power"
    else:
        assert not acks[0]["ok"] and "mqtt_owner_ops" in acks[0]["error"] and [c["op"] for c in sent] == ["curtail"]
