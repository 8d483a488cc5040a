"""One board behind the gateway: a thread that owns its link (one conversation per port), arms the
board's host heartbeat, reads its status every refresh period (each request is a heartbeat),
forwards new events, judges its health history now and then, and runs the commands queued for it
(MQTT, dispatch) between two reads, at once, not after the refresh sleep.

A board that stops answering is marked offline, reported, and reconnected with a backoff; it is
never dropped from the gateway's view."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import HbError
from ..link import Link

Reply = Callable[[bool, Any], None]  # (ok, data or error text)
log = logging.getLogger("hbctl.gateway")


@dataclass
class BoardConfig:
    port: str
    name: str
    secret: bytes | None = None
    heartbeat_policy: str | None = None  # None: the board definition's own
    heartbeat_s: float = 10.0


@dataclass
class Snapshot:
    """What the gateway last knew of a board; replaced whole, never edited, so readers on other
    threads (metrics, MQTT, dispatch) always see one consistent status."""

    online: bool = False
    status: dict | None = None
    info: dict | None = None
    t: float = 0.0  # monotonic time of the status
    error: str | None = None
    health: dict | None = None  # hostlib.health.judge's document, when last judged


@dataclass
class Counters:
    requests: int = 0
    errors: int = 0
    reconnects: int = 0
    events: int = 0
    refreshes: int = 0
    refresh_s_sum: float = 0.0
    commands: int = 0
    callback_errors: int = 0


class BoardSession:
    def __init__(self, cfg: BoardConfig, refresh_s: float = 1.0, health_s: float = 600.0,
                 on_status: Callable[["BoardSession"], None] | None = None,
                 on_event: Callable[["BoardSession", dict], None] | None = None,
                 on_health: Callable[["BoardSession"], None] | None = None,
                 on_online: Callable[["BoardSession", bool], None] | None = None) -> None:
        self.cfg = cfg
        self.name = cfg.name
        self.refresh_s = refresh_s
        self.health_s = health_s
        self.snap = Snapshot()
        self.counters = Counters()
        self._on_status = on_status
        self._on_event = on_event
        self._on_health = on_health
        self._on_online = on_online
        self._cmds: queue.Queue[tuple[str, dict, Reply | None, bool]] = queue.Queue()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"board {cfg.name}", daemon=True)
        self._link: Link | None = None
        self._event_seq: int | None = None
        self._t_health = 0.0

    # ------------------------------------------------------------------ control
    def start(self) -> None:
        self._thread.start()

    def stop(self, wait: bool = True) -> None:
        self._stop.set()
        self._cmds.put(("", {}, None, False))  # wakes the wait
        if wait and self._thread.ident is not None:  # a gateway whose start failed never started it
            self._thread.join(timeout=10)

    def command(self, op: str, args: dict, reply: Reply | None = None, authorize: bool = False) -> None:
        """Queue a request for this board; `reply(ok, data_or_error)` is called from its thread.
        authorize: answer a provisioned board's refusal with the board's secret (the gateway's
        own requests: the heartbeat contract). Off for whoever sent a command over MQTT, unless
        the configuration trusts the broker (`mqtt_owner_ops`, docs/fleet.md): the gateway must
        not lend its secret to anyone who can publish."""
        self._cmds.put((op, args, reply, authorize))

    # ------------------------------------------------------------------ thread
    def _run(self) -> None:
        backoff = 1.0
        while not self._stop.is_set():
            try:
                self._connect()
                backoff = 1.0
                self._serve()
            except HbError as e:
                self._offline(str(e))
            except OSError as e:  # the port vanished under pyserial
                self._offline(f"link error: {e}")
            except Exception as e:  # noqa: BLE001  a bug must not end this board's watch silently
                self._offline(f"gateway error: {type(e).__name__}: {e}")
            if self._stop.wait(backoff):
                break
            backoff = min(backoff * 2, 10.0)
            self.counters.reconnects += 1
        if self._link is not None:
            self._link.close()

    def _request(self, op: str, args: dict | None = None) -> Any:
        assert self._link is not None
        self.counters.requests += 1
        try:
            return self._link.request(op, args or {})
        except HbError:
            self.counters.errors += 1
            raise

    def _connect(self) -> None:
        if self._link is not None:
            self._link.close()
            self._link = None
        self._link = Link(self.cfg.port, timeout=3.0, secret=self.cfg.secret)
        info = self._request("info")
        args: dict[str, Any] = {"timeout_s": self.cfg.heartbeat_s}
        if self.cfg.heartbeat_policy is not None:  # left out: the board definition's policy
            args["policy"] = self.cfg.heartbeat_policy
        self._fail_queued("reconnecting")  # anything queued while it was silent
        armed = self._request("heartbeat", args)  # the contract; every request from here on renews it
        if not armed or armed.get("policy") is None:
            raise HbError(f"board on {self.cfg.port} did not arm the heartbeat contract: {armed}")
        self.snap = Snapshot(online=self.snap.online, status=self.snap.status, info=info, t=self.snap.t,
                             health=self.snap.health)

    def _serve(self) -> None:
        last = None
        while not self._stop.is_set():
            t0 = time.monotonic()
            st = self._request("status", {"chips": False})  # per-chip rows: not a poller's business
            now = time.monotonic()
            if last is not None:
                self.counters.refreshes += 1
                self.counters.refresh_s_sum += now - last
            last = now
            was = self.snap.online
            self.snap = Snapshot(online=True, status=st, info=self.snap.info, t=now, health=self.snap.health)
            if not was and self._on_online:
                self._callback(self._on_online, self, True)
            if self._on_status:
                self._callback(self._on_status, self)
            self._events()
            if self.health_s > 0 and now - self._t_health >= self.health_s:
                self._t_health = now
                self._judge_health()
            # commands run at once, every one queued, back to back; then a fresh status (dispatch
            # measures their effect); without commands, the refresh period is waited out
            deadline = t0 + self.refresh_s
            ran = False
            while not self._stop.is_set():
                try:
                    wait = 0.0 if ran else max(0.0, deadline - time.monotonic())
                    op, args, reply, authorize = self._cmds.get(timeout=wait) if wait > 0 else self._cmds.get_nowait()
                except queue.Empty:
                    break
                if op:
                    self._execute(op, args, reply, authorize)
                    ran = True

    def _execute(self, op: str, args: dict, reply: Reply | None, authorize: bool) -> None:
        self.counters.commands += 1
        assert self._link is not None
        secret, self._link.secret = self._link.secret, (self._link.secret if authorize else None)
        try:
            data = self._request(op, args)
        except HbError as e:
            if reply:
                reply(False, str(e))
            if not getattr(e, "code", None):  # a broken link, not a board's refusal
                raise
            return
        finally:
            self._link.secret = secret
        if reply:
            reply(True, data)

    def _events(self) -> None:
        since = self._event_seq
        evs = self._request("events", {"since": since if since is not None else 0})
        for ev in evs or []:
            seq = ev.get("seq")
            if isinstance(seq, int):
                self._event_seq = seq if self._event_seq is None else max(self._event_seq, seq)
            if since is None:
                continue  # the first look only learns where the board's ring stands
            self.counters.events += 1
            if self._on_event:
                self._callback(self._on_event, self, ev)
        if since is None and self._event_seq is None:
            self._event_seq = 0

    def _judge_health(self) -> None:
        from .. import health

        try:
            doc = health.judge(self._request)
        except HbError as e:
            if getattr(e, "code", None) == "busy":
                return  # a diag run holds the board's heap: next time
            raise
        s = self.snap
        self.snap = Snapshot(online=s.online, status=s.status, info=s.info, t=s.t, health=doc)
        if self._on_health:
            self._callback(self._on_health, self)

    def _fail_queued(self, why: str) -> None:
        """Refuse every command still queued: a command for a silent board is answered now, not run
        whenever the board comes back (a dispatch shed or an MQTT `power` minutes late, after the
        order that wanted it was replaced), and dispatch does not wait on it forever."""
        while True:
            try:
                op, _args, reply, _auth = self._cmds.get_nowait()
            except queue.Empty:
                return
            if op and reply:
                try:
                    reply(False, f"board {self.name} is not answering: {why}; not sent")
                except Exception:  # noqa: BLE001
                    log.exception("reply for board %s failed", self.name)

    def _offline(self, why: str) -> None:
        self._fail_queued(why)
        s = self.snap
        was = s.online
        self.snap = Snapshot(online=False, status=s.status, info=s.info, t=s.t, error=why, health=s.health)
        if self._link is not None:
            self._link.close()
            self._link = None
        if was and self._on_online:
            self._callback(self._on_online, self, False)

    def _callback(self, fn, *args) -> None:
        """A gateway callback (MQTT, dispatch) that fails is the gateway's bug, not this board's:
        it must not mark the board offline, and above all must not stop the requests that keep
        the board's heartbeat alive (dispatch is farm-wide: one bad reading would otherwise
        knock every board's session into its reconnect backoff, past the heartbeat timeout)."""
        try:
            fn(*args)
        except Exception:  # noqa: BLE001
            self.counters.callback_errors += 1
            log.exception("gateway callback for board %s failed", self.name)
