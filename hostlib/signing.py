"""Bundle signing keys (docs/security.md): RSA-2048, PKCS#1 v1.5 over SHA-256 of the slot
manifest's bytes, verified on the board by its loader (firmware/sigcheck.py). The private key
stays on the signing host (a PEM file, or an HSM in a real farm); the board holds the public
part as JSON {"n", "e", "bytes", "kid"} (hbctl trust-key)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from hashboard.authmac import key_id

from .errors import HbError

KEY_BITS = 2048


class KeyError_(HbError):
    """A key file that cannot be used, named with what is wrong."""


def generate(prefix: Path) -> tuple[Path, Path]:
    """PREFIX.pem (private, mode 600, never overwritten) and PREFIX.pub.json (for the boards)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    priv, pub = Path(f"{prefix}.pem"), Path(f"{prefix}.pub.json")
    for p in (priv, pub):
        if p.exists():
            raise KeyError_(f"{p} exists: a signing key is never overwritten (name a new prefix)")
    key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    fd = os.open(priv, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    pub.write_text(json.dumps(public_doc(key.public_key()), indent=1) + "\n")
    return priv, pub


def public_doc(public_key) -> dict:
    nums = public_key.public_numbers()
    k = (nums.n.bit_length() + 7) // 8
    n_hex = format(nums.n, "x")
    return {"n": n_hex, "e": nums.e, "bytes": k, "kid": key_id(n_hex)}


def load_private(path: Path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    try:
        key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    except OSError as e:
        raise KeyError_(f"signing key {path}: {e.strerror or e}") from None
    except (ValueError, TypeError) as e:
        raise KeyError_(f"signing key {path}: not an unencrypted PEM private key ({e})") from None
    if not isinstance(key, rsa.RSAPrivateKey) or key.key_size != KEY_BITS:
        raise KeyError_(f"signing key {path}: want an RSA-{KEY_BITS} key (hbctl keygen makes one)")
    return key


def load_public(path: Path) -> dict:
    """A board's verification key document, checked."""
    try:
        doc = json.loads(Path(path).read_text())
        n = int(doc["n"], 16)
        ok = doc["e"] == 65537 and doc["bytes"] == (n.bit_length() + 7) // 8 == KEY_BITS // 8
    except OSError as e:
        raise KeyError_(f"verification key {path}: {e.strerror or e}") from None
    except (ValueError, KeyError, TypeError):
        ok = False
    if not ok:
        raise KeyError_(f"verification key {path}: want the .pub.json hbctl keygen wrote (RSA-{KEY_BITS}, e 65537)")
    return {"n": doc["n"], "e": 65537, "bytes": doc["bytes"], "kid": key_id(doc["n"])}


def sign(key, message: bytes) -> str:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    return key.sign(message, padding.PKCS1v15(), hashes.SHA256()).hex()
