# Names MicroPython has built in and CPython lacks, so policy code imports on both.
try:
    from micropython import const  # type: ignore[import-not-found]
except ImportError:  # CPython fast lane

    def const(x):  # type: ignore[no-redef,misc]
        return x


try:
    from time import ticks_add, ticks_diff  # type: ignore[attr-defined]
except ImportError:  # CPython: same wrap-around arithmetic as the MicroPython ports
    _PERIOD = 1 << 30
    _HALF = _PERIOD // 2

    def ticks_add(t, delta):  # type: ignore[no-redef,misc]
        return (t + delta) % _PERIOD

    def ticks_diff(a, b):  # type: ignore[no-redef,misc]
        return ((a - b + _HALF) % _PERIOD) - _HALF


def unload(name):
    """Drop hashboard.<name> from memory (sys.modules and the package's attribute): code used
    seldom (a test plan stage, the health history's writer) is loaded for its moment only."""
    import sys

    import hashboard

    sys.modules.pop("hashboard." + name, None)
    if hasattr(hashboard, name):
        delattr(hashboard, name)


def kbd_intr(char):
    """Which byte the console turns into KeyboardInterrupt (-1: none, 3: Ctrl-C), where the
    port has the switch (a locked board keeps Ctrl-C as data: hostlink refuses it)."""
    try:
        import micropython

        micropython.kbd_intr(char)
    except (ImportError, AttributeError):
        pass
