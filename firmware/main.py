# main.py: start the controller; on any exit (Ctrl-C from a host tool, an error) power down first.
import sys

from hashboard import boardcfg, hal, settings
from hashboard.app import App
from hashboard.hostlink import StdinLink


def run():
    board = boardcfg.load(hal.BOARD_FILE)
    app = App(board, hal.Hardware(board), hal.Clock(), sys.stdout.write, settings.FileStore())
    try:
        app.run(StdinLink())
    finally:
        app.shutdown("controller stopped")
        hal.keep_fed(app.wdt)


run()
