# main.py: start the controller; on any exit (Ctrl-C from a host tool, an error) power down first.
import gc
import sys

from hashboard import boardcfg, hal, settings
from hashboard.app import App
from hashboard.hostlink import StdinLink


def run():
    board = boardcfg.load(hal.BOARD_FILE)
    # collect early and often: small steady garbage (boxed floats, reply strings) is freed before
    # it can strand long-lived objects in a fragmented heap
    gc.collect()
    gc.threshold(8192)
    app = App(board, hal.Hardware(board), hal.Clock(), sys.stdout.write, settings.FileStore())
    try:
        app.run(StdinLink())
    finally:
        app.shutdown("controller stopped")
        hal.keep_fed(app.wdt)


run()
