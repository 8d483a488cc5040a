# Who may change the board (docs/security.md). A board provisioned with a secret answers
# destructive and limit-moving requests only when they carry a fresh challenge-response: HMAC-
# SHA256 with the secret over a one-time board nonce and the request line exactly as sent, so a
# replayed, altered or re-targeted request fails. Read-only ops, curtail and resume stay open (a
# grid operator must always be able to shed load). A board without a secret is a development
# board: it asks for nothing, and says so in `info`.
import hashlib
import os

from .compat import const, ticks_diff

DOC = "security"  # settings store document: {"secret": hex | null, "locked": bool}
SECRET_LEN = const(32)
NONCE_LEN = const(16)
NONCE_MS = const(60000)  # a challenge not answered within this is void
TAG = ',"auth":"'  # the auth field comes last: the MAC covers every byte of the request before it

# ops that always need the secret on a provisioned board (destructive, or moving limits)
ALWAYS = ("provision", "save_profile", "clear", "lock", "unlock", "repl", "diag", "tune", "power", "verify_key")


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


def needs_auth(op, args, board):
    """Whether op with these args changes what only an owner may change."""
    if op in ALWAYS:
        return True
    lim = board["limits"]
    if op == "set_vout":
        return not _at_most(args.get("volts"), lim["vout"]["default"])
    if op == "set_freq":
        return not _at_most(args.get("mhz"), lim["freq_mhz"]["default"])
    if op == "repair_log":
        return args.get("add") is not None
    if op == "heartbeat":
        return "policy" in args or "timeout_s" in args  # a plain keepalive stays open
    return False


def _at_most(v, limit):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and v <= limit


def mac_hex(secret, nonce_hex, body):
    """The MAC a request carries: over the nonce and the request text before its auth field."""
    return _hex(hmac_sha256(secret, (nonce_hex + "\n" + body).encode()))


def _hex(b):
    return "".join("%02x" % x for x in b)


def parse_secret(secret_hex):
    """The secret's bytes from its 64 hex digits, or ValueError naming what is wrong."""
    if not isinstance(secret_hex, str) or len(secret_hex) != 2 * SECRET_LEN:
        raise ValueError("secret must be %d hex digits" % (2 * SECRET_LEN))
    secret = _unhex(secret_hex)
    if secret is None:
        raise ValueError("secret must be hex digits")
    return secret


def _unhex(s):
    try:
        out = bytes(int(s[i:i + 2], 16) for i in range(0, len(s), 2))
    except ValueError:
        return None
    return out if 2 * len(out) == len(s) else None


def _same(a, b):
    """Constant-time comparison of two strings of equal length."""
    if len(a) != len(b):
        return False
    d = 0
    for x, y in zip(a, b):
        d |= ord(x) ^ ord(y)
    return d == 0


class Authority:
    """The board's secret and lock (store document "security", docs/security.md) and the one
    outstanding challenge."""

    def __init__(self, clock, store):
        self.clock = clock
        self.store = store
        doc = store.read(DOC) or {}
        s = doc.get("secret") if isinstance(doc, dict) else None
        self.secret = _unhex(s) if isinstance(s, str) and len(s) == 2 * SECRET_LEN else None
        self.locked = self.secret is not None and doc.get("locked") is True
        self.nonce = None  # hex of the one outstanding challenge
        self.nonce_ms = 0

    def provisioned(self):
        return self.secret is not None

    def _save(self):
        self.store.write(DOC, {"secret": _hex(self.secret) if self.secret else None, "locked": self.locked})

    def store_secret(self, secret_hex):
        """A new secret (64 hex digits); the lock stays as it was."""
        self.secret = parse_secret(secret_hex)
        self.nonce = None  # a challenge issued under the old secret is void
        self._save()

    def set_lock(self, on):
        if on and self.secret is None:
            raise ValueError("a board without a secret cannot be locked: provision one first")
        self.locked = bool(on)
        self._save()

    def summary(self):
        """info's "security" block: development (no secret: every op open; no verification
        key: unsigned bundles boot), provisioned, or production (locked)."""
        key = self.store.read("verify_key")
        signed = key["n"] if isinstance(key, dict) and isinstance(key.get("n"), str) else None
        kid = None
        if signed is not None:
            kid = _hex(hashlib.sha256(signed.encode()).digest()[:8])
        if self.secret is None:
            return {"mode": "development", "locked": False, "locked_ops": [], "signed_updates": kid}
        return {"mode": "production" if self.locked else "provisioned", "locked": self.locked,
                "signed_updates": kid,
                "locked_ops": list(ALWAYS) + ["set_vout above default", "set_freq above default",
                                             "repair_log add", "heartbeat policy"]}

    def challenge(self):
        self.nonce = _hex(os.urandom(NONCE_LEN))
        self.nonce_ms = self.clock.ticks_ms()
        return self.nonce

    def check(self, line):
        """None if the request line (after '@hb ') is authorized, else why not. The nonce is
        used up by any attempt, right or wrong: a second try needs a new challenge."""
        if self.secret is None:
            return None
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
