"""The emulated board: every part the firmware can reach, wired as the board definition says,
on one board clock. Thread-safe: the bus server and the control API both take `lock`."""

from __future__ import annotations

import random
import threading

from hashboard import identity

from .boardclock import BoardClock
from .chain_emu import ChainEmu
from .faults import Fault, parse
from .i2c_emu import EEPROM_PARTS, EMC2101Emu, I2CDevice, MCP3428Emu, Nack, TCA9535Emu, TMP1075Emu, TPS546Emu
from .physics import ModuleModel, build_module

PHYSICS_MIN_STEP_S = 0.02
LEAKY_EXTRA_A = 8 * 0.54  # chip:M.I:leaky: eight typical chips' leakage more (docs/emulator.md)
SENSOR_NOISE_C = 0.25


def default_eeprom(cfg: dict, slot: int, seed: int) -> bytes:
    m = cfg["module"]
    v_mv = int(round(cfg["limits"]["vout"]["default"] * 1000))
    f = int(cfg["limits"]["freq_mhz"]["default"])
    return identity.encode(m.get("model", "module"), f"HB{seed:04d}-{slot:02d}", 0x1370, m["chips"],
                           m["domains"], (26, 11, 1), 1, v_mv, f,
                           vout_max_mv=int(cfg["limits"]["vout"]["max"] * 1000 + 0.5))  # rated for the board's range


class ModuleHW:
    """A physical module: silicon, chain, regulator, EEPROM and sensors that travel together."""

    def __init__(self, cfg: dict, slot_cfg: dict, model: ModuleModel, rng: random.Random,
                 eeprom: bytes | None) -> None:
        self.model = model
        self.chain = ChainEmu(model, rng)
        self.vrm = TPS546Emu()
        part = EEPROM_PARTS[cfg["module"].get("eeprom", {}).get("part", "24c02")]
        self.eeprom = part(eeprom) if "eeprom" in slot_cfg else None
        self.rng = rng
        self.sensors: dict[str, I2CDevice] = {}
        for s in slot_cfg["sensors"]:
            name = s["name"]
            if s["type"] == "emc2101_ext":
                self.sensors[name] = EMC2101Emu(lambda: max(c.t_j for c in model.chips))
            elif name.endswith("inlet"):
                self.sensors[name] = TMP1075Emu(self._inlet)
            else:
                self.sensors[name] = TMP1075Emu(self._outlet)
        self.t_in = 25.0
        self.enable_stuck_low = False  # fault vrm:M:enable_low (the regulator's CONTROL pin)
        self.taps: MCP3428Emu | None = None

    def _noise(self) -> float:
        return self.rng.uniform(-SENSOR_NOISE_C, SENSOR_NOISE_C)

    def _inlet(self) -> float:
        return self.t_in + 0.3 * (self.model.t_sink - self.t_in) + self._noise()

    def _outlet(self) -> float:
        return self.model.t_sink + 2.0 + self._noise()


class SimBoard:
    def __init__(self, cfg: dict, seed: int = 0, chip_profile: dict | None = None,
                 speed: float = 1.0) -> None:
        self.cfg = cfg
        self.seed = seed
        self.profile = chip_profile
        self.clock = BoardClock(speed)
        self.lock = threading.RLock()
        self.ambient = 25.0
        self.airflow = 1.0
        self.faults: list[Fault] = []
        self.single = cfg["module"]["chips"] == 1
        self.slot_cfgs = cfg["slots"]
        self.modules: list[ModuleHW | None] = [None] * len(self.slot_cfgs)
        self._shelf: dict[bytes, ModuleModel] = {}  # removed modules' silicon, by identity
        self.reset_lines = [True] * len(self.slot_cfgs)  # asserted
        # regulator CONTROL pins: driven by the expander where there is one, else tied high
        self.vrm_enable = [not ("expander" in cfg)] * len(self.slot_cfgs)
        self.pins: dict[int, int] = {}
        self.uart_slot = {s["uart"]["id"]: i for i, s in enumerate(self.slot_cfgs)}
        self.buses: dict[int, dict[int, I2CDevice]] = {b["id"]: {} for b in cfg["i2c"]}
        self.expander: TCA9535Emu | None = None
        if "expander" in cfg:
            e = cfg["expander"]
            self.expander = TCA9535Emu(self._on_expander_outputs)
            self.buses[e["bus"]][e["addr"]] = self.expander
        self._last = self.clock.now_s()
        self._last_count = self._last
        self.wdt_timeout_ms: int | None = None
        self.wdt_fed_ms = 0
        self.events: list[tuple[int, str]] = []
        self.i2c_hang = False  # a device holding the bus: transactions never complete
        self.expander_nack = False  # the I/O expander does not acknowledge: its pins keep their state
        # per (bus, addr): board s of the last transaction, and the longest gap between two
        # (a test's oracle reads and resets it: how long the firmware went without looking)
        self.io_last: dict[tuple[int, int], float] = {}
        self.io_gap_max: dict[tuple[int, int], float] = {}
        self.collisions: list[tuple[int, int]] = []  # (bus, addr) seated twice
        self.target_addr: int | None = None  # the MCU's own I2C target (control-board interface)
        self.target_mem = bytearray()
        self.target_writes: list[tuple[int, bytes]] = []
        self.yank_armed: dict[int, str] = {}
        self.yanked_at: dict[int, float] = {}  # board seconds
        for i in range(len(self.slot_cfgs)):
            self.insert_module(i, None)

    # ---------------------------------------------------------------- modules
    def sensor_names(self) -> list[str]:
        return [s["name"] for sc in self.slot_cfgs for s in sc["sensors"]]

    def insert_module(self, slot: int, eeprom: bytes | None = None, serial_seed: int | None = None) -> None:
        with self.lock:
            if self.modules[slot] is not None:
                raise ValueError(f"slot {slot} is occupied")
            sc = self.slot_cfgs[slot]
            c_th, r_sa = (60.0, 3.0) if self.single else (550.0, 0.108)
            seed = self.seed if serial_seed is None else serial_seed
            if eeprom is None and "eeprom" in sc:
                eeprom = default_eeprom(self.cfg, slot, seed)
            # a module carries its silicon: one seen before (same identity) brings its chips
            # back into whichever slot it goes; a new one is drawn for the slot it first fills
            key = bytes(eeprom[:0x80]) if eeprom else None
            model = self._shelf.pop(key, None) if key else None
            if model is not None:
                for c in model.chips:  # its counters start from zero at power-up
                    c.hash_counts = c.err_counts = 0.0
            else:
                model = build_module(seed, slot, self.cfg["module"]["chips"],
                                     self.cfg["module"]["domains"], self.profile, c_th, r_sa)
            model.t_sink = self.ambient
            hw = ModuleHW(self.cfg, sc, model, random.Random(f"rng:{seed}:{slot}"), eeprom)
            hw.t_in = self.ambient
            self.modules[slot] = hw
            self._attach(sc["vrm"]["bus"], sc["vrm"]["addr"], hw.vrm)
            if hw.eeprom is not None:
                self._attach(sc["eeprom"]["bus"] if "bus" in sc["eeprom"] else sc["vrm"]["bus"],
                             sc["eeprom"]["addr"], hw.eeprom)
            for s in sc["sensors"]:
                self._attach(s["bus"], s["addr"], hw.sensors[s["name"]])
            taps = sc.get("taps")
            if taps is not None:  # the ADC on the module's domain taps travels with it
                hw.taps = MCP3428Emu(model.tap_volts, lambda: self.clock.now_ms(), float(taps.get("divider", 1.0)),
                                     random.Random(f"taps:{seed}:{slot}"))
                self._attach(taps["bus"], taps["addr"], hw.taps)
            hw.chain.set_reset(self.reset_lines[slot])
            hw.vrm.control_pin = self.vrm_enable[slot] and not hw.enable_stuck_low
            for f in self.faults:
                self._apply(f, True)
            self._sync_power()
            if self.expander is not None:
                self.expander.set_present(slot, True)

    # ---------------------------------------------------------------- the MCU as an I2C target
    def target_sync(self, addr: int, mem: bytes) -> bytes:
        """Firmware side: its target memory now; returns the host writes queued since."""
        with self.lock:
            self.target_addr = addr
            self.target_mem = bytearray(mem)
            out = b"".join(bytes((reg, len(d))) + d for reg, d in self.target_writes)
            self.target_writes.clear()
            return out

    def target_read(self, addr: int, reg: int, n: int) -> bytes:
        """Controller side: a register read; NACK (OSError 19) when nobody answers at addr."""
        with self.lock:
            if addr != self.target_addr or not self.target_mem:
                raise OSError(19, f"no I2C target at 0x{addr:02x}")
            mem = bytearray(self.target_mem)
            for r, d in self.target_writes:  # what the controller wrote is in memory at once
                mem[r:r + len(d)] = d
            return bytes(mem[reg:reg + n]).ljust(n, b"\xff")

    def target_write(self, addr: int, reg: int, data: bytes) -> None:
        with self.lock:
            if addr != self.target_addr or not self.target_mem:
                raise OSError(19, f"no I2C target at 0x{addr:02x}")
            if reg + len(data) > len(self.target_mem):
                raise OSError(5, "write past the end of the target's memory")
            self.target_writes.append((reg, bytes(data)))

    def _attach(self, bus: int, addr: int, dev: I2CDevice) -> None:
        """Seat a device; two devices answering one address on a shared bus is recorded."""
        if addr in self.buses[bus]:
            self.collisions.append((bus, addr))
        self.buses[bus][addr] = dev

    def yank_when(self, slot: int, phase: str) -> None:
        """Pull the module the moment the firmware reaches a phase on its chain:
        'enumeration' (the first chip address assigned) or 'ramp' (PLL past 100 MHz)."""
        if phase not in ("enumeration", "ramp"):
            raise ValueError(f"phase must be enumeration or ramp, not {phase!r}")
        with self.lock:
            self.yank_armed[slot] = phase

    def _check_yank(self, slot: int) -> None:
        phase = self.yank_armed.get(slot)
        hw = self.modules[slot]
        if phase is None or hw is None:
            return
        chips = hw.chain.chips
        hit = any(c.assigned for c in chips) if phase == "enumeration" else hw.chain.freq_of(0) > 100.0
        if hit:
            del self.yank_armed[slot]
            self.yanked_at[slot] = self.clock.now_s()
            self.remove_module(slot)

    def remove_module(self, slot: int) -> None:
        with self.lock:
            hw = self.modules[slot]
            if hw is None:
                raise ValueError(f"slot {slot} is empty")
            sc = self.slot_cfgs[slot]
            bus = self.buses[sc["vrm"]["bus"]]
            for addr in [sc["vrm"]["addr"]] + ([sc["eeprom"]["addr"]] if "eeprom" in sc else []):
                bus.pop(addr, None)
            for s in sc["sensors"]:
                self.buses[s["bus"]].pop(s["addr"], None)
            if "taps" in sc:
                self.buses[sc["taps"]["bus"]].pop(sc["taps"]["addr"], None)
            hw.vrm.has_input = False  # its 12 V left with it
            hw.chain.set_power(False)
            if hw.eeprom is not None:
                self._shelf[bytes(hw.eeprom.mem[:0x80])] = hw.model
            self.modules[slot] = None
            if self.expander is not None:
                self.expander.set_present(slot, False)

    # ---------------------------------------------------------------- faults
    def inject(self, spec: str) -> Fault:
        f = parse(spec, len(self.slot_cfgs), self.cfg["module"]["chips"], self.sensor_names())
        with self.lock:
            self.advance()
            if f not in self.faults:
                self.faults.append(f)
            self._apply(f, True)
            self._sync_power()
        return f

    def clear(self, spec: str) -> Fault:
        f = parse(spec, len(self.slot_cfgs), self.cfg["module"]["chips"], self.sensor_names())
        with self.lock:
            self.advance()
            if f in self.faults:
                self.faults.remove(f)
            self._apply(f, False)
            for other in self.faults:  # re-apply what is still injected on the same part
                self._apply(other, True)
            self._sync_power()
        return f

    def set_ambient(self, celsius: float) -> None:
        self.inject(f"ambient:{celsius:g}")

    def _apply(self, f: Fault, on: bool) -> None:
        if f.kind == "ambient":
            self.ambient = f.value if on else 25.0
            return
        if f.kind == "airflow":
            self.airflow = f.value if on else 1.0
            return
        if f.kind == "i2c" and f.mode == "expander_nack":
            self.expander_nack = on
            return
        if f.kind == "i2c":
            self.i2c_hang = on
            return
        if f.kind == "sensor":
            for hw in self.modules:
                if hw is not None and f.name in hw.sensors:
                    hw.sensors[f.name].fault = f.mode if on else None  # type: ignore[attr-defined]
            return
        hw = self.modules[f.module] if f.module is not None else None
        if hw is None:
            return
        if f.kind == "aging":
            hw.model.chips[f.index].aging = f.value if on else 0.0
            return
        if f.kind == "cooling":
            hw.model.r_factor = f.value if on else 1.0
            return
        ch = hw.chain
        if f.kind == "link":
            ch.link_break = f.index if on else None
        elif f.kind == "uart":
            ch.noise = f.value if on else 0.0
        elif f.kind == "vrm":
            if f.mode == "nack":
                hw.vrm.nack = on
            elif f.mode == "enable_low":
                hw.enable_stuck_low = on
                hw.vrm.control_pin = self.vrm_enable[f.module] and not on
            else:
                hw.vrm.fault = f.mode if on else None
                hw.vrm.check_trips()
        elif f.kind == "chip":
            sets = {"dead": ch.dead, "flaky": ch.flaky, "badid": ch.badid}
            if f.mode in sets:
                (sets[f.mode].add if on else sets[f.mode].discard)(f.index)
            elif f.mode == "leaky":
                hw.model.chips[f.index].L_extra = LEAKY_EXTRA_A if on else 0.0
            else:
                # stable limit pulled, whatever its bin, to 55 % of the family's typical 660 MHz
                # (unstable: wrong nonces at the stock 525 MHz and at 420 even on a cold sink) or
                # to 70 % (weak: wrong at stock on a cold sink, right at 420 on a hot one: the tuner
                # can park it). The temperature and domain terms move a limit by up to ~8 %
                chip = hw.model.chips[f.index]
                chip.F_scale = (363.0 if f.mode == "unstable" else 462.0) / chip.F if on else 1.0
            ch.on_power_change()

    # ---------------------------------------------------------------- wiring
    def _on_expander_outputs(self, port1: int) -> None:
        for slot in range(len(self.slot_cfgs)):
            self.set_reset(slot, not (port1 >> slot) & 1)
            self.vrm_enable[slot] = bool((port1 >> (4 + slot)) & 1)
            hw = self.modules[slot]
            if hw is not None:
                hw.vrm.control_pin = self.vrm_enable[slot] and not hw.enable_stuck_low
        self._sync_power()

    def set_reset(self, slot: int, asserted: bool) -> None:
        self.reset_lines[slot] = asserted
        hw = self.modules[slot]
        if hw is not None:
            hw.chain.set_reset(asserted)

    def set_pin(self, pin: int, value: int) -> None:
        self.pins[pin] = value
        for i, sc in enumerate(self.slot_cfgs):
            if sc.get("reset_pin") == pin:
                self.set_reset(i, value == 0)

    def get_pin(self, pin: int) -> int:
        e = self.cfg.get("expander")
        if e and e.get("int_pin") == pin and self.expander is not None:
            return 0 if self.expander.int_asserted else 1
        return self.pins.get(pin, 1)

    def mcu_reset(self) -> None:
        """The MCU restarted: regulator enables are pulled low, so every output drops."""
        with self.lock:
            self.wdt_timeout_ms = None
            if self.expander is not None:  # its RESET follows the MCU's: outputs float low
                self.expander.regs[:] = bytes([0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0xFF, 0xFF])
                self._on_expander_outputs(self.expander.outputs1())
            for hw in self.modules:
                if hw is not None:
                    hw.vrm.bytes_[0x01] = 0
            self._sync_power()

    # ---------------------------------------------------------------- physics
    def _sync_power(self) -> None:
        for hw in self.modules:
            if hw is None:
                continue
            hw.vrm.check_trips()
            vs = hw.vrm.vout()
            hw.model.vs = vs
            nominal = self.cfg["limits"]["vout"]["min"]
            hw.chain.set_power(vs >= 0.5 * nominal)

    def advance(self) -> None:
        """Bring every model up to the board clock (called before each bus transaction). The
        regulators' outputs are synced where they change (bus writes, pins, faults, swaps,
        each physics step), not again here: it was half the fast lane's time."""
        now = self.clock.now_s()
        if now > self._last_count:  # counters are exact at every read, physics runs in steps
            for hw in self.modules:
                if hw is not None:
                    hw.model.count(now - self._last_count)
            self._last_count = now
        dt = now - self._last
        if dt < PHYSICS_MIN_STEP_S:
            return
        self._last = now
        while dt > 0:
            h = min(dt, 0.5)
            dt -= h
            for hw in self.modules:
                if hw is None:
                    continue
                hw.t_in = self.ambient
                hw.model.step(h, self.ambient, self.airflow)
                hw.chain.tick(h)
                hw.vrm.iout = hw.model.current
                hw.vrm.temp_c = hw.model.vrm_temp(self.ambient)
            self._sync_power()

    # ---------------------------------------------------------------- bus side
    def i2c(self, bus: int, addr: int, write: bytes | None, nread: int) -> bytes:
        with self.lock:
            self.advance()
            now, key = self.clock.now_s(), (bus, addr)
            last = self.io_last.get(key)
            if last is not None and now - last > self.io_gap_max.get(key, 0.0):
                self.io_gap_max[key] = now - last
            self.io_last[key] = now
            dev = self.buses.get(bus, {}).get(addr)
            if dev is None or (self.expander_nack and dev is self.expander):
                raise Nack()
            out = b""
            if write is not None:
                dev.write(write)
            if nread:
                out = dev.read(nread)
            if write is not None:  # only a write can change what the parts drive
                self._sync_power()
            return out

    def uart_write(self, uart_id: int, data: bytes, baud: int) -> None:
        with self.lock:
            self.advance()
            hw = self._uart_module(uart_id)
            if hw is not None:
                hw.chain.host_write(data, baud)
                if self.yank_armed:
                    self._check_yank(self.uart_slot[uart_id])

    def uart_read(self, uart_id: int, maxlen: int, baud: int) -> bytes:
        with self.lock:
            hw = self._uart_module(uart_id)
            return hw.chain.host_read(maxlen, baud) if hw is not None else b""

    def uart_any(self, uart_id: int) -> int:
        with self.lock:
            hw = self._uart_module(uart_id)
            return hw.chain.pending() if hw is not None else 0

    def _uart_module(self, uart_id: int) -> ModuleHW | None:
        slot = self.uart_slot.get(uart_id)
        return None if slot is None else self.modules[slot]

    # ---------------------------------------------------------------- views for tests
    def vrm_commands_outside(self) -> list[float]:
        return [v for hw in self.modules if hw is not None for v in hw.vrm.commanded_outside]
