"""The control-board I2C interface from the host (docs/i2c-target.md): smbus2 on a real I2C
bus (`hbctl --i2c 1:0x30`), or the same calls against a virtual board's emulated target
(`hbctl --i2c /path/control.sock:0x30`, the socket `hbctl sim` prints)."""

from __future__ import annotations

import json
import socket

from hashboard import ctltarget as reg

from .errors import HbError

BLOCK = 32  # SMBus block transfers carry at most 32 bytes


class I2CError(HbError):
    pass


class I2CSpecError(I2CError):
    """--i2c BUS:ADDR written wrong: a usage error (exit 2), nothing was opened."""


class SimSMBus:
    """The subset of smbus2.SMBus used here, served by a virtual board's control socket."""

    def __init__(self, control_path: str) -> None:
        self.path = control_path
        try:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.connect(control_path)
        except OSError as e:
            raise I2CError(f"cannot reach the virtual board at {control_path}: {e}") from None
        self.f = self.sock.makefile("rwb")

    def _call(self, req: dict):
        self.f.write(json.dumps(req).encode() + b"\n")
        self.f.flush()
        reply = json.loads(self.f.readline() or b'{"ok": false, "error": "virtual board closed"}')
        if not reply["ok"]:
            raise OSError(19, reply["error"].split("] ", 1)[-1])
        return reply["result"]

    def read_i2c_block_data(self, addr: int, register: int, length: int) -> list[int]:
        return list(bytes.fromhex(self._call({"op": "i2c_target_read", "addr": addr, "reg": register, "n": length})))

    def write_i2c_block_data(self, addr: int, register: int, data: list[int]) -> None:
        self._call({"op": "i2c_target_write", "addr": addr, "reg": register, "data": bytes(data).hex()})

    def read_byte_data(self, addr: int, register: int) -> int:
        return self.read_i2c_block_data(addr, register, 1)[0]

    def write_byte_data(self, addr: int, register: int, value: int) -> None:
        self.write_i2c_block_data(addr, register, [value])

    def close(self) -> None:
        self.f.close()
        self.sock.close()

    def __enter__(self) -> SimSMBus:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_bus(spec: str):
    """'BUS:ADDR' -> (bus object, addr). BUS is a Linux I2C bus number (smbus2) or the path of
    a virtual board's control socket."""
    bus_s, sep, addr_s = spec.rpartition(":")
    if not sep or not bus_s:
        raise I2CSpecError(f"--i2c {spec!r}: expected BUS:ADDR, e.g. 1:0x30")
    try:
        addr = int(addr_s, 0)
    except ValueError:
        raise I2CSpecError(f"--i2c {spec!r}: address {addr_s!r} is not a number") from None
    if not 0x08 <= addr <= 0x77:
        raise I2CSpecError(f"--i2c {spec!r}: address must be 0x08..0x77")
    if bus_s.isdigit():
        try:
            from smbus2 import SMBus
        except ImportError:
            raise I2CError("smbus2 is not installed") from None
        try:
            return SMBus(int(bus_s)), addr
        except OSError as e:
            raise I2CError(f"cannot open I2C bus {bus_s}: {e}") from None
    return SimSMBus(bus_s), addr


class ControlBus:
    """Register-level client of the board's control interface."""

    def __init__(self, bus, addr: int) -> None:
        self.bus = bus
        self.addr = addr

    def _read(self) -> bytearray:
        mem = bytearray()
        try:
            for off in range(0, reg.SIZE, BLOCK):
                mem += bytes(self.bus.read_i2c_block_data(self.addr, off, min(BLOCK, reg.SIZE - off)))
        except OSError as e:
            raise I2CError(f"no answer from the board at I2C 0x{self.addr:02x}: {e.strerror or e}") from None
        if mem[0:2] != b"HB":
            raise I2CError(f"device at I2C 0x{self.addr:02x} is not a hashboard controller (magic {bytes(mem[0:2])!r})")
        return mem

    def status(self) -> dict:
        return reg.decode(self._read())

    def _write(self, register: int, data: list[int]) -> None:
        try:
            self.bus.write_i2c_block_data(self.addr, register, data)
        except OSError as e:
            raise I2CError(f"write to the board at I2C 0x{self.addr:02x} failed: {e}") from None

    def heartbeat(self) -> None:
        # the firmware sees a change, so every beat writes a value unlike the register's now
        # (whoever wrote the last one: another process counts from 1 too)
        try:
            now = self.bus.read_i2c_block_data(self.addr, reg.REG_HEARTBEAT, 1)[0]
        except OSError as e:
            raise I2CError(f"no answer from the board at I2C 0x{self.addr:02x}: {e.strerror or e}") from None
        self._write(reg.REG_HEARTBEAT, [now % 255 + 1])

    def curtail(self, level: int) -> None:
        if not 0 <= level <= 100:
            raise I2CError("curtail level must be 0..100")
        self._write(reg.REG_CURTAIL, [level])

    def resume(self) -> None:
        self._write(reg.REG_CURTAIL, [0xFF])

    def power_target(self, watts: int | None) -> None:
        w = 0 if watts is None else int(watts)
        if not 0 <= w <= 0xFFFF:
            raise I2CError("power target must be 0..65535 W")
        self._write(reg.REG_TARGET_W, [w & 0xFF, w >> 8])
