"""The two lanes tools/fault_matrix.py runs a case on, behind one interface: what the board says
about the faulted modules (events since a mark, module states and causes, sensor errors, chain
faults), and the firmware's own view of a module's heat. The emulated parts (regulators,
sensors, EEPROMs: `.sim`) are in this process on both lanes, so the safety checks read them
directly.

- FastLane: the firmware's modules on CPython (FastBoard), stepped 100 ms of board time at a time.
- RealLane: the unchanged firmware on the MicroPython unix port (VirtualBoard), board time paced
  to wall time x speed; what the board says is read over its serial link (status, events) every
  `step_ms` of board time, so its detection times have that resolution."""

from __future__ import annotations

from hashboard import health
from hostlib.link import Link
from hostlib.sim.fastlane import FastBoard
from hostlib.sim.virtual import VirtualBoard

CAUSES = {health.NO_RESPONSE: "no_response", health.CRC_ERRORS: "crc_errors", health.BAD_ID: "bad_id",
          health.UNSTABLE: "unstable"}


class FastLane:
    name = "fast"
    step_ms = 100

    def __init__(self, board: str, seed: int) -> None:
        self.fb = FastBoard(board, seed=seed)
        self.sim = self.fb.sim

    def run_for(self, ms: int) -> None:
        self.fb.run_for(ms)

    def now_ms(self) -> int:
        return self.fb.clock.ms

    def mark(self) -> int:
        return self.fb.app.events.seq

    def report(self, since: int, slots: set) -> str:
        parts = [f"{e[2]} {e[4]}" for e in self.fb.app.events.items if e[0] > since]
        for m in self.fb.app.modules:
            if None not in slots and m.slot not in slots:
                continue
            parts.append(f"{m.state} {m.cause}")
            parts += [str(x) for x in m.sensor_err if x]
            c = m.chain
            if c.parser.crc_errors:  # status chains[].crc_errors: a line that garbles frames
                parts.append("crc_errors")
            if c.fault_chip >= 0:
                parts.append(f"chain {c.fault_chip} {CAUSES.get(c.fault_cause, c.fault_cause)}")
        return " ".join(parts).lower()

    def module_heat(self, k: int) -> tuple[str, float]:
        """(state, hottest reading °C or 0.0) of module k, as the firmware sees it."""
        m = self.fb.app.modules[k]
        return m.state, max((t for t in m.temps if t is not None), default=0.0)

    def settings_ok(self) -> bool:
        return self.fb.store.data is None or isinstance(self.fb.store.data, dict)

    def close(self) -> None:
        pass


class RealLane:
    name = "micropython"
    step_ms = 500

    def __init__(self, board: str, seed: int, speed: float = 10.0) -> None:
        self.vb = VirtualBoard(board, seed=seed, speed=speed)
        self.vb.start()
        if not self.vb.wait_ready(90):
            self.vb.stop()
            raise RuntimeError("virtual board did not start")
        self.sim = self.vb.sim
        self.link = Link(self.vb.port, timeout=10.0)
        self._st: dict | None = None

    def run_for(self, ms: int) -> None:
        self.vb.wait_board(ms / 1000.0)

    def now_ms(self) -> int:
        return self.vb.board_ms()

    def mark(self) -> int:
        evs = self.link.request("events", {"since": 0}, timeout=15.0)
        return evs[-1]["seq"] if evs else 0

    def report(self, since: int, slots: set) -> str:
        st = self._st = self.link.request("status", {"chips": False}, timeout=15.0)
        parts = [f"{e['kind']} {e['detail']}" for e in self.link.request("events", {"since": since}, timeout=15.0)]
        for m, c in zip(st["modules"], st["chains"]):
            if None not in slots and m["slot"] not in slots:
                continue
            parts.append(f"{m['state']} {m['cause']}")
            parts += [t["error"] for t in st["temps"] if t["module"] == m["slot"] and t["error"] and t["error"] != "empty"]
            if c["crc_errors"]:
                parts.append("crc_errors")
            if c["fault"] is not None:
                parts.append(f"chain {c['fault']['chip']} {c['fault']['cause']}")
        return " ".join(str(p) for p in parts).lower()

    def module_heat(self, k: int) -> tuple[str, float]:
        st = self._st or self.link.request("status", {"chips": False}, timeout=15.0)
        m = st["modules"][k]
        return m["state"], m["temp_c"] if m["temp_c"] is not None else 0.0

    def settings_ok(self) -> bool:
        return True  # read back over the link would need the REPL: the records checked are the EEPROMs

    def close(self) -> None:
        self.link.close()
        self.vb.stop()
