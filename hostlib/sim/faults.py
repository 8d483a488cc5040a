"""Fault specs (interfaces.md): parsed into a Fault, validated against the board, or rejected
with a message that names the spec."""

from __future__ import annotations

from dataclasses import dataclass


class FaultSpecError(ValueError):
    pass


@dataclass(frozen=True)
class Fault:
    kind: str  # chip, link, vrm, sensor, uart, ambient, airflow, i2c, aging, cooling
    module: int | None = None
    index: int | None = None
    name: str | None = None
    mode: str | None = None
    value: float | None = None

    @property
    def spec(self) -> str:
        if self.kind in ("ambient", "airflow"):
            return f"{self.kind}:{self.value:g}"
        if self.kind == "chip":
            return f"chip:{self.module}.{self.index}:{self.mode}"
        if self.kind == "link":
            return f"link:{self.module}.{self.index}"
        if self.kind == "vrm":
            return f"vrm:{self.module}:{self.mode}"
        if self.kind == "sensor":
            return f"sensor:{self.name}:{self.mode}"
        if self.kind == "i2c":
            return "i2c:hang" if self.mode == "hang" else "i2c:expander:nack"
        if self.kind == "aging":
            return f"aging:{self.module}.{self.index}:{self.value:g}"
        if self.kind == "cooling":
            return f"cooling:{self.module}:{self.value:g}"
        return f"uart:{self.module}:noise={self.value:g}"


CHIP_MODES = ("dead", "flaky", "badid", "unstable", "weak", "leaky")
VRM_MODES = ("ot", "oc", "uv", "nack", "enable_low")  # enable_low: CONTROL pin stuck low
SENSOR_MODES = ("open", "short", "stuck")


def _int(text: str, what: str, spec: str, limit: int) -> int:
    try:
        v = int(text)
    except ValueError:
        raise FaultSpecError(f"fault spec {spec!r}: {what} {text!r} is not an integer") from None
    if not 0 <= v < limit:
        raise FaultSpecError(f"fault spec {spec!r}: {what} {v} out of range 0..{limit - 1}")
    return v


def _float(text: str, spec: str, lo: float, hi: float) -> float:
    try:
        v = float(text)
    except ValueError:
        raise FaultSpecError(f"fault spec {spec!r}: {text!r} is not a number") from None
    if not lo <= v <= hi:
        raise FaultSpecError(f"fault spec {spec!r}: {v:g} out of range {lo:g}..{hi:g}")
    return v


def parse(spec: str, slots: int, chips: int, sensors: list[str]) -> Fault:
    if not isinstance(spec, str) or ":" not in spec:
        raise FaultSpecError(f"fault spec {spec!r}: expected KIND:..., e.g. chip:0.3:dead")
    kind, _, rest = spec.partition(":")
    if kind in ("ambient", "airflow"):
        lo, hi = (-40.0, 80.0) if kind == "ambient" else (0.0, 4.0)
        return Fault(kind, value=_float(rest, spec, lo, hi))
    if kind == "aging":  # chip I's stable frequency falls by RATE MHz per hour of board time
        where, _, rate = rest.partition(":")
        m_text, dot, i_text = where.partition(".")
        if not dot or not rate:
            raise FaultSpecError(f"fault spec {spec!r}: expected aging:M.I:MHZ_PER_HOUR, e.g. aging:1.7:20")
        return Fault("aging", _int(m_text, "module", spec, slots), _int(i_text, "chip", spec, chips),
                     value=_float(rate, spec, 0.0, 100000.0))
    if kind == "cooling":  # module M's heat-sink thermal resistance multiplied (a fan, a pad)
        m_text, _, factor = rest.partition(":")
        if not factor:
            raise FaultSpecError(f"fault spec {spec!r}: expected cooling:M:FACTOR, e.g. cooling:2:1.8")
        return Fault("cooling", _int(m_text, "module", spec, slots), value=_float(factor, spec, 1.0, 20.0))
    if kind in ("chip", "link"):
        where, _, mode = rest.partition(":")
        m_text, dot, i_text = where.partition(".")
        if not dot:
            raise FaultSpecError(f"fault spec {spec!r}: expected MODULE.CHIP, e.g. {kind}:2.9")
        m = _int(m_text, "module", spec, slots)
        i = _int(i_text, "chip", spec, chips)
        if kind == "link":
            if mode:
                raise FaultSpecError(f"fault spec {spec!r}: link takes no mode")
            return Fault("link", m, i)
        if mode not in CHIP_MODES:
            raise FaultSpecError(f"fault spec {spec!r}: chip mode must be one of {', '.join(CHIP_MODES)}")
        return Fault("chip", m, i, mode=mode)
    if kind == "vrm":
        m_text, _, mode = rest.partition(":")
        m = _int(m_text, "module", spec, slots)
        if mode not in VRM_MODES:
            raise FaultSpecError(f"fault spec {spec!r}: vrm mode must be one of {', '.join(VRM_MODES)}")
        return Fault("vrm", m, mode=mode)
    if kind == "sensor":
        name, _, mode = rest.rpartition(":")
        if name not in sensors:
            raise FaultSpecError(f"fault spec {spec!r}: unknown sensor {name!r} (known: {', '.join(sensors)})")
        if mode not in SENSOR_MODES:
            raise FaultSpecError(f"fault spec {spec!r}: sensor mode must be one of {', '.join(SENSOR_MODES)}")
        return Fault("sensor", name=name, mode=mode)
    if kind == "i2c":
        if rest == "expander:nack":  # the slots' I/O expander stops answering (enable, reset, present)
            return Fault("i2c", mode="expander_nack")
        if rest != "hang":
            raise FaultSpecError(f"fault spec {spec!r}: expected i2c:hang or i2c:expander:nack")
        return Fault("i2c", mode="hang")
    if kind == "uart":
        m_text, _, arg = rest.partition(":")
        m = _int(m_text, "module", spec, slots)
        key, eq, val = arg.partition("=")
        if key != "noise" or not eq:
            raise FaultSpecError(f"fault spec {spec!r}: expected uart:M:noise=RATE")
        return Fault("uart", m, value=_float(val, spec, 0.0, 1.0))
    raise FaultSpecError(f"fault spec {spec!r}: unknown kind {kind!r} (chip, link, vrm, sensor, uart, ambient, airflow, i2c, aging, cooling)")
