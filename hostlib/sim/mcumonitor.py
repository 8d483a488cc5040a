"""Watches the virtual MCU process from outside, on its own thread (never the relay's): tells the
board clock when no firmware can be holding board time, and bites with the emulated watchdog.

The MCU process is "idle" when its main thread is blocked reading the console (the REPL or raw
REPL waiting for input: a board's clock runs on meanwhile), and "hung" when its main thread has
burnt CPU_HANG_S of CPU since its last bus frame without reading the clock (a loop that will never
feed a watchdog). CPU time, not wall time: a busy host does not make a running firmware look hung.
Both are read from /proc; without /proc the clock simply holds until the next frame."""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable

from .simboard import SimBoard
from .worker import Worker

PERIOD_S = 0.01
CPU_HANG_S = 2.0  # well above the CPU a firmware import burns before its first frame
# read(2) by architecture: /proc/PID/syscall shows "NR fd ..." for a thread blocked in it
_READ_NR = {"x86_64": 0, "aarch64": 63, "riscv64": 63, "i686": 3, "armv7l": 3}.get(platform.machine())
_TICK_S = 1.0 / os.sysconf("SC_CLK_TCK")


def _waits_on_console(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/syscall") as f:
            fields = f.read().split()
    except OSError:
        return False
    return _READ_NR is not None and len(fields) > 1 and fields[0] == str(_READ_NR) and int(fields[1], 16) == 0


def _cpu_s(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/task/{pid}/stat") as f:
            fields = f.read().rpartition(")")[2].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) * _TICK_S  # utime + stime of the main thread


class McuMonitor(Worker):
    name = "hb-mcu-monitor"

    def __init__(self, sim: SimBoard, pid: Callable[[], int | None], on_bite: Callable[[], None]) -> None:
        super().__init__()
        self.sim = sim
        self.pid = pid  # the running MCU process's pid, or None when there is none
        self.on_bite = on_bite
        self._seen: tuple[int, float] | None = None  # (pid, clock.last_contact) last sampled
        self._cpu_at_contact = 0.0

    def _loop(self) -> None:
        while self.running:
            self.tick()
            time.sleep(PERIOD_S)

    def tick(self) -> None:
        clock = self.sim.clock
        pid = self.pid()
        clock.set_free("offline", pid is None)
        if pid is not None:
            clock.set_free("idle", _waits_on_console(pid))
            clock.set_free("hung", self._hung(pid, clock.last_contact))
        self.check_watchdog()

    def _hung(self, pid: int, contact: float) -> bool:
        cpu = _cpu_s(pid)
        if cpu is None:
            return False
        if self._seen != (pid, contact):  # a new frame (or a new process): count from here
            self._seen = (pid, contact)
            self._cpu_at_contact = cpu
        return cpu - self._cpu_at_contact > CPU_HANG_S

    def check_watchdog(self) -> None:
        sim = self.sim
        with sim.lock:
            timeout = sim.wdt_timeout_ms
            if timeout is None:
                return
            now = sim.clock.now_ms()
            if now - sim.wdt_fed_ms <= timeout:
                return
            sim.wdt_timeout_ms = None
            sim.events.append((now, "wdt_reset"))
        self.on_bite()
