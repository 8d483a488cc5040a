# SHA-256 in viper, into preallocated buffers: the nonce check runs for every nonce a chain
# returns, and hashlib makes two hash objects and two digests each time (MicroPython's hashlib
# has no digest-into), the control loop's only heap use. Native code, so it is compiled for the
# bundle's architecture; jobs.py checks it against hashlib at import and falls back if it
# disagrees. Arithmetic: viper ints are machine words (64-bit on the unix port), so every value
# that is shifted right again is masked back to 32 bits; stores into a ptr32 truncate.
import array

import micropython  # type: ignore[import-not-found]

_K = array.array("I", (
    0x428A2F98, 0x71374491, 0xB5C0FBCF, 0xE9B5DBA5, 0x3956C25B, 0x59F111F1, 0x923F82A4, 0xAB1C5ED5,
    0xD807AA98, 0x12835B01, 0x243185BE, 0x550C7DC3, 0x72BE5D74, 0x80DEB1FE, 0x9BDC06A7, 0xC19BF174,
    0xE49B69C1, 0xEFBE4786, 0x0FC19DC6, 0x240CA1CC, 0x2DE92C6F, 0x4A7484AA, 0x5CB0A9DC, 0x76F988DA,
    0x983E5152, 0xA831C66D, 0xB00327C8, 0xBF597FC7, 0xC6E00BF3, 0xD5A79147, 0x06CA6351, 0x14292967,
    0x27B70A85, 0x2E1B2138, 0x4D2C6DFC, 0x53380D13, 0x650A7354, 0x766A0ABB, 0x81C2C92E, 0x92722C85,
    0xA2BFE8A1, 0xA81A664B, 0xC24B8B70, 0xC76C51A3, 0xD192E819, 0xD6990624, 0xF40E3585, 0x106AA070,
    0x19A4C116, 0x1E376C08, 0x2748774C, 0x34B0BCB5, 0x391C0CB3, 0x4ED8AA4A, 0x5B9CCA4F, 0x682E6FF3,
    0x748F82EE, 0x78A5636F, 0x84C87814, 0x8CC70208, 0x90BEFFFA, 0xA4506CEB, 0xBEF9A3F7, 0xC67178F2,
    # initial hash value, then the 32-bit mask (a literal 0xFFFFFFFF is no small int on a 32-bit MCU)
    0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A, 0x510E527F, 0x9B05688C, 0x1F83D9AB, 0x5BE0CD19,
    0xFFFFFFFF,
))
_CTX = array.array("I", bytes(4 * 72))  # hash state (8 words), message schedule (64 words)
_BLOCK = bytearray(64)
_MID = bytearray(32)  # the first hash of sha256d


@micropython.viper
def _sha256(ctx: ptr32, data: ptr8, n: int, out: ptr8):
    k = ptr32(_K)
    blk = ptr8(_BLOCK)
    m = uint(k[72])
    for i in range(8):
        ctx[i] = k[64 + i]
    blocks = (n + 72) >> 6  # the message, 0x80 and an 8-byte length fit in this many blocks
    bits = n << 3
    b = 0
    while b < blocks:
        base = b << 6
        for i in range(64):  # the block, padded: message bytes, 0x80, zeros, bit length at the end
            p = base + i
            v = 0
            if p < n:
                v = data[p]
            elif p == n:
                v = 0x80
            elif b == blocks - 1 and i >= 60:
                v = (bits >> ((63 - i) << 3)) & 0xFF
            blk[i] = v
        w = 8  # the schedule's first word in ctx
        for i in range(16):
            j = i << 2
            ctx[w + i] = (blk[j] << 24) | (blk[j + 1] << 16) | (blk[j + 2] << 8) | blk[j + 3]
        for i in range(16, 64):
            x = uint(ctx[w + i - 15])
            y = uint(ctx[w + i - 2])
            s0 = ((x >> 7) | (x << 25)) ^ ((x >> 18) | (x << 14)) ^ (x >> 3)
            s1 = ((y >> 17) | (y << 15)) ^ ((y >> 19) | (y << 13)) ^ (y >> 10)
            ctx[w + i] = (uint(ctx[w + i - 16]) + s0 + uint(ctx[w + i - 7]) + s1) & m
        a = uint(ctx[0])
        bb = uint(ctx[1])
        c = uint(ctx[2])
        d = uint(ctx[3])
        e = uint(ctx[4])
        f = uint(ctx[5])
        g = uint(ctx[6])
        h = uint(ctx[7])
        for i in range(64):
            t1 = (h + (((e >> 6) | (e << 26)) ^ ((e >> 11) | (e << 21)) ^ ((e >> 25) | (e << 7)))
                  + ((e & f) ^ ((e ^ m) & g)) + uint(k[i]) + uint(ctx[w + i])) & m
            t2 = ((((a >> 2) | (a << 30)) ^ ((a >> 13) | (a << 19)) ^ ((a >> 22) | (a << 10)))
                  + ((a & bb) ^ (a & c) ^ (bb & c))) & m
            h = g
            g = f
            f = e
            e = (d + t1) & m
            d = c
            c = bb
            bb = a
            a = (t1 + t2) & m
        ctx[0] = uint(ctx[0]) + a
        ctx[1] = uint(ctx[1]) + bb
        ctx[2] = uint(ctx[2]) + c
        ctx[3] = uint(ctx[3]) + d
        ctx[4] = uint(ctx[4]) + e
        ctx[5] = uint(ctx[5]) + f
        ctx[6] = uint(ctx[6]) + g
        ctx[7] = uint(ctx[7]) + h
        b += 1
    for i in range(8):  # big-endian words
        u = uint(ctx[i])
        out[i << 2] = u >> 24
        out[(i << 2) + 1] = u >> 16
        out[(i << 2) + 2] = u >> 8
        out[(i << 2) + 3] = u


def sha256d_into(out, data):
    """out[0:32] = SHA-256(SHA-256(data)), with no heap allocation."""
    # buffers convert to viper pointers at the call (the stubs type the parameters as pointers)
    _sha256(_CTX, data, len(data), _MID)  # type: ignore[arg-type]
    _sha256(_CTX, _MID, 32, out)  # type: ignore[arg-type]
