# BM1366+/BM1370 jobs and nonces: encode the 82-byte job from an 80-byte header, decode nonce
# responses, rebuild the header the chip hashed and check it with SHA-256d (the job and nonce
# frames of ESP-Miner components/asic).
import hashlib
import struct

from .compat import const

JOB_LEN = const(82)
DIFF1 = 0xFFFF << 208  # pool difficulty 1 target


# The job and header codecs copy byte by byte, never through slices: they run for every job
# sent and every nonce checked, and a slice is a heap object on MicroPython (docs/benchmarks.md,
# "RAM": the control loop's allocation).
def _copy(src, soff, dst, doff, n):
    for i in range(n):
        dst[doff + i] = src[soff + i]


def _reverse_words(src, soff, dst, off):
    # word order 7..0, bytes inside each word unchanged (EM reverse_32bit_words)
    for w in range(8):
        s = soff + (7 - w) * 4
        d = off + w * 4
        for k in range(4):
            dst[d + k] = src[s + k]


def job_payload(buf, header, job_id, starting_nonce=0):
    """Fill buf[0:82] with the BM1370 job for an 80-byte header (its nonce is not sent)."""
    buf[0] = job_id
    buf[1] = 1  # num_midstates
    struct.pack_into("<I", buf, 2, starting_nonce)
    _copy(header, 72, buf, 6, 4)  # nbits
    _copy(header, 68, buf, 10, 4)  # ntime
    _reverse_words(header, 36, buf, 14)  # merkle root
    _reverse_words(header, 4, buf, 46)  # previous block hash
    _copy(header, 0, buf, 78, 4)  # version
    return JOB_LEN


def header_from_job(payload, nonce_le, version, h=None):
    """Rebuild the 80-byte header a chip hashed from a job payload, its nonce and version (into
    h, an 80-byte buffer, when given)."""
    if h is None:
        h = bytearray(80)
    struct.pack_into("<I", h, 0, version)
    _header_body(payload, h)
    struct.pack_into("<I", h, 76, nonce_le)
    return h


def _header_body(payload, h):
    # bytes 4..75 of the header, from the job: previous block hash, merkle root, ntime, nbits
    _reverse_words(payload, 46, h, 4)
    _reverse_words(payload, 14, h, 36)
    _copy(payload, 10, h, 68, 4)
    _copy(payload, 6, h, 72, 4)


def header_from_nonce(payload, frame, base, h):
    """header_from_job for a nonce frame, into h, byte by byte: the rolled version is the job
    header's (base) with the frame's version bits, the nonce the frame's 4 bytes. The 32-bit
    version and nonce never become integers: above 2**30 an int is a heap object on a 32-bit MCU."""
    r = ((frame[8] << 8) | frame[9]) << 13
    for i in range(4):
        h[i] = base[i] | ((r >> (i << 3)) & 0xFF)
        h[76 + i] = frame[2 + i]
    _header_body(payload, h)
    return h


def job_version(payload):
    return struct.unpack_from("<I", payload, 78)[0]


def decode_nonce(frame):
    """Fields of an 11-byte BM1370 nonce response.

    Returns (nonce_le, job_id, subcore, version_bits, core, counter): nonce_le is the nonce as
    the header holds it; job_id is (id & 0xF0) >> 1 as sent in the job; the chip's counter
    (bits 24-0 of the big-endian nonce) identifies the chip through CHIP_NONCE_OFFSET."""
    nonce_le = frame[2] | (frame[3] << 8) | (frame[4] << 16) | (frame[5] << 24)
    rid = frame[7]
    ver = (frame[8] << 8) | frame[9]
    core = frame[2] >> 1
    counter = ((frame[2] & 1) << 24) | (frame[3] << 16) | (frame[4] << 8) | frame[5]
    return nonce_le, (rid & 0xF0) >> 1, rid & 0x0F, ver, core, counter


def slice_start(index, chips):
    """First counter of a chip's slice: CHIP_NONCE_OFFSET (bm1370.nonce_offset) << 9."""
    return ((index * 0x10000) // chips) << 9


def chip_of_counter(counter, chips):
    """Chain position whose CHIP_NONCE_OFFSET slice holds this 25-bit counter."""
    i = (counter * chips) >> 25
    if i + 1 < chips and counter >= slice_start(i + 1, chips):
        return i + 1
    if i > 0 and counter < slice_start(i, chips):
        return i - 1
    return i


def sha256d(data):
    return hashlib.sha256(hashlib.sha256(data).digest()).digest()


def _sha256d_hashlib_into(out, data):
    out[:] = sha256d(data)


def _native_sha256d():
    """(sha256_viper's allocation-free sha256d_into, "viper") where it runs and agrees with
    hashlib on a two-block message (a header's length), else (hashlib's, "hashlib: why")."""
    try:
        from .sha256_viper import sha256d_into

        probe = bytes(range(80))
        out = bytearray(32)
        sha256d_into(out, probe)
        if bytes(out) == sha256d(probe):
            return sha256d_into, "viper"
        return _sha256d_hashlib_into, "hashlib: the viper SHA-256d disagrees with hashlib"
    except Exception as e:  # ImportError on CPython (no viper); a port without the native emitter
        return _sha256d_hashlib_into, "hashlib: %s %s" % (type(e).__name__, e)


sha256d_into, NONCE_HASH = _native_sha256d()  # NONCE_HASH: info's firmware.nonce_hash


def hash_value(digest):
    return int.from_bytes(digest, "little")


def difficulty(digest):
    v = hash_value(digest)
    return DIFF1 / v if v else float("inf")


def meets(digest, ticket_difficulty):
    """True if the hash meets the ticket difficulty (integer compare, no float on the MCU)."""
    return hash_value(digest) * ticket_difficulty <= DIFF1


def target(ticket_difficulty):
    """The largest hash (32 bytes, little-endian like a digest) that meets the ticket: made once
    per ticket, so that each nonce is judged by `at_most` without a 256-bit integer."""
    return bytearray((DIFF1 // ticket_difficulty).to_bytes(32, "little"))


def at_most(digest, limit):
    """digest <= limit, both 32-byte little-endian numbers (meets(d, t) == at_most(d, target(t)))."""
    for i in range(31, -1, -1):
        a = digest[i]
        b = limit[i]
        if a != b:
            return a < b
    return True
