# Line reader for the host protocol on the USB-serial stdin, non-blocking and allocation-light.
import select
import sys

from .compat import const

_MAX_LINE = const(512)


class StdinLink:
    has_ipoll = False

    def __init__(self, stream=None):
        self.stream = stream if stream is not None else sys.stdin.buffer
        self.poller = select.poll()
        self.poller.register(self.stream, select.POLLIN)
        self.has_ipoll = hasattr(self.poller, "ipoll")
        self.buf = bytearray(_MAX_LINE)
        self.one = bytearray(1)
        self.n = 0
        self.overflow = False
        self.guard = None  # auth.Authority: while it is locked, Ctrl-C is refused
        self.refused = False  # a Ctrl-C was refused since the app last said so

    def poll(self):
        """Return one complete line (bytes, without newline) or None if none is ready."""
        while self._ready():
            if not self.stream.readinto(self.one):
                return None
            b = self.one[0]
            if b == 3 or (b == 1 and self.n == 0):
                if self.guard is not None and self.guard.locked:
                    # a locked board: Ctrl-C opens nothing (an authorized `repl` op does)
                    self.refused = True
                    continue
                if b == 1:
                    continue  # Ctrl-A (raw REPL) on an unlocked board: only after a Ctrl-C
                # Ctrl-C in the byte stream (ports whose console driver does not intercept it,
                # e.g. the unix port on a raw pty): stop here, at a point between bus transactions
                raise KeyboardInterrupt
            if b == 10 or b == 13:
                if self.n == 0 and not self.overflow:
                    continue
                line = b"!overflow" if self.overflow else bytes(self.buf[: self.n])
                self.n = 0
                self.overflow = False
                return line
            if self.n == 0 and b < 32:
                continue  # control bytes before a request (e.g. a host's Ctrl-B probe)
            if self.n < _MAX_LINE:
                self.buf[self.n] = b
                self.n += 1
            else:
                self.overflow = True
        return None

    def _ready(self):
        """Input waiting? MicroPython's ipoll where there is one: poll() makes a list every
        call, and this is asked on every pass of the main loop."""
        if self.has_ipoll:
            for _ in self.poller.ipoll(0):
                return True
            return False
        return bool(self.poller.poll(0))
