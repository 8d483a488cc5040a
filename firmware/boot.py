# boot.py (loader, stays loose at the root): runs first after every reset. Picks the confirmed app
# or a trial app from the two slots (bootsel, docs/update.md) before main.py runs it.
import gc

import bootsel

bootsel.boot()
gc.collect()
