"""SIGTERM and SIGINT as an exception, so that a long-running hbctl verb (sim, demo) unwinds
through its `finally` and leaves no process or temporary file behind, whatever it was doing."""

from __future__ import annotations

import signal
from contextlib import contextmanager

HANDLED = (signal.SIGINT, signal.SIGTERM)


class Stopped(Exception):
    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_status(self) -> int:
        return 128 + self.signum  # what a shell reports for a process the signal ended


def hold() -> None:
    """From here to the end of the block, signals wait: the cleanup runs to its end."""
    for s in HANDLED:
        signal.signal(s, signal.SIG_IGN)


def _raise(signum, frame) -> None:
    hold()  # once: a second signal must not cut the cleanup short
    raise Stopped(signum)


@contextmanager
def stop_on_signals():
    """Within the block, SIGINT and SIGTERM raise Stopped (the first one; later ones, and any
    after `hold()`, are ignored until the block ends, so the cleanup finishes)."""
    old = {s: signal.getsignal(s) for s in HANDLED}
    for s in HANDLED:
        signal.signal(s, _raise)
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def serve_until_stopped(first_line: dict) -> int:
    """For a long-running verb whose service is up: print its first stdout line (JSON), then wait
    for SIGINT or SIGTERM, the normal end (exit 0). Call inside stop_on_signals()."""
    import json
    import time

    print(json.dumps(first_line), flush=True)
    try:
        while True:
            time.sleep(1.0)
    except Stopped:
        return 0
