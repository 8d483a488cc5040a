"""The virtual board's USB-serial link: copies bytes between the user-facing pty and the
interpreter's pty, each direction flow-controlled on its own, as a USB CDC link does.

- Board output is always drained, so an MCU writing a large reply never waits on the host's
  input. It is queued for the port up to OUT_BUFFER; with nobody reading, the oldest is dropped
  (a CDC device whose host does not poll drops what it cannot send).
- Host input is held up to IN_BUFFER while the MCU does not read it; then the relay stops
  reading the user side, so the host's own writes block (a CDC device NAKs OUT packets it has
  no room for). Nothing the host sends is lost, and neither direction waits on the other."""

from __future__ import annotations

import os
import select
from collections.abc import Callable

from .worker import Worker

OUT_BUFFER = 256 * 1024
IN_BUFFER = 4096


class Relay(Worker):
    name = "hb-relay"

    def __init__(self, dev_fd: int, user_fd: int, on_output: Callable[[bytes], None],
                 on_tick: Callable[[], None]) -> None:
        super().__init__()
        self.dev = dev_fd
        self.user = user_fd
        self.on_output = on_output  # every byte the board printed, before it is queued
        self.on_tick = on_tick  # once per loop: the supervisor's turn (restart on exit)
        os.set_blocking(dev_fd, False)
        os.set_blocking(user_fd, False)
        self.out = bytearray()  # board -> host, not yet taken by the port's reader
        self.inq = bytearray()  # host -> board, not yet taken by the MCU
        self.dropped = 0  # board output bytes dropped because nobody read the port

    # ---------------------------------------------------------------- board -> host
    def to_user(self, data: bytes) -> None:
        """Queue bytes for the port (board output, or the supervisor's reset banner)."""
        self.out += data
        over = len(self.out) - OUT_BUFFER
        if over > 0:
            del self.out[:over]
            self.dropped += over
        self._flush(self.user, self.out)

    def drain_device(self) -> None:
        """Take everything the board printed so far (before a restart banner goes after it)."""
        while self._read_device():
            pass

    def _read_device(self) -> bool:
        try:
            data = os.read(self.dev, 4096)
        except (BlockingIOError, OSError):
            return False
        if not data:
            return False
        self.on_output(data)
        self.to_user(data)
        return True

    # ---------------------------------------------------------------- host -> board
    def _read_user(self) -> None:
        try:
            data = os.read(self.user, IN_BUFFER - len(self.inq))
        except (BlockingIOError, OSError):
            return
        self.inq += data
        self._flush(self.dev, self.inq)

    @staticmethod
    def _flush(fd: int, buf: bytearray) -> None:
        while buf:
            try:
                n = os.write(fd, buf)
            except (BlockingIOError, OSError):
                return
            if n <= 0:
                return
            del buf[:n]

    # ---------------------------------------------------------------- loop
    def _loop(self) -> None:
        while self.running:
            rd = [self.dev]
            if len(self.inq) < IN_BUFFER:
                rd.append(self.user)
            wr = ([self.user] if self.out else []) + ([self.dev] if self.inq else [])
            try:
                r, w, _ = select.select(rd, wr, [], 0.05)
            except (OSError, ValueError):
                return
            if self.dev in r:
                self._read_device()
            if self.user in r:
                self._read_user()
            if self.user in w:
                self._flush(self.user, self.out)
            if self.dev in w:
                self._flush(self.dev, self.inq)
            self.on_tick()
