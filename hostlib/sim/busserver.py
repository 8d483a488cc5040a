"""Serves the virtual MCU's bus transactions (see shim/simbus.py for the frame format). Each frame
carries the MCU's board time: the board clock takes the later of its own and the MCU's before the
emulators see the transaction, and the reply carries the clock back (boardclock.py)."""

from __future__ import annotations

import os
import socket
import struct
import threading
import time

from .i2c_emu import Nack
from .simboard import SimBoard

ENODEV = 19
EIO = 5


class BusServer:
    def __init__(self, sim: SimBoard, path: str) -> None:
        self.sim = sim
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(2)
        self.running = True
        self.transactions = 0
        self.on_reset = None  # set by the supervisor: machine.reset() from the firmware
        self.thread = threading.Thread(target=self._accept_loop, name="hb-bus", daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.running = False
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        try:
            os.unlink(self.path)
        except OSError:
            pass

    def _accept_loop(self) -> None:
        while self.running:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    @staticmethod
    def _recv_exact(conn: socket.socket, n: int) -> bytes:
        buf = bytearray()
        while len(buf) < n:
            chunk = conn.recv(n - len(buf))
            if not chunk:
                raise ConnectionError
            buf += chunk
        return bytes(buf)

    def _serve(self, conn: socket.socket) -> None:
        clock = self.sim.clock
        with conn:
            try:
                while self.running:
                    hdr = self._recv_exact(conn, 12)
                    op, ch, n = hdr[0], hdr[1], hdr[2] | (hdr[3] << 8)
                    (mcu_us,) = struct.unpack_from("<q", hdr, 4)
                    payload = self._recv_exact(conn, n) if n else b""
                    if mcu_us >= 0:  # the main program's frame (a Timer thread's carries -1)
                        clock.observe(mcu_us)
                    status, data = self.handle(op, ch, payload)
                    conn.sendall(struct.pack("<BHq", status, len(data), clock.now_us()) + data)
            except (ConnectionError, OSError):
                return

    def _hold_bus(self) -> None:
        """A device holds the bus: the MCU waits inside the transaction, so nothing it runs can
        hold board time, which runs on (the watchdog's case)."""
        clock = self.sim.clock
        clock.set_free("held", True)
        try:
            while self.sim.i2c_hang and self.running:
                time.sleep(0.01)
        finally:
            clock.set_free("held", False)

    def handle(self, op: int, ch: int, p: bytes) -> tuple[int, bytes]:
        sim = self.sim
        self.transactions += 1
        if 0x10 <= op <= 0x13 and sim.i2c_hang:
            self._hold_bus()
        try:
            if op == 0x01:
                return 0, struct.pack("<d", sim.clock.speed)
            if op == 0x02:
                sim.clock.sleeping_until(struct.unpack_from("<q", p)[0])
                return 0, b""
            if op == 0x10:
                sim.i2c(ch, p[0], p[1:], 0)
                return 0, b""
            if op == 0x11:
                return 0, sim.i2c(ch, p[0], None, p[1] | (p[2] << 8))
            if op == 0x12:
                return 0, sim.i2c(ch, p[0], bytes(p[3:]), p[1] | (p[2] << 8))  # 1 or 2 address bytes
            if op == 0x13:
                return 0, bytes(sorted(sim.buses.get(ch, {})))
            if op == 0x20:
                sim.uart_write(ch, p[4:], struct.unpack_from("<I", p)[0])
                return 0, b""
            if op == 0x21:
                baud, want = struct.unpack_from("<IH", p)
                return 0, sim.uart_read(ch, min(want, 1024), baud)
            if op == 0x22:
                return 0, struct.pack("<H", min(sim.uart_any(ch), 0xFFFF))
            if op == 0x30:
                return 0, bytes((sim.get_pin(ch),))
            if op == 0x31:
                sim.set_pin(ch, p[0])
                return 0, b""
            if op == 0x40:
                sim.wdt_timeout_ms = struct.unpack_from("<I", p)[0]
                sim.wdt_fed_ms = sim.clock.now_ms()
                return 0, b""
            if op == 0x41:
                sim.wdt_fed_ms = sim.clock.now_ms()
                return 0, b""
            if op == 0x60:
                return 0, sim.target_sync(ch, p)
            if op == 0x50:
                if self.on_reset:
                    self.on_reset()
                return 0, b""
            return EIO, b""
        except Nack:
            return ENODEV, b""
        except (IndexError, struct.error):
            return EIO, b""
