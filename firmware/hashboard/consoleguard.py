# The console of a locked board (docs/security.md), between the line reader and the main loop:
# Ctrl-C stays data while locked, a refused Ctrl-C is said at once and then once a second for a
# while (a REPL tool waiting for its prompt sees why, and its own timeout can run out), and an
# authorized `repl` op stops the controller into the REPL.
from .compat import kbd_intr, ticks_add, ticks_diff

NOTICE_MS = 15000
NOTICE = "board locked: the REPL opens only for an authorized host (hbctl unlock, or hbctl flash)\r\n"


class ConsoleGuard:
    def __init__(self, app, link):
        self.app = app
        self.link = link
        link.guard = app.auth  # the line reader refuses Ctrl-C / Ctrl-A while it is locked
        self.kbd = None
        self.until = None
        self.next = 0

    def tick(self, now):
        """After each loop pass. Raises KeyboardInterrupt once the authorized repl op asked."""
        app = self.app
        if self.kbd != app.auth.locked:  # a locked board's console keeps Ctrl-C as data
            self.kbd = app.auth.locked
            kbd_intr(-1 if self.kbd else 3)
        if self.link.refused:
            self.link.refused = False
            self.until = ticks_add(now, NOTICE_MS)
            self.next = now
        if self.until is not None and ticks_diff(now, self.next) >= 0:
            app.out(NOTICE)
            self.next = ticks_add(now, 1000)
            if ticks_diff(now, self.until) >= 0:
                self.until = None
        if app.repl_requested:  # authorized: the controller stops, the REPL stays open
            kbd_intr(3)
            if app.boot is not None:
                app.boot.repl_ok = True  # main.py lets this KeyboardInterrupt through
            raise KeyboardInterrupt
