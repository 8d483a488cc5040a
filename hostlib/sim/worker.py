"""A daemon thread running one loop until stopped: the relay and the MCU monitor each have one."""

from __future__ import annotations

import threading


class Worker:
    name = "hb-worker"

    def __init__(self) -> None:
        self.running = True
        self.thread = threading.Thread(target=self._loop, name=self.name, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.running = False
        if self.thread.is_alive() and self.thread is not threading.current_thread():
            self.thread.join(timeout=2)

    def _loop(self) -> None:
        raise NotImplementedError
