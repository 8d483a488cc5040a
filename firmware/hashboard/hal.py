# The only module that imports `machine`: buses, pins, watchdog and the board clock.
import sys
import time

import machine

from .hwbase import HardwareBase

BOARD_FILE = "board.json"


class Clock:
    """The single time source of the controller (board time on the simulator)."""

    def ticks_ms(self):
        return time.ticks_ms()

    def sleep_ms(self, ms):
        time.sleep_ms(ms)


class Hardware(HardwareBase):
    def __init__(self, board):
        super().__init__(board)
        self._i2c = {}

    def heap_reserved(self):
        # the virtual MCU's ROMFS partition is a bytearray in the interpreter's heap (its shim,
        # simrom); on a board the partition is flash
        rom = sys.modules.get("simrom")
        return rom.reserved() if rom is not None else 0

    def i2c(self, bus_id):
        bus = self._i2c.get(bus_id)
        if bus is None:
            cfg = None
            for b in self.board["i2c"]:
                if b["id"] == bus_id:
                    cfg = b
            if cfg is None:
                raise ValueError("no i2c bus %d in board file" % bus_id)
            bus = machine.I2C(
                bus_id, scl=machine.Pin(cfg["scl"]), sda=machine.Pin(cfg["sda"]), freq=cfg["freq"]
            )
            self._i2c[bus_id] = bus
        return bus

    def uart(self, uart_cfg, baud):
        return machine.UART(
            uart_cfg["id"], baudrate=baud, tx=machine.Pin(uart_cfg["tx"]),
            rx=machine.Pin(uart_cfg["rx"]), timeout=0, rxbuf=1024,
        )

    def pin_out(self, pin):
        return machine.Pin(pin, machine.Pin.OUT, value=0)

    def control_target(self, cfg, mem):
        cls = getattr(machine, "I2CTarget", None)
        if cls is None:
            return None  # this port has no I2C target support: the serial protocol only
        return cls(cfg["id"], cfg["addr"], mem=mem, scl=machine.Pin(cfg["scl"]), sda=machine.Pin(cfg["sda"]))

    def pin_in(self, pin):
        return machine.Pin(pin, machine.Pin.IN, machine.Pin.PULL_UP)

    def watchdog(self, timeout_ms):
        return machine.WDT(timeout=timeout_ms)


def keep_fed(wdt, period_ms=1000):
    """After a safe shutdown (Ctrl-C to the REPL), keep a running watchdog fed from a timer so
    the REPL stays usable: everything is already off, so there is nothing left to protect."""
    if wdt is None:
        return None
    t = machine.Timer(-1)
    t.init(period=period_ms, mode=machine.Timer.PERIODIC, callback=lambda _t: wdt.feed())
    return t
