# Protocol op admit_check (docs/security.md, "Signed bundles"): would the loader admit this
# bundle as a trial? hbctl flash asks while the app runs, so a bundle the loader would refuse
# (unsigned, another key's, tampered, older) is refused before the controller stops and the
# modules power down. Advisory: the loader checks the written slot again before any trial.
import binascii

from . import hexparts
from .protocol import ProtocolError


def install(protocol, app):
    parts = {}  # type: dict[int, str]  # the signature, in pieces

    def op_admit_check(args):
        """{"digest": SHA-256 of the slot manifest, "seq": its counter, and "index", "count",
        "hex": a piece of its signature, or "unsigned": true} -> {"checked", "refused": why|null}."""
        boot = app.boot
        if boot is None or not hasattr(boot, "trusted_key"):
            return {"checked": False}  # no loader here (the in-process lane), or an older one
        d = args.get("digest")
        try:
            digest = binascii.unhexlify(d) if isinstance(d, str) and len(d) == 64 else None
        except ValueError:
            digest = None
        if digest is None:
            raise ProtocolError("bad_args", "admit_check needs digest: 64 hex digits")
        sig = None
        if args.get("unsigned") is not True:
            sig = hexparts.gather(parts, args, "admit_check")
            if sig is None:
                return {"received": len(parts), "count": args["count"]}
        key, why = boot.trusted_key()
        if key is not None:
            why = boot.refusal(key, digest, sig, args.get("seq"), boot.load_state(), True)
        return {"checked": True, "refused": why}

    protocol.ops["admit_check"] = op_admit_check
