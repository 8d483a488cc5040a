"""Hot-swap scenarios written once and run on both lanes (test_hotswap_scenarios.py): the
in-process fast lane and the unchanged firmware on the real MicroPython unix port. A lane is a
small adapter: pull/seat modules, let board time pass, read status and events."""

from __future__ import annotations

import json

from hostlib.eeprom_image import module_image
from hostlib.link import Link
from hostlib.sim.fastlane import FastBoard
from hostlib.sim.virtual import VirtualBoard

PERIOD_MS = 100  # modular-4x control period
RUNNING = ("hashing", "throttled")


def tuned(serial: str, base: float = 500.0) -> tuple[bytes, list[float]]:
    """A module image whose stored profile sets a different frequency per chip."""
    freqs = [base + 12.5 * (i % 4) for i in range(24)]
    return module_image(serial, profile_freqs=freqs, profile_vout_mv=4550), freqs


class FastLane:
    name = "fast"

    def __init__(self, board: str = "modular-4x") -> None:
        self.fb = FastBoard(board)
        self.sim = self.fb.sim
        self.fb.run_for(6000)

    def run(self, board_ms: float) -> None:
        self.fb.run_for(board_ms)

    def now_ms(self) -> int:
        return self.fb.clock.ms

    def request(self, op: str, **args):
        reply = json.loads(self.fb.request(op, **args)[4:])
        if not reply["ok"]:
            raise RuntimeError(reply["error"])
        return reply["data"]

    def close(self) -> None:
        pass


class VirtualLane:
    name = "micropython"

    def __init__(self, speed: float = 5.0, board: str = "modular-4x") -> None:
        self.vb = VirtualBoard(board, speed=speed)
        self.vb.start()
        assert self.vb.wait_ready(60)
        self.sim = self.vb.sim
        self.link = Link(self.vb.port, timeout=10.0)

    def run(self, board_ms: float) -> None:
        self.vb.wait_board(board_ms / 1000.0)

    def now_ms(self) -> int:
        return self.vb.board_ms()

    def request(self, op: str, **args):
        return self.link.request(op, args, timeout=15.0)

    def close(self) -> None:
        self.link.close()
        self.vb.stop()


class VirtualLaneView(VirtualLane):
    """A lane over a VirtualBoard someone else started (and will stop)."""

    def __init__(self, vb) -> None:  # noqa: D107 - no new board, no link held open
        self.vb = vb
        self.sim = vb.sim

    def request(self, op: str, **args):
        with Link(self.vb.port, timeout=10.0) as link:
            return link.request(op, args, timeout=15.0)

    def close(self) -> None:
        pass


def status(lane) -> dict:
    return lane.request("status")


def wait_for(lane, pred, board_ms: float, step_ms: float = 100):
    """Poll status until pred(status) holds; returns (status, board ms waited) or fails."""
    t0 = lane.now_ms()
    while True:
        st = status(lane)
        if pred(st):
            return st, lane.now_ms() - t0
        if lane.now_ms() - t0 > board_ms:
            raise AssertionError(f"not reached in {board_ms} board ms: {[m['state'] for m in st['modules']]}")
        lane.run(step_ms)


def module_events(lane, slot: int, since: int) -> list[str]:
    return [e["detail"] for e in lane.request("events", since=since) if e["module"] == slot and e["kind"] == "module"]


def last_seq(lane) -> int:
    evs = lane.request("events", since=0)
    return evs[-1]["seq"] if evs else 0


def module_ghs(lane) -> list[float]:
    return [m["ghs"] for m in status(lane)["modules"]]


def state_is(slot: int, *states: str):
    return lambda st: st["modules"][slot]["state"] in states


# ---------------------------------------------------------------------------- scenarios
def yank_during(lane, slot: int, phase: str) -> None:
    """Pull the module the moment the firmware is enumerating (or ramping) its chain: it ends
    empty and unpowered, reported as a removal (no fault), and its neighbours keep hashing."""
    lane.sim.remove_module(slot)
    wait_for(lane, state_is(slot, "empty"), 2000)
    seq = last_seq(lane)
    lane.sim.yank_when(slot, phase)
    lane.sim.insert_module(slot, module_image(f"Y{slot}{phase[0]}"))
    st, _ = wait_for(lane, lambda s: slot in lane.sim.yanked_at and s["modules"][slot]["state"] == "empty", 8000)
    assert not lane.sim.vrm_enable[slot]
    evs = module_events(lane, slot, seq)
    assert evs[-1] == "empty" and not any(e.startswith("fault") for e in evs), evs
    reached = "enumerating" if phase == "enumeration" else "ramping"
    assert reached in evs, evs
    others = [m["state"] for i, m in enumerate(st["modules"]) if i != slot]
    assert others == ["hashing"] * 3, (others, lane.request("events", since=seq))
    kinds = [e["kind"] for e in lane.request("events", since=seq) if e["module"] == slot]
    assert "fault" not in kinds and "shutdown" not in kinds, kinds
    lane.sim.insert_module(slot, module_image(f"B{slot}"))  # seat it again properly
    wait_for(lane, state_is(slot, *RUNNING), 12000)


def contact_bounce(lane, slot: int) -> None:
    """Out and back in within a few ms: whatever the debounce saw, the module ends hashing and
    was never powered while it was out."""
    img = bytes(lane.sim.modules[slot].eeprom.mem)
    lane.sim.remove_module(slot)
    lane.sim.insert_module(slot, img)
    lane.run(30)
    lane.sim.remove_module(slot)
    lane.sim.insert_module(slot, img)
    wait_for(lane, state_is(slot, *RUNNING), 8000)


def refused(lane, slot: int, image: bytes, state: str, cause: str) -> None:
    lane.sim.remove_module(slot)
    wait_for(lane, state_is(slot, "empty"), 2000)
    lane.sim.insert_module(slot, image)
    st, _ = wait_for(lane, state_is(slot, state), 3000)
    assert st["modules"][slot]["cause"] == cause, st["modules"][slot]
    lane.run(1000)
    assert not lane.sim.vrm_enable[slot] and lane.sim.modules[slot].vrm.vout() == 0.0
    assert status(lane)["modules"][slot]["state"] == state  # stays off: never retried at a guess


def rapid_remove_insert(lane, slot: int, cycles: int = 5) -> None:
    img = bytes(lane.sim.modules[slot].eeprom.mem)
    for i in range(cycles):
        lane.sim.remove_module(slot)
        lane.run(150 + 50 * i)
        assert not lane.sim.vrm_enable[slot]
        lane.sim.insert_module(slot, img)
        lane.run(200)
    st, _ = wait_for(lane, state_is(slot, *RUNNING), 8000)
    assert st["chains"][slot]["found"] == 24


def swap_all_in_turn(lane, firmware_times: list[float] | None = None) -> list[float]:
    """Every slot gets a different module with its own stored profile while the board runs.
    Returns the insertion-to-hashing board time per slot (ms) as polled over the link; with
    firmware_times, also the firmware's own identifying -> hashing span from its events plus one
    control period of detection (what the controller itself takes, free of polling latency)."""
    times = []
    for slot in range(4):
        lane.sim.remove_module(slot)
        wait_for(lane, state_is(slot, "empty"), 2000)
        img, freqs = tuned(f"SWAP{slot}", 475.0 + 12.5 * slot)
        seq = last_seq(lane)
        lane.sim.insert_module(slot, img)
        t_in = lane.now_ms()

        def at_profile(st, slot=slot, freqs=freqs):
            if st["modules"][slot]["state"] != "hashing":
                return False
            mine = sorted((c for c in st["chips"] if c["module"] == slot), key=lambda c: c["index"])
            return len(mine) == 24 and all(abs(c["freq_mhz"] - f) < 0.01 for c, f in zip(mine, freqs))

        st, _ = wait_for(lane, at_profile, 8000)
        times.append(lane.now_ms() - t_in)
        if firmware_times is not None:
            evs = {e["detail"]: e["ms"] for e in lane.request("events", since=seq)
                   if e["module"] == slot and e["kind"] == "module"}
            firmware_times.append(evs["hashing"] - evs["identifying"] + PERIOD_MS)
        m = st["modules"][slot]
        assert m["serial"] == f"SWAP{slot}" and m["profile"] == "stored"
        assert st["regulators"][slot]["vout_set"] == 4.55
    return times
