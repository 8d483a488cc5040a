"""Host side of protocol v1 (docs/protocol.md) over any pyserial port or URL.

Requests are '@hb {json}' lines; the board answers one '@hb {json}' line per request, and may
interleave '@ev' event lines and log text, which are kept apart and never mistaken for a reply."""

from __future__ import annotations

import itertools
import json
import time
from typing import Any, Callable

import serial

from .errors import BoardTimeout, LinkGarbage, RemoteError, TransportError

PROTOCOL_VERSION = 1
REPL_PROMPT = b">>> "
READY_MARK = b'@hb {"ready"'


class Link:
    def __init__(self, port: str, timeout: float = 3.0, auto_start: bool = True) -> None:
        if not port:
            raise TransportError("no port given (use --port PORT or HB_PORT)")
        try:
            self.ser = serial.serial_for_url(port, baudrate=115200, timeout=0.05)
        except (serial.SerialException, OSError, ValueError) as e:
            raise TransportError(f"cannot open port {port}: {e}") from None
        self.port = port
        self.timeout = timeout
        self.auto_start = auto_start
        self._ids = itertools.count(1)
        self._buf = b""
        self.events: list[dict] = []
        self.garbage_lines = 0
        self.ser.reset_input_buffer()

    def close(self) -> None:
        self.ser.close()

    def __enter__(self) -> "Link":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ lines
    def _read_line(self, deadline: float) -> bytes | None:
        while b"\n" not in self._buf:
            if time.monotonic() > deadline:
                return None
            try:
                chunk = self.ser.read(4096)
            except (serial.SerialException, OSError) as e:
                raise TransportError(f"link to {self.port} broke: {e}") from None
            self._buf += chunk
        line, _, self._buf = self._buf.partition(b"\n")
        return line.strip(b"\r")

    def _write(self, data: bytes) -> None:
        try:
            self.ser.write(data)
            self.ser.flush()
        except (serial.SerialException, OSError) as e:
            raise TransportError(f"cannot write to {self.port}: {e}") from None

    # ------------------------------------------------------------------ requests
    def request(self, op: str, args: dict | None = None, timeout: float | None = None) -> Any:
        try:
            return self._request_once(op, args, timeout)
        except BoardTimeout:
            if not self.auto_start or not self._restart_if_at_repl():
                raise
            return self._request_once(op, args, timeout)

    def _request_once(self, op: str, args: dict | None, timeout: float | None) -> Any:
        rid = next(self._ids)
        req = {"v": PROTOCOL_VERSION, "id": rid, "op": op, "args": args or {}}
        self._write(b"\n@hb " + json.dumps(req, separators=(",", ":")).encode() + b"\n")
        deadline = time.monotonic() + (timeout or self.timeout)
        seen_other = False
        while True:
            line = self._read_line(deadline)
            if line is None:
                if seen_other and self.garbage_lines:
                    raise LinkGarbage(f"board on {self.port} sent {self.garbage_lines} lines that are not the host protocol and no reply to {op!r}")
                raise BoardTimeout(f"board on {self.port} did not answer {op!r} within {timeout or self.timeout:g} s")
            if line.startswith(b"@ev "):
                try:
                    self.events.append(json.loads(line[4:]))
                except ValueError:
                    self.garbage_lines += 1
                continue
            if not line.startswith(b"@hb "):
                if line:
                    seen_other = True
                    self.garbage_lines += 1
                continue
            try:
                msg = json.loads(line[4:])
            except ValueError:
                self.garbage_lines += 1
                continue
            if not isinstance(msg, dict) or msg.get("id") != rid:
                continue
            if msg.get("ok"):
                return msg.get("data")
            err = msg.get("error") or {}
            raise RemoteError(str(err.get("code", "error")), str(err.get("message", "unknown error")))

    def _restart_if_at_repl(self) -> bool:
        """A board sitting at the MicroPython REPL (e.g. after mpremote) is soft-reset so that
        main.py starts the controller again. Returns True if that happened."""
        self._write(b"\r\x02")
        deadline = time.monotonic() + 1.0
        seen = b""
        while time.monotonic() < deadline and REPL_PROMPT not in seen:
            seen += self.ser.read(4096)
        if REPL_PROMPT not in seen:
            return False
        self._buf = b""
        self._write(b"\x04")
        deadline = time.monotonic() + max(10.0, self.timeout)
        seen = b""
        while time.monotonic() < deadline:
            seen += self.ser.read(4096)
            if READY_MARK in seen:
                self._wait_settled(seen[seen.index(READY_MARK):], deadline + 60.0)
                return True
        return False

    def _wait_settled(self, seen: bytes, deadline: float) -> None:
        """After a restart, wait for the controller's first state other than booting."""
        self._buf = seen.partition(b"\n")[2]
        while True:
            line = self._read_line(deadline)
            if line is None:
                return
            if line.startswith(b"@ev ") and b'"state"' in line and b'"booting"' not in line:
                return

    def follow_events(self, on_event: Callable[[dict], None], duration: float | None = None) -> None:
        """Deliver @ev lines as they arrive, until duration (wall seconds) or forever."""
        end = None if duration is None else time.monotonic() + duration
        while end is None or time.monotonic() < end:
            line = self._read_line(time.monotonic() + 0.2)
            if line and line.startswith(b"@ev "):
                try:
                    on_event(json.loads(line[4:]))
                except ValueError:
                    pass
