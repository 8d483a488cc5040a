# Factory provisioning (docs/update.md): the board's identity, a small JSON document on the MCU's
# flash, and module identity EEPROMs. Written once, verified by read-back, and never overwritten
# without force, so a production-line slip cannot erase a board's or a module's serial.
from . import argcheck, identity
from .identity import BOARD_DOC, board_identity


def _text(args, key, maxlen, default=None):
    # ASCII: the module record and the I2C map hold ASCII bytes; any other text would be cut
    return argcheck.ascii_text(key, args.get(key, default), maxlen)


def _date(args):
    d = args.get("date", [26, 1, 1])
    if (not isinstance(d, list) or len(d) != 3 or not all(isinstance(x, int) and not isinstance(x, bool) for x in d)
            or not (0 <= d[0] <= 99 and 1 <= d[1] <= 12 and 1 <= d[2] <= 31)):
        raise ValueError("date must be [yy, mm, dd]")
    return d


class Exists(ValueError):
    pass


def provision_board(store, board, args):
    """Write the board identity; refuses to replace a valid one unless args['force']."""
    old = board_identity(store)
    if old is not None and args.get("force") is not True:
        raise Exists("board already has identity %s (force to replace)" % old["serial"])
    # "board": the definition this hardware is made for; the loader refuses apps for any other
    doc = {"serial": _text(args, "serial", argcheck.SERIAL_LEN),
           "model": _text(args, "model", argcheck.BOARD_MODEL_LEN, board["name"]),
           "date": _date(args), "board": board["name"]}
    store.write(BOARD_DOC, doc)
    if store.read(BOARD_DOC) != doc:
        raise OSError(5)  # read-back mismatch
    return doc


def provision_module(m, board, args, now):
    """Write module m's identity EEPROM (verified by read-back), then identify it afresh."""
    if m.store.addr is None:
        raise ValueError("module %d has no identity EEPROM" % m.slot)
    if m.state == "empty":
        raise ValueError("slot %d is empty" % m.slot)
    try:
        old = identity.read(m.store.i2c, m.store.addr, m._id_buf)
    except ValueError:
        old = None
    if old is not None and args.get("force") is not True:
        raise Exists("module %d already has identity %s (force to replace)" % (m.slot, old["serial"]))
    lim = board["limits"]
    mod = board["module"]
    vout = args.get("vout_mv", int(lim["vout"]["default"] * 1000 + 0.5))
    top = int(lim["vout"]["max"] * 1000 + 0.5)
    # a nominal voltage outside the board's envelope would make the module incompatible
    argcheck.integer("vout_mv", vout, int(lim["vout"]["min"] * 1000 + 0.5), top, " mV")
    # the rated maximum (0: none above the nominal): the tuner never goes above it. Replacing
    # an identity keeps what the host does not restate: the rating, and the factory calibration
    cal = (0, 0, 0)
    vmax = 0
    if old is not None:
        cal = old["cal_raw"]
        if old["vout_max_mv"] > old["vout_mv"] and vout <= old["vout_max_mv"] <= top:
            vmax = old["vout_max_mv"]
    if "vout_max_mv" in args:
        vmax = argcheck.integer("vout_max_mv", args["vout_max_mv"], 0, top, " mV")
        if vmax != 0:
            argcheck.integer("vout_max_mv", vmax, vout, top, " mV")
    grade = argcheck.integer("grade", args.get("grade", 0), 0, 255)
    rec = identity.encode(_text(args, "model", argcheck.MODEL_LEN, mod.get("model", "module")),
                          _text(args, "serial", argcheck.SERIAL_LEN),
                          m.chain.chip.CHIP_ID, mod["chips"], mod["domains"], _date(args), grade, vout,
                          int(lim["freq_mhz"]["default"]), (old["seq"] + 1) & 0xFFFF if old else 1,
                          cal=cal, vout_max_mv=vmax)
    identity.write(m.store.i2c, m.store.addr, rec, m._id_buf, m.clock.sleep_ms)
    m.power_off(now, "empty")  # the next control step identifies it with its new record
    return identity.decode(rec)
