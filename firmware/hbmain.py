# The app's entry (main.py calls run): start the controller; on any exit (Ctrl-C from a host tool,
# an error) power down first.
import gc
import sys

from hashboard import boardcfg, hal, settings
from hashboard.app import App
from hashboard.hostlink import StdinLink


def run(boot=None):
    """boot: the bootsel module (which slot, trial or not); None when run by hand."""
    cur = boot.current if boot is not None else None
    board = boardcfg.load(cur["dir"] + "/" + hal.BOARD_FILE if cur and cur["slot"] else hal.BOARD_FILE)
    # collect early and often: small steady garbage (boxed floats, reply strings) is freed before
    # it can strand long-lived objects in a fragmented heap
    gc.collect()
    gc.threshold(8192)
    app = App(board, hal.Hardware(board), hal.Clock(), sys.stdout.write, settings.FileStore(), boot)
    try:
        app.run(StdinLink())
    finally:
        app.shutdown("controller stopped")
        hal.keep_fed(app.wdt)

