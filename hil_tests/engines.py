"""Real engines for the fleet gateway's tests: Debian's Mosquitto broker and Prometheus server,
started as subprocesses on free loopback ports (so each xdist worker has its own) and stopped and
reaped on the way out. Without a binary a test skips, naming the package, except under CI=true,
where a missing engine fails the run instead of hiding a test (as browser.py does for chromium).
Readiness is polled against generous deadlines: a busy 2-core machine starts things slowly."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Callable, Iterator, Self, Sequence

import pytest

READY_TIMEOUT = 30.0
_POLL = 0.1
# a minimal MQTT 3.1.1 CONNECT (clean session, empty client id) and the CONNACK that accepts it
_CONNECT = bytes.fromhex("100c00044d5154540402003c0000")
_CONNACK_OK = bytes.fromhex("20020000")
_DISCONNECT = bytes.fromhex("e000")


def find(name: str, package: str) -> str:
    """The engine's executable; also looks in /usr/sbin, which a non-root PATH may lack."""
    path = shutil.which(name) or next(
        (p for p in (f"/usr/sbin/{name}", f"/usr/bin/{name}") if os.access(p, os.X_OK)), None)
    if path:
        return path
    why = f"{name} not installed (Debian package {package}; .ci/run installs it)"
    if os.environ.get("CI") == "true":
        pytest.fail(why + " - required under CI=true")
    pytest.skip(why)


def free_port() -> int:
    """A loopback port nobody holds now; an engine that loses it to a race is started again."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Engine:
    """A subprocess in a temp dir of its own, its output in a log there (a pipe could fill up)."""

    name = "engine"
    attempts = 3

    def __init__(self) -> None:
        self.host = "127.0.0.1"
        self.port = 0
        self.dir = Path(tempfile.mkdtemp(prefix=f"hbtest-{self.name}-"))
        self.log = self.dir / "output.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def _argv(self) -> list[str]:
        raise NotImplementedError

    def _ready(self) -> bool:
        raise NotImplementedError

    def start(self) -> Self:
        for _ in range(self.attempts):
            self.port = free_port()
            with open(self.log, "wb") as out:
                self.proc = subprocess.Popen(self._argv(), stdin=subprocess.DEVNULL, stdout=out,
                                             stderr=subprocess.STDOUT, cwd=self.dir)
            if self._wait_ready():
                return self
            if self.proc is not None and self.proc.poll() is None:
                break  # alive but never ready: another port would not help
            self._reap()  # it died (port taken between free_port and its bind?): another port
        self.stop()
        raise AssertionError(f"{self.name} never became ready:\n{self.tail()}")

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                return False
            try:
                if self._ready():
                    return True
            except OSError:
                pass
            time.sleep(_POLL)
        return False

    def tail(self, chars: int = 3000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def _reap(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)
        self.proc = None

    def stop(self) -> None:
        self._reap()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class Mosquitto(_Engine):
    """A throwaway broker: anonymous, nothing persisted, logging to its output log."""

    name = "mosquitto"

    def __init__(self) -> None:
        self.exe = find("mosquitto", "mosquitto")
        super().__init__()

    def _argv(self) -> list[str]:
        conf = self.dir / "mosquitto.conf"
        conf.write_text(f"listener {self.port} {self.host}\nallow_anonymous true\n"
                        "persistence false\nlog_dest stderr\nlog_timestamp true\n")
        return [self.exe, "-c", str(conf)]

    def _ready(self) -> bool:
        # a CONNACK, not just an open port: the broker really serves MQTT
        with socket.create_connection((self.host, self.port), timeout=5) as s:
            s.sendall(_CONNECT)
            ok = s.recv(4) == _CONNACK_OK
            s.sendall(_DISCONNECT)
            return ok


class Prometheus(_Engine):
    """A throwaway server scraping `targets` ("127.0.0.1:PORT") every `interval` seconds, rules
    from `rule_files` evaluated as often, its TSDB in its temp dir."""

    name = "prometheus"

    def __init__(self, targets: Sequence[str], interval: float = 1.0,
                 rule_files: Sequence[str | Path] = (), job: str = "test") -> None:
        self.exe = find("prometheus", "prometheus")
        self.targets, self.interval, self.job = list(targets), interval, job
        self.rule_files = [str(Path(p).resolve()) for p in rule_files]
        super().__init__()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _argv(self) -> list[str]:
        every = f"{round(self.interval * 1000)}ms"
        config = {"global": {"scrape_interval": every, "scrape_timeout": every,
                             "evaluation_interval": every},
                  "rule_files": self.rule_files,
                  "scrape_configs": [{"job_name": self.job,
                                      "static_configs": [{"targets": self.targets}]}]}
        conf = self.dir / "prometheus.yml"
        conf.write_text(json.dumps(config, indent=1))  # JSON is YAML: no PyYAML needed
        return [self.exe, f"--config.file={conf}", f"--storage.tsdb.path={self.dir / 'data'}",
                f"--web.listen-address={self.host}:{self.port}"]

    def _ready(self) -> bool:
        with urllib.request.urlopen(self.url + "/-/ready", timeout=5) as r:
            return r.status == 200

    def api(self, path: str, **params: str) -> Any:
        """The `data` of an HTTP API answer, e.g. api("query", query="up")."""
        url = f"{self.url}/api/v1/{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        with urllib.request.urlopen(url, timeout=10) as r:
            body = json.load(r)
        if body.get("status") != "success":
            raise AssertionError(f"prometheus {path} {params}: {body}")
        return body["data"]

    def query(self, expr: str) -> list[dict]:
        """An instant query's result: [{"metric": {labels}, "value": [ts, "text"]}, ...]."""
        return self.api("query", query=expr)["result"]

    # Prometheus 2.x applies new targets on a fixed 5 s throttle (not configurable): the first
    # sample lands 5-6 s after /-/ready, so the default deadline is well above that
    def wait_for(self, expr: str, predicate: Callable[[list[dict]], bool] = bool,
                 timeout: float = 30.0) -> list[dict]:
        """Polls `expr` until its result satisfies `predicate` (default: not empty)."""
        deadline = time.monotonic() + timeout
        while True:
            result = self.query(expr)
            if predicate(result):
                return result
            if time.monotonic() > deadline:
                raise AssertionError(f"{expr!r} never satisfied the predicate in {timeout}s; "
                                     f"last result {result}")
            time.sleep(min(self.interval / 2, 0.5))

    def rules(self) -> list[dict]:
        return self.api("rules")["groups"]

    def alerts(self) -> list[dict]:
        return self.api("alerts")["alerts"]

    def targets_health(self) -> list[dict]:
        """The active targets with their scrape health and last error (why nothing arrives)."""
        return self.api("targets")["activeTargets"]


def promtool_check_rules(path: str | Path) -> tuple[bool, str]:
    """(accepted, promtool's output) for a rules file."""
    exe = find("promtool", "prometheus")
    r = subprocess.run([exe, "check", "rules", str(path)], capture_output=True, text=True,
                       timeout=60)
    return r.returncode == 0, r.stdout + r.stderr


def value(sample: dict) -> float:
    """The number in one instant-vector sample."""
    return float(sample["value"][1])


@pytest.fixture(scope="session")
def mosquitto() -> Iterator[Mosquitto]:
    """One broker per worker session; tests keep apart by topic (and clean up retained ones)."""
    with Mosquitto() as broker:
        yield broker


@pytest.fixture
def prometheus() -> Iterator[Callable[..., Prometheus]]:
    """Factory: prometheus(targets, interval=1.0, rule_files=()) -> a started server, stopped
    after the test."""
    started: list[Prometheus] = []

    def make(targets: Sequence[str], interval: float = 1.0,
             rule_files: Sequence[str | Path] = (), job: str = "test") -> Prometheus:
        server = Prometheus(targets, interval, rule_files, job)
        started.append(server)
        return server.start()

    yield make
    for server in started:
        server.stop()
