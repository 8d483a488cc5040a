# Protocol ops of the board's security (docs/security.md, docs/protocol.md): the challenge an
# authorized request answers, the production lock, and a REPL session for an authorized host
# (hbctl flash on a locked board). The check itself is Protocol.handle's, with auth.needs_auth.
from . import hexparts
from .authmac import key_id
from .protocol import ProtocolError

KEY_DOC = "verify_key"  # verify_key.json at the flash root: the loader (bootsel) reads it


def install(protocol, app):
    auth = app.auth

    def op_challenge(args):
        """A one-time nonce for the next authorized request (60 s)."""
        if not auth.provisioned():
            return {"nonce": None, "mode": "development"}
        return {"nonce": auth.challenge()}

    def op_lock(args):
        """Production lock: the REPL no longer answers Ctrl-C; stays across resets."""
        try:
            auth.set_lock(True)
        except ValueError as e:
            raise ProtocolError("bad_args", str(e))
        app.emit(app.clock.ticks_ms(), "security", None, "locked")
        return auth.summary()

    def op_unlock(args):
        auth.set_lock(False)
        app.emit(app.clock.ticks_ms(), "security", None, "unlocked")
        return auth.summary()

    def op_repl(args):
        """Stop the controller (every module off, as Ctrl-C does) and leave the REPL open
        until the next reset: mpremote and hbctl flash reach a locked board this way."""
        app.repl_requested = True
        return {"repl": True}

    parts = {}  # type: dict[int, str]  # a verification key arrives in pieces (a request line holds 512 bytes)

    def op_verify_key(args):
        """{"index": i, "count": n, "hex": part of the RSA modulus, "e": 65537}, or
        {"clear": true}: the key whose signatures the loader requires (docs/security.md)."""
        if args.get("clear") is True:
            app.store.write(KEY_DOC, None)
            parts.clear()
            return {"verify_key": None}
        if args.get("e", 65537) != 65537:
            raise ProtocolError("bad_args", "verify_key: e must be 65537")
        modulus = hexparts.gather(parts, args, "verify_key")
        if modulus is None:
            return {"received": len(parts), "count": args["count"]}
        try:
            ok = len(modulus) == 512 and int(modulus, 16) >> 2047 == 1
        except ValueError:
            ok = False
        if not ok:
            raise ProtocolError("bad_args", "verify_key: want a 2048-bit RSA modulus in hex")
        app.store.write(KEY_DOC, {"n": modulus, "e": 65537, "bytes": 256})
        return {"verify_key": key_id(modulus)}

    protocol.ops["verify_key"] = op_verify_key
    protocol.ops["challenge"] = op_challenge
    protocol.ops["lock"] = op_lock
    protocol.ops["unlock"] = op_unlock
    protocol.ops["repl"] = op_repl

