"""hbctl over the control-board I2C interface (`--i2c BUS:ADDR`): status, heartbeat, curtail,
resume and power, as a control board would drive the hashboard (docs/i2c-target.md).

A write is applied by the board's next control step; hbctl waits for the board's applied-write
counter to move and reads the result register, so a refused write is an error here too."""

from __future__ import annotations

import time

from . import checks
from .cli_base import UsageError, show, timeout_of
from .ctlbus import ControlBus, I2CError, open_bus

COMMANDS = ("status", "heartbeat", "curtail", "resume", "power")
_POLL_S = 0.05


def _mask(m: int, slots: int) -> str:
    return "".join(str(i) if m >> i & 1 else "-" for i in range(slots))


def _whole_watts(w: float) -> int:
    if w != int(w) or not 1 <= w <= 0xFFFF:
        raise UsageError(f"power target {w:g} W: the I2C register holds whole watts 1..65535 (--off removes it); not sent")
    return int(w)


def _applied(cb: ControlBus, write, what: str, timeout: float) -> dict:
    """Write, then wait until the board applied it; its refusal (result register) is an error."""
    before = cb.status()["ack"]
    write()
    end = time.monotonic() + timeout
    while True:
        st = cb.status()
        if st["ack"] != before:
            if st["result"] != "ok":
                raise I2CError(f"board refused {what} ({st['result']})")
            return st
        if time.monotonic() > end:
            raise I2CError(f"board at I2C 0x{cb.addr:02x} did not apply {what} within {timeout:g} s")
        time.sleep(_POLL_S)


def _refreshed(cb: ControlBus, st: dict, timeout: float) -> dict:
    """The status after the board's next refresh: the writable registers then show the board's
    setting however it was made (serial or I2C), not one from up to a telemetry period ago."""
    end = time.monotonic() + timeout
    while True:
        now = cb.status()
        if now["seq"] != st["seq"]:
            return now
        if time.monotonic() > end:
            raise I2CError(f"board at I2C 0x{cb.addr:02x} did not refresh its registers within {timeout:g} s")
        time.sleep(_POLL_S)


def _set(cb: ControlBus, st: dict, key: str, want, write, what: str, timeout: float) -> dict:
    """Write a setting unless the board already has it: a write of the value the register holds
    is no change, and the board would not acknowledge it."""
    if st[key] == want:
        st = _refreshed(cb, st, timeout)
        if st[key] == want:
            return st
    return _applied(cb, write, what, timeout)


def _act(args, cb: ControlBus) -> tuple[dict, str]:
    """Perform the verb; (status after it, what the human form says)."""
    cmd, timeout = args.command, timeout_of(args)
    st = cb.status()
    if cmd == "heartbeat":
        if args.policy is not None or args.after is not None or args.legacy_timeout is not None:
            raise UsageError("over --i2c a heartbeat only beats: the contract (--policy, --after) is armed "
                             "over the serial link (hbctl --port PORT heartbeat ...)")
        st = _applied(cb, cb.heartbeat, "the heartbeat", timeout)
        return st, "heartbeat applied"
    if cmd == "curtail":
        level = checks.curtail_level(args.level)
        st = _set(cb, st, "curtail", level, lambda: cb.curtail(level), f"curtail {level} %", timeout)
        return st, f"curtailed to {level} % (board state {st['state']}); `hbctl --i2c ... resume` ends it"
    if cmd == "resume":
        st = _set(cb, st, "curtail", None, cb.resume, "resume", timeout)
        if st["state"] == "curtailed":  # the state register follows at the board's next step
            return st, "not curtailed: modules come back from the board's next control step on"
        return st, f"not curtailed (board state {st['state']})"
    if cmd == "power":
        w = None if args.off else _whole_watts(args.target)
        what = "no power target" if w is None else f"power target {w} W"
        st = _set(cb, st, "target_w", w, lambda: cb.power_target(w), what, timeout)
        if w is None:
            return st, "power target removed"
        after = "; the board stays curtailed, the target applies on resume" if st["curtail"] is not None else ""
        return st, f"power target {w} W applied{after}"
    return st, ""


def run(args) -> int:
    if args.command not in COMMANDS:
        raise UsageError(f"--i2c supports {', '.join(COMMANDS)}, not {args.command}")
    bus, addr = open_bus(args.i2c)
    try:
        st, said = _act(args, ControlBus(bus, addr))
    finally:
        bus.close()
    if args.command != "status":
        return show(args, st, said)
    n = st["slots"]
    temp = "-" if st["temp_c"] is None else f"{st['temp_c']} C"
    return show(args, st, [
        f"board {st['serial'] or '(no serial)'}  firmware {st['firmware']}  map v{st['map']}  state {st['state']}",
        f"modules present {_mask(st['present'], n)}  running {_mask(st['running'], n)}  faulty {_mask(st['faulty'], n)}",
        f"{st['ghs'] / 1000:.2f} TH/s  {st['power_w']} W  hottest {temp}  "
        f"curtail {st['curtail'] if st['curtail'] is not None else 'no'}  target {st['target_w'] or '-'} W"])
