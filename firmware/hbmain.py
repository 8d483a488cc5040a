# The app's entry (main.py calls run): start the controller; on any exit (Ctrl-C from a host tool,
# an error) power down first.
import gc
import sys

from hashboard import hal, settings
from hashboard.app import App
from hashboard.hostlink import StdinLink


def _load_board(path):
    """The board definition, validated. The validator is needed once, at boot: it is dropped
    after, so its code gives its heap back to the controller."""
    import hashboard
    from hashboard import boardcfg

    try:
        return boardcfg.load(path)
    finally:
        sys.modules.pop("hashboard.boardcfg", None)
        if hasattr(hashboard, "boardcfg"):
            delattr(hashboard, "boardcfg")


def run(boot=None):
    """boot: the bootsel module (which slot, trial or not); None when run by hand."""
    cur = boot.current if boot is not None else None
    board = _load_board(cur["dir"] + "/" + hal.BOARD_FILE if cur and cur["slot"] else hal.BOARD_FILE)
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

