"""What the fleet tests share: a gateway run as the real `hbctl gateway` process (so it can be
killed like one), an MQTT listener that keeps the last message per topic, and waits that poll
state instead of sleeping."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Callable

import paho.mqtt.client as mqtt

BIN = Path(sys.executable).parent


def _die_with_parent() -> None:
    """A gateway started by a test ends with the test process, however that ends (Linux)."""
    import ctypes
    import signal

    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class GatewayProcess:
    def __init__(self, ports: list[str], *extra: str, names: list[str] | None = None,
                 config: dict | None = None) -> None:
        argv = [str(BIN / "hbctl"), "gateway", "--metrics", "127.0.0.1:0", *extra]
        if names is None:
            for p in ports:
                argv += ["--board-port", p]
            self.cfg = None
        else:
            self.cfg = Path(f"/tmp/hbgw-{uuid.uuid4().hex[:8]}.json")
            doc = dict(config or {})
            doc["boards"] = [{"port": p, "name": n} for p, n in zip(ports, names)]
            self.cfg.write_text(json.dumps(doc))
            argv += ["--config", str(self.cfg)]
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     preexec_fn=_die_with_parent)
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        if not line:
            raise AssertionError(f"gateway did not start: {self.proc.stderr.read() if self.proc.stderr else ''}")
        self.doc = json.loads(line)
        self.metrics = self.doc["metrics"]

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.cfg is not None:
            self.cfg.unlink(missing_ok=True)

    def farm(self) -> dict:
        import urllib.request

        with urllib.request.urlopen(f"http://{self.metrics}/farm.json", timeout=10) as r:
            return json.load(r)


class Listener:
    """Subscribes to `topics`; keeps every message (topic, payload) and the last one per topic."""

    def __init__(self, broker, *topics: str) -> None:
        self.last: dict[str, Any] = {}
        self.log: list[tuple[str, Any]] = []
        self.times: list[float] = []  # arrival of each message in log
        self._cv = threading.Condition()
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"hbtest-{uuid.uuid4().hex[:8]}")
        c.on_message = self._message
        c.connect(broker.host, broker.port, keepalive=30)
        for t in topics:
            c.subscribe(t, qos=1)
        c.loop_start()
        self.client = c

    def _message(self, client, userdata, msg) -> None:
        try:
            doc = json.loads(msg.payload)
        except ValueError:
            doc = msg.payload.decode(errors="replace")
        with self._cv:
            self.last[msg.topic] = doc
            self.log.append((msg.topic, doc))
            self.times.append(time.monotonic())
            self._cv.notify_all()

    def all_hashing(self, base: str, names: list[str]) -> list[dict] | bool:
        """Every board's retained state (under topic root `base`) online with 4 modules hashing
        and measured: their documents, else False."""
        docs = [self.last.get(f"{base}/{n}/state") for n in names]
        return all(isinstance(d, dict) and d["online"] and [m["state"] for m in d["modules"]] == ["hashing"] * 4
                   and all(m["ghs"] > 0 for m in d["modules"]) for d in docs) and docs

    def publish(self, topic: str, doc: Any) -> None:
        self.client.publish(topic, json.dumps(doc), qos=1).wait_for_publish(10)

    def wait(self, predicate: Callable[[], Any], timeout: float, what: str) -> Any:
        end = time.monotonic() + timeout
        with self._cv:
            while True:
                got = predicate()
                if got:
                    return got
                left = end - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}; last: "
                                         f"{ {k: v for k, v in list(self.last.items())[-6:]} }")
                self._cv.wait(min(left, 0.5))

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def wait_until(predicate: Callable[[], Any], timeout: float, what: str, every: float = 0.5) -> Any:
    end = time.monotonic() + timeout
    while True:
        got = predicate()
        if got:
            return got
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)
