# Board definition loader: JSON in, validated dict out. Every error names the offending field.
import json

from . import eepart

SCHEMA = 1
CHIPS = ("BM1370",)


class BoardError(ValueError):
    pass


def _get(d, path, kind, lo=None, hi=None):
    node = d
    for key in path.split("."):
        if not isinstance(node, dict) or key not in node:
            raise BoardError(path + ": missing")
        node = node[key]
    if kind == "num":
        if isinstance(node, bool) or not isinstance(node, (int, float)):
            raise BoardError(path + ": must be a number")
    elif kind == "int":
        if isinstance(node, bool) or not isinstance(node, int):
            raise BoardError(path + ": must be an integer")
    elif kind == "str":
        if not isinstance(node, str) or not node:
            raise BoardError(path + ": must be a non-empty string")
    elif kind == "list":
        if not isinstance(node, list) or not node:
            raise BoardError(path + ": must be a non-empty list")
    if lo is not None and node < lo:
        raise BoardError("%s: %s is below %s" % (path, node, lo))
    if hi is not None and node > hi:
        raise BoardError("%s: %s is above %s" % (path, node, hi))
    return node


def validate(cfg):
    if not isinstance(cfg, dict):
        raise BoardError("board file: top level must be an object")
    if _get(cfg, "schema", "int") != SCHEMA:
        raise BoardError("schema: unsupported version %s (expected %d)" % (cfg["schema"], SCHEMA))
    _get(cfg, "name", "str")
    if _get(cfg, "chip", "str") not in CHIPS:
        raise BoardError("chip: unsupported chip %s (supported: %s)" % (cfg["chip"], CHIPS))
    _get(cfg, "arch", "str")
    _get(cfg, "module.chips", "int", 1, 128)
    _get(cfg, "module.domains", "int", 1, 16)
    if "eeprom" in cfg["module"]:
        if _get(cfg, "module.eeprom.part", "str") not in eepart.PARTS:
            raise BoardError("module.eeprom.part: unknown EEPROM part %s (known: %s)"
                             % (cfg["module"]["eeprom"]["part"], ", ".join(sorted(eepart.PARTS))))
    for i, bus in enumerate(_get(cfg, "i2c", "list")):
        _get({"i2c": bus}, "i2c.id", "int", 0)
    vmin = _get(cfg, "limits.vout.min", "num", 0.1)
    vmax = _get(cfg, "limits.vout.max", "num", vmin)
    _get(cfg, "limits.vout.default", "num", vmin, vmax)
    _get(cfg, "limits.vout.step", "num", 0.001, vmax - vmin if vmax > vmin else None)
    _get(cfg, "limits.iout_max_a", "num", 0.1)
    if "power_max_w" in cfg["limits"]:
        _get(cfg, "limits.power_max_w", "num", 1)
    if "vrm_temp_c" in cfg["limits"]:
        warn = _get(cfg, "limits.vrm_temp_c.warn", "num", 40, 150)
        _get(cfg, "limits.vrm_temp_c.fault", "num", warn, 150)
    fmin = _get(cfg, "limits.freq_mhz.min", "num", 1.0)
    fmax = _get(cfg, "limits.freq_mhz.max", "num", fmin)
    _get(cfg, "limits.freq_mhz.default", "num", fmin, fmax)
    _get(cfg, "limits.freq_mhz.step", "num", 0.1)
    _get(cfg, "limits.freq_mhz.settle_ms", "int", 0)
    target = _get(cfg, "limits.thermal.target_c", "num", 0)
    hot = _get(cfg, "limits.thermal.hot_c", "num", target)
    _get(cfg, "limits.thermal.dangerous_c", "num", hot)
    _get(cfg, "limits.thermal.hysteresis_c", "num", 0)
    _get(cfg, "limits.heartbeat_timeout_s", "num", 1)
    if _get(cfg, "limits.heartbeat_policy", "str") not in ("hold", "curtail", "off"):
        raise BoardError("limits.heartbeat_policy: must be hold, curtail or off")
    _get(cfg, "timing.control_period_ms", "int", 10)
    _get(cfg, "timing.telemetry_period_ms", "int", 100)
    if "health_period_s" in cfg["timing"]:  # the health history's record period and ring size
        _get(cfg, "timing.health_period_s", "int", 5, 86400)
    if "health_slots" in cfg["timing"]:
        _get(cfg, "timing.health_slots", "int", 8, 1024)
    n_bus = len(cfg["i2c"])
    for i, slot in enumerate(_get(cfg, "slots", "list")):
        p = "slots.%d" % i
        wrap = {"s": slot}
        if _get(wrap, "s.slot", "int") != i:
            raise BoardError(p + ".slot: must be %d (slots are listed in order)" % i)
        _get(wrap, "s.uart.id", "int", 0)
        _get(wrap, "s.vrm.addr", "int", 0x03, 0x77)
        _get(wrap, "s.vrm.bus", "int", 0, n_bus - 1)
        if "eeprom" in slot:
            _get(wrap, "s.eeprom.addr", "int", 0x03, 0x77)
        for j, s in enumerate(_get(wrap, "s.sensors", "list")):
            w = {"x": s}
            _get(w, "x.name", "str")
            _get(w, "x.addr", "int", 0x03, 0x77)
            if _get(w, "x.type", "str") not in ("tmp1075", "emc2101_ext"):
                raise BoardError("%s.sensors.%d.type: unknown sensor type %s" % (p, j, s["type"]))
        if "taps" in slot:  # the series-domain tap ADC (diagnostics: domain balance)
            if _get(wrap, "s.taps.type", "str") != "mcp3428":
                raise BoardError("%s.taps.type: unknown tap ADC %s (mcp3428)" % (p, slot["taps"]["type"]))
            _get(wrap, "s.taps.bus", "int", 0, n_bus - 1)
            _get(wrap, "s.taps.addr", "int", 0x68, 0x6F)
            _get(wrap, "s.taps.divider", "num", 1.0, 10.0)
            if cfg["module"].get("domains", 1) - 1 > 4:
                raise BoardError("%s.taps: a 4-channel ADC reads at most 5 domains" % p)
            if cfg["module"]["chips"] % cfg["module"].get("domains", 1):
                raise BoardError("%s.taps: module.chips must split evenly into module.domains" % p)
    if "recovery_pin" in cfg:  # the strap the loader reads to clear a lost secret (bootsel.recover)
        _get(cfg, "recovery_pin", "int", 0, 63)
    if "expander" in cfg:  # found by tools/fuzz.py: an expander without its address
        if _get(cfg, "expander.type", "str") != "tca9535":
            raise BoardError("expander.type: unknown expander %s (tca9535)" % cfg["expander"]["type"])
        _get(cfg, "expander.bus", "int", 0, n_bus - 1)
        _get(cfg, "expander.addr", "int", 0x03, 0x77)
    if len(cfg["slots"]) > 1 and "expander" not in cfg:
        raise BoardError("expander: required on a board with more than one slot")
    if "control_target" in cfg:
        _get(cfg, "control_target.id", "int", 0)
        _get(cfg, "control_target.addr", "int", 0x08, 0x77)
        _get(cfg, "control_target.scl", "int", 0)
        _get(cfg, "control_target.sda", "int", 0)
    _unique_addresses(cfg)
    return cfg


def _unique_addresses(cfg):
    """No two parts may answer one address on a shared bus (a module's EEPROM and another
    slot's regulator would both drive the bus), and no two chains may share a UART."""
    seen = {}  # type: dict[str, str]

    def claim(key, where):
        if key in seen:
            raise BoardError("%s: %s already used by %s" % (where, key, seen[key]))
        seen[key] = where

    if "expander" in cfg:
        e = cfg["expander"]
        claim("i2c %s addr 0x%02x" % (e.get("bus"), e.get("addr")), "expander")
    for i, slot in enumerate(cfg["slots"]):
        p = "slots.%d" % i
        b = slot["vrm"]["bus"]
        claim("i2c %d addr 0x%02x" % (b, slot["vrm"]["addr"]), p + ".vrm")
        if "eeprom" in slot:
            claim("i2c %d addr 0x%02x" % (b, slot["eeprom"]["addr"]), p + ".eeprom")
        for j, s in enumerate(slot["sensors"]):
            claim("i2c %s addr 0x%02x" % (s.get("bus", b), s["addr"]), "%s.sensors.%d" % (p, j))
        if "taps" in slot:
            claim("i2c %s addr 0x%02x" % (slot["taps"]["bus"], slot["taps"]["addr"]), p + ".taps")
        claim("uart %d" % slot["uart"]["id"], p + ".uart")


def loads(text):
    try:
        cfg = json.loads(text)
    except ValueError as e:
        raise BoardError("board file is not valid JSON: %s" % e)
    return validate(cfg)


def load(path):
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        raise BoardError("board file %s: cannot be read" % path)
    return loads(text)
