"""The boards tools/bench_tune.py runs the firmware on, behind one small interface: the real
MicroPython unix port on a VirtualBoard driven over the host link (board time from the
emulators' clock), or the same firmware in-process on CPython (FastBoard, a manual clock:
quick, for trying things). Both expose the emulated silicon (`sim`) for the true figures."""

from __future__ import annotations

import json

from hostlib.link import Link
from hostlib.sim.fastlane import FastBoard
from hostlib.sim.virtual import VirtualBoard

REQUEST_TIMEOUT_S = 30.0  # wall seconds: a busy host may take long to answer


class RemoteFailure(RuntimeError):
    pass


class VirtualLane:
    name = "micropython"

    def __init__(self, seed: int, profile: dict | None, faults: list[str], speed: float) -> None:
        self.vb = VirtualBoard("modular-4x", seed=seed, chip_profile=profile, faults=faults, speed=speed)
        self.vb.start()
        if not self.vb.wait_ready(120):
            self.vb.stop()
            raise RemoteFailure("virtual board never left booting")
        self.sim = self.vb.sim
        self.link = Link(self.vb.port, timeout=REQUEST_TIMEOUT_S)

    def request(self, op: str, **args):
        return self.link.request(op, args, timeout=REQUEST_TIMEOUT_S)

    def run(self, board_s: float) -> None:
        self.vb.wait_board(board_s)

    def now_s(self) -> float:
        return self.vb.board_ms() / 1000.0

    def module_eeprom(self, slot: int) -> bytes:
        return self.vb.module_eeprom(slot)

    def close(self) -> None:
        self.link.close()
        self.vb.stop()


class FastLane:
    name = "cpython"

    def __init__(self, seed: int, profile: dict | None, faults: list[str], speed: float = 0.0) -> None:
        self.fb = FastBoard("modular-4x", seed=seed, chip_profile=profile, faults=tuple(faults))
        self.sim = self.fb.sim

    def request(self, op: str, **args):
        reply = json.loads(self.fb.request(op, **args)[4:])
        if not reply.get("ok"):
            raise RemoteFailure(f"{op}: {reply.get('error')}")
        return reply["data"]

    def run(self, board_s: float) -> None:
        self.fb.run_for(board_s * 1000.0)

    def now_s(self) -> float:
        return self.fb.clock.ms / 1000.0

    def module_eeprom(self, slot: int) -> bytes:
        hw = self.sim.modules[slot]
        if hw is None or hw.eeprom is None:
            raise ValueError(f"slot {slot} has no module EEPROM")
        return bytes(hw.eeprom.mem)

    def close(self) -> None:
        pass


LANES = {"micropython": VirtualLane, "cpython": FastLane}
