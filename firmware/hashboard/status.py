# Status document (interfaces.md), written in pieces so a 96-chip board never needs one big string.
import gc
import json
import sys

from . import VERSION
from .chain import CAUSES, NO_RESPONSE
from .thermal import STATES

_POWERED = ("powering", "enumerating", "ramping", "hashing")


def _r(x, nd=3):
    return None if x is None else round(x, nd)


def runtime():
    impl = sys.implementation
    return {"name": impl.name, "version": ".".join(str(v) for v in impl.version[:3])}


def module_doc(m):
    return {"slot": m.slot, "present": m.state != "empty", "state": m.state,
            "serial": m.serial, "cause": m.cause,
            "chips": m.chain.found if m.state != "empty" else 0,
            "ghs": _r(m.ghs(), 1), "power_w": _r(m.vout * m.iout, 2),
            "temp_c": _r(max([t for t in m.temps if t is not None], default=None), 2),
            "thermal": {"state": STATES[m.thermal.state], "level": m.thermal.level,
                        "retries": m.thermal.retries, "cause": m.thermal.cause},
            "freq_cap_mhz": _r(m.freq_cap(), 2), "vout_goal": _r(m.vout_goal()), "shed": m.shed,
            # the module's rated maximum (its identity; the nominal when it names none)
            "vout_rated": _r(m.rated_mv() / 1000.0 if m.rated_mv() else None),
            "profile": None if m.state == "empty" else "stored" if m.store.profile is not None else (
                "default" if m.store.note is None else "ignored:" + m.store.note)}


def brief(m):
    """What `clear` reports of a module before and after it."""
    return {"state": m.state, "cause": m.cause, "thermal": STATES[m.thermal.state],
            "vrm_faults": list(m.vrm_faults)}


def chain_doc(m):
    c = m.chain
    fault = None
    if m.state != "empty" and c.fault_chip >= 0:
        fault = {"chip": c.fault_chip, "cause": CAUSES[c.fault_cause]}
    return {"module": m.slot, "expected": c.expected,
            "found": c.found if m.state != "empty" else 0, "fault": fault,
            "freq_mhz": _r(c.cur_mhz, 2), "baud": c.baud,
            "crc_errors": c.parser.crc_errors, "garbage_bytes": c.parser.garbage,
            "bytes_tx": c.bytes_tx, "bytes_rx": c.bytes_rx, "jobs": c.work.sent}


def regulator_doc(m):
    return {"module": m.slot, "vout_set": _r(m.vrm.vout_set), "vout": _r(m.vout),
            "iout": _r(m.iout, 2), "temp_c": _r(m.vrm_temp, 1), "faults": list(m.vrm_faults),
            "ok": m.vrm_ok}


def temps_docs(m):
    out = []
    empty = m.state == "empty"
    temps = m.temps
    for i, s in enumerate(m.sensors):
        t = None if empty else temps[i]  # a sensor that left with its module reads nothing
        err = "empty" if empty else m.sensor_err[i]
        out.append({"name": s.name, "module": m.slot, "celsius": _r(t, 2),
                    "ok": t is not None and not err, "error": err or None})
    return out


def write(app, out, prefix, chips=True):
    """Stream the status document as prefix + JSON + newline through out(str). chips=False: the
    per-chip rows are left out ("chips": null), a fifth of the bytes for a poller (a gateway)."""
    gc.collect()  # start from the largest free blocks: the pieces below are a few KB each
    mods = app.modules
    head = {"board": app.board["name"], "state": app.state,
            "firmware": {"version": VERSION}, "runtime": runtime(),
            "uptime_ms": app.clock.ticks_ms() - app.boot_ms, "power_w": _r(app.power_w(), 2),
            "heap": {"total": app.heap_total, "peak": app.heap_peak},
            "power": {"target_w": app.power.target_w, "curtailed": app.power.curtailed,
                      "curtail_level": app.power.level, "cap_mhz": app.power.cap,
                      "full_w": _r(app.power.full_w, 1)},
            "heartbeat": {"armed": app.settings["heartbeat"], "lost": app.hb_lost,
                          "applied": app.hb_applied}}
    out(prefix)
    out(json.dumps(head)[:-1])
    del head  # free it before the per-item pieces
    for key, doc in (("modules", module_doc), ("chains", chain_doc), ("regulators", regulator_doc)):
        out(', "%s": [' % key)
        for i, m in enumerate(mods):  # one small document at a time: no large allocation
            if i:
                out(", ")
            out(json.dumps(doc(m)))
        out("]")
        gc.collect()
    out(', "temps": [')
    first = True
    for m in mods:
        for t in temps_docs(m):
            out(json.dumps(t) if first else ", " + json.dumps(t))
            first = False
    out("]")
    gc.collect()
    if not chips:
        out(', "chips": null}')
        return
    out(', "chips": [')
    first = True
    for m in mods:
        c = m.chain
        if m.state == "empty":
            continue
        for i in range(c.expected):
            if c.status[i] == NO_RESPONSE:
                continue
            piece = ('{"module": %d, "index": %d, "freq_mhz": %s, "target_mhz": %s, "temp_c": null, '
                     '"ghs": %s, "ghs_long": %s, "error_rate": %s, "nonces": %d, "hw_errors": %d, '
                     '"status": "%s"}') % (
                m.slot, i, _r(c.freq[i], 2), _r(c.target[i], 2), _r(c.mhs[i] / 1000, 3), _r(c.mhs_long[i] / 1000, 3),
                _r(c.err_ppm[i] / 1000000, 6), c.work.valid[i], c.work.hw_errors[i], CAUSES[c.status[i]])
            out(piece if first else ", " + piece)
            first = False
    out("]}")
