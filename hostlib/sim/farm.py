"""A rack of virtual boards light enough to run 16 and more on two cores (the fleet gateway's
scale lane, docs/fleet.md): each is the fast lane's board (the firmware's own App and Protocol on
CPython, emulated chips and regulators) with its clock paced to wall time and its host link on a
real pty, so a host tool opens it like any serial port and speaks the real protocol in bytes.
Heartbeat timers, ramp-downs and bring-up run in real seconds.

What it leaves out, and the MicroPython lane (`hbctl sim`) covers: the real interpreter, its heap
and the littlefs image. Measured cost: ~2 % of one core a board, all modules hashing."""

from __future__ import annotations

import os
import select
import threading
import time
import tty

from .fastlane import FastBoard


class _PlannedCollections:
    """Stands in for `gc` in the firmware's modules on this lane. The firmware collects at planned
    points (before a status document, around the health writer) for MicroPython's small heap; on
    CPython each is a full collection of the whole process, 16 boards' objects, and was most of a
    status request's cost. CPython collects by itself."""

    @staticmethod
    def collect() -> None:
        pass

    def __getattr__(self, name):
        import gc

        return getattr(gc, name)


def _preload_firmware() -> None:
    """Import every firmware module now, before the boards' threads run: the firmware loads some
    at first use (lazy ops, the health writer), and on CPython two threads importing the same
    module at once may see it half made. On the MCU there is one thread."""
    import importlib
    import pkgutil

    import hashboard

    for mod in pkgutil.iter_modules(hashboard.__path__):
        # hal imports `machine`; sha256_viper is MicroPython's native code (jobs.py falls back)
        if mod.name not in ("hal", "sha256_viper"):
            m = importlib.import_module("hashboard." + mod.name)
            if hasattr(m, "gc"):
                m.gc = _PlannedCollections()  # type: ignore[attr-defined]

_TICK_S = 0.01  # how often a board looks at its link and moves its clock
# One board's firmware runs at a time, as the GIL would have it anyway: the firmware loads and
# drops some modules around a use (the health writer), which two threads must not interleave.
FIRMWARE = threading.Lock()


class PacedBoard:
    """One board: a thread steps the firmware to wall time x speed and relays its link."""

    def __init__(self, board: str = "modular-4x", seed: int = 0, speed: float = 1.0) -> None:
        self.fb = FastBoard(board, seed=seed)
        self.speed = speed
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        tty.setraw(self.master)
        self.port = os.ttyname(self.slave)
        self._partial = b""
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, name=f"board {self.port}", daemon=True)
        self.lock = FIRMWARE  # held while a firmware steps: a test may look between steps

    def start(self) -> "PacedBoard":
        self.thread.start()
        return self

    def stop(self) -> None:
        """Power off: the thread ends and the port disappears. Twice is once."""
        if self._stop.is_set():
            return
        self._stop.set()
        if self.thread.is_alive():
            self.thread.join(timeout=5)
        for fd in (self.master, self.slave):
            try:
                os.close(fd)
            except OSError:
                pass

    def _take_input(self) -> None:
        while select.select([self.master], [], [], 0)[0]:
            try:
                data = os.read(self.master, 4096)
            except OSError:  # the host side closed: nothing to read until it opens again
                return
            if not data:
                return
            self._partial += data
        while b"\n" in self._partial:
            line, _, self._partial = self._partial.partition(b"\n")
            self.fb.link.lines.append(line.rstrip(b"\r"))

    def _take_output(self) -> bytes:
        out = self.fb.output
        data = "".join(out).encode()
        out.clear()
        return data

    def _give_output(self, data: bytes) -> None:
        if not data:
            return
        try:
            os.write(self.master, data)
        except OSError:
            pass  # nobody reading and the pty buffer full: a board's USB CDC drops it the same way

    def _loop(self) -> None:
        t0 = time.monotonic()
        base = self.fb.clock.ms
        while not self._stop.is_set():
            select.select([self.master], [], [], _TICK_S)
            with self.lock:
                self._take_input()
                due = base + (time.monotonic() - t0) * 1000.0 * self.speed
                if due > self.fb.clock.ms:
                    self.fb.run_for(due - self.fb.clock.ms)
                data = self._take_output()
            self._give_output(data)  # outside the lock: a slow reader stalls this board only


class Farm:
    """N paced boards, seeds seed0, seed0 + 1, ...: each a different set of silicon."""

    def __init__(self, boards: int, board: str = "modular-4x", seed0: int = 0, speed: float = 1.0) -> None:
        _preload_firmware()
        self.boards = [PacedBoard(board, seed=seed0 + i, speed=speed) for i in range(boards)]

    @property
    def ports(self) -> list[str]:
        return [b.port for b in self.boards]

    def __enter__(self) -> "Farm":
        for b in self.boards:
            b.start()
        return self

    def __exit__(self, *exc) -> None:
        for b in self.boards:
            b.stop()
