"""The board's health history read back and judged on the host (docs/diagnostics.md, "Health
history"): `records(request)` pages through the board's ring with the `health` op, `judge()`
runs the trend policy (healthtrend, pure) on them. `request` is any callable
(op, args) -> data: a Link's, a FastBoard's, a gateway's."""

from __future__ import annotations

import binascii
from typing import Callable

from hashboard import healthrec

from . import healthtrend

Request = Callable[[str, dict], dict]


def records(request: Request, module: int | None = None) -> tuple[list[dict], dict, int]:
    """(decoded records, the last reply's board facts, slots whose CRC failed)."""
    out: list[dict] = []
    torn = 0
    start: int | None = 0
    reply: dict = {}
    while start is not None:
        args: dict = {"from": start}
        if module is not None:
            args["module"] = module
        reply = request("health", args)
        for h in reply["records"]:
            r = healthrec.decode(binascii.unhexlify(h))
            if r is None:
                torn += 1  # a write the power cut spoiled: that period is lost, nothing else
            else:
                out.append(r)
        start = reply["next"]
    return out, reply, torn


def judge(request: Request, module: int | None = None) -> dict:
    """The health document (interfaces.md): {"chips": [...], "modules": [...], ...}."""
    recs, facts, torn = records(request, module)
    mods = [m for m in facts["modules"] if module is None or m["module"] == module]
    doc = healthtrend.assess(recs, mods, healthrec.serial_tag)
    doc.update({"period_s": facts["period_s"], "op_s": facts["op_s"], "op_hours": round(facts["op_s"] / 3600.0, 2),
                "torn_records": torn, "write_errors": facts["write_errors"]})
    return doc
