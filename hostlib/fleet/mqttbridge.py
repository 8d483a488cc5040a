"""The gateway on MQTT (docs/fleet.md, "Topics"): retained last-known state per board, events and
health findings as they come, commands in with acknowledgements carrying the sender's
correlation id. paho-mqtt runs its network loop on its own thread and reconnects by itself; the
gateway's birth and last-will messages say whether the gateway itself is alive."""

from __future__ import annotations

import json
import queue
import re
import threading
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt

from .metrics import board_power_w, board_ths

QOS = 1
ROOT = "hashboard"
COMMANDS = ("curtail", "resume", "status")  # what any client of the broker may send a board
# Owner ops: a provisioned board answers them only with its secret, which the gateway holds and
# signs with for whoever sent the message; the broker does not say who that was. Off unless the
# configuration says so (`mqtt_owner_ops`), for a broker that authenticates and restricts `.../cmd`.
OWNER_COMMANDS = ("power", "tune")


def topic_safe(name: str) -> str:
    """A board name as one topic level: no '/', '+', '#' (a port like /dev/ttyACM0 -> dev-ttyACM0)."""
    return re.sub(r"[^A-Za-z0-9_.:-]+", "-", name).strip("-") or "board"


def summary(st: dict, online: bool) -> dict:
    """The retained state document: the board and its modules, without per-chip rows."""
    mods = []
    for m in st.get("modules") or []:
        mods.append({k: m.get(k) for k in ("slot", "state", "serial", "cause", "ghs", "power_w", "temp_c", "shed")})
    return {"online": online, "state": st.get("state"), "power_w": round(board_power_w(st), 2),
            "ths": round(board_ths(st), 3), "curtailed": (st.get("power") or {}).get("curtailed"),
            "heartbeat": st.get("heartbeat"), "uptime_ms": st.get("uptime_ms"), "modules": mods}


class MqttBridge:
    def __init__(self, host: str, port: int, gateway: str,
                 on_command: Callable[[str, dict, Callable[[dict], None]], None],
                 on_dispatch: Callable[[dict], None] | None = None,
                 dispatch_topic: str | None = None, owner_ops: bool = False) -> None:
        self.gw = topic_safe(gateway)
        self.commands = COMMANDS + (OWNER_COMMANDS if owner_ops else ())
        self.base = f"{ROOT}/{self.gw}"
        self.dispatch_topic = dispatch_topic or f"{ROOT}/{topic_safe(gateway)}/dispatch"
        self._on_command = on_command
        self._on_dispatch = on_dispatch
        self.connected = False
        self.sent = 0
        self.received = 0
        self._lock = threading.Lock()
        # orders from the broker are handled on a thread of ours, never on paho's: a handler that
        # waits for a lock held by a thread that is publishing must not stall paho's loop
        self._inbox: queue.Queue = queue.Queue()
        self._worker = threading.Thread(target=self._work, name="mqtt inbox", daemon=True)
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"hbctl-gateway-{self.gw}")
        c.will_set(f"{self.base}/status", "offline", qos=QOS, retain=True)
        c.on_connect = self._connected
        c.on_disconnect = self._disconnected
        c.on_message = self._message
        c.reconnect_delay_set(1, 10)
        self.client = c
        self.host, self.port = host, port

    def start(self) -> None:
        self._worker.start()
        self.client.connect_async(self.host, self.port, keepalive=10)
        self.client.loop_start()

    def stop(self) -> None:
        """A clean stop says so (offline, retained); a killed gateway's broker sends the will."""
        if self.connected:
            self.client.publish(f"{self.base}/status", "offline", qos=QOS, retain=True).wait_for_publish(2)
        self.client.disconnect()
        self.client.loop_stop()
        self._inbox.put(None)

    # ------------------------------------------------------------------ out
    def publish(self, topic: str, doc: Any, retain: bool = False) -> None:
        payload = doc if isinstance(doc, str) else json.dumps(doc, separators=(",", ":"))
        self.client.publish(topic, payload, qos=QOS, retain=retain)
        with self._lock:
            self.sent += 1

    def board_state(self, board: str, st: dict, online: bool) -> None:
        self.publish(f"{self.base}/{topic_safe(board)}/state", summary(st, online), retain=True)

    def board_online(self, board: str, online: bool) -> None:
        self.publish(f"{self.base}/{topic_safe(board)}/online", "true" if online else "false", retain=True)

    def board_event(self, board: str, ev: dict) -> None:
        self.publish(f"{self.base}/{topic_safe(board)}/events", ev)

    def board_health(self, board: str, doc: dict) -> None:
        flagged = [c for c in doc.get("chips") or [] if c.get("flag") != "ok"]
        self.publish(f"{self.base}/{topic_safe(board)}/health", {"chips": flagged}, retain=True)

    def dispatch_state(self, doc: dict, retain: bool = True) -> None:
        self.publish(f"{self.dispatch_topic}/state", doc, retain=retain)

    # ------------------------------------------------------------------ in
    def _connected(self, client, userdata, flags, reason, properties=None) -> None:
        if getattr(reason, "is_failure", False):
            return
        self.connected = True
        client.publish(f"{self.base}/status", "online", qos=QOS, retain=True)
        client.subscribe([(f"{self.base}/+/cmd", QOS)] + ([(self.dispatch_topic, QOS)] if self._on_dispatch else []))

    def _disconnected(self, client, userdata, flags, reason, properties=None) -> None:
        self.connected = False

    def _message(self, client, userdata, msg) -> None:
        with self._lock:
            self.received += 1
        self._inbox.put((msg.topic, msg.payload))

    def _work(self) -> None:
        while True:
            item = self._inbox.get()
            if item is None:
                return
            try:
                self._handle(*item)
            except Exception as e:  # noqa: BLE001  one bad order must not end the inbox
                self.publish(f"{self.base}/errors", {"topic": item[0], "error": f"{type(e).__name__}: {e}"})

    def _handle(self, topic: str, payload: bytes) -> None:
        try:
            doc = json.loads(payload)
        except ValueError:
            doc = None
        if topic == self.dispatch_topic:
            if isinstance(doc, dict) and self._on_dispatch:
                self._on_dispatch(doc)
            else:
                self.dispatch_state({"state": "refused", "error": "a dispatch message is a JSON object"}, False)
            return
        board = topic[len(self.base) + 1:].rsplit("/", 1)[0]
        ack = f"{self.base}/{board}/ack"
        if not isinstance(doc, dict):
            self.publish(ack, {"id": None, "ok": False, "error": "a command is a JSON object {id, op, args}"})
            return
        rid = doc.get("id")

        def reply(result: dict) -> None:
            self.publish(ack, {"id": rid, **result})

        op, args = doc.get("op"), doc.get("args", {})
        if op in OWNER_COMMANDS and op not in self.commands:
            reply({"ok": False, "error": f"{op} is an owner op (the gateway would sign it with the board's secret for "
                                         "any client of the broker); off unless the gateway's config sets "
                                         "mqtt_owner_ops: true"})
            return
        if op not in self.commands or not isinstance(args, dict):
            reply({"ok": False, "error": f"op must be one of {', '.join(self.commands)} with args an object"})
            return
        self._on_command(board, {"op": op, "args": args}, reply)
