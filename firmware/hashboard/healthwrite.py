# The health history's ring on the flash (docs/diagnostics.md, "Health history"): the boot scan,
# the record writers and the `health` op. Loaded by healthlog.HealthLog.run when a record is due
# or a host asks, and dropped after, so that none of it sits in the heap between times.
import binascii

from . import argcheck
from . import healthrec as rec
from .compat import ticks_diff
from .healthlog import NAME

_PAGE = 8  # records a reply (~2.8 KB of hex)
_SCAN = 48  # slots looked at a request: a reply never holds the control loop long


def scan(log):
    """The newest record's sequence and operating time: the ring goes on after it. Once a boot,
    when the first record is due or a host first asks (not at boot: its memory is the busiest)."""
    if log.scanned:
        return
    log.scanned = True
    buf = bytearray(log.size)
    best = -1
    for k in range(log.slots):
        if log.app.store.blob_read(NAME, k * log.size, buf) < log.size:
            break  # the ring's first pass ended here
        p = rec.peek(buf)
        if p is not None and p[0] > best:
            best, log.slot, log.t_base = p[0], (k + 1) % log.slots, p[1]
    log.seq = best + 1


def write_period(log, m, now):
    scan(log)
    b = bytearray(log.size)
    c = m.chain
    n = c.expected
    s = m.slot
    k = log.sweeps[s]
    alive = counts = 0
    for i in range(n):
        fl = 0
        tot = c.acc_tot[i]
        e = 0
        if tot > 0 and c.acc_ran[i] * 10 >= k * 9:
            fl = rec.CHIP_RAN
            e = (c.acc_err[i] * 1000000 + tot // 2) // tot
            alive += 1
            counts += tot
        if c.moved[i]:
            fl |= rec.CHIP_MOVED
        rec.pack_chip(b, i, int(c.freq[i] * 10 + 0.5), e, 0, fl)
    sums = log.sums
    rec.pack_header(b, rec.PERIOD, s, n, log.seq, log.op_seconds(now), ticks_diff(now, log.t0[s]) // 1000,
                    int(log.v0[s] * 1000 + 0.5), (sums[3 * s] + k // 2) // k, sums[3 * s + 1] // k,
                    sums[3 * s + 2] // k, rec.serial_tag(m.serial), counts // alive if alive else 0,
                    rec.VOUT_MOVED if log.vmoved[s] else 0)
    return _put(log, b, n)


def note_grades(log, m, grades, now):
    scan(log)
    b = bytearray(log.size)
    n = m.chain.expected
    for i in range(n):
        g = grades[i] if i < len(grades) else 0.0
        rec.pack_chip(b, i, int(m.chain.freq[i] * 10 + 0.5), 0, int(g / 5.0 + 0.5) if g > 0 else 0, 0)
    rec.pack_header(b, rec.DIAG, m.slot, n, log.seq, log.op_seconds(now), 0,
                    int(m.vrm.vout_set * 1000 + 0.5), 0, 0, 0, rec.serial_tag(m.serial), 0)
    return _put(log, b, n)


def _put(log, b, n):
    rec.seal(b, n)
    try:
        log.app.store.blob_write(NAME, log.slot * log.size, b)
    except OSError:  # a full or failing flash: the history pauses, the board hashes on
        log.write_errors += 1
        return True  # not to be retried: the period is lost, counted
    log.seq += 1
    log.slot = (log.slot + 1) % log.slots
    return True


def op_health(log, app, args):
    """{"from": K, "module": M}: the records in slots K.. (of module M), a page at a time;
    "next" is where the following page starts (null: the ring is done)."""
    k = args.get("from", 0)
    argcheck.integer("from", k, 0, log.slots)
    scan(log)  # op_s counts from the newest record
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
        if app.store.blob_read(NAME, k * log.size, buf) < log.size:
            break  # past the ring's written part
        k += 1
        if buf[0] == rec.MAGIC and (mod is None or buf[2] == mod):
            out.append(binascii.hexlify(bytes(buf)).decode())
    else:
        if k < log.slots:
            nxt = k
    return {"records": out, "next": nxt, "slots": log.slots, "period_s": log.period_ms // 1000,
            "op_s": log.op_seconds(app.clock.ticks_ms()), "write_errors": log.write_errors,
            "modules": [{"module": m.slot, "serial": m.serial, "nchips": m.chain.expected,
                         "present": m.state != "empty"}
                        for m in app.modules]}
