# Board clock of the virtual MCU (docs/emulator.md, "Board time"): a discrete-event clock the
# main program owns. Board time moves only by its own sleeps (exactly what it asked for), by the
# modelled wire time of each bus transaction, and by a fixed modelled cost per clock read and
# per transaction, never by how long the host took. Wall time is paced so board time never runs
# ahead of wall x speed; lag (a busy host) is forgiven beyond a few wall ms, never caught up in a
# burst.
# Extends the built-in module (MicroPython allows it).
import sys

_p = sys.path
sys.path = []
from time import *  # noqa: F401,F403
from time import sleep_us as _sleep_us
from time import ticks_diff as _diff
from time import ticks_us as _wall_us

sys.path = _p
import struct  # noqa: E402

import _thread  # noqa: E402
import simbus  # noqa: E402

_MASK = (1 << 30) - 1  # MicroPython's ticks period (2^30), as on the boards
_CLOCK_READ_US = 5  # modelled compute per clock read: a busy-wait on ticks_ms() makes progress
_FRAME_US = 20  # modelled driver overhead per bus transaction
_PAY_AT_US = 2000  # board time claimed ahead of wall x speed beyond this is slept off at once
_CREDIT_WALL_US = 5000  # lag up to this much wall time counts against the next sleeps
_ANNOUNCE_US = 100000  # a sleep this long tells the host, which may run the emulators meanwhile
_SYNC_WALL_US = 100000  # this long (wall) without the host's time (at the REPL): ask for it
_OP_CLOCK = 0x01
_OP_SLEEP = 0x02

_main = _thread.get_ident()
_now, _speed = simbus.hello()  # board µs
_k = int(_speed * 1000)  # board µs per 1000 wall µs
_debt = 0  # board µs claimed ahead of wall x speed, paid by sleeping (< 0: behind, as credit)
_credit = _CREDIT_WALL_US * _k // 1000
_wall = _wall_us()
_contact = _wall  # wall µs of the host's last reply


def _settle():
    # Wall time passed pays debt; the compute between two sleeps overlaps the next sleep (so the
    # firmware's 5 ms loop sleep is not paid on top of its compute), but lag beyond the credit is
    # forgiven: a host that stalled the MCU never makes board time rush to catch up.
    global _wall, _debt
    w = _wall_us()
    dw = _diff(w, _wall)
    _wall = w
    if dw > 0:
        _debt -= dw * _k // 1000
        if _debt < -_credit:
            _debt = -_credit


def _charge(us):
    global _now, _debt
    _now += us
    _debt += us


def _pay(limit):
    _settle()
    if _debt > limit:
        _sleep_us(_debt * 1000 // _k)
        _settle()


def stamp(cost_us):
    """simbus: a transaction starts. The main program is charged its wire time and overhead and
    sends its board time; any other thread (a Timer) sends -1: it never moves board time."""
    if _thread.get_ident() != _main:
        return -1
    _charge(cost_us + _FRAME_US)
    _pay(_PAY_AT_US)
    return _now


def adopt(host_us):
    """simbus: the host's board time from a reply. Later than ours only if time ran on without
    us (the bus was held, we sat at the REPL): that time passed for real, so it is not debt."""
    global _now, _contact
    if _thread.get_ident() != _main:
        return
    if host_us > _now:
        _now = host_us
    _contact = _wall_us()


def _read():
    if _thread.get_ident() != _main:
        return _now
    _charge(_CLOCK_READ_US)
    _pay(_PAY_AT_US)
    if _diff(_wall, _contact) > _SYNC_WALL_US:
        simbus.call(_OP_CLOCK, 0, b"")
    return _now


def ticks_ms():
    return (_read() // 1000) & _MASK


def ticks_us():
    return _read() & _MASK


def ticks_cpu():
    return _read() & _MASK


def sleep_us(us):
    us = int(us)
    if _thread.get_ident() != _main:
        # A Timer thread waits the wall time its board time would take and moves nothing: the
        # main program's sleeps already move board time, and two owners would count it twice.
        if us > 0:
            _sleep_us(us * 1000 // _k)
        return
    if us <= 0:
        _read()
        return
    if us >= _ANNOUNCE_US:
        simbus.call(_OP_SLEEP, 0, struct.pack("<q", _now + us))
    _charge(us)
    _pay(0)


def sleep_ms(ms):
    sleep_us(int(ms * 1000))


def sleep(s):
    sleep_us(int(s * 1000000))


simbus.clock = sys.modules[__name__]
