# main.py (loader, stays loose at the root): run the app boot.py selected; a trial app that
# cannot even start is restarted so that its failed boot counts (docs/update.md). A locked board
# (docs/security.md) never falls to the REPL: only the app's authorized `repl` op opens it.
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
    except BaseException as e:  # noqa: BLE001
        if isinstance(e, SystemExit):
            raise  # a reset on its way (machine.reset on the virtual board)
        if isinstance(e, KeyboardInterrupt) and (bootsel.repl_ok or not bootsel.locked()):
            # a host tool's Ctrl-C (unlocked), or the authorized repl op: the REPL, with the
            # app's modules dropped so that a flash session has the heap (a manifest is read whole)
            import sys

            for name in [n for n in sys.modules if n == "hbmain" or n.startswith("hashboard")]:
                del sys.modules[name]
            raise
        import sys

        sys.print_exception(e)  # type: ignore[attr-defined]
        if bootsel.on_trial() or bootsel.locked():
            bootsel.restart()
        if isinstance(e, KeyboardInterrupt):
            raise
elif bootsel.locked():  # nothing this board may boot, and locked: no REPL either
    bootsel.hold_locked()
