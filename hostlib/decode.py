"""Decode captured BM13xx chain traffic (both directions) into one JSON object per frame.

For a logic-analyser capture: command frames (55 AA ...), jobs (55 AA 21 ...) and chip
responses (AA 55 ...) are found by preamble; bytes that fit no frame become `garbage` records and
decoding continues. A nonce whose job is in the capture is rebuilt into its block header and
checked with SHA-256d (share difficulty, nonce and rolled version as the pool would see them)."""

from __future__ import annotations

import re
from typing import Iterator

from hashboard import bm13xx, jobs, pll
from hashboard.crc import crc5, crc16

CMD_NAMES = {0: "set_address", 1: "write", 2: "read", 3: "chain_inactive"}
REG_NAMES = {0x00: "CHIP_ID", 0x08: "PLL0_PARAMETER", 0x0C: "CHIP_NONCE_OFFSET", 0x10: "HASH_COUNTING_NUMBER",
             0x14: "TICKET_MASK", 0x18: "MISC_CONTROL", 0x28: "UART_BAUD", 0x2C: "UART_RELAY",
             0x3C: "CORE_REGISTER_CONTROL", 0x4C: "NONCE_ERROR_COUNTER", 0x54: "ANALOG_MUX",
             0x58: "IO_DRIVER_STRENGTH", 0x88: "DOMAIN0_HASH_COUNT", 0x89: "DOMAIN1_HASH_COUNT",
             0x8A: "DOMAIN2_HASH_COUNT", 0x8B: "DOMAIN3_HASH_COUNT", 0x8C: "TOTAL_HASH_COUNT",
             0xA4: "VERSION_ROLLING", 0xA8: "SOFT_RESET", 0xB9: "ADC_CTRL"}
RESPONSE_LEN = {"BM1370": 11, "BM1368": 11, "BM1366": 11, "BM1397": 9}


class CaptureError(ValueError):
    pass


def parse_hex(text: str) -> bytes:
    """Hex text with whitespace ignored (0x prefixes and commas tolerated)."""
    cleaned = re.sub(r"0x|[\s,]", "", text)
    bad = re.search(r"[^0-9a-fA-F]", cleaned)
    if bad:
        raise CaptureError(f"capture is not hex: unexpected {bad.group()!r} at character {bad.start()}")
    if len(cleaned) % 2:
        raise CaptureError("capture has an odd number of hex digits")
    return bytes.fromhex(cleaned)


def _hex(b: bytes) -> str:
    return b.hex(" ")


def _command(frame: bytes, offset: int) -> dict:
    hdr = frame[2]
    cmd = hdr & 0x0F
    rec: dict = {"kind": "command", "offset": offset, "crc_ok": crc5(frame, 2, len(frame) - 1) == frame[-1],
                 "cmd": CMD_NAMES.get(cmd, f"0x{cmd:x}"), "broadcast": bool(hdr & 0x10), "bytes": _hex(frame)}
    data = frame[4:-1]
    if cmd == 0:
        rec["address"] = data[0]
    elif cmd in (1, 2) and len(data) >= 2:
        rec["chip_addr"], rec["reg"] = data[0], f"0x{data[1]:02x}"
        rec["reg_name"] = REG_NAMES.get(data[1])
        if cmd == 1 and len(data) >= 6:
            value = int.from_bytes(data[2:6], "big")
            rec["value"] = f"0x{value:08x}"
            if data[1] == 0x08:
                rec["freq_mhz"] = round(pll.decode_register(value), 3)
    return rec


def _job(frame: bytes, offset: int) -> dict:
    payload = frame[4:-2]
    ok = crc16(frame, 2, len(frame) - 2) == (frame[-2] << 8 | frame[-1])
    rec: dict = {"kind": "job", "offset": offset, "crc_ok": ok, "bytes": _hex(frame)}
    if len(payload) == jobs.JOB_LEN:
        rec.update(job_id=payload[0], starting_nonce=f"0x{int.from_bytes(payload[2:6], 'little'):08x}",
                   nbits=f"0x{int.from_bytes(payload[6:10], 'little'):08x}",
                   ntime=int.from_bytes(payload[10:14], "little"),
                   version=f"0x{jobs.job_version(payload):08x}")
    return rec


def _response(frame: bytes, offset: int, jobs_seen: dict[int, bytes]) -> dict:
    ok = crc5(frame, 2) == 0
    if bm13xx.is_nonce(frame, len(frame)) and len(frame) == 11:
        nonce_le, job_id, subcore, ver, core, counter = jobs.decode_nonce(frame)
        rec: dict = {"kind": "nonce", "offset": offset, "crc_ok": ok, "nonce": f"0x{nonce_le:08x}",
                     "job_id": job_id, "core": core, "subcore": subcore, "version_bits": f"0x{ver:04x}",
                     "bytes": _hex(frame)}
        payload = jobs_seen.get(job_id)
        if payload is not None:
            version = jobs.job_version(payload) | (ver << 13)
            digest = jobs.sha256d(jobs.header_from_job(payload, nonce_le, version))
            rec.update(version=f"0x{version:08x}", share_difficulty=jobs.difficulty(digest),
                       hash=digest[::-1].hex())
        return rec
    value = bm13xx.reg_value(frame)
    return {"kind": "register", "offset": offset, "crc_ok": ok, "value": f"0x{value:08x}",
            "chip_addr": frame[6], "reg": f"0x{frame[7]:02x}", "reg_name": REG_NAMES.get(frame[7]),
            "bytes": _hex(frame)}


def decode(data: bytes, chip: str = "BM1370") -> Iterator[dict]:
    rlen = RESPONSE_LEN.get(chip)
    if rlen is None:
        raise CaptureError(f"unknown chip {chip!r} (known: {', '.join(RESPONSE_LEN)})")
    jobs_seen: dict[int, bytes] = {}
    i = 0
    garbage_start = None
    n = len(data)
    while i < n:
        rec = None
        step = 1
        if data[i:i + 2] == b"\x55\xaa" and i + 4 <= n:
            total = data[i + 3] + 2
            if 7 <= total <= 160 and i + total <= n:
                frame = data[i:i + total]
                step = total
                if frame[2] & 0x60 == 0x20:
                    rec = _job(frame, i)
                    if rec["crc_ok"] and "job_id" in rec:
                        jobs_seen[frame[4]] = frame[4:-2]
                elif frame[2] & 0x60 == 0x40:
                    rec = _command(frame, i)
        elif data[i:i + 2] == b"\xaa\x55":
            for size in (rlen, 9 if rlen == 11 else 11):
                frame = data[i:i + size]
                if len(frame) == size and crc5(frame, 2) == 0:
                    rec = _response(frame, i, jobs_seen)
                    step = size
                    break
            else:
                if i + rlen <= n:
                    rec = _response(data[i:i + rlen], i, jobs_seen)  # crc_ok false, still shown
                    step = rlen
        if rec is None:
            if garbage_start is None:
                garbage_start = i
            i += 1
            continue
        if garbage_start is not None:
            yield {"kind": "garbage", "offset": garbage_start, "crc_ok": False,
                   "bytes": _hex(data[garbage_start:i])}
            garbage_start = None
        yield rec
        i += step
    if garbage_start is not None:
        yield {"kind": "garbage", "offset": garbage_start, "crc_ok": False, "bytes": _hex(data[garbage_start:])}
