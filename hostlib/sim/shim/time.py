# Board clock of the virtual MCU: built-in time, scaled by the simulator's speed so that
# minutes of board time pass in seconds. Extends the built-in module (MicroPython allows it).
import sys

_p = sys.path
sys.path = []
from time import *  # noqa: F401,F403
from time import sleep_us as _sleep_us
from time import ticks_diff as _diff
from time import ticks_us as _ticks_us

sys.path = _p
import simbus  # noqa: E402

_base_ms, _speed = simbus.hello()
_speed_milli = int(_speed * 1000)
_last = _ticks_us()
_acc_us = 0
_MASK = (1 << 30) - 1


def _board_us():
    global _last, _acc_us
    now = _ticks_us()
    _acc_us += _diff(now, _last)
    _last = now
    return _base_ms * 1000 + _acc_us * _speed_milli // 1000


def ticks_ms():
    return (_board_us() // 1000) & _MASK


def ticks_us():
    return _board_us() & _MASK


def sleep_us(us):
    _sleep_us(max(0, us * 1000 // _speed_milli))


def sleep_ms(ms):
    sleep_us(int(ms * 1000))


def sleep(s):
    sleep_us(int(s * 1000000))
