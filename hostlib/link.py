"""Host side of protocol v1 (docs/protocol.md) over any pyserial port or URL.

Requests are '@hb {json}' lines; the board answers one '@hb {json}' line per request, and may
interleave '@ev' event lines and log text, which are kept apart and never mistaken for a reply.
Before each request, input left on the port is dropped; the request's id is unique to this link
(a random prefix and a counter), and only the reply carrying it is taken: late replies to earlier
requests, of this or any other tool, are skipped. What the board could only refuse without an id
(NaN, an over-long line) is refused here instead, before it is sent."""

from __future__ import annotations

import itertools
import json
import math
import secrets
import time
from typing import Any, Callable

import serial

try:
    from termios import error as _TtyError  # tcflush on a tty that vanished (a pty's other end closed)
except ImportError:  # Windows
    _TtyError = OSError  # type: ignore[misc,assignment]

from hashboard import auth as auth_mod
from hashboard.authmac import mac_hex

from . import portlock
from .errors import BoardTimeout, LinkGarbage, RemoteError, RequestError, TransportError

PROTOCOL_VERSION = 1
REPL_PROMPT = b">>> "
READY_MARK = b'@hb {"ready"'
MAX_LINE = 512  # the board refuses longer lines (docs/protocol.md)


def _non_finite(value: Any, path: str) -> tuple[str, float] | None:
    """The first NaN or infinity in a request's arguments, with where it is."""
    if isinstance(value, float) and not math.isfinite(value):
        return path, value
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, (list, tuple)) else ()
    for k, v in items:
        found = _non_finite(v, f"{path}.{k}" if path else str(k))
        if found:
            return found
    return None


def encode_request(rid: Any, op: str, args: dict | None, auth: tuple[str, bytes] | None = None) -> bytes:
    """One request line, or RequestError for what the board could only refuse as malformed
    (its refusal carries no id, so the host would wait for a reply that never comes).
    auth = (board nonce, secret): the line ends with its MAC (docs/security.md)."""
    req = {"v": PROTOCOL_VERSION, "id": rid, "op": op, "args": args or {}}
    try:
        body = json.dumps(req, separators=(",", ":"), allow_nan=False)
        if auth is not None:
            nonce, secret = auth
            body = body[:-1] + auth_mod.TAG + nonce + ":" + mac_hex(secret, nonce, body[:-1]) + '"}'
    except ValueError:
        where, value = _non_finite(args, "") or ("args", float("nan"))
        raise RequestError(f"{op}: {where} = {value} is not a finite number; not sent") from None
    except TypeError as e:
        raise RequestError(f"{op}: arguments are not JSON ({e}); not sent") from None
    line = b"@hb " + body.encode()
    if len(line) > MAX_LINE:
        raise RequestError(f"{op}: request is {len(line)} bytes, the board takes at most {MAX_LINE}; not sent")
    return b"\n" + line + b"\n"  # the leading newline ends any partial line left on the board


class Link:
    def __init__(self, port: str, timeout: float = 3.0, auto_start: bool = True,
                 secret: bytes | None = None) -> None:
        self.secret = secret  # the board's secret: a refused request is answered once more, authorized
        if not port:
            raise TransportError("no port given (use --port PORT or HB_PORT)")
        try:
            # a write timeout: a board that stopped reading fails the command, never hangs it;
            # exclusive: one conversation per port (hostlib/portlock.py)
            self.ser = serial.serial_for_url(port, baudrate=115200, timeout=0.05, write_timeout=timeout,
                                             exclusive=True)
        except (serial.SerialException, OSError, ValueError) as e:
            if portlock.is_busy_error(e):
                raise portlock.busy(port) from None
            raise TransportError(f"cannot open port {port}: {e}") from None
        self.port = port
        self.timeout = timeout
        self.auto_start = auto_start
        # ids unique per link and unlike any other link's: a late reply to an earlier request (of
        # this tool or of another on the same port) is never taken for the current one
        self._nonce = secrets.token_hex(4)
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
                # what is there now, or the first byte to come: a reply is taken as it arrives,
                # not after the port's read timeout
                chunk = self.ser.read(max(1, min(self.ser.in_waiting, 4096)))
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
            return self._authorized(op, args, timeout)
        except BoardTimeout:
            if not self.auto_start or not self._restart_if_at_repl():
                raise
            return self._authorized(op, args, timeout)

    def _authorized(self, op: str, args: dict | None, timeout: float | None) -> Any:
        """The request; one the board refuses as unauthorized is sent again with a fresh
        challenge's MAC when this link holds the secret (the refusal changed nothing)."""
        try:
            return self._request_once(op, args, timeout)
        except RemoteError as e:
            if e.code != "unauthorized" or self.secret is None:
                raise
        nonce = self._request_once("challenge", None, timeout)["nonce"]
        if nonce is None:  # a development board: it asked for nothing after all
            return self._request_once(op, args, timeout)
        return self._request_once(op, args, timeout, (nonce, self.secret))

    def _discard_pending(self) -> None:
        """Drop what arrived before this request: replies nobody waits for any more, old events."""
        self._buf = b""
        try:
            self.ser.reset_input_buffer()
        except (serial.SerialException, OSError, _TtyError) as e:
            raise TransportError(f"link to {self.port} broke: {e}") from None

    def _request_once(self, op: str, args: dict | None, timeout: float | None,
                      auth: tuple[str, bytes] | None = None) -> Any:
        rid = f"{self._nonce}-{next(self._ids)}"
        line_out = encode_request(rid, op, args, auth)
        self._discard_pending()
        self._write(line_out)
        deadline = time.monotonic() + (timeout or self.timeout)
        seen_other = False
        refused: list[str] = []  # id-less refusals: lines the board could not parse (not ours)
        while True:
            line = self._read_line(deadline)
            if line is None:
                if seen_other and self.garbage_lines:
                    lines = ("1 line that is" if self.garbage_lines == 1
                             else f"{self.garbage_lines} lines that are")
                    raise LinkGarbage(f"board on {self.port} sent {lines} not the host protocol and no reply to {op!r}")
                also = (f"; meanwhile it refused {len(refused)} malformed line(s), not this one "
                        f"(last: {refused[-1]})") if refused else ""
                raise BoardTimeout(f"board on {self.port} did not answer {op!r} within {timeout or self.timeout:g} s{also}")
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
                if isinstance(msg, dict) and msg.get("id") is None and not msg.get("ok"):
                    refused.append(str((msg.get("error") or {}).get("message")))
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
