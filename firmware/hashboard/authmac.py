# The cryptographic half of auth.py (docs/security.md), imported on the first authorized request
# or `info`: a development board, or one that only hashes, never holds it in its heap.
import hashlib

from .auth import ALWAYS, NONCE_LEN, NONCE_MS, TAG, _hex
from .compat import ticks_diff


def hmac_sha256(key, msg):
    """RFC 2104 HMAC with SHA-256 (MicroPython has hashlib.sha256, not hmac)."""
    if len(key) > 64:
        key = hashlib.sha256(key).digest()
    k = bytearray(64)
    k[: len(key)] = key
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in k))
    inner.update(msg)
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in k))
    outer.update(inner.digest())
    return outer.digest()


def mac_hex(secret, nonce_hex, body):
    """The MAC a request carries: over the nonce and the request text before its auth field."""
    return _hex(hmac_sha256(secret, (nonce_hex + "\n" + body).encode()))


def _same(a, b):
    """Constant-time comparison of two strings of equal length."""
    if len(a) != len(b):
        return False
    d = 0
    for x, y in zip(a, b):
        d |= ord(x) ^ ord(y)
    return d == 0


def check(self, line):
    """None if the request line (after '@hb ') is authorized, else why not. The nonce is
    used up by any attempt, right or wrong: a second try needs a new challenge."""
    nonce = self.nonce
    self.nonce = None
    i = line.rfind(TAG)
    if i < 0:
        return "needs the board secret (hbctl --secret-file FILE, or HBCTL_SECRET_FILE)"
    tail = line[i + len(TAG):]
    if len(tail) != 2 * NONCE_LEN + 1 + 64 + 2 or tail[2 * NONCE_LEN] != ":" or tail[-2:] != '"}':
        return "malformed auth field"
    if nonce is None or ticks_diff(self.clock.ticks_ms(), self.nonce_ms) > NONCE_MS:
        return "no fresh challenge (each challenge answers one request, for %d s)" % (NONCE_MS // 1000)
    if not _same(tail[: 2 * NONCE_LEN], nonce):
        return "stale or replayed challenge"
    if not _same(tail[2 * NONCE_LEN + 1: -2], mac_hex(self.secret, nonce, line[:i])):
        return "wrong secret, or the request was altered"
    return None


def key_id(modulus_hex):
    """A verification key's short id: the first 16 hex digits of SHA-256 of its modulus (as
    hbctl keygen prints it)."""
    return _hex(hashlib.sha256(modulus_hex.encode()).digest()[:8])


def summary(self):
    """info's "security" block: development (no secret: every op open; no verification
    key: unsigned bundles boot), provisioned, or production (locked)."""
    key = self.store.read("verify_key")
    signed = key["n"] if isinstance(key, dict) and isinstance(key.get("n"), str) else None
    kid = None if signed is None else key_id(signed)
    if self.secret is None:
        return {"mode": "development", "locked": False, "locked_ops": [], "signed_updates": kid}
    return {"mode": "production" if self.locked else "provisioned", "locked": self.locked,
            "signed_updates": kid,
            "locked_ops": list(ALWAYS) + ["set_vout above default", "set_freq above default",
                                         "repair_log add"]}

