# Who may change the board (docs/security.md). A board provisioned with a secret answers
# destructive and limit-moving requests only when they carry a fresh challenge-response: HMAC-
# SHA256 with the secret over a one-time board nonce and the request line exactly as sent, so a
# replayed, altered or re-targeted request fails. Read-only ops, curtail and resume stay open (a
# grid operator must always be able to shed load). A board without a secret is a development
# board: it asks for nothing, and says so in `info`.
import os

from .compat import const

DOC = "security"  # settings store document: {"secret": hex | null, "locked": bool}
SECRET_LEN = const(32)
NONCE_LEN = const(16)
NONCE_MS = const(60000)  # a challenge not answered within this is void
TAG = ',"auth":"'  # the auth field comes last: the MAC covers every byte of the request before it

# ops that always need the secret on a provisioned board (destructive, or moving limits)
ALWAYS = ("provision", "save_profile", "clear", "lock", "unlock", "repl", "diag", "tune", "power", "verify_key",
          "heartbeat")  # heartbeat arms a contract (defaults when bare): a keepalive is any request


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
    return False


def _at_most(v, limit):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and v <= limit


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

    def challenge(self):
        self.nonce = _hex(os.urandom(NONCE_LEN))
        self.nonce_ms = self.clock.ticks_ms()
        return self.nonce

    def check(self, line):
        """None if the request line (after '@hb ') is authorized, else why not (authmac)."""
        if self.secret is None:
            return None
        from .authmac import check

        return check(self, line)

    def summary(self):
        """info's "security" block (authmac)."""
        from .authmac import summary

        return summary(self)
