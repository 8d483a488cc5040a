"""Smoke tests of the real engines the fleet gateway's tests stand on: the broker keeps and
delivers a retained message, Prometheus scrapes a live exporter and evaluates a rule, and promtool
tells a good rules file from a bad one."""

from __future__ import annotations

import queue
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from prometheus_client import CollectorRegistry, Gauge, start_http_server

from hil_tests.engines import promtool_check_rules, value

GOOD_RULES = """groups:
  - name: hbtest
    rules:
      - alert: HashrateHigh
        expr: hbtest_hashrate_ghs > 40
        labels: {severity: info}
"""
BAD_RULES = """groups:
  - name: hbtest
    rules:
      - alert: Broken
        expr: hbtest_hashrate_ghs >
"""


def _client(broker) -> mqtt.Client:
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"hbtest-{uuid.uuid4().hex[:8]}")
    c.connect(broker.host, broker.port, keepalive=30)
    c.loop_start()
    return c


def _close(c: mqtt.Client) -> None:
    c.disconnect()
    c.loop_stop()


def test_retained_message_reaches_a_later_subscriber(mosquitto):
    topic = f"hbtest/{uuid.uuid4().hex}/state"
    pub = _client(mosquitto)
    try:
        pub.publish(topic, b"hashing", qos=1, retain=True).wait_for_publish(timeout=30)
        got: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
        sub = _client(mosquitto)
        sub.on_message = lambda _c, _u, msg: got.put(msg)
        try:
            sub.subscribe(topic, qos=1)
            msg = got.get(timeout=30)
        finally:
            _close(sub)
        assert (msg.topic, msg.payload, msg.retain) == (topic, b"hashing", True)
    finally:
        # an empty retained message clears it: the broker outlives this test
        pub.publish(topic, b"", qos=1, retain=True).wait_for_publish(timeout=30)
        _close(pub)


@pytest.fixture
def exporter():
    """An in-process prometheus_client exporter on a free port: (its gauge, "127.0.0.1:PORT")."""
    registry = CollectorRegistry()
    gauge = Gauge("hbtest_hashrate_ghs", "hashrate of a test board", ["board"], registry=registry)
    server, thread = start_http_server(0, addr="127.0.0.1", registry=registry)
    yield gauge, f"127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


def test_prometheus_scrapes_a_labelled_gauge(prometheus, exporter):
    gauge, target = exporter
    gauge.labels(board="b1").set(42.5)
    prom = prometheus([target])
    [sample] = prom.wait_for('hbtest_hashrate_ghs{board="b1"}')
    assert value(sample) == 42.5
    assert sample["metric"]["instance"] == target and sample["metric"]["job"] == "test"
    # a new value arrives with a later scrape
    gauge.labels(board="b1").set(7)
    prom.wait_for('hbtest_hashrate_ghs{board="b1"}', lambda r: r and value(r[0]) == 7)


def test_prometheus_fires_an_alert_from_a_rule_file(prometheus, exporter, tmp_path: Path):
    gauge, target = exporter
    gauge.labels(board="b2").set(50)
    rules = tmp_path / "rules.yml"
    rules.write_text(GOOD_RULES)
    prom = prometheus([target], rule_files=[rules])
    assert [r["name"] for g in prom.rules() for r in g["rules"]] == ["HashrateHigh"]
    prom.wait_for("ALERTS", lambda r: any(s["metric"].get("alertstate") == "firing" for s in r))
    [alert] = prom.alerts()
    assert alert["labels"]["board"] == "b2" and alert["state"] == "firing"


def test_promtool_tells_good_rules_from_bad(tmp_path: Path):
    good, bad = tmp_path / "good.yml", tmp_path / "bad.yml"
    good.write_text(GOOD_RULES)
    bad.write_text(BAD_RULES)
    ok, out = promtool_check_rules(good)
    assert ok, out
    ok, out = promtool_check_rules(bad)
    assert not ok and "bad.yml" in out, out
