"""hbctl decode: captured chain traffic as one JSON object per frame (the contract's default
output), or one readable line per frame with --text."""

from __future__ import annotations

import json
import sys

from .cli_base import add_json
from .decode import RESPONSE_LEN, CaptureError, decode, parse_hex
from .errors import HbError

_SHOWN_FIRST = ("kind", "offset", "crc_ok", "bytes")


def text_line(rec: dict) -> str:
    """A frame as `offset kind crc fields...`, the raw bytes last."""
    fields = " ".join(f"{k}={v}" for k, v in rec.items() if k not in _SHOWN_FIRST and v is not None)
    crc = "ok " if rec["crc_ok"] else "BAD"
    return f"{rec['offset']:>7} {rec['kind']:<8} crc {crc} {fields}  [{rec.get('bytes', '')}]".rstrip()


def cmd_decode(args) -> int:
    if args.file in (None, "-"):
        raw = sys.stdin.buffer.read()
    else:
        try:
            with open(args.file, "rb") as fh:
                raw = fh.read()
        except OSError as e:
            raise HbError(f"cannot read capture {args.file}: {e.strerror}") from None
    try:
        data = raw if args.binary else parse_hex(raw.decode("ascii", errors="replace"))
        for rec in decode(data, args.chip):
            print(text_line(rec) if args.text else json.dumps(rec))
    except CaptureError as e:
        raise HbError(str(e)) from None
    return 0


def add_parser(sub) -> None:
    dc = sub.add_parser("decode", help="decode captured chain traffic: one JSON object per frame and line")
    dc.add_argument("file", nargs="?", help="capture file (hex text, or raw bytes with --binary); - or none: stdin")
    dc.add_argument("--binary", action="store_true", help="the capture is raw bytes, not hex text")
    dc.add_argument("--chip", default="BM1370", choices=sorted(RESPONSE_LEN), help="chip family (default BM1370)")
    out = dc.add_mutually_exclusive_group()
    add_json(out, help="JSON lines, one object per frame (the default)")
    out.add_argument("--text", action="store_true", help="one readable line per frame instead of JSON")
    dc.set_defaults(func=cmd_decode)
