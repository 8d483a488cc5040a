# Control-board interface (docs/i2c-target.md): the MCU answers as an I2C target with a small
# register map in the spirit of the Antminer PIC (identity, heartbeat, power target / curtail,
# status summary). Memory mode: the controller reads and writes `mem` directly; the firmware
# refreshes the status registers and, once per control step, applies what was written.
# The same module is the host's decoder (hostlib/ctlbus.py): one definition of the map.
import struct

from .compat import const

MAP_VERSION = const(1)
SIZE = const(64)
REG_MAGIC = const(0x00)  # "HB"
REG_MAP = const(0x02)  # register map version
REG_PROTO = const(0x03)  # host protocol version
REG_FW = const(0x04)  # firmware version major, minor, patch
REG_SLOTS = const(0x07)
REG_STATE = const(0x08)  # board state code (STATES)
REG_PRESENT = const(0x09)  # bit per slot
REG_RUNNING = const(0x0A)  # hashing or throttled
REG_FAULTY = const(0x0B)  # fault, unidentified or incompatible
REG_GHS = const(0x0C)  # u32 LE, GH/s
REG_POWER = const(0x10)  # u16 LE, W
REG_TEMP = const(0x12)  # i8, hottest sensor degC; -128 = none
REG_SEQ = const(0x13)  # status refresh counter (a frozen value = a stuck firmware)
REG_SERIAL = const(0x14)  # 16 bytes ASCII board serial, NUL padded
REG_HEARTBEAT = const(0x24)  # W: write a value different from the last one
REG_CURTAIL = const(0x25)  # RW: 0..100 curtail to that percent, 0xFF = not curtailed / resume
REG_TARGET_W = const(0x26)  # RW u16 LE: power target W, 0 = none
REG_RESULT = const(0x28)  # R: result of the last applied write (RESULTS)
REG_ACK = const(0x29)  # R: counts applied writes
STATES = ("booting", "hashing", "throttled", "curtailed", "degraded", "fault", "off")
RESULTS = ("ok", "out_of_range", "bad_value", "unauthorized")
_NOT_CURTAILED = const(0xFF)


def _version_bytes(v):
    out = bytearray(3)
    parts = v.split("-")[0].split(".")
    for i in range(min(3, len(parts))):
        try:
            out[i] = int(parts[i]) & 0xFF
        except ValueError:
            pass
    return out


class ControlTarget:
    """Owns the register memory; `target` is the port's machine.I2CTarget (or an emulation)."""

    def __init__(self, mem, version, protocol, slots, serial):
        self.mem = mem
        mem[REG_MAGIC] = 0x48
        mem[REG_MAGIC + 1] = 0x42
        mem[REG_MAP] = MAP_VERSION
        mem[REG_PROTO] = protocol
        mem[REG_FW:REG_FW + 3] = _version_bytes(version)
        mem[REG_SLOTS] = slots
        self.set_serial(serial)
        mem[REG_CURTAIL] = _NOT_CURTAILED
        self._shadow = bytearray(4)  # heartbeat, curtail, target lo, target hi as last applied
        self._shadow[:] = mem[REG_HEARTBEAT:REG_HEARTBEAT + 4]
        self.target = None

    def set_serial(self, serial):
        s = (serial or "").encode()[:16]
        self.mem[REG_SERIAL:REG_SERIAL + 16] = s + bytes(16 - len(s))

    def refresh(self, app):
        """Status registers from the app (once per telemetry period)."""
        mem = self.mem
        st = app.state
        mem[REG_STATE] = STATES.index(st) if st in STATES else 0
        present = running = faulty = 0
        mhs = 0
        hottest = None
        for m in app.modules:
            bit = 1 << m.slot
            if m.state != "empty":
                present |= bit
            if m.state in ("hashing", "throttled"):
                running |= bit
                mhs += m.chain.mhs_sum
            if m.state in ("fault", "unidentified", "incompatible"):
                faulty |= bit
            for t in m.temps_mc:
                if t is not None and (hottest is None or t > hottest):
                    hottest = t
        mem[REG_PRESENT] = present
        mem[REG_RUNNING] = running
        mem[REG_FAULTY] = faulty
        struct.pack_into("<IH", mem, REG_GHS, min(mhs // 1000, 0xFFFFFFFF), min(app.power_mw() // 1000, 0xFFFF))
        mem[REG_TEMP] = 0x80 if hottest is None else max(-127, min(127, hottest // 1000)) & 0xFF
        mem[REG_SEQ] = (mem[REG_SEQ] + 1) & 0xFF
        # the writable registers show the board's actual setting (however it was set), unless
        # a controller write is waiting to be applied
        sh = self._shadow
        p = app.power
        if mem[REG_CURTAIL] == sh[1]:
            sh[1] = mem[REG_CURTAIL] = p.level if p.curtailed else _NOT_CURTAILED
        if mem[REG_TARGET_W] == sh[2] and mem[REG_TARGET_W + 1] == sh[3]:
            w = 0 if p.target_w is None else min(int(p.target_w), 0xFFFF)
            sh[2] = mem[REG_TARGET_W] = w & 0xFF
            sh[3] = mem[REG_TARGET_W + 1] = w >> 8

    def service(self, app, now):
        """Apply what the controller wrote since the last step (once per control step)."""
        mem = self.mem
        sh = self._shadow
        if mem[REG_HEARTBEAT] != sh[0]:
            sh[0] = mem[REG_HEARTBEAT]
            app.host_seen(now)
            self._ack(0)
        if mem[REG_CURTAIL] != sh[1]:
            level = mem[REG_CURTAIL]
            sh[1] = level
            app.host_seen(now)
            if level == _NOT_CURTAILED:
                app.resume()
                self._ack(0)
            elif level <= 100:
                app.curtail(level)
                self._ack(0)
            else:
                self._ack(1)
        if mem[REG_TARGET_W] != sh[2] or mem[REG_TARGET_W + 1] != sh[3]:
            sh[2] = mem[REG_TARGET_W]
            sh[3] = mem[REG_TARGET_W + 1]
            w = sh[2] | (sh[3] << 8)
            app.host_seen(now)
            if app.auth.provisioned():
                # a power target is an authorized op (docs/security.md) and an I2C write carries
                # no MAC: refused, and the register shows the board's setting again next refresh
                self._ack(3)
                return
            try:
                app.set_power_target(None if w == 0 else w)
                self._ack(0)
            except ValueError:
                self._ack(1)

    def _ack(self, result):
        self.mem[REG_RESULT] = result
        self.mem[REG_ACK] = (self.mem[REG_ACK] + 1) & 0xFF


def decode(mem):
    """The status registers as a dict (host side; also used by tests)."""
    ghs, power = struct.unpack_from("<IH", mem, REG_GHS)
    t = mem[REG_TEMP]
    return {
        "magic": bytes(mem[0:2]).decode(), "map": mem[REG_MAP], "protocol": mem[REG_PROTO],
        "firmware": "%d.%d.%d" % (mem[REG_FW], mem[REG_FW + 1], mem[REG_FW + 2]),
        "slots": mem[REG_SLOTS], "state": STATES[mem[REG_STATE]] if mem[REG_STATE] < len(STATES) else "?",
        "present": mem[REG_PRESENT], "running": mem[REG_RUNNING], "faulty": mem[REG_FAULTY],
        "ghs": ghs, "power_w": power, "temp_c": None if t == 0x80 else (t - 256 if t > 127 else t),
        "seq": mem[REG_SEQ], "serial": bytes(mem[REG_SERIAL:REG_SERIAL + 16]).split(b"\0")[0].decode(),
        "curtail": None if mem[REG_CURTAIL] == _NOT_CURTAILED else mem[REG_CURTAIL],
        "target_w": struct.unpack_from("<H", mem, REG_TARGET_W)[0] or None,
        "result": RESULTS[mem[REG_RESULT]] if mem[REG_RESULT] < len(RESULTS) else "?", "ack": mem[REG_ACK],
    }
