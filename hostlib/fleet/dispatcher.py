"""Grid dispatch in a running gateway (docs/fleet.md, "Dispatch"): a farm power limit with a
deadline arrives (MQTT), the boards' modules are ranked by their measured J/TH and the least
efficient are shed (`curtail {module}`), at once and in parallel across boards; the gateway then
watches the measured power and reports when the farm is at the limit, and how long it took. While
a limit is in force every fresh status re-plans (a module that came up, or drew more, may need one
more shed); a lifted limit restores the most efficient first. The allocation itself is the pure
`dispatch.with_hysteresis`."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from . import dispatch
from .metrics import FAULTY, RUNNING

if TYPE_CHECKING:
    from .session import BoardSession

HYSTERESIS = 0.02  # a shed module comes back only when it fits 2 % under the limit
SETTLE_MARGIN_W = 0.0  # measured <= limit, as the boards report it
POLICY_RAMP_S = 5.0  # after a heartbeat timeout, what a board's curtail ramp-down takes at most
RESEND_S = 3.0  # the same command for a module again only after this long
DRIFT_S = 3.0  # every command answered this long ago and still over the limit: shed one more


def _reading(v) -> float:
    """A module's telemetry figure as dispatch may use it: a regulator's signed current can read a
    little below zero, and a broken reading must not stop the farm's dispatch (Unit refuses it)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
        return 0.0
    return float(v)


def _policy_has_it_off(s) -> bool:
    """A silent board whose armed heartbeat policy (curtail, off) has had its timeout and a
    ramp-down since its last status: it draws nothing now, by its own doing. Counting its last
    reading instead would shed the rest of the farm for power nobody draws."""
    if s.snap.online or s.snap.status is None:
        return False
    armed = (s.snap.status.get("heartbeat") or {}).get("armed") or {}
    if armed.get("policy") not in ("curtail", "off"):
        return False
    return time.monotonic() - s.snap.t > float(armed.get("timeout_s", 3600)) + POLICY_RAMP_S


class Dispatcher:
    def __init__(self, sessions: list["BoardSession"], publish: Callable[..., None]) -> None:
        self.sessions = sessions
        self.publish = publish
        self.limit_w: float | None = None
        self.deadline_s = 0.0
        self.request_id = None
        self.t0 = 0.0
        self.t_at_limit: float | None = None
        self.state = "unlimited"
        self.known: dict[tuple[str, int], tuple[float, float]] = {}  # (W, TH/s) when last running
        self.pending: set[tuple[str, int]] = set()  # commands sent, no reply yet
        self.sent: dict[tuple[str, int], str] = {}  # the last command per module, and when
        self.sent_t: dict[tuple[str, int], float] = {}
        # the sheds this dispatcher answers for: those it made, and those standing when an order
        # came (an order takes over the farm's sheds). Only these are ever resumed: a module an
        # operator shed by hand (MQTT cmd, hbctl), one another gateway shed, or one a previous
        # gateway left shed before it died with a limit in force stays off until an order says so.
        self.ours: set[tuple[str, int]] = set()
        self._lock = threading.RLock()
        self._t_pub = 0.0
        self._t_act = 0.0  # when the last commands went out
        self.extra = 0  # sheds beyond the figures' count, because the measured draw said so
        # reports are published outside _lock, from whichever board thread stepped: numbered under
        # _lock and published in that order, so an older report never lands after a newer one
        # (the retained state would stay stale: an unchanged state is not published again)
        self._seq = 0
        self._pub_seq = 0
        self._pub_lock = threading.Lock()
        self._pub_shed: tuple = ()

    # ------------------------------------------------------------------ measured
    def measured_w(self) -> float:
        total = 0.0
        for s in self.sessions:
            st = s.snap.status
            if st is not None and not _policy_has_it_off(s):
                total += sum(_reading(m.get("power_w")) for m in st.get("modules") or [])
        return total

    def at_limit(self) -> bool:
        return dispatch.settled(self.measured_w(), self.limit_w, SETTLE_MARGIN_W)

    def units(self) -> tuple[list[dispatch.Unit], dict[tuple[str, int], bool]]:
        """Every module as a Unit, and whether each available one is on (not shed) now.
        Available: a module of an answering board, not faulty, with figures from when it ran.
        Its figures are those it last ran at, frozen while a limit is in force: a ranking that
        followed every reading's wobble would swap modules of nearly equal J/TH back and forth."""
        units, on = [], {}
        frozen = self.limit_w is not None
        for s in self.sessions:
            st = s.snap.status
            if st is None:
                continue
            for m in st.get("modules") or []:
                if not m.get("present"):
                    continue
                key = (s.name, m["slot"])
                w, ths = _reading(m.get("power_w")), _reading(m.get("ghs")) / 1000.0
                if m.get("state") in RUNNING and not m.get("shed") and w > 0 and ths > 0 and (
                        not frozen or key not in self.known):
                    self.known[key] = (w, ths)
                if _policy_has_it_off(s):  # silent long enough for its own policy to have switched it off
                    w = ths = 0.0
                if s.snap.online and m.get("state") not in FAULTY and key in self.known:
                    full, kths = self.known[key]
                    units.append(dispatch.Unit(s.name, m["slot"], full, kths))
                    on[key] = not m.get("shed")
                else:  # faulty, never seen running, or its board silent: a fixed load at what it draws
                    units.append(dispatch.Unit(s.name, m["slot"], w, ths, idle_w=w, available=False))
        return units, on

    # ------------------------------------------------------------------ orders
    def order(self, doc: dict) -> None:
        """{"id", "limit_w": W | null, "deadline_s": s}: a new limit (null lifts it; left out is
        refused: a misspelt key must not lift a grid limit)."""
        lim = doc.get("limit_w")
        dl = doc.get("deadline_s", 5.0)
        bad = ("limit_w" not in doc or (lim is not None and (isinstance(lim, bool) or not isinstance(lim, (int, float))
                                                              or not math.isfinite(lim) or lim < 0))
               or isinstance(dl, bool) or not isinstance(dl, (int, float)) or not math.isfinite(dl) or not dl > 0)
        if bad:
            # not retained: a refused message must not hide the state of the limit in force
            echo = "(missing)" if "limit_w" not in doc else str(lim) if isinstance(lim, float) and not math.isfinite(lim) else lim
            self.publish({"id": doc.get("id"), "state": "refused", "limit_w": echo,  # JSON has no Infinity
                          "error": "limit_w (required) must be a number >= 0 or null, deadline_s a number > 0"},
                         False)
            return
        with self._lock:
            for s in self.sessions:
                if s.snap.online:
                    self.ours.update((s.name, m["slot"]) for m in (s.snap.status or {}).get("modules") or []
                                     if m.get("shed"))
            self.request_id = doc.get("id")
            new = None if lim is None else float(lim)
            if new != self.limit_w:  # an EMS re-sending the same limit keeps what drift has taught
                self.extra = 0
            self.limit_w = new
            self.deadline_s = float(dl)
            self.t0 = time.monotonic()
            self.t_at_limit = None
            self._t_act = self.t0
            self.state = "ordered"  # the first report of a new order is always published
        self.step()

    def step(self) -> None:
        """Re-plan against the latest statuses and report (called after every board refresh).
        The report is published outside the lock: no lock of ours is held while paho works."""
        out = self._step()
        if out is not None:
            seq, doc = out
            with self._pub_lock:
                if seq > self._pub_seq:
                    self._pub_seq = seq
                    self.publish(doc)

    def _step(self) -> tuple[int, dict] | None:
        with self._lock:
            doc = self._plan()
            if doc is None:
                return None
            self._seq += 1
            return self._seq, doc

    def _plan(self) -> dict | None:
        """One planning pass (under _lock): the commands it sends, and the report to publish or None."""
        units, on = self.units()
        if self.limit_w is None:
            alloc = dispatch.allocate(units, None)
        else:
            shed_now = sum(1 for k, v in on.items() if not v)
            now = time.monotonic()
            if (not self.pending and now - self._t_act > DRIFT_S
                    and not dispatch.settled(self.measured_w(), self.limit_w, SETTLE_MARGIN_W)):
                self.extra += 1  # all done, still over: the figures ran low; one more
                self._t_act = now
            alloc = dispatch.with_hysteresis(units, self.limit_w, shed_now, HYSTERESIS, self.extra)
        now = time.monotonic()
        plan = dispatch.plan(alloc, on)
        if self.limit_w is None:  # lifted: every shed of ours back, also one it has no figures for
            plan += [("on", b, m) for b, m in self._shed_unranked(on)]
        actions = [a for a in plan if ((a[1], a[2]) in on or a[0] == "on") and (a[1], a[2]) not in self.pending
                   and (a[0] == "off" or (a[1], a[2]) in self.ours)]
        # the same command for a module is not sent again until a status read after its
        # answer could show it done (the board's status lags its answer by up to one refresh)
        actions = [a for a in actions if not (self.sent.get((a[1], a[2])) == a[0]
                                               and now - self.sent_t[(a[1], a[2])] < RESEND_S)]
        for act, board, module in actions:
            self._send(act, board, module)
        if actions:
            self._t_act = time.monotonic()
        return self._report(alloc)

    def _shed_unranked(self, on: dict) -> list[tuple[str, int]]:
        """Shed modules of answering boards the allocation cannot rank (shed before this gateway
        saw them run: a previous gateway's order taken over, a module re-inserted in a shed slot)."""
        out = []
        for s in self.sessions:
            st = s.snap.status
            if st is None or not s.snap.online:
                continue
            out += [(s.name, m["slot"]) for m in st.get("modules") or [] if m.get("shed") and (s.name, m["slot"]) not in on]
        return out

    def _send(self, act: str, board: str, module: int) -> None:
        s = next(x for x in self.sessions if x.name == board)
        key = (board, module)
        self.pending.add(key)
        self.sent[key] = act
        self.sent_t[key] = time.monotonic()
        if act == "off":
            self.ours.add(key)

        def done(ok: bool, data) -> None:
            with self._lock:
                self.pending.discard(key)
                if ok and act == "on":
                    self.ours.discard(key)

        s.command("curtail" if act == "off" else "resume", {"module": module}, done)

    def _report(self, alloc: dispatch.Allocation) -> dict | None:
        measured = self.measured_w()
        elapsed = time.monotonic() - self.t0
        if self.limit_w is None:
            # restored: none of our sheds left on a module in its slot (an empty slot's shed bit
            # is resumed with its module, when one is inserted and seen running)
            state = "unlimited" if not alloc.shed and not self.pending and not any(
                m.get("shed") and m.get("present") and (s.name, m["slot"]) in self.ours
                for s in self.sessions for m in ((s.snap.status or {}).get("modules") or [])) else "restoring"
        elif dispatch.settled(measured, self.limit_w, SETTLE_MARGIN_W) and not self.pending:
            state = "at_limit"
            if self.t_at_limit is None:
                self.t_at_limit = elapsed
        elif not alloc.feasible:
            state = "infeasible"
        else:
            state = "missed" if elapsed > self.deadline_s else "shedding"
        shed = tuple(u.key for u in alloc.shed)
        changed = state != self.state or shed != self._pub_shed
        self.state = state
        now = time.monotonic()
        if changed or (state in ("shedding", "restoring") and now - self._t_pub >= 1.0):
            self._pub_shed = shed
            self._t_pub = now
            return self.doc(alloc, measured)
        return None

    def doc(self, alloc: dispatch.Allocation | None = None, measured: float | None = None) -> dict:
        with self._lock:
            d = {"id": self.request_id, "limit_w": self.limit_w, "deadline_s": self.deadline_s, "state": self.state,
                 "measured_w": round(self.measured_w() if measured is None else measured, 1),
                 "t_to_limit_s": None if self.t_at_limit is None else round(self.t_at_limit, 3),
                 "within_deadline": None if self.t_at_limit is None else self.t_at_limit <= self.deadline_s,
                 "pending": len(self.pending),
                 # shed modules this dispatcher does not answer for (by hand, another gateway, one
                 # before a restart): left off until an order takes them over
                 "held": [[s.name, m["slot"]] for s in self.sessions for m in (s.snap.status or {}).get("modules") or []
                          if m.get("shed") and (s.name, m["slot"]) not in self.ours]}
            if alloc is not None:
                d["expected_w"] = round(alloc.expected_w, 1)
                d["shed"] = [[u.board, u.module, round(u.j_per_th, 2)] for u in alloc.shed]
            return d
