# Request values, checked by one set of rules on the board (protocol, provision) and on the host
# (hostlib/checks.py) before anything is sent: a refusal names the value and the allowed range,
# in the same words on both sides. Ranges that come from the board definition are passed in.
HEARTBEAT_S = (1, 3600)  # heartbeat contract timeout, seconds
CURTAIL_PCT = (0, 100)
SERIAL_LEN = 16  # identity serials: the module record's field and the I2C map's register
MODEL_LEN = 16  # module record's model field
BOARD_MODEL_LEN = 32
POWER_HEADROOM = 1.2  # a power target may exceed the board's nominal power by this factor


class BadValue(ValueError):
    """A value of the wrong kind (bad_args on the board)."""


class OutOfRange(ValueError):
    """A number of the right kind outside its range (out_of_range on the board)."""


def _num(v):
    return ("%.6g" % v) if isinstance(v, float) else str(v)


def is_number(v):
    return not isinstance(v, bool) and isinstance(v, (int, float))


def number(name, v, lo, hi, unit=""):
    """A finite number within lo..hi (inclusive)."""
    if not is_number(v):
        raise BadValue("%s must be a number" % name)
    if v - v != 0:  # NaN and infinities: no range holds them
        raise BadValue("%s must be a finite number, not %s" % (name, v))
    if not lo <= v <= hi:
        raise OutOfRange("%s %s%s is outside %s..%s%s" % (name, _num(v), unit, _num(lo), _num(hi), unit))
    return v


def integer(name, v, lo, hi, unit=""):
    if isinstance(v, bool) or not isinstance(v, int):
        raise BadValue("%s must be an integer" % name)
    return number(name, v, lo, hi, unit)


def ascii_text(name, v, maxlen):
    """1..maxlen printable ASCII characters: identity records and the I2C map hold ASCII."""
    if not isinstance(v, str) or not v:
        raise BadValue("%s must be text of 1..%d characters" % (name, maxlen))
    for c in v:
        if not " " <= c <= "~":
            raise BadValue("%s must be printable ASCII (%r is not)" % (name, c))
    if len(v) > maxlen:
        raise BadValue("%s must be at most %d characters (%d given)" % (name, maxlen, len(v)))
    if v[0] == " " or v[-1] == " ":  # a record reads back trimmed: " " would be a blank serial
        raise BadValue("%s must not begin or end with a space" % name)
    return v


def power_max_w(board):
    """The highest power target the board takes: its definition's `power_max_w` (what its
    regulators and cooling are built for), else its nominal power plus headroom."""
    lim = board["limits"]
    if "power_max_w" in lim:
        return int(lim["power_max_w"])
    return int(lim.get("nominal_power_w", 330.0 * len(board["slots"])) * POWER_HEADROOM)


def power_target(w, max_w):
    """None (no target) or watts in (0, max_w]."""
    if w is None:
        return None
    if not is_number(w) or w - w != 0:
        number("power target", w, 0, max_w, " W")  # not a number, or not finite: says which
    if not 0 < w <= max_w:
        raise OutOfRange("power target %s W is outside (0, %s] W" % (_num(w), _num(max_w)))
    return float(w)


def info_limits(board):
    """The `limits` block of `info`: every range a host needs to check a request first."""
    lim = board["limits"]
    f, v = lim["freq_mhz"], lim["vout"]
    return {
        "thermal": {k: lim["thermal"][k] for k in ("target_c", "hot_c", "dangerous_c")},
        "vout": {"min": v["min"], "max": v["max"], "default": v["default"], "step": v["step"]},
        "freq_mhz": {"min": f["min"], "max": f["max"], "default": f["default"], "step": f["step"]},
        "power_w": {"max": power_max_w(board)},
        "heartbeat_timeout_s": lim["heartbeat_timeout_s"],
        "heartbeat_s": {"min": HEARTBEAT_S[0], "max": HEARTBEAT_S[1],
                        "default": lim["heartbeat_timeout_s"], "policy": lim["heartbeat_policy"]},
        "curtail_pct": {"min": CURTAIL_PCT[0], "max": CURTAIL_PCT[1]},
    }
