# Host protocol op of the health history (docs/protocol.md, "Health"): the raw records, a page
# at a time, for the host to judge (healthtrend). Kept out of Protocol, like tuneops and diagops.
import binascii

from . import argcheck
from .healthrec import MAGIC

_PAGE = 8  # records a reply (~2.8 KB of hex)
_SCAN = 48  # slots looked at a request: a reply never holds the control loop long


def install(protocol, app):
    log = app.healthlog

    def op_health(args):
        """{"from": K, "module": M}: the records in slots K.. (of module M), a page at a time;
        "next" is where the following page starts (null: the ring is done)."""
        k = args.get("from", 0)
        argcheck.integer("from", k, 0, log.slots)
        mod = args.get("module")
        if mod is not None:
            argcheck.integer("module", mod, 0, len(app.modules) - 1)
        out = []  # type: list
        buf = bytearray(log.size)
        nxt = None
        stop = min(log.slots, k + _SCAN)
        while k < stop:
            if len(out) == _PAGE:
                nxt = k
                break
            if not log.read(k, buf):
                break  # past the ring's written part
            k += 1
            if buf[0] == MAGIC and (mod is None or buf[2] == mod):
                out.append(binascii.hexlify(bytes(buf)).decode())
        else:
            if k < log.slots:
                nxt = k
        now = app.clock.ticks_ms()
        return {"records": out, "next": nxt,
                "slots": log.slots, "period_s": log.period_ms // 1000, "op_s": log.op_seconds(now),
                "write_errors": log.write_errors,
                "modules": [{"module": m.slot, "serial": m.serial, "nchips": m.chain.expected}
                            for m in app.modules]}

    protocol.ops["health"] = op_health
