"""Fuzz every parser that reads outside input (issue 15, docs/security.md): generated inputs,
mutated from valid seeds (bit flips, byte changes, inserts, deletions, splices, truncations,
random bytes), fed to the real parsing code; a crash is any exception the parser does not
document as its refusal, a hang any input that takes longer than HANG_S.

    python -m tools.fuzz [--n 100000] [--target NAME ...] [--seed 1]

Prints, per target: inputs, inputs/s, refusals (documented errors) and findings (crashes,
hangs), with the first failing input of each kind in hex. Exit 1 if anything was found.
hil_tests/test_fuzz.py runs a slice of each target on every suite run. (atheris needs clang
and libFuzzer, which this machine's package index does not carry: the mutator here is ours.)"""

from __future__ import annotations

import argparse
import json
import random
import signal
import sys
import time
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
for p in (ROOT, ROOT / "firmware"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

HANG_S = 2.0


class Hang(Exception):
    pass


def mutate(rng: random.Random, seed: bytes, seeds: list[bytes]) -> bytes:
    b = bytearray(seed)
    for _ in range(rng.choice((1, 1, 2, 3, 8))):
        op = rng.randrange(8)
        if op == 0 and b:
            i = rng.randrange(len(b))
            b[i] ^= 1 << rng.randrange(8)
        elif op == 1 and b:
            b[rng.randrange(len(b))] = rng.randrange(256)
        elif op == 2:
            b[rng.randrange(len(b) + 1):0] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 9)))
        elif op == 3 and b:
            i = rng.randrange(len(b))
            del b[i:i + rng.randrange(1, 9)]
        elif op == 4:
            other = rng.choice(seeds)
            i, j = rng.randrange(len(b) + 1), rng.randrange(len(other) + 1)
            b = b[:i] + other[j:]
        elif op == 5:
            b = b[:rng.randrange(len(b) + 1)]
        elif op == 6 and b:  # an interesting byte: the parsers' delimiters and edges
            b[rng.randrange(len(b))] = rng.choice(b'\x00\xff\x7f\x80"{}[],:\\\n\r\x03\x01\xaaU-0e9.')
        else:
            b = bytearray(rng.randrange(256) for _ in range(rng.randrange(0, 64)))
    return bytes(b)


class Target:
    def __init__(self, name: str, seeds: list[bytes], run: Callable[[bytes], None],
                 refusals: tuple[type[BaseException], ...] = ()) -> None:
        self.name, self.seeds, self.run, self.refusals = name, seeds, run, refusals


# ----------------------------------------------------------------------------- the targets
def _protocol(tmp: Path) -> Target:
    """Host protocol lines into the firmware's Protocol.handle on a whole in-process board:
    every line gets one reply line, nothing ever raises out of it."""
    from hostlib.sim.fastlane import FastBoard

    fb = FastBoard("modular-4x", seed=3)
    fb.run_for(2000)
    seeds = [b'@hb {"v":1,"id":1,"op":"status","args":{}}', b'@hb {"id":2,"op":"set_freq","args":{"mhz":500,"module":1}}',
             b'@hb {"id":3,"op":"set_vout","args":{"volts":4.5}}', b'@hb {"id":4,"op":"curtail","args":{"level":50}}',
             b'@hb {"id":5,"op":"heartbeat","args":{"policy":"hold","timeout_s":30}}',
             b'@hb {"id":6,"op":"repair_log","args":{"module":0,"add":{"days":1,"code":2,"arg":3}}}',
             b'@hb {"id":7,"op":"events","args":{"since":0}}', b'@hb {"id":8,"op":"tune","args":{"mode":"power","target":900}}',
             b'@hb {"id":9,"op":"verify_key","args":{"index":0,"count":2,"hex":"ab"}}',
             b'@hb {"id":10,"op":"provision","args":{"target":"module","module":2,"serial":"X"}}',
             b'@hb {"v":1,"id":"a","op":"lock","args":{},"auth":"' + b"0" * 32 + b":" + b"1" * 64 + b'"}']
    seeds += [b'@hb {"id":11,"op":"admit_check","args":{"digest":"' + b"ab" * 32 + b'","seq":3,"index":0,"count":1,'
              b'"hex":"' + b"cd" * 64 + b'"}}',
              b'@hb {"id":12,"op":"admit_check","args":{"digest":"' + b"ab" * 32 + b'","seq":3,"unsigned":true}}']
    app = fb.app
    # a loader for admit_check to ask (the in-process lane has none): on a directory with a key
    from hostlib import loaderfiles

    boot = loaderfiles.load("bootsel", "bootsel_fuzz_protocol")
    boot.root = str(tmp / "protocol-boot")
    Path(boot.root).mkdir(parents=True, exist_ok=True)
    Path(boot.root, "verify_key.json").write_text(json.dumps({"n": "c" + "3" * 511, "e": 65537, "bytes": 256}))
    app.boot = boot
    limits = fb.cfg["limits"]

    def run(data: bytes) -> None:
        fb.output.clear()
        app.protocol.handle(data)
        out = "".join(fb.output)
        if out.count("\n@hb ") + out.startswith("@hb ") != 1:
            raise AssertionError(f"not one reply: {out[:300]!r}")
        for m in app.modules:  # nothing a line says moves a module outside the board's limits
            if m.vrm.vout_set and not limits["vout"]["min"] - 1e-6 <= m.vrm.vout_set <= limits["vout"]["max"] + 1e-6:
                raise AssertionError(f"vout {m.vrm.vout_set}")
            for f in m.chain.target:
                if f and not limits["freq_mhz"]["min"] - 1e-6 <= f <= limits["freq_mhz"]["max"] + 1e-6:
                    raise AssertionError(f"target {f} MHz")
        if fb.clock.ms % 50 == 0:
            fb.run_for(20)  # the board moves on now and then (ramps, telemetry)

    return Target("protocol lines", seeds, run)


def _auth() -> Target:
    from hashboard import auth
    from hashboard.settings import MemoryStore

    class Clock:
        ms = 0

        def ticks_ms(self):
            return self.ms

    a = auth.Authority(Clock(), MemoryStore())
    a.store_secret("5a" * 32)
    from hostlib.link import encode_request

    seeds = [encode_request("x", "set_vout", {"volts": 5.0}, (a.challenge(), b"\x5a" * 32)).strip()[4:]]

    def run(data: bytes) -> None:
        a.challenge()
        text = data.decode("utf-8", "replace")
        if a.check(text) is None and text.encode() != seeds[0]:
            raise AssertionError("a mutated line was authorized")

    return Target("auth field", seeds, run)


def _frames() -> Target:
    from hashboard import bm13xx

    seeds = [bm13xx.make_response(bytes([0x13, 0x70, 0x00, 0x00]), 0) * 3,
             bytes.fromhex("aa5513700000000006aa55")]
    parser = bm13xx.ResponseParser(11)
    got = []

    def run(data: bytes) -> None:
        parser.set_frame_len(11 if len(data) % 2 else 7)
        parser.feed(data, len(data), lambda f, n: got.append(bm13xx.reg_value(f) if n == 11 else 0))
        got.clear()

    return Target("chain frames", seeds, run)


def _decoder() -> Target:
    from hostlib import decode

    seeds = [bytes.fromhex("55aa51096a1370000000001e"), bytes.fromhex("aa5513700000000006"),
             bytes.fromhex("55aa52056a000000")]

    def run(data: bytes) -> None:
        for _ in decode.decode(data):
            pass
        try:
            text = data.decode("ascii")
        except UnicodeDecodeError:
            return
        try:
            decode.parse_hex(text)
        except ValueError:
            pass

    return Target("capture decoder", seeds, run)


def _pmbus() -> Target:
    from hashboard import pmbus

    seeds = [bytes([0x12, 0xD3, 0x17]), bytes([0xFF, 0xFF, 0x14])]

    def run(data: bytes) -> None:
        d = (data + b"\0\0\0")[:3]
        word = d[0] | (d[1] << 8)
        pmbus.slinear11_decode(word)
        pmbus.ulinear16_decode(word, d[2])
        pmbus.status_word_faults(word)

    return Target("PMBus LINEAR11/16, status", seeds, run)


def _eeprom_records() -> Target:
    from hashboard import identity, profile, ptable, repairlog

    seeds = [identity.encode("HBM", "SN1", 0x1370, 24, 4, (26, 1, 1), 1, 4600, 525),
             profile.encode([525.0] * 24, 4600), repairlog.encode(1, 2000, 3, 4) * 8,
             ptable.encode(1, 300, [500.0] * 24, 4500, 20.0, 300.0)]

    def run(data: bytes) -> None:
        for dec in (identity.decode, profile.decode, ptable.decode):
            try:
                dec(data)
            except ValueError:
                pass
        repairlog.decode_all(data)

    return Target("EEPROM records (identity, profile, table, repair log)", seeds, run)


def _board_files() -> Target:
    from hashboard import boardcfg

    seeds = [(ROOT / "boards" / f).read_bytes() for f in ("modular-4x.json", "bitaxe-gamma.json")]

    def run(data: bytes) -> None:
        try:
            cfg = json.loads(data)
        except (ValueError, UnicodeDecodeError, RecursionError):
            return
        try:
            boardcfg.validate(cfg)
        except boardcfg.BoardError:
            pass

    return Target("board definitions", seeds, run)


def _manifests(tmp: Path) -> Target:
    from hostlib import loaderfiles

    bootsel = loaderfiles.load("bootsel", "bootsel_fuzz")
    bootsel.root = str(tmp)
    slot = tmp / "apps" / "a"
    slot.mkdir(parents=True, exist_ok=True)
    (slot / "x.mpy").write_bytes(b"M\x06")
    (tmp / "verify_key.json").write_text(json.dumps({"n": "c" + "3" * 511, "e": 65537, "bytes": 256}))
    seeds = [json.dumps({"format": 1, "board": "modular-4x", "seq": 5, "version": "0.1.0",
                         "files": {"x.mpy": {"sha256": "0" * 64, "size": 2}}}).encode(),
             json.dumps({"state": {"confirmed": "a", "trial": "b", "tries": 1, "min_seq": 3}}).encode()]

    def run(data: bytes) -> None:
        (slot / "manifest.json").write_bytes(data)
        (slot / "manifest.sig").write_bytes(data[:600])
        (tmp / "apps" / "state.json").write_bytes(data)
        bootsel.verify("a")
        st = bootsel.load_state()
        bootsel.admit("a", st)
        bootsel.fits(bootsel.read_json("apps/a/manifest.json") or {}, st, bootsel.own_board(st))

    t = Target("bundle manifests and boot state (loader)", seeds, run)
    t.module = bootsel  # type: ignore[attr-defined]  # for the regression tests
    return t


def _i2c_target() -> Target:
    from hashboard import ctltarget
    from hostlib.sim.fastlane import FastBoard

    fb = FastBoard("modular-4x", seed=4)
    fb.run_for(1000)
    ctl = ctltarget.ControlTarget(bytearray(ctltarget.SIZE), "0.1.0", 1, 4, "SN")
    ctl.refresh(fb.app)
    seeds = [bytes([ctltarget.REG_CURTAIL, 50]), bytes([ctltarget.REG_TARGET_W, 0x84, 0x03]),
             bytes([ctltarget.REG_HEARTBEAT, 7])]

    def run(data: bytes) -> None:
        if not data:
            return
        reg = data[0] % ctltarget.SIZE
        body = data[1:1 + ctltarget.SIZE - reg]
        ctl.mem[reg:reg + len(body)] = body
        ctl.service(fb.app, fb.clock.ms)
        ctl.refresh(fb.app)

    return Target("I2C target writes", seeds, run)


def targets(tmp: Path) -> dict[str, Callable[[], Target]]:
    return {"protocol": lambda: _protocol(tmp), "auth": _auth, "frames": _frames, "decoder": _decoder, "pmbus": _pmbus,
            "eeprom": _eeprom_records, "boards": _board_files, "manifests": lambda: _manifests(tmp),
            "i2c": _i2c_target}


def fuzz(t: Target, n: int, seed: int) -> dict:
    rng = random.Random(f"{t.name}:{seed}")
    crashes: dict[str, bytes] = {}
    hangs: list[bytes] = []

    def alarm(*_):
        raise Hang()

    old = signal.signal(signal.SIGALRM, alarm)
    t0 = time.perf_counter()
    try:
        for k in range(n):
            data = rng.choice(t.seeds) if k < len(t.seeds) else mutate(rng, rng.choice(t.seeds), t.seeds)
            signal.setitimer(signal.ITIMER_REAL, HANG_S)
            try:
                t.run(data)
            except Hang:
                hangs.append(data)
            except t.refusals:
                pass
            except Exception as e:  # noqa: BLE001 - every other exception is a finding
                key = f"{type(e).__name__}: {str(e)[:80]}"
                crashes.setdefault(key, data)
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
    finally:
        signal.signal(signal.SIGALRM, old)
    dt = time.perf_counter() - t0
    return {"target": t.name, "inputs": n, "per_s": n / dt if dt else 0.0, "crashes": crashes, "hangs": hangs}


def main(argv: list[str] | None = None) -> int:
    import tempfile

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000, help="inputs per target (default 100000)")
    ap.add_argument("--target", nargs="+", help="only these (default all)")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args(argv)
    found = 0
    with tempfile.TemporaryDirectory() as tmp:
        all_t = targets(Path(tmp))
        names = a.target or list(all_t)
        print(f"fuzz: {a.n} inputs per target, seed {a.seed}\n")
        print("| target | inputs | inputs/s | crashes | hangs |\n|---|---|---|---|---|")
        for name in names:
            r = fuzz(all_t[name](), a.n, a.seed)
            found += len(r["crashes"]) + len(r["hangs"])
            print(f"| {r['target']} | {r['inputs']} | {r['per_s']:.0f} | {len(r['crashes'])} | {len(r['hangs'])} |",
                  flush=True)
            for why, data in r["crashes"].items():
                print(f"  CRASH {why}: {data[:120].hex()}")
            for data in r["hangs"][:3]:
                print(f"  HANG {data[:120].hex()}")
    print(f"\n{found} findings")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
