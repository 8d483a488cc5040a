"""Fast in-process lane: the firmware's own modules on CPython, wired straight to the emulators
(no pty, no MicroPython). Time is a manual board clock that the firmware's sleeps advance, so a
test runs minutes of board time in well under a second and is deterministic."""

from __future__ import annotations

from collections import deque

from hashboard.app import App
from hashboard.hwbase import HardwareBase
from hashboard.settings import MemoryStore

from .. import boards
from .simboard import SimBoard


class ManualClock:
    """Board clock shared by the emulators and the firmware; only sleeps move it."""

    speed = 1.0

    def __init__(self) -> None:
        self.ms = 0.0

    # emulator side (BoardClock interface)
    def now_s(self) -> float:
        return self.ms / 1000.0

    def now_ms(self) -> int:
        return int(self.ms)

    def wall_for(self, board_s: float) -> float:
        return 0.0

    # firmware side (hal.Clock interface)
    def ticks_ms(self) -> int:
        return int(self.ms) & ((1 << 30) - 1)

    def sleep_ms(self, ms: float) -> None:
        self.ms += ms


def _mem(memaddr: int, addrsize: int) -> bytes:
    return bytes((memaddr >> 8, memaddr & 0xFF)) if addrsize == 16 else bytes((memaddr,))


class EmuI2C:
    def __init__(self, sim: SimBoard, bus: int, hw=None) -> None:
        self.sim = sim
        self.bus = bus
        self.hw = hw

    def _count(self, addr):
        if self.hw is not None and addr == self.hw.board.get("expander", {}).get("addr"):
            self.hw.i2c_transactions += 1

    def writeto(self, addr, buf, stop=True):
        self.sim.i2c(self.bus, addr, bytes(buf), 0)
        return len(buf) + 1

    def writeto_mem(self, addr, memaddr, buf, addrsize=8):
        self.sim.i2c(self.bus, addr, _mem(memaddr, addrsize) + bytes(buf), 0)

    def readfrom_into(self, addr, buf, stop=True):
        data = self.sim.i2c(self.bus, addr, None, len(buf))
        buf[: len(data)] = data

    def readfrom_mem_into(self, addr, memaddr, buf, addrsize=8):
        self._count(addr)
        data = self.sim.i2c(self.bus, addr, _mem(memaddr, addrsize), len(buf))
        buf[: len(data)] = data


class EmuUART:
    def __init__(self, sim: SimBoard, uart_id: int, baud: int) -> None:
        self.sim = sim
        self.id = uart_id
        self.baud = baud
        self.bytes_written = 0

    def init(self, baudrate=None, **kw):
        if baudrate:
            self.baud = baudrate

    def write(self, buf):
        self.bytes_written += len(buf)
        self.sim.uart_write(self.id, bytes(buf), self.baud)
        return len(buf)

    def any(self):
        return self.sim.uart_any(self.id)

    def readinto(self, buf, nbytes=None):
        want = len(buf) if nbytes is None else nbytes
        data = self.sim.uart_read(self.id, want, self.baud)
        if not data:
            return None
        buf[: len(data)] = data
        return len(data)

    def flush(self):
        pass


class EmuPin:
    def __init__(self, sim: SimBoard, pin: int) -> None:
        self.sim = sim
        self.pin = pin

    def value(self, v=None):
        if v is None:
            return self.sim.get_pin(self.pin)
        self.sim.set_pin(self.pin, 1 if v else 0)
        return None


class EmuHardware(HardwareBase):
    def __init__(self, board: dict, sim: SimBoard) -> None:
        super().__init__(board)
        self.sim = sim
        self.uarts: list[EmuUART] = []
        self.i2c_transactions = 0

    def i2c(self, bus_id):
        return EmuI2C(self.sim, bus_id, self)

    def uart(self, uart_cfg, baud):
        u = EmuUART(self.sim, uart_cfg["id"], baud)
        self.uarts.append(u)
        return u

    def watchdog(self, timeout_ms):
        sim = self.sim

        class _Wdt:
            def feed(self_inner):
                sim.wdt_fed_ms = sim.clock.now_ms()

        sim.wdt_timeout_ms = timeout_ms
        return _Wdt()

    def pin_in(self, pin):
        return EmuPin(self.sim, pin)

    def control_target(self, cfg, mem):
        """In process the controller side reads and writes the firmware's memory directly."""
        self.target_mem = mem
        self.sim.target_addr = cfg["addr"]
        return mem

    def pin_out(self, pin):
        p = EmuPin(self.sim, pin)
        p.value(0)
        return p


class MemBus:
    """smbus2-style access to the in-process firmware's I2C target memory (fast lane)."""

    def __init__(self, hw: "EmuHardware") -> None:
        self.hw = hw

    def read_i2c_block_data(self, addr: int, register: int, length: int) -> list[int]:
        if addr != self.hw.sim.target_addr:
            raise OSError(19, f"no I2C target at 0x{addr:02x}")
        return list(self.hw.target_mem[register:register + length])

    def write_i2c_block_data(self, addr: int, register: int, data: list[int]) -> None:
        if addr != self.hw.sim.target_addr:
            raise OSError(19, f"no I2C target at 0x{addr:02x}")
        self.hw.target_mem[register:register + len(data)] = bytes(data)

    def close(self) -> None:
        pass


class QueuedLink:
    """The host link of the fast lane: lines queued by a test, each charged a modelled MCU time
    (parse, act, reply) on the board clock, so a flood costs board time as it would on a board."""

    # an RP2040-class MCU parsing a request line and writing its reply (a status document runs
    # longer, junk shorter): 3 ms, so a flood of 200 lines is 0.6 s of board time, more than
    # two control periods if the loop served them all before its next step
    LINE_COST_MS = 3.0

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.lines: deque[bytes] = deque()

    def poll(self):
        if not self.lines:
            return None
        self.clock.ms += self.LINE_COST_MS
        return self.lines.popleft()


class FastBoard:
    """A whole board in-process: emulators + the firmware App, stepped by `run_for`."""

    def __init__(self, board: str = "modular-4x", seed: int = 0, chip_profile=None,
                 faults=()) -> None:
        self.cfg = boards.load(board)
        self.clock = ManualClock()
        self.sim = SimBoard(self.cfg, seed=seed, chip_profile=chip_profile)
        self.sim.clock = self.clock  # type: ignore[assignment]
        self.sim._last = self.sim._last_count = 0.0
        for spec in faults:
            self.sim.inject(spec)
        self.output: list[str] = []
        self.store = MemoryStore()  # the board's flash: survives reboot()
        self.link = QueuedLink(self.clock)
        self._boot()

    def _boot(self) -> None:
        self.hw = EmuHardware(self.cfg, self.sim)
        self.app = App(self.cfg, self.hw, self.clock, self._write, self.store)
        self.app.start()

    # what the MCU writes to the host costs its bytes at USB full-speed CDC (~1 MB/s): a status
    # document is ~15 ms of board time, so a flood of them costs what it would on a board
    WRITE_MS_PER_BYTE = 0.001

    def _write(self, text: str) -> None:
        self.output.append(text)
        self.clock.ms += len(text) * self.WRITE_MS_PER_BYTE

    def reboot(self) -> None:
        """An MCU reset or a power cut and back: every output it drove drops, then the firmware
        starts again from what its flash holds."""
        self.sim.mcu_reset()
        self.link.lines.clear()
        self._boot()

    def run_for(self, board_ms: float) -> None:
        end = self.clock.ms + board_ms
        while self.clock.ms < end:
            wait = self.app.serve(self.link)
            if not self.link.lines:  # queued lines are served without a sleep, as on a board
                self.clock.sleep_ms(max(1, min(wait, end - self.clock.ms)))

    def request(self, op: str, rid: int = 1, **args) -> str:
        import json

        self.output.clear()
        self.app.protocol.handle(b"@hb " + json.dumps({"id": rid, "op": op, "args": args}).encode())
        lines = "".join(self.output).splitlines()
        return "\n".join(x for x in lines if x.startswith("@hb "))  # events are not the reply

    def status(self) -> dict:
        import json

        text = self.request("status")
        return json.loads(text[4:])["data"]
