"""hbctl: command line for hashboard controllers, real or virtual (docs/cli.md).

This module is the entry point (`main`, `build_parser`) and the one place that turns every
failure into one stderr line and an exit status; each verb group lives in its own module."""

from __future__ import annotations

import os
import sys
import traceback

from . import boards, cli_control, cli_decode, cli_demo, cli_diag, cli_i2c, cli_modules, cli_sim, cli_status, cli_tune
from . import cli_gateway, cli_health, cli_security, cli_update
from . import signals
from .cli_base import EXIT_FAILED, EXIT_USAGE, Parser, UsageError, seconds
from .ctlbus import I2CSpecError
from .errors import HbError, RemoteError
from .sim.faults import FaultSpecError

EXIT_PIPE = 141  # stdout's reader went away (`hbctl status | head -1`): 128 + SIGPIPE, quietly


def build_parser() -> Parser:
    p = Parser(prog="hbctl", description="Control modular hashboards, real or virtual. "
                                         "Every verb and its output: docs/cli.md.")
    p.add_argument("--port", help="board's serial port or pyserial URL (default: env HB_PORT)")
    p.add_argument("--timeout", type=seconds, metavar="SECONDS",
                   help="how long to wait for the board's answer (default 3 s a request, 5 s for status, "
                        "modules and EEPROM writes, 10 s to reach flash's raw REPL)")
    p.add_argument("--secret-file", metavar="FILE",
                   help="the board's secret (hbctl provision board --new-secret wrote it), for the ops a "
                        "provisioned board authorizes (default: env HBCTL_SECRET_FILE)")
    p.add_argument("--i2c", metavar="BUS:ADDR",
                   help="talk to the control-board I2C interface instead of the serial port "
                        "(BUS: Linux I2C bus number, or a virtual board's control socket path)")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    cli_sim.add_parsers(sub)
    cli_demo.add_parser(sub)
    cli_status.add_parsers(sub)
    cli_control.add_parsers(sub)
    cli_modules.add_parsers(sub)
    cli_decode.add_parser(sub)
    cli_update.add_parsers(sub)
    cli_tune.add_parser(sub)
    cli_diag.add_parser(sub)
    cli_health.add_parser(sub)
    cli_security.add_parsers(sub)
    cli_gateway.add_parser(sub)
    return p


def _run(argv: list[str] | None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help, or a bad command line already reported in one line
        return e.code if isinstance(e.code, int) else EXIT_USAGE
    if not getattr(args, "func", None):
        print("hbctl: error: a command is required (hbctl --help lists them)", file=sys.stderr)
        return EXIT_USAGE
    if args.i2c:
        if args.port:
            raise UsageError("--port and --i2c name two links to the board: give one")
        return cli_i2c.run(args)
    return args.func(args)


def _quiet_stdout() -> None:
    """stdout's reader is gone: what is still buffered goes nowhere, so exit is quiet too."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass  # not a real file (a test's capture): nothing will flush into a closed pipe


# the protocol ops whose name is not the verb that sends them (a refusal names the op)
VERB_OF_OP = {"verify_key": "trust-key", "set_vout": "vout", "set_freq": "freq", "repair_log": "repairs --add",
              "save_profile": "profile save", "repl": "flash (its REPL session)", "heartbeat": "heartbeat --policy"}


def in_cli_words(e: Exception) -> str:
    """An error as the user will read it: a board's refusal of op X names the hbctl verb too."""
    if isinstance(e, RemoteError):
        op, sep, rest = e.message.partition(": ")
        if sep and op in VERB_OF_OP:
            return f"board refused: {VERB_OF_OP[op]} (op {op}): {rest} ({e.code})"
    return str(e)


def main(argv: list[str] | None = None) -> int:
    try:
        code = _run(argv)
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        _quiet_stdout()
        return EXIT_PIPE
    except signals.Stopped as s:
        print(f"hbctl: error: {s}", file=sys.stderr)
        return s.exit_status
    except KeyboardInterrupt:
        return 128 + 2
    except (UsageError, boards.BoardError, FaultSpecError, I2CSpecError) as e:
        print(f"hbctl: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except (HbError, ValueError, OSError) as e:
        print(f"hbctl: error: {in_cli_words(e)}", file=sys.stderr)
        return EXIT_FAILED
    except Exception as e:  # noqa: BLE001 - a bug still ends in one line; HBCTL_DEBUG shows where
        if os.environ.get("HBCTL_DEBUG"):
            traceback.print_exc()
        print(f"hbctl: internal error: {type(e).__name__}: {e} (HBCTL_DEBUG=1 shows the traceback)",
              file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
