"""`hbctl gateway`: the fleet gateway for one rack of boards (docs/fleet.md). Runs until SIGINT or
SIGTERM; its first stdout line is JSON (name, metrics address, boards) once it listens."""

from __future__ import annotations

import os

from . import signals
from .cli_base import UsageError, add_json, positive, read_secret, secret_of


def cmd_gateway(args) -> int:
    from .fleet import config as fc
    from .fleet.gateway import Gateway

    try:
        cfg = fc.load_file(args.config, read_secret) if args.config else fc.load({}, read_secret)
        if args.name:
            cfg.name = args.name
        if args.metrics:
            cfg.metrics = fc.address(args.metrics, "--metrics")
        if args.mqtt:
            cfg.mqtt = fc.address(args.mqtt, "--mqtt")
        if args.refresh is not None:
            cfg.refresh_s = args.refresh
        if args.health_every is not None:
            cfg.health_s = args.health_every
        if args.no_dispatch:
            cfg.dispatch = False
        secret = secret_of(args)  # the global --secret-file: for the boards given with --board-port
        for b in fc.load({"boards": args.board_port or []}, read_secret).boards:
            b.secret = secret
            cfg.boards.append(b)
        for b in cfg.boards:  # the flags override the file's heartbeat for every board
            if args.heartbeat_policy is not None:
                b.heartbeat_policy = args.heartbeat_policy
            if args.heartbeat_after is not None:
                if not fc.HEARTBEAT_S[0] <= args.heartbeat_after <= fc.HEARTBEAT_S[1]:
                    raise fc.ConfigError("--heartbeat-after: 1..3600 seconds")
                b.heartbeat_s = args.heartbeat_after
    except fc.ConfigError as e:
        raise UsageError(str(e)) from None
    if not cfg.boards:
        raise UsageError("no boards: give --board-port PORT (repeatable) or a --config with boards")
    try:
        gw = Gateway(cfg.name, cfg.boards, cfg.refresh_s, cfg.health_s, cfg.metrics, cfg.mqtt, cfg.dispatch,
                     cfg.dispatch_topic, cfg.mqtt_owner_ops)
    except OSError as e:
        raise UsageError(f"--metrics {cfg.metrics}: cannot listen: {e.strerror or e}") from None
    except ValueError as e:
        raise UsageError(str(e)) from None
    with signals.stop_on_signals():
        try:
            gw.start()
            addr = gw.metrics_address
            return signals.serve_until_stopped({
                "gateway": cfg.name, "pid": os.getpid(), "metrics": None if addr is None else f"{addr[0]}:{addr[1]}",
                "mqtt": None if cfg.mqtt is None else f"{cfg.mqtt[0]}:{cfg.mqtt[1]}",
                "boards": [{"name": b.name, "port": b.port} for b in cfg.boards]})
        except signals.Stopped:
            return 0  # a signal while it started
        finally:
            signals.hold()
            gw.stop()


def add_parser(sub) -> None:
    g = sub.add_parser("gateway", help="run the fleet gateway for a rack of boards (metrics, MQTT, dispatch)",
                       description="Own N boards: keep their heartbeat alive, serve Prometheus metrics and a "
                                   "farm page over HTTP, publish state, events and health findings to MQTT, take "
                                   "commands and grid dispatch orders from it (docs/fleet.md). Runs until SIGINT "
                                   "or SIGTERM; the first stdout line is JSON once it listens.")
    g.add_argument("--config", help="JSON configuration file (docs/fleet.md, 'Configuration')")
    g.add_argument("--board-port", action="append", help="a board's port or URL, repeatable (named by it)")
    g.add_argument("--metrics", help="HOST:PORT to serve /metrics, / and /farm.json on (port 0: any free one)")
    g.add_argument("--mqtt", help="HOST:PORT of the MQTT broker")
    g.add_argument("--name", help="the gateway's name (MQTT topic level; default 'gateway')")
    g.add_argument("--refresh", type=positive, help="seconds between two status reads of a board (default 1)")
    g.add_argument("--health-every", type=positive, help="seconds between two health judgements (default 600)")
    g.add_argument("--heartbeat-policy", choices=("hold", "curtail", "off"),
                   help="what a board does when the gateway falls silent (default: the board definition's)")
    g.add_argument("--heartbeat-after", type=positive,
                   help="seconds of silence before a board applies its policy (1..3600, default 10)")
    g.add_argument("--no-dispatch", action="store_true", help="do not take grid dispatch orders")
    add_json(g, help="accepted for uniformity: the first line is always JSON")
    g.set_defaults(func=cmd_gateway)
