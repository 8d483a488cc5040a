"""The nonce check's SHA-256d in viper (firmware/hashboard/sha256_viper.py) on the real
MicroPython unix port: equal to hashlib for messages of every padding case, no heap allocation,
and jobs.py falls back to hashlib when the native code disagrees."""

from __future__ import annotations

import hashlib
import json
import random
import subprocess

from hostlib.paths import FIRMWARE
from hostlib.sim.virtual import _micropython


def _run(script: str) -> dict:
    r = subprocess.run([_micropython(), "-X", "heapsize=256k", "-c", script], capture_output=True,
                       text=True, timeout=120)
    out = [ln for ln in r.stdout.splitlines() if ln.startswith("@")]
    assert r.returncode == 0 and out, r.stdout + r.stderr
    return json.loads(out[-1][1:])


def test_viper_sha256d_equals_hashlib_and_allocates_nothing():
    rng = random.Random(15)
    lengths = list(range(0, 130)) + [rng.randrange(130, 1000) for _ in range(40)]
    msgs = [bytes(rng.randrange(256) for _ in range(n)) for n in lengths]
    script = f"""
import sys, gc, json, binascii
sys.path.insert(0, {str(FIRMWARE)!r})
from hashboard.sha256_viper import sha256d_into
from hashboard import jobs
msgs = [binascii.unhexlify(h) for h in {json.dumps([m.hex() for m in msgs])}]
out = bytearray(32)
digests = []
for m in msgs:
    sha256d_into(out, m)
    digests.append(binascii.hexlify(out).decode())
header = bytearray(80)
def many(n):
    for i in range(n):
        header[i & 63] = i & 0xFF
        jobs.sha256d_into(out, header)
def measure(n):  # in a function: a new global would grow the module's dict
    gc.collect()
    a = gc.mem_alloc()
    many(n)
    return gc.mem_alloc() - a
many(2)
print('@' + json.dumps({{"digests": digests, "alloc": measure(500), "impl": jobs.NONCE_HASH}}))
"""
    doc = _run(script)
    want = [hashlib.sha256(hashlib.sha256(m).digest()).hexdigest() for m in msgs]
    assert doc["digests"] == want
    assert doc["impl"] == "viper" and doc["alloc"] == 0, doc


def test_a_viper_sha256d_that_disagrees_with_hashlib_is_not_used():
    """The check at import must be able to fail: a planted wrong SHA-256d makes jobs.py say so
    and hash with hashlib, whose answers are right."""
    script = f"""
import sys, json, hashlib
sys.path.insert(0, {str(FIRMWARE)!r})
import hashboard.sha256_viper as sv
def wrong(out, data):
    for i in range(32):
        out[i] = 0
sv.sha256d_into = wrong
from hashboard import jobs
out = bytearray(32)
jobs.sha256d_into(out, b"abc")
ok = bytes(out) == hashlib.sha256(hashlib.sha256(b"abc").digest()).digest()
print('@' + json.dumps({{"impl": jobs.NONCE_HASH, "ok": ok}}))
"""
    doc = _run(script)
    assert doc["impl"] == "hashlib: the viper SHA-256d disagrees with hashlib" and doc["ok"], doc
