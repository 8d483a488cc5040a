"""Prometheus metrics of every board behind a gateway (docs/fleet.md, "Metrics"), built at scrape
time from the sessions' last snapshots, in node-exporter style: units in the names, `_total`
counters, labels `board` (its configured name, or its port) and `module` (slot). No chip label:
a farm of 10 000 boards x 4 modules x 24 chips would be ~1M series per chip metric; chips that
health flags are counted per module instead (`hashboard_chips_flagged`), and named on MQTT."""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from hashboard.slotfsm import FAULTY, RUNNING  # the firmware's own state names

if TYPE_CHECKING:
    from .gateway import Gateway



def module_rows(st: dict) -> Iterable[dict]:
    return st.get("modules") or []


def board_power_w(st: dict) -> float:
    return sum(m.get("power_w") or 0.0 for m in module_rows(st))


def board_ths(st: dict) -> float:
    return sum(m.get("ghs") or 0.0 for m in module_rows(st)) / 1000.0


class FleetCollector(Collector):
    def __init__(self, gw: "Gateway") -> None:
        self.gw = gw

    def collect(self) -> Iterator:
        gw = self.gw
        g = {name: GaugeMetricFamily(name, doc, labels=labels) for name, doc, labels in _GAUGES}
        c = {name: CounterMetricFamily(name, doc, labels=["board"]) for name, doc in _COUNTERS}
        now = time.monotonic()
        for s in gw.sessions:
            b = s.name
            snap = s.snap
            g["hashboard_up"].add_metric([b], 1.0 if snap.online else 0.0)
            cnt = s.counters
            c["hashboard_gateway_requests"].add_metric([b], cnt.requests)
            c["hashboard_gateway_request_errors"].add_metric([b], cnt.errors)
            c["hashboard_gateway_reconnects"].add_metric([b], cnt.reconnects)
            c["hashboard_events"].add_metric([b], cnt.events)
            if cnt.refreshes:
                g["hashboard_status_refresh_seconds"].add_metric([b], cnt.refresh_s_sum / cnt.refreshes)
            st = snap.status
            if st is None:
                continue
            g["hashboard_status_age_seconds"].add_metric([b], now - snap.t)
            g["hashboard_power_watts"].add_metric([b], board_power_w(st))
            g["hashboard_hashrate_ths"].add_metric([b], board_ths(st))
            pw = st.get("power") or {}
            g["hashboard_curtailed"].add_metric([b], 1.0 if pw.get("curtailed") else 0.0)
            hb = st.get("heartbeat") or {}
            # `lost` is cleared by the very request that reads it (any request is a heartbeat): a
            # gateway never sees it. `applied` stays until `resume`: a curtail/off policy in force
            # since this gateway (or its predecessor) fell silent
            in_force = hb.get("lost") or hb.get("applied") in ("curtail", "off")
            g["hashboard_heartbeat_lost"].add_metric([b], 1.0 if in_force else 0.0)
            if snap.info:
                th = (snap.info.get("limits") or {}).get("thermal") or {}
                if "hot_c" in th:
                    g["hashboard_thermal_hot_celsius"].add_metric([b], th["hot_c"])
            chains = {ch.get("module"): ch for ch in st.get("chains") or []}
            for m in module_rows(st):
                if not m.get("present"):
                    continue
                k = [b, str(m["slot"])]
                g["hashboard_module_power_watts"].add_metric(k, m.get("power_w") or 0.0)
                g["hashboard_module_hashrate_ths"].add_metric(k, (m.get("ghs") or 0.0) / 1000.0)
                if m.get("temp_c") is not None:
                    g["hashboard_module_temperature_celsius"].add_metric(k, m["temp_c"])
                g["hashboard_module_running"].add_metric(k, 1.0 if m.get("state") in RUNNING else 0.0)
                g["hashboard_module_faulty"].add_metric(k, 1.0 if m.get("state") in FAULTY else 0.0)
                g["hashboard_module_shed"].add_metric(k, 1.0 if m.get("shed") else 0.0)
                ch = chains.get(m["slot"]) or {}
                g["hashboard_module_chain_fault"].add_metric(k, 1.0 if ch.get("fault") else 0.0)
            if snap.health is not None:
                flagged: dict[tuple[int, str], int] = {}
                for chip in snap.health.get("chips") or []:
                    if chip.get("flag") in ("watch", "replace"):
                        key = (chip["module"], chip["flag"])
                        flagged[key] = flagged.get(key, 0) + 1
                for m in module_rows(st):
                    if m.get("present"):
                        for flag in ("watch", "replace"):
                            g["hashboard_chips_flagged"].add_metric([b, str(m["slot"]), flag],
                                                                    flagged.get((m["slot"], flag), 0))
        d = gw.dispatcher
        if d is not None:
            lim = d.limit_w
            g["hashboard_dispatch_limit_watts"].add_metric([], math.nan if lim is None else lim)
            g["hashboard_dispatch_measured_watts"].add_metric([], d.measured_w())
            g["hashboard_dispatch_at_limit"].add_metric([], 1.0 if d.at_limit() else 0.0)
        mq = gw.mqtt
        if mq is not None:
            g["hashboard_mqtt_connected"].add_metric([], 1.0 if mq.connected else 0.0)
            mc = CounterMetricFamily("hashboard_mqtt_messages", "MQTT messages by direction",
                                     labels=["direction"])
            mc.add_metric(["out"], mq.sent)
            mc.add_metric(["in"], mq.received)
            yield mc
        yield from g.values()
        yield from c.values()


B = ["board"]
M = ["board", "module"]
_GAUGES = [
    ("hashboard_up", "1 while the board answers the gateway", B),
    ("hashboard_power_watts", "board input power, summed over its modules", B),
    ("hashboard_hashrate_ths", "board hashrate, summed over its modules", B),
    ("hashboard_curtailed", "1 while the board is curtailed (any level)", B),
    ("hashboard_heartbeat_lost", "1 while the board's heartbeat policy (curtail, off) is in force, until resume", B),
    ("hashboard_thermal_hot_celsius", "the board definition's hot threshold", B),
    ("hashboard_status_age_seconds", "seconds since the board's last status reached the gateway", B),
    ("hashboard_status_refresh_seconds", "mean seconds between two status reads", B),
    ("hashboard_module_power_watts", "module power (string voltage x current)", M),
    ("hashboard_module_hashrate_ths", "module hashrate", M),
    ("hashboard_module_temperature_celsius", "module's hottest sensor", M),
    ("hashboard_module_running", "1 while the module hashes (throttled included)", M),
    ("hashboard_module_faulty", "1 while the module is in fault, unidentified or incompatible", M),
    ("hashboard_module_shed", "1 while grid dispatch holds the module off", M),
    ("hashboard_module_chain_fault", "1 while the module's chain reports a fault", M),
    ("hashboard_chips_flagged", "chips the health history flags, per module and flag", ["board", "module", "flag"]),
    ("hashboard_dispatch_limit_watts", "the farm power limit in force (NaN: none)", []),
    ("hashboard_dispatch_measured_watts", "the gateway's boards' measured power", []),
    ("hashboard_dispatch_at_limit", "1 when no limit is in force or the measured power is at or under it", []),
    ("hashboard_mqtt_connected", "1 while the gateway is connected to its broker", []),
]
_COUNTERS = [
    ("hashboard_gateway_requests", "requests the gateway sent the board"),
    ("hashboard_gateway_request_errors", "requests that failed (no answer, broken link, refusal)"),
    ("hashboard_gateway_reconnects", "times the gateway reopened the board's link"),
    ("hashboard_events", "board events the gateway forwarded"),
]
