"""The gateway's configuration (docs/fleet.md, "Configuration"): a JSON file, and command-line
flags on top of it. Every value is checked before a port is opened; an error names the key."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

from .session import BoardConfig

POLICIES = ("hold", "curtail", "off")
HEARTBEAT_S = (1.0, 3600.0)  # the firmware's range (argcheck.HEARTBEAT_S)


class ConfigError(ValueError):
    pass


@dataclass
class GatewayConfig:
    name: str = "gateway"
    boards: list[BoardConfig] = field(default_factory=list)
    refresh_s: float = 1.0
    health_s: float = 600.0
    metrics: tuple[str, int] | None = None
    mqtt: tuple[str, int] | None = None
    dispatch: bool = True
    dispatch_topic: str | None = None  # None: hashboard/<name>/dispatch, this gateway's own
    mqtt_owner_ops: bool = False  # power/tune over MQTT, signed with the boards' secrets (a broker with ACLs only)


def address(text: object, key: str, lowest: int = 0) -> tuple[str, int]:
    """HOST:PORT (port 0: any free port, for metrics; a broker's port is 1 and up)."""
    if not isinstance(text, str) or ":" not in text:
        raise ConfigError(f"{key}: expected HOST:PORT, got {text!r}")
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not lowest <= int(port) <= 65535:
        raise ConfigError(f"{key}: expected HOST:PORT with a port {lowest}..65535, got {text!r}")
    return host.strip("[]"), int(port)


def _number(doc: dict, key: str, default: float, lo: float, hi: float, where: str) -> float:
    v = doc.get(key, default)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or not lo <= v <= hi:
        raise ConfigError(f"{where}{key}: expected a number {lo:g}..{hi:g}, got {v!r}")
    return float(v)


def _heartbeat(doc: object, where: str, default: tuple[str | None, float]) -> tuple[str | None, float]:
    if doc is None:
        return default
    if not isinstance(doc, dict):
        raise ConfigError(f"{where}heartbeat: expected an object {{policy, timeout_s}}")
    extra = set(doc) - {"policy", "timeout_s"}
    if extra:
        raise ConfigError(f"{where}heartbeat: unknown key(s) {', '.join(sorted(extra))} (known: policy, timeout_s)")
    policy = doc.get("policy", default[0])
    if policy is not None and policy not in POLICIES:
        raise ConfigError(f"{where}heartbeat.policy: one of {', '.join(POLICIES)} (or leave it out: the board's own)")
    return policy, _number(doc, "timeout_s", default[1], *HEARTBEAT_S, f"{where}heartbeat.")


def load(doc: object, read_secret) -> GatewayConfig:
    """A parsed config document; read_secret(path) -> bytes reads a board's secret file."""
    if not isinstance(doc, dict):
        raise ConfigError("the config is a JSON object")
    known = {"name", "boards", "refresh_s", "health_s", "metrics", "mqtt", "dispatch", "dispatch_topic", "heartbeat",
             "mqtt_owner_ops"}
    extra = set(doc) - known
    if extra:
        raise ConfigError(f"unknown key(s) {', '.join(sorted(extra))} (known: {', '.join(sorted(known))})")
    cfg = GatewayConfig()
    name = doc.get("name", cfg.name)
    if not isinstance(name, str) or not name:
        raise ConfigError("name: a non-empty string")
    cfg.name = name
    cfg.refresh_s = _number(doc, "refresh_s", cfg.refresh_s, 0.2, 60.0, "")
    cfg.health_s = _number(doc, "health_s", cfg.health_s, 0.0, 86400.0, "")
    if doc.get("metrics") is not None:
        cfg.metrics = address(doc["metrics"], "metrics")
    if doc.get("mqtt") is not None:
        cfg.mqtt = address(doc["mqtt"], "mqtt", 1)
    if not isinstance(doc.get("dispatch", True), bool):
        raise ConfigError("dispatch: true or false")
    cfg.dispatch = doc.get("dispatch", True)
    if not isinstance(doc.get("mqtt_owner_ops", False), bool):
        raise ConfigError("mqtt_owner_ops: true or false")
    cfg.mqtt_owner_ops = doc.get("mqtt_owner_ops", False)
    topic = doc.get("dispatch_topic", cfg.dispatch_topic)
    if topic is not None and (not isinstance(topic, str) or not topic or any(c in topic for c in "+#")):
        raise ConfigError("dispatch_topic: a topic without wildcards")
    cfg.dispatch_topic = topic
    hb = _heartbeat(doc.get("heartbeat"), "", (None, 10.0))
    boards = doc.get("boards", [])
    if not isinstance(boards, list):
        raise ConfigError("boards: a list of {port, name, secret_file, heartbeat}")
    for i, b in enumerate(boards):
        where = f"boards[{i}]."
        if isinstance(b, str):
            b = {"port": b}
        if not isinstance(b, dict) or not isinstance(b.get("port"), str) or not b["port"]:
            raise ConfigError(f"{where}port: every board needs its port (a device, a pty or an rfc2217:// URL)")
        extra = set(b) - {"port", "name", "secret_file", "heartbeat"}
        if extra:
            raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(extra))}")
        name = b.get("name", b["port"])
        if not isinstance(name, str) or not name:
            raise ConfigError(f"{where}name: a non-empty string")
        policy, after = _heartbeat(b.get("heartbeat"), where, hb)
        secret = None
        if b.get("secret_file") is not None:
            secret = read_secret(b["secret_file"])
        cfg.boards.append(BoardConfig(b["port"], name, secret, policy, after))
    return cfg


REFRESH_S = (0.2, 60.0)


def check(cfg: GatewayConfig) -> None:
    """What holds only for the whole configuration, flags included (called once they are merged):
    the gateway must read each board well within its heartbeat timeout, or the board applies its
    policy (curtail, off) under a gateway that is alive and well."""
    if not REFRESH_S[0] <= cfg.refresh_s <= REFRESH_S[1]:
        raise ConfigError(f"refresh_s (--refresh): expected {REFRESH_S[0]:g}..{REFRESH_S[1]:g} s, got {cfg.refresh_s:g}")
    for b in cfg.boards:
        if cfg.refresh_s > b.heartbeat_s / 2:
            raise ConfigError(f"board {b.name}: refresh_s (--refresh) {cfg.refresh_s:g} s must be at most half its "
                              f"heartbeat timeout_s (--heartbeat-after) {b.heartbeat_s:g} s, or the board applies "
                              "its heartbeat policy between two reads")


def load_file(path: str, read_secret) -> GatewayConfig:
    try:
        with open(path) as f:
            doc = json.load(f)
    except OSError as e:
        raise ConfigError(f"config {path}: {e.strerror or e}") from None
    except ValueError as e:
        raise ConfigError(f"config {path}: not JSON ({e})") from None
    return load(doc, read_secret)
