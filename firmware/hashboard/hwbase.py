# Board wiring shared by every hardware backend: sensors, reset lines, the expander.
# Subclasses provide the buses (hal.Hardware from `machine`, emulator adapters in the fast lane).
from . import sensors
from .expander import TCA9535


class HardwareBase:
    def __init__(self, board):
        self.board = board
        self.expander = None

    def i2c(self, bus_id):
        raise NotImplementedError

    def uart(self, uart_cfg, baud):
        raise NotImplementedError

    def pin_out(self, pin):
        raise NotImplementedError

    def pin_in(self, pin):
        raise NotImplementedError

    def heap_reserved(self):
        """Heap bytes that are not the firmware's (the virtual MCU's ROMFS partition)."""
        return 0

    def watchdog(self, timeout_ms):
        """A hardware watchdog (object with feed()), or None where there is none."""
        return None

    def control_target(self, cfg, mem):
        """The MCU's own I2C target over `mem` (machine.I2CTarget), or None on ports without."""
        return None

    def attach_expander(self, expander):
        self.expander = expander

    def sensor(self, cfg):
        return sensors.make_sensor(self.i2c(cfg["bus"]), cfg)

    def taps(self, slot_cfg):
        """The ADC on the slot's series-domain taps, or None where the board has none."""
        cfg = slot_cfg.get("taps")
        if cfg is None:
            return None
        from .domaintaps import DomainTaps

        return DomainTaps(self.i2c(cfg["bus"]), cfg)

    def _expander_line(self, slot, method):
        """A callable line(level) driving one expander output for a slot; returns whether the
        write reached the expander (a caller about to power a module must know)."""
        hw = self

        def drive(level):
            if hw.expander is None:
                return False
            try:
                method(hw.expander, slot, level)
            except OSError:
                return False
            return True

        return drive

    def enable_line(self, slot, slot_cfg):
        """A callable enable(on) -> bool for the slot regulator's CONTROL pin (expander): the
        off path that still works when the regulator stops answering PMBus. Without an
        expander the pin is tied high (True: nothing to drive)."""
        if self.board.get("expander") is None:
            return lambda on: True
        return self._expander_line(slot, TCA9535.set_enable)

    def reset_line(self, slot, slot_cfg):
        """A callable reset(asserted) for the slot's chain: a GPIO or an expander output."""
        if "reset_pin" in slot_cfg:
            pin = self.pin_out(slot_cfg["reset_pin"])

            def drive(asserted):
                pin.value(0 if asserted else 1)
                return True

            return drive
        return self._expander_line(slot, TCA9535.set_reset)
