# main.py (loader, stays loose at the root): run the app boot.py selected; a trial app that
# cannot even start is restarted so that its failed boot counts (docs/update.md).
import bootsel

if bootsel.current is not None:
    try:
        import gc

        # a board flashed by hand compiles the app's sources here: collecting often keeps the
        # compiler's garbage from fragmenting the heap the app's buffers need next
        gc.collect()
        gc.threshold(4096)
        import hbmain

        hbmain.run(bootsel)
    except Exception as e:  # noqa: BLE001 - KeyboardInterrupt (a host tool) still reaches the REPL
        import sys

        sys.print_exception(e)  # type: ignore[attr-defined]
        if bootsel.on_trial() or bootsel.locked():
            bootsel.restart()  # a locked board never falls to the REPL: it starts again
