"""hbctl lock / unlock (docs/security.md): the production lock of a provisioned board. Both are
authorized: the secret comes from --secret-file or HBCTL_SECRET_FILE."""

from __future__ import annotations

import os
import secrets

from pathlib import Path

from . import signing
from .cli_base import UsageError, add_json, link, print_json


def new_secret(path: str) -> str:
    """A fresh board secret (32 random bytes as 64 hex digits) written to path, readable by its
    owner only; an existing file is never overwritten (it may hold another board's secret)."""
    text = secrets.token_hex(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise UsageError(f"--new-secret {path}: the file exists (it may hold another board's secret); "
                         "name a new file") from None
    except OSError as e:
        raise UsageError(f"--new-secret {path}: {e.strerror or e}") from None
    with os.fdopen(fd, "w") as f:
        f.write(text + "\n")
    return text


def _switch(args, op: str) -> int:
    with link(args) as ln:
        out = ln.request(op)
    if args.json:
        print_json(out)
    else:
        print(f"board {'locked' if out['locked'] else 'unlocked'} ({out['mode']})")
    return 0


def cmd_lock(args) -> int:
    return _switch(args, "lock")


def cmd_unlock(args) -> int:
    return _switch(args, "unlock")


def cmd_keygen(args) -> int:
    priv, pub = signing.generate(Path(args.prefix))
    doc = signing.load_public(pub)
    if args.json:
        print_json({"private": str(priv), "public": str(pub), "kid": doc["kid"]})
    else:
        print(f"signing key {priv} (keep it off the boards, mode 600); verification key {pub} "
              f"(kid {doc['kid']}): hbctl trust-key {pub}")
    return 0


def cmd_trust_key(args) -> int:
    if args.clear == (args.key is not None):
        raise UsageError("trust-key needs the .pub.json file, or --clear")
    with link(args, default=5.0) as ln:
        if args.clear:
            out = ln.request("verify_key", {"clear": True})
        else:
            n = signing.load_public(Path(args.key))["n"]
            chunks = [n[i:i + 128] for i in range(0, len(n), 128)]
            for i, part in enumerate(chunks):
                out = ln.request("verify_key", {"index": i, "count": len(chunks), "hex": part, "e": 65537})
    if args.json:
        print_json(out)
    elif out["verify_key"] is None:
        print("verification key removed: the board boots unsigned bundles (development)")
    else:
        print(f"verification key {out['verify_key']} stored: the board boots only bundles it signed")
    return 0


def add_parsers(sub) -> None:
    p = sub.add_parser("keygen", help="make a bundle signing key pair: PREFIX.pem (private) and PREFIX.pub.json")
    p.add_argument("prefix", help="path prefix of the two files (never overwritten)")
    add_json(p, "the files written")
    p.set_defaults(func=cmd_keygen)
    p = sub.add_parser("trust-key", help="store the verification key: the board boots only bundles signed "
                                         "with its private key (authorized)")
    p.add_argument("key", nargs="?", help="the .pub.json hbctl keygen wrote")
    p.add_argument("--clear", action="store_true", help="remove the key: unsigned bundles boot again")
    add_json(p, "the board's answer")
    p.set_defaults(func=cmd_trust_key)
    p = sub.add_parser("lock", help="production lock: the REPL no longer answers Ctrl-C (authorized)")
    add_json(p, "the board's security state")
    p.set_defaults(func=cmd_lock)
    p = sub.add_parser("unlock", help="lift the production lock: a development board again (authorized)")
    add_json(p, "the board's security state")
    p.set_defaults(func=cmd_unlock)
