# boot.py: runs first after every reset, before main.py (and alone after a raw-REPL soft reset).
import gc

gc.collect()
