# Virtual MCU peripherals: the built-in unix `machine` extended with I2C, UART, Pin and WDT whose
# transactions reach the CPython emulators through simbus. Same signatures as the real ports.
import sys

_p = sys.path
sys.path = []
from machine import *  # noqa: F401,F403

sys.path = _p
import struct  # noqa: E402

import time  # noqa: E402,F401  (the shim's board clock: it must be up before the first frame)

import simbus  # noqa: E402

_OP_I2C_W = 0x10
_OP_I2C_R = 0x11
_OP_I2C_WR = 0x12
_OP_I2C_SCAN = 0x13
_OP_UART_W = 0x20
_OP_UART_R = 0x21
_OP_UART_ANY = 0x22
_OP_PIN_GET = 0x30
_OP_PIN_SET = 0x31
_OP_WDT_INIT = 0x40
_OP_WDT_FEED = 0x41
_OP_RESET = 0x50


class Pin:
    IN = 0
    OUT = 1
    OPEN_DRAIN = 2
    PULL_UP = 1
    PULL_DOWN = 2
    IRQ_FALLING = 4
    IRQ_RISING = 8

    def __init__(self, id, mode=-1, pull=-1, value=None):
        self.id = id
        self._b = bytearray(1)
        if value is not None:
            self.value(value)

    def init(self, mode=-1, pull=-1, value=None):
        if value is not None:
            self.value(value)

    def value(self, v=None):
        if v is None:
            simbus.call(_OP_PIN_GET, self.id, b"")
            return simbus.resp[0]
        self._b[0] = 1 if v else 0
        simbus.call(_OP_PIN_SET, self.id, self._b)
        return None

    def __call__(self, v=None):
        return self.value(v)

    def on(self):
        self.value(1)

    def off(self):
        self.value(0)


class I2C:
    def __init__(self, id, scl=None, sda=None, freq=400000, timeout=50000):
        self.id = id
        self.freq = freq
        self._req = bytearray(5)

    def _wire_us(self, nbytes, starts=1):
        # 9 bit times per byte (8 + ACK), plus start and stop conditions
        return (nbytes * 9 + 2 * starts) * 1000000 // self.freq

    def writeto(self, addr, buf, stop=True):
        self._req[0] = addr
        simbus.call(_OP_I2C_W, self.id, buf, self._wire_us(len(buf) + 1), self._req, 1)
        return len(buf) + 1

    def _memaddr(self, at, memaddr, addrsize):
        """The memory address into the request at `at` (16-bit: high byte first, as 24C32 and
        larger parts take it); returns the request's length."""
        r = self._req
        if addrsize == 16:
            r[at] = memaddr >> 8
            r[at + 1] = memaddr & 0xFF
            return at + 2
        r[at] = memaddr
        return at + 1

    def writeto_mem(self, addr, memaddr, buf, addrsize=8):
        r = self._req
        r[0] = addr
        k = self._memaddr(1, memaddr, addrsize)
        simbus.call(_OP_I2C_W, self.id, buf, self._wire_us(len(buf) + k), r, k)

    def readfrom_into(self, addr, buf, stop=True):
        r = self._req
        r[0] = addr
        r[1] = len(buf) & 0xFF
        r[2] = len(buf) >> 8
        n = simbus.call(_OP_I2C_R, self.id, b"", self._wire_us(len(buf) + 1), r, 3)
        simbus.copy_into(buf, n)

    def readfrom(self, addr, nbytes, stop=True):
        b = bytearray(nbytes)
        self.readfrom_into(addr, b)
        return bytes(b)

    def readfrom_mem_into(self, addr, memaddr, buf, addrsize=8):
        r = self._req
        r[0] = addr
        r[1] = len(buf) & 0xFF
        r[2] = len(buf) >> 8
        k = self._memaddr(3, memaddr, addrsize)
        n = simbus.call(_OP_I2C_WR, self.id, b"", self._wire_us(len(buf) + k - 1, 2), r, k)
        simbus.copy_into(buf, n)

    def readfrom_mem(self, addr, memaddr, nbytes, addrsize=8):
        b = bytearray(nbytes)
        self.readfrom_mem_into(addr, memaddr, b)
        return bytes(b)

    def scan(self):
        n = simbus.call(_OP_I2C_SCAN, self.id, b"", self._wire_us(112))
        return list(simbus.resp[0:n])


class UART:
    def __init__(self, id, baudrate=9600, bits=8, parity=None, stop=1, tx=None, rx=None,
                 timeout=0, rxbuf=256, **kw):
        self.id = id
        self.baud = baudrate
        self._req = bytearray(6)

    def init(self, baudrate=None, **kw):
        if baudrate:
            self.baud = baudrate

    def deinit(self):
        pass

    def _put_baud(self):
        struct.pack_into("<I", self._req, 0, self.baud)

    def write(self, buf):
        self._put_baud()
        # 10 bit times per byte (start, 8 data, stop) at the baud rate in use
        simbus.call(_OP_UART_W, self.id, buf, len(buf) * 10000000 // self.baud, self._req, 4)
        return len(buf)

    def any(self):
        simbus.call(_OP_UART_ANY, self.id, b"")
        return simbus.resp[0] | (simbus.resp[1] << 8)

    def readinto(self, buf, nbytes=None):
        want = len(buf) if nbytes is None else nbytes
        self._put_baud()
        self._req[4] = want & 0xFF
        self._req[5] = want >> 8
        n = simbus.call(_OP_UART_R, self.id, self._req)
        if not n:
            return None
        simbus.copy_into(buf, n)
        return n

    def read(self, nbytes=256):
        b = bytearray(nbytes)
        n = self.readinto(b)
        return bytes(b[0:n]) if n else None

    def flush(self):
        pass

    def txdone(self):
        return True


class WDT:
    def __init__(self, id=0, timeout=5000):
        simbus.call(_OP_WDT_INIT, 0, struct.pack("<I", timeout))

    def feed(self):
        simbus.call(_OP_WDT_FEED, 0, b"")


class Timer:
    """Software timer on a thread (the unix port has no hardware timers)."""

    ONE_SHOT = 0
    PERIODIC = 1

    def __init__(self, id=-1, **kw):
        self._run = False
        if kw:
            self.init(**kw)

    def init(self, mode=PERIODIC, period=1000, callback=None, freq=None):
        import _thread

        self._run = True
        self._period = period
        self._cb = callback
        self._mode = mode
        _thread.start_new_thread(self._loop, ())

    def _loop(self):
        import time

        while self._run:
            time.sleep_ms(self._period)
            if not self._run:
                return
            try:
                self._cb(self)
            except Exception:  # noqa: BLE001 - a timer callback must not kill the thread silently
                pass
            if self._mode == self.ONE_SHOT:
                return

    def deinit(self):
        self._run = False


class I2CTarget:
    """Memory-mode I2C target (the rp2 port's machine.I2CTarget): the host side reads and
    writes `mem` through the simulator (reads see it as of the firmware's last few bus
    transactions; writes land before its next ones)."""

    IRQ_ADDR_MATCH_READ = 1
    IRQ_ADDR_MATCH_WRITE = 2
    IRQ_READ_REQ = 4
    IRQ_WRITE_REQ = 8
    IRQ_END_READ = 16
    IRQ_END_WRITE = 32

    def __init__(self, id=0, addr=0, *, addrsize=7, mem=None, mem_addrsize=8, scl=None, sda=None):
        if mem is None or mem_addrsize != 8 or len(mem) > 256:
            raise ValueError("emulated I2CTarget: memory mode with 8-bit addresses, <= 256 bytes")
        self.addr = addr
        self.mem = mem
        self.handler = None
        simbus.attach_target(self)

    def irq(self, handler=None, trigger=IRQ_END_READ | IRQ_END_WRITE, hard=False):
        self.handler = handler

    def deinit(self):
        simbus.attach_target(None)


def reset():
    simbus.call(_OP_RESET, 0, b"")
    sys.exit(0)
