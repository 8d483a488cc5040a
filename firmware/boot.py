# boot.py (loader, stays loose at the root): runs first after every reset. Picks the confirmed app
# or a trial app from the two slots (bootsel, docs/update.md) before main.py runs it.
import gc

import bootsel

if bootsel.locked():  # a locked board's console keeps Ctrl-C as data from the first moment
    bootsel.kbd_intr(-1)
try:
    bootsel.boot()
except Exception:  # noqa: BLE001 - a locked board never falls to the REPL: it starts again
    if bootsel.locked():
        bootsel.restart()
    raise
gc.collect()
