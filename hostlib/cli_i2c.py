"""hbctl over the control-board I2C interface (`--i2c BUS:ADDR`): status, heartbeat, curtail,
resume and power, as a control board would drive the hashboard (docs/i2c-target.md)."""

from __future__ import annotations

import json
import sys

from .ctlbus import ControlBus, I2CError, open_bus

COMMANDS = ("status", "heartbeat", "curtail", "resume", "power")


def _mask(m: int, slots: int) -> str:
    return "".join(str(i) if m >> i & 1 else "-" for i in range(slots))


def run(args) -> int:
    if args.command not in COMMANDS:
        raise I2CError(f"--i2c supports {', '.join(COMMANDS)}, not {args.command}")
    bus, addr = open_bus(args.i2c)
    try:
        cb = ControlBus(bus, addr)
        if args.command == "heartbeat":
            cb.heartbeat()
        elif args.command == "curtail":
            cb.curtail(args.level)
        elif args.command == "resume":
            cb.resume()
        elif args.command == "power":
            cb.power_target(None if args.off else args.target)
        st = cb.status()
    finally:
        bus.close()
    if getattr(args, "json", False) or args.command != "status":
        json.dump(st, sys.stdout)
        sys.stdout.write("\n")
        return 0
    n = st["slots"]
    print(f"board {st['serial'] or '(no serial)'}  firmware {st['firmware']}  map v{st['map']}  state {st['state']}")
    print(f"modules present {_mask(st['present'], n)}  running {_mask(st['running'], n)}  faulty {_mask(st['faulty'], n)}")
    temp = "-" if st["temp_c"] is None else f"{st['temp_c']} C"
    print(f"{st['ghs'] / 1000:.2f} TH/s  {st['power_w']} W  hottest {temp}  "
          f"curtail {st['curtail'] if st['curtail'] is not None else 'no'}  target {st['target_w'] or '-'} W")
    return 0
