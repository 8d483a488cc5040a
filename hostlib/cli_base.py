"""What every hbctl verb group shares: the parser that reports a bad command line in one stderr
line, value types that refuse what no board takes (NaN, infinities, text where a number goes),
the link to the board named by --port, and output in its human form or as JSON (--json)."""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import sys

from .errors import HbError
from .link import Link

EXIT_FAILED = 1  # the link, the board, or the host refused or failed (docs/cli.md)
EXIT_USAGE = 2  # the command line is wrong, or a value was refused before anything was sent


class UsageError(HbError):
    """A value refused on the host: nothing reached the board."""


class Parser(argparse.ArgumentParser):
    """argparse, with a bad command line reported as one stderr line (no usage block)."""

    def error(self, message: str):  # type: ignore[override]
        verb = self.prog.split(" ", 1)[1] if " " in self.prog else ""
        hint = f"hbctl {verb} --help" if verb else "hbctl --help"
        self.exit(EXIT_USAGE, f"hbctl: error: {message} (see {hint})\n")


def _number(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(v):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return v


def finite(text: str) -> float:
    """A finite number (argparse type)."""
    return _number(text)


def positive(text: str) -> float:
    """A finite number above 0 (argparse type): durations, speeds."""
    v = _number(text)
    if v <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be above 0")
    return v


def seconds(text: str) -> float:
    """A wait in seconds (argparse type): above 0, at most a day (what the OS's clocks hold)."""
    v = positive(text)
    if v > 86400:
        raise argparse.ArgumentTypeError(f"{text!r} s is more than a day (86400 s)")
    return v


def non_negative(text: str) -> float:
    v = _number(text)
    if v < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must not be negative")
    return v


def integer(text: str) -> int:
    try:
        return int(text, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None


def count(text: str) -> int:
    """A whole number of at least 1 (argparse type)."""
    v = integer(text)
    if v < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return v


def parse_date(text: str | None) -> datetime.date:
    """--date YYYY-MM-DD, default today (the MCU has no trusted clock: dates come from the host)."""
    try:
        return datetime.date.today() if text is None else datetime.date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"--date {text!r}: expected a date YYYY-MM-DD") from None


def add_json(p, what: str = "the result", help: str | None = None) -> None:
    p.add_argument("--json", action="store_true", help=help or f"print {what} as one JSON document")


def port_of(args) -> str:
    port = args.port or os.environ.get("HB_PORT")
    if not port:
        raise UsageError("no port given: use --port PORT (a serial device, pty or pyserial URL)")
    return port


DEFAULT_TIMEOUT = 3.0


def timeout_of(args, default: float = DEFAULT_TIMEOUT) -> float:
    """The global --timeout (how long to wait for the board's answer), else the verb's default:
    3 s for a request, 5 s for the larger documents, 10 s to reach flash's raw REPL."""
    return default if args.timeout is None else args.timeout


def secret_of(args) -> bytes | None:
    """The board secret from --secret-file or HBCTL_SECRET_FILE (64 hex digits), or None."""
    path = getattr(args, "secret_file", None) or os.environ.get("HBCTL_SECRET_FILE")
    if not path:
        return None
    return read_secret(path)


def read_secret(path: str) -> bytes:
    """A board secret file's 32 bytes (64 hex digits), or a UsageError naming the file."""
    try:
        mode = os.stat(path).st_mode
        text = open(path).read().strip()
    except OSError as e:
        raise UsageError(f"secret file {path}: {e.strerror or e}") from None
    if mode & 0o077:  # as ssh does with a private key: anyone who can read it owns the board
        raise UsageError(f"secret file {path}: readable by others (mode {mode & 0o777:o}); "
                         f"chmod 600 {path}")
    try:
        secret = bytes.fromhex(text)
    except ValueError:
        secret = b""
    if len(secret) != 32:
        raise UsageError(f"secret file {path}: expected 64 hex digits (hbctl provision board --new-secret wrote it)")
    return secret


def link(args, default: float = DEFAULT_TIMEOUT) -> Link:
    return Link(port_of(args), timeout=timeout_of(args, default), secret=secret_of(args))


def print_json(doc) -> None:
    json.dump(doc, sys.stdout)
    sys.stdout.write("\n")


def show(args, doc, lines) -> int:
    """The result: as JSON with --json, else its human form (a line, a list of lines, or a
    function making them: a document the human form cannot read is still printed as JSON)."""
    if getattr(args, "json", False):
        print_json(doc)
        return 0
    if callable(lines):
        lines = lines()
    print(lines if isinstance(lines, str) else "\n".join(lines))
    return 0


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def slots_text(slots) -> str:
    return ("module " if len(slots) == 1 else "modules ") + ", ".join(str(s) for s in slots)
