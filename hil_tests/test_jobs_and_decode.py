"""Jobs, nonces and the capture decoder: a real Bitaxe Gamma capture and real block headers."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hashboard import bm13xx, jobs, ka_headers
from hostlib.decode import CaptureError, decode, parse_hex

DATA = Path(__file__).parent / "data"
BIN = Path(sys.executable).parent
CAPTURE = (DATA / "bitaxe_gamma_share.hex").read_text()


def test_real_capture_decodes_to_the_accepted_share():
    recs = list(decode(parse_hex(CAPTURE)))
    assert [r["kind"] for r in recs] == ["job", "nonce"]
    job, nonce = recs
    assert job["crc_ok"] and job["job_id"] == 0x68 and job["version"] == "0x20000000"
    assert nonce["crc_ok"] and nonce["nonce"] == "0x7552034c" and nonce["version"] == "0x20b44000"
    assert nonce["share_difficulty"] == pytest.approx(29588.0, abs=0.1)
    assert nonce["share_difficulty"] >= 8192  # the pool's difficulty: the share was accepted
    assert (nonce["core"], nonce["subcore"]) == (38, 2)


def test_hbctl_decode_text_and_binary(tmp_path):
    out = subprocess.run([str(BIN / "hbctl"), "decode", str(DATA / "bitaxe_gamma_share.hex")],
                         capture_output=True, text=True, check=True).stdout.splitlines()
    raw = tmp_path / "cap.bin"
    raw.write_bytes(parse_hex(CAPTURE))
    out_bin = subprocess.run([str(BIN / "hbctl"), "decode", "--binary", str(raw)],
                             capture_output=True, text=True, check=True).stdout.splitlines()
    assert out == out_bin and json.loads(out[1])["nonce"] == "0x7552034c"


def test_job_frame_from_header_matches_the_capture():
    share = ka_headers.headers()[1]
    payload = bytearray(82)
    jobs.job_payload(payload, share, 0x68)
    payload[78:82] = (0x20000000).to_bytes(4, "little")  # the pool's version before rolling
    frame = bytearray(88)
    bm13xx.job_frame(frame, payload)
    assert bytes(frame) == parse_hex(CAPTURE)[:88]


@pytest.mark.parametrize("index", range(len(ka_headers.headers())))
def test_vectors_from_real_block_headers(index):
    header = ka_headers.headers()[index]
    payload = bytearray(82)
    jobs.job_payload(payload, header, 0x30)
    frame = bytearray(88)
    bm13xx.job_frame(frame, payload)
    nonce = header[76:80]
    reply = bm13xx.make_response(nonce + bytes((0, (0x30 << 1) & 0xF0 | 5)) + b"\x00\x00", 4)
    recs = list(decode(bytes(frame) + b"\x01\x02" + reply))
    assert [r["kind"] for r in recs] == ["job", "garbage", "nonce"]
    assert recs[2]["nonce"] == f"0x{int.from_bytes(nonce, 'little'):08x}"
    assert recs[2]["share_difficulty"] == pytest.approx(jobs.difficulty(jobs.sha256d(header)), rel=1e-6)
    assert recs[2]["hash"] == jobs.sha256d(header)[::-1].hex()


def test_block_hashes_are_the_real_ones():
    hashes = [jobs.sha256d(h)[::-1].hex() for h in ka_headers.headers()]
    assert hashes[0] == "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f"  # genesis
    assert hashes[2].startswith("00000000839a8e68") and hashes[4].startswith("0000000082b50155")


@pytest.mark.parametrize("text,message", [("55 AA zz", "unexpected 'z'"), ("55A", "odd number")])
def test_bad_capture_text(text, message):
    with pytest.raises(CaptureError, match=message):
        parse_hex(text)


@given(st.binary(max_size=200))
def test_decoder_never_fails_and_accounts_for_every_byte(data):
    recs = list(decode(data))
    covered = sum(len(bytes.fromhex(r["bytes"].replace(" ", ""))) for r in recs)
    assert covered == len(data)


@given(st.integers(0, 15), st.integers(0, 0xFFFFFFFF), st.integers(0, 0xFFFF), st.integers(0, 15))
def test_nonce_response_roundtrip(slot, nonce, ver, subcore):
    job_id = slot * 8
    body = nonce.to_bytes(4, "little") + bytes((0, ((job_id << 1) & 0xF0) | subcore)) + ver.to_bytes(2, "big")
    frame = bm13xx.make_response(body, 4)
    n, jid, sc, v, core, counter = jobs.decode_nonce(frame)
    assert (n, jid, sc, v) == (nonce, job_id, subcore, ver)
    assert (core << 25) | counter == int.from_bytes(nonce.to_bytes(4, "little"), "big")


@given(st.binary(min_size=80, max_size=80), st.integers(0, 127), st.integers(0, 0xFFFFFFFF))
def test_job_payload_rebuilds_the_header(header, job_id, start):
    payload = bytearray(82)
    jobs.job_payload(payload, header, job_id, start)
    version = int.from_bytes(header[:4], "little")
    rebuilt = jobs.header_from_job(payload, int.from_bytes(header[76:], "little"), version)
    assert bytes(rebuilt) == header and payload[0] == job_id


@given(st.integers(0, (1 << 25) - 1), st.sampled_from([1, 6, 24, 65, 126]))
def test_counter_attribution_matches_the_nonce_offsets(counter, chips):
    i = jobs.chip_of_counter(counter, chips)
    end = jobs.slice_start(i + 1, chips) if i + 1 < chips else 1 << 25
    assert jobs.slice_start(i, chips) <= counter < end


@given(st.binary(min_size=32, max_size=32), st.integers(1, 1 << 40),
       st.sampled_from([0, 1, 2, 31]), st.integers(-1, 1))
def test_the_byte_compare_against_a_tickets_target_is_the_integer_rule(digest, ticket, at, nudge):
    """The firmware judges each nonce with `at_most(digest, target(ticket))`, no 256-bit integer;
    it must agree with `meets`, also for digests right at the target (nudged one either way)."""
    limit = jobs.target(ticket)
    near = bytearray(limit)
    near[at] = max(0, min(255, near[at] + nudge))  # a digest one step around the target's bytes
    for d in (digest, bytes(near)):
        assert jobs.at_most(d, limit) == jobs.meets(d, ticket)


def test_header_rebuilt_into_a_given_buffer_is_the_same_header():
    header = ka_headers.headers()[0]
    payload = bytearray(jobs.JOB_LEN)
    jobs.job_payload(payload, header, 0x30)
    version = int.from_bytes(header[0:4], "little")
    nonce = int.from_bytes(header[76:80], "little")
    buf = bytearray(b"\xee" * 80)
    assert jobs.header_from_job(payload, nonce, version, buf) is buf
    assert bytes(buf) == bytes(header) == bytes(jobs.header_from_job(payload, nonce, version))


@given(st.binary(min_size=80, max_size=80), st.integers(0, 15), st.integers(0, 0xFFFFFFFF),
       st.integers(0, 0xFFFF), st.integers(0, 15))
def test_the_header_rebuilt_from_a_nonce_frame_byte_by_byte_is_the_integer_one(header, slot, nonce, ver, sub):
    """work.on_nonce rebuilds the header from the frame's bytes (no 32-bit int, a heap object on
    a 32-bit MCU); it must equal header_from_job with the decoded nonce and rolled version."""
    job_id = slot * 8
    payload = bytearray(jobs.JOB_LEN)
    jobs.job_payload(payload, header, job_id, 0)
    body = nonce.to_bytes(4, "little") + bytes((0, ((job_id << 1) & 0xF0) | sub)) + ver.to_bytes(2, "big")
    frame = bm13xx.make_response(body, 4)
    n, _, _, v, _, _ = jobs.decode_nonce(frame)
    version = int.from_bytes(header[:4], "little") | (v << 13)
    want = jobs.header_from_job(payload, n, version)
    assert bytes(jobs.header_from_nonce(payload, frame, header, bytearray(80))) == bytes(want)


@given(st.binary(max_size=300))
def test_sha256d_into_a_buffer_is_sha256d(data):
    """On CPython the fallback (hashlib) serves; the viper one is checked on the real interpreter
    (test_sha256_viper.py)."""
    out = bytearray(32)
    jobs.sha256d_into(out, data)
    assert bytes(out) == jobs.sha256d(data) and jobs.NONCE_HASH.startswith("hashlib")
