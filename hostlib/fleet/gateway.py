"""The fleet gateway (`hbctl gateway`, docs/fleet.md): one host process per rack owning N boards.
It keeps each board's heartbeat alive, serves Prometheus metrics and a farm-at-a-glance page over
HTTP, publishes state, events and health findings to MQTT and takes commands and dispatch orders
from it. Each board has its own thread (session.py); the HTTP server and paho have theirs."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import CollectorRegistry

from . import page
from .dispatcher import Dispatcher
from .metrics import FleetCollector
from .mqttbridge import MqttBridge, summary, topic_safe
from .session import BoardConfig, BoardSession


class Gateway:
    def __init__(self, name: str, boards: list[BoardConfig], refresh_s: float = 1.0, health_s: float = 600.0,
                 metrics: tuple[str, int] | None = None, mqtt: tuple[str, int] | None = None,
                 dispatch: bool = True, dispatch_topic: str | None = None,
                 mqtt_owner_ops: bool = False) -> None:
        names = [b.name for b in boards]
        if len(set(names)) != len(names):
            raise ValueError("two boards have the same name: " + ", ".join(sorted({n for n in names if names.count(n) > 1})))
        if len({topic_safe(n) for n in names}) != len(names):
            raise ValueError("two board names map to the same MQTT topic level (only A-Z a-z 0-9 _ . : - are kept)")
        self.name = name
        self.mqtt_owner_ops = mqtt_owner_ops  # MQTT takes power/tune, and they get the board's secret
        self.sessions = [BoardSession(b, refresh_s, health_s, on_status=self._status, on_event=self._event,
                                      on_health=self._health, on_online=self._online) for b in boards]
        self._by_topic = {topic_safe(s.name): s for s in self.sessions}
        self.mqtt: MqttBridge | None = None
        self.dispatcher: Dispatcher | None = Dispatcher(self.sessions, self._dispatch_state) if dispatch else None
        if dispatch_topic is None:  # its own: several gateways on one broker never share a limit
            dispatch_topic = f"hashboard/{topic_safe(name)}/dispatch"
        self.dispatch_topic = dispatch_topic
        if mqtt is not None:
            self.mqtt = MqttBridge(mqtt[0], mqtt[1], name, self._command,
                                   self.dispatcher.order if self.dispatcher else None, dispatch_topic,
                                   mqtt_owner_ops)
        self.registry = CollectorRegistry()
        self.registry.register(FleetCollector(self))
        self.http: ThreadingHTTPServer | None = None
        self._serving = False  # shutdown() waits for serve_forever: never call it before that runs
        if metrics is not None:
            self.http = ThreadingHTTPServer(metrics, _handler(self))
            self.http.daemon_threads = True

    @property
    def metrics_address(self) -> tuple[str, int] | None:
        return None if self.http is None else self.http.server_address[:2]  # type: ignore[return-value]

    def start(self) -> None:
        if self.mqtt is not None:
            self.mqtt.start()
        if self.http is not None:
            threading.Thread(target=self.http.serve_forever, name="metrics http", daemon=True).start()
            self._serving = True
        for s in self.sessions:
            s.start()

    def stop(self) -> None:
        for s in self.sessions:  # all told first, then waited for: a stop takes one request, not N
            s.stop(wait=False)
        for s in self.sessions:
            s.stop()
        if self.http is not None:
            if self._serving:
                self.http.shutdown()
            self.http.server_close()
        if self.mqtt is not None:
            self.mqtt.stop()

    # ------------------------------------------------------------------ from the boards
    def _status(self, s: BoardSession) -> None:
        if self.mqtt is not None and s.snap.status is not None:
            self.mqtt.board_state(s.name, s.snap.status, True)
        if self.dispatcher is not None:
            self.dispatcher.step()

    def _online(self, s: BoardSession, online: bool) -> None:
        if self.mqtt is None:
            return
        self.mqtt.board_online(s.name, online)
        if not online:  # the last-known state stays retained, marked as not current
            self.mqtt.board_state(s.name, s.snap.status or {}, False)
            self.mqtt.board_event(s.name, {"kind": "silent", "detail": s.snap.error})

    def _event(self, s: BoardSession, ev: dict) -> None:
        if self.mqtt is not None:
            self.mqtt.board_event(s.name, ev)

    def _health(self, s: BoardSession) -> None:
        if self.mqtt is not None and s.snap.health is not None:
            self.mqtt.board_health(s.name, s.snap.health)

    def _dispatch_state(self, doc: dict, retain: bool = True) -> None:
        if self.mqtt is not None:
            self.mqtt.dispatch_state(doc, retain)

    # ------------------------------------------------------------------ to the boards
    def _command(self, board: str, cmd: dict, reply) -> None:
        s = self._by_topic.get(board)
        if s is None:
            reply({"ok": False, "error": f"no board {board!r} behind gateway {self.name!r}"})
            return
        if not s.snap.online:
            reply({"ok": False, "error": f"board {s.name} is not answering: {s.snap.error}"})
            return
        s.command(cmd["op"], cmd["args"], lambda ok, data: reply({"ok": True, "data": data} if ok else
                                                                 {"ok": False, "error": data}),
                  authorize=self.mqtt_owner_ops)

    # ------------------------------------------------------------------ views
    def farm(self) -> dict[str, Any]:
        """The page's and /farm.json's document: every board, as last seen."""
        boards = []
        for s in self.sessions:
            d = summary(s.snap.status or {}, s.snap.online)
            d.update({"name": s.name, "port": s.cfg.port, "error": s.snap.error,
                      "flagged": [c for c in (s.snap.health or {}).get("chips") or [] if c.get("flag") != "ok"]})
            boards.append(d)
        return {"gateway": self.name, "boards": boards,
                "dispatch": None if self.dispatcher is None else self.dispatcher.doc()}


def _handler(gw: Gateway):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            path = self.path.split("?")[0]
            if path == "/metrics":
                body, ctype = generate_latest(gw.registry), CONTENT_TYPE_LATEST
            elif path == "/farm.json":
                body, ctype = json.dumps(gw.farm()).encode(), "application/json"
            elif path == "/":
                body, ctype = page.render(gw.farm()).encode(), "text/html; charset=utf-8"
            else:
                self.send_error(404, "only /, /farm.json and /metrics")
                return
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, fmt: str, *args: Any) -> None:
            pass  # a scrape every few seconds is not news

    return Handler
