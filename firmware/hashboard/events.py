# Bounded event log with board timestamps; the host reads it with the "events" op.
from .compat import const

_CAP = const(24)


class Events:
    def __init__(self, cap=_CAP):
        self.cap = cap
        self.items = []
        self.seq = 0

    def add(self, now_ms, kind, module=None, detail=None):
        self.seq += 1
        if len(self.items) >= self.cap:
            self.items.pop(0)
        self.items.append((self.seq, now_ms, kind, module, detail))
