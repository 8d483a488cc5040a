"""Board time of a virtual board, host side (docs/emulator.md, "Board time").

The virtual MCU owns board time: it advances it by its own sleeps and by the modelled duration of
each bus transaction (shim/time.py), and sends it in every bus frame. This clock holds at the last
time the MCU reported, so the emulators can never run ahead of a firmware that is waiting for a
CPU. It runs free (wall × speed) only while no firmware can be holding it: no MCU process, a bus
transaction the emulator itself holds (`i2c:hang`), or an MCU that the monitor (mcumonitor.py)
finds waiting for console input, hung in computation, or in a sleep it announced."""

from __future__ import annotations

import threading
import time

# How long a wait on board time may go without board time moving at all before it is a stuck board
# (wall seconds; board time always moves while the MCU lives, so only a wedged board gets here).
STALL_WALL_S = 60.0


class BoardClock:
    def __init__(self, speed: float = 1.0) -> None:
        if not speed > 0:
            raise ValueError("speed must be positive")
        self.speed = speed
        self._lock = threading.Lock()
        self._base_us = 0          # board time at _base_wall
        self._base_wall = time.monotonic()
        # reasons to run free; empty = hold at the MCU's time. A board never powered holds at 0:
        # its MCU's first frame starts the clock, however long the host took to get there.
        self._free: set[str] = set()
        self._until_us: int | None = None  # free run capped here (an announced sleep)
        self.last_contact = self._base_wall  # wall time of the MCU's last own frame
        self.free_us: dict[str, int] = {}  # board time run free, by reason (what tests check)

    # ---------------------------------------------------------------- reading
    def _now_us(self, wall: float) -> int:
        if not self._free:
            return self._base_us
        t = self._base_us + int((wall - self._base_wall) * self.speed * 1e6)
        if self._free == {"sleep"} and self._until_us is not None:
            t = min(t, self._until_us)
        return t

    def now_us(self) -> int:
        with self._lock:
            return self._now_us(time.monotonic())

    def now_s(self) -> float:
        return self.now_us() / 1e6

    def now_ms(self) -> int:
        return self.now_us() // 1000

    def wall_for(self, board_s: float) -> float:
        """The least wall time `board_s` of board time can take (board time is at most this fast)."""
        return board_s / self.speed

    # ---------------------------------------------------------------- the MCU's side
    def _rebase(self, wall: float) -> None:
        now = self._now_us(wall)
        for reason in self._free:
            self.free_us[reason] = self.free_us.get(reason, 0) + now - self._base_us
        self._base_us = now
        self._base_wall = wall

    def observe(self, mcu_us: int) -> int:
        """A bus frame from the MCU's main program at its board time: one clock, the later of the
        two. The program is running (it sent a frame), so any idle or sleep reason ends."""
        wall = time.monotonic()
        with self._lock:
            self._rebase(wall)
            if mcu_us > self._base_us:
                self._base_us = mcu_us
            self._free -= {"idle", "sleep", "hung"}
            self.last_contact = wall
            return self._base_us

    def sleeping_until(self, wake_us: int) -> None:
        """The MCU announced a long sleep: nothing it does can hold time before it wakes."""
        with self._lock:
            self._rebase(time.monotonic())
            self._until_us = wake_us
            self._free.add("sleep")

    # ---------------------------------------------------------------- free-run reasons
    def set_free(self, reason: str, on: bool) -> None:
        with self._lock:
            if (reason in self._free) == on:
                return
            self._rebase(time.monotonic())
            if on:
                self._free.add(reason)
            else:
                self._free.discard(reason)

    def free_time_us(self) -> dict[str, int]:
        """Board time run free so far, by reason (the current stretch included)."""
        with self._lock:
            self._rebase(time.monotonic())
            return dict(self.free_us)

    def free_reasons(self) -> set[str]:
        with self._lock:
            return set(self._free)

    # ---------------------------------------------------------------- waiting on board time
    def wait_until_us(self, target_us: int, stall_s: float = STALL_WALL_S) -> None:
        """Block until board time reaches `target_us`. Fails only a stuck board: one whose time
        did not move at all for `stall_s` wall seconds."""
        last, moved = self.now_us(), time.monotonic()
        while True:
            now = self.now_us()
            if now >= target_us:
                return
            wall = time.monotonic()
            if now != last:
                last, moved = now, wall
            elif wall - moved > stall_s:
                raise TimeoutError(f"board time stuck at {now / 1e6:.3f} s for {stall_s:g} wall s")
            time.sleep(min(0.02, max(0.001, (target_us - now) / 1e6 / self.speed)))
