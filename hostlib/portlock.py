"""One conversation per serial port: hbctl opens a local port with an exclusive flock on the
device itself (pyserial's `exclusive=True`, which mpremote uses too), so a second hbctl,
mpremote, or anything else that asks for the lock is refused at once with the holder named,
instead of both eating each other's replies (docs/cli.md, "One program per port").

The holder is found in /proc/locks (Linux): the flock's PID on the device's inode."""

from __future__ import annotations

import errno
import os

from .errors import TransportError

BUSY_ERRNOS = (errno.EAGAIN, errno.EWOULDBLOCK, errno.EACCES)


class PortBusy(TransportError):
    """Another process holds the port."""


def holder(path: str) -> int | None:
    """PID of the process holding an flock on the device at path, if the system says."""
    try:
        st = os.stat(path)
        with open("/proc/locks") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    ident = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    for line in lines:
        parts = line.split()
        if "FLOCK" in parts and ident in parts:
            pid = parts[parts.index(ident) - 1]
            if pid.isdigit() and int(pid) != os.getpid():
                return int(pid)
    return None


def _command_of(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
    except OSError:
        return ""
    if len(argv) > 1 and os.path.basename(argv[0]).startswith("python"):
        argv = argv[1:]  # `python .../hbctl events` reads better as `hbctl events`
    if argv:
        argv[0] = os.path.basename(argv[0])
    return " ".join(argv)


def busy(port: str) -> PortBusy:
    pid = holder(port)
    if pid is None:
        return PortBusy(f"port {port} busy (held by another process)")
    cmd = _command_of(pid)
    return PortBusy(f"port {port} busy (held by PID {pid}{': ' + cmd if cmd else ''})")


def is_busy_error(e: BaseException) -> bool:
    """pyserial's refusal of an exclusive open: errno EAGAIN (flock LOCK_NB)."""
    return getattr(e, "errno", None) in BUSY_ERRNOS and "lock" in str(e).lower()
