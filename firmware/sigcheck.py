# Bundle signatures (docs/security.md), checked by the loader: RSA-2048 PKCS#1 v1.5 over SHA-256 of
# the slot manifest's bytes. Verification is one modular exponentiation with e = 65537 (about 1 ms
# on the unix port, ~0.1 s on an RP2040), and the whole expected block is compared, never parsed.
# Loader file (stays loose at the root, like bootsel.py); runs on MicroPython and CPython.
import hashlib

# DER prefix of a DigestInfo holding a SHA-256 digest (RFC 8017, 9.2 note 1)
_SHA256_INFO = bytes((0x30, 0x31, 0x30, 0x0D, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                      0x01, 0x05, 0x00, 0x04, 0x20))


def expected_block(message, k, digest=None):
    """EMSA-PKCS1-v1_5 encoding of SHA-256(message) (or of the given digest) in k bytes."""
    t = _SHA256_INFO + (digest if digest is not None else hashlib.sha256(message).digest())
    return b"\x00\x01" + b"\xff" * (k - len(t) - 3) + b"\x00" + t


def check(message, sig_hex, key, digest=None):
    """None if sig_hex (hex text) is key's signature of message (bytes; or of the message whose
    SHA-256 is digest, hashed as a stream by the caller), else why not.
    key: {"n": hex modulus, "e": exponent, "bytes": modulus length}."""
    try:
        k = key["bytes"]
        n = int(key["n"], 16)
        e = key["e"]
    except (KeyError, TypeError, ValueError):
        return "the board's verification key is unreadable"
    if e != 65537 or k != 256 or n >> 2047 != 1:  # only the scheme's keys: e = 1 would forge anything
        return "the board's verification key is not RSA-2048 with e 65537"
    if not isinstance(sig_hex, str) or len(sig_hex.strip()) != 2 * k:
        return "signature missing or truncated (want %d bytes)" % k
    try:
        s = int(sig_hex.strip(), 16)
    except ValueError:
        return "signature is not hex"
    if s >= n:  # a larger modulus's signature: another key's, said as such (not a separate case)
        return "signature does not verify (out of this key's range: signed with another key)"
    if pow(s, e, n) != int.from_bytes(expected_block(message, k, digest), "big"):
        return "signature does not verify (tampered, or signed with another key)"
    return None
