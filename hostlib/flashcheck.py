"""Before a flash stops the controller: would the board's loader admit this bundle as a trial?
(op admit_check, docs/security.md "Signed bundles"). Asked over the host protocol while the app
runs, so that an unsigned, foreign-key, tampered or older bundle is refused with the modules
still hashing. Advisory only: the loader checks the written slot again before any trial."""

from __future__ import annotations

from .bundle import Bundle, sha256, slot_bytes
from .errors import HbError
from .link import Link

PIECE = 160  # hex digits a request carries (a line holds 512 bytes)


def refusal(port: str, b: Bundle, timeout: float = 5.0) -> str | None:
    """The loader's reason to refuse b, or None: admitted, or not asked (a board without the
    op, at the REPL, or silent: the flash goes on and the loader decides as before)."""
    args = {"digest": sha256(slot_bytes(b)), "seq": b.manifest.get("seq")}
    sig = b.signature
    pieces = [sig[i:i + PIECE] for i in range(0, len(sig), PIECE)] if sig else []
    try:
        with Link(port, timeout=timeout, auto_start=False) as ln:
            if not pieces:
                doc = ln.request("admit_check", dict(args, unsigned=True))
            for i, p in enumerate(pieces):
                doc = ln.request("admit_check", dict(args, index=i, count=len(pieces), hex=p))
    except HbError:  # an older app (unknown_op), a signature no request carries (bad_args), no app
        return None
    return doc.get("refused") if doc.get("checked") else None
