"""Byte-exact BM13xx frames and CRCs against literal frames from ESP-Miner's sources."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hashboard import bm13xx, pll
from hashboard.crc import crc5, crc16

LITERAL_COMMANDS = [
    ("55 AA 52 05 00 00 0A", ("read", 0, 0x00, True)),
    ("55 AA 53 05 00 00 03", ("inactive",)),
    ("55 AA 40 05 00 00 1C", ("addr", 0x00)),
    ("55 AA 40 05 04 00 03", ("addr", 0x04)),
    ("55 AA 51 09 00 A4 90 00 FF FF 1C", ("write", 0, 0xA4, 0x9000FFFF, True)),
    ("55 AA 51 09 00 A8 00 07 00 00 03", ("write", 0, 0xA8, 0x00070000, True)),
    ("55 AA 51 09 00 18 FF 0F C1 00 00", ("write", 0, 0x18, 0xFF0FC100, True)),
    ("55 AA 51 09 00 3C 80 00 85 40 0C", ("write", 0, 0x3C, 0x80008540, True)),
    ("55 AA 51 09 00 3C 80 00 80 20 19", ("write", 0, 0x3C, 0x80008020, True)),
    ("55 AA 51 09 00 54 00 00 00 03 1D", ("write", 0, 0x54, 0x00000003, True)),
    ("55 AA 51 09 00 58 02 11 11 11 06", ("write", 0, 0x58, 0x02111111, True)),
    ("55 AA 41 09 00 2C 00 7C 00 03 03", ("write", 0, 0x2C, 0x007C0003, False)),
    ("55 AA 51 09 00 28 11 30 02 00 03", ("write", 0, 0x28, 0x11300200, True)),
    ("55 AA 41 09 00 A8 00 07 01 F0 15", ("write", 0, 0xA8, 0x000701F0, False)),
    ("55 AA 41 09 00 3C 80 00 82 AA 05", ("write", 0, 0x3C, 0x800082AA, False)),
    ("55 AA 52 05 00 4C 14", ("read", 0, 0x4C, True)),
    ("55 AA 52 05 00 8C 1D", ("read", 0, 0x8C, True)),
    ("55 AA 51 09 00 14 00 00 00 FF 08", ("write", 0, 0x14, 0x000000FF, True)),
]


def encode(spec):
    buf = bytearray(11)
    kind = spec[0]
    if kind == "read":
        n = bm13xx.read_reg(buf, spec[1], spec[2], spec[3])
    elif kind == "write":
        n = bm13xx.write_reg(buf, spec[1], spec[2], spec[3], spec[4])
    elif kind == "addr":
        n = bm13xx.set_address(buf, spec[1])
    else:
        n = bm13xx.chain_inactive(buf)
    return bytes(buf[:n])


@pytest.mark.parametrize("hexframe,spec", LITERAL_COMMANDS)
def test_literal_command_frames_are_byte_exact(hexframe, spec):
    assert encode(spec) == bytes.fromhex(hexframe)


@pytest.mark.parametrize("addr,crc", zip(range(0, 16, 2), (0x1C, 0x01, 0x03, 0x1E, 0x07, 0x1A, 0x18, 0x05)))
def test_set_address_crcs(addr, crc):
    assert encode(("addr", addr))[-1] == crc


LITERAL_RESPONSES = [
    "AA 55 13 70 00 00 00 00 00 00 10",
    "AA 55 18 00 A6 40 02 99 22 F9 91",
    "AA 55 6D B8 8E E1 01 04 03 54 94",
    "AA 55 13 68 00 00 00 00 00 00 0F",
    "AA 55 13 66 00 00 00 00 00 00 05",
    "AA 55 13 97 18 00 00 00 06",
]


@pytest.mark.parametrize("hexframe", LITERAL_RESPONSES)
def test_literal_responses_parse_with_valid_crc(hexframe):
    data = bytes.fromhex(hexframe)
    frames = []
    p = bm13xx.ResponseParser(len(data))
    p.feed(data, len(data), lambda fr, n: frames.append(bytes(fr[:n])))
    assert frames == [data]
    assert p.crc_errors == 0


def test_chip_id_response_decodes():
    data = bytes.fromhex("AA 55 13 70 00 00 00 00 00 00 10")
    assert bm13xx.reg_value(data) >> 16 == 0x1370
    assert not bm13xx.is_nonce(data, 11)
    assert bm13xx.is_nonce(bytes.fromhex("AA 55 18 00 A6 40 02 99 22 F9 91"), 11)


def test_crc16_check_value():
    assert crc16(b"123456789") == 0x29B1


@given(st.binary(min_size=1, max_size=64))
def test_crc5_residue_is_zero_for_built_responses(body):
    frame = bm13xx.make_response(body, 4)
    assert crc5(frame, 2) == 0


@given(st.integers(0, 255), st.integers(0, 255), st.integers(0, 0xFFFFFFFF), st.booleans())
def test_write_frame_roundtrip(chip, reg, value, broadcast):
    buf = bytearray(11)
    n = bm13xx.write_reg(buf, chip, reg, value, broadcast)
    assert n == 11 and buf[3] == 9
    assert crc5(buf, 2, 10) == buf[10]
    assert (buf[4], buf[5], int.from_bytes(buf[6:10], "big")) == (chip, reg, value)


@given(st.lists(st.binary(min_size=8, max_size=8), max_size=8), st.binary(max_size=20))
def test_parser_resyncs_after_garbage(bodies, garbage):
    frames = [bm13xx.make_response(b, 0) for b in bodies]
    stream = garbage.replace(b"\xaa", b"\x00") + b"".join(frames)
    got = []
    p = bm13xx.ResponseParser(11)
    p.feed(stream, len(stream), lambda fr, n: got.append(bytes(fr[:n])))
    assert got == frames


@given(st.binary(min_size=8, max_size=8), st.integers(2, 10), st.integers(0, 7))
def test_corrupted_response_is_dropped_and_counted(body, pos, bit):
    frame = bytearray(bm13xx.make_response(body, 0))
    frame[pos] ^= 1 << bit
    got = []
    p = bm13xx.ResponseParser(11)
    p.feed(frame, len(frame), lambda fr, n: got.append(1))
    assert got == [] and p.crc_errors + p.garbage >= 1


@pytest.mark.parametrize("mhz,wire", [
    (525, "55 AA 51 09 00 08 40 A8 02 30 03"),
    (600, "55 AA 51 09 00 08 50 C0 02 30 05"),
    (490, "55 AA 51 09 00 08 50 C4 02 40 06"),
    (56.25, "55 AA 51 09 00 08 40 BD 02 65 01"),
])
def test_pll_vectors(mhz, wire):
    s = pll.solve(mhz, 160, 239)
    buf = bytearray(11)
    n = bm13xx.write_reg(buf, 0, 0x08, pll.register_value(*s[:4]), True)
    assert bytes(buf[:n]) == bytes.fromhex(wire)
    assert pll.decode_register(pll.register_value(*s[:4])) == pytest.approx(mhz)


@given(st.floats(50, 800))
def test_pll_solution_is_valid_and_close(mhz):
    s = pll.solve(mhz, 160, 239)
    assert s is not None
    fb, ref, pd1, pd2, f = s
    assert 160 <= fb <= 239 and pd1 > pd2 >= 1 and ref in (1, 2)
    assert abs(f - mhz) <= 0.05 * mhz


def test_esp_miner_pll_vector_bm1397_450mhz():
    """ESP-Miner test_pll.c: 450 MHz -> fb_divider 72, refdiv 2, postdiv 2 and 1 (fb 60..200)."""
    assert pll.solve(450, 60, 200)[:4] == (72, 2, 2, 1)


@given(st.sampled_from(["read", "write", "addr", "inactive"]), st.integers(0, 255),
       st.integers(0, 255), st.integers(0, 0xFFFFFFFF), st.booleans())
def test_every_command_kind_roundtrips_through_the_decoder(kind, chip, reg, value, bcast):
    from hostlib.decode import decode

    spec = {"read": ("read", chip, reg, bcast), "write": ("write", chip, reg, value, bcast),
            "addr": ("addr", chip), "inactive": ("inactive",)}[kind]
    (rec,) = list(decode(encode(spec)))
    assert rec["kind"] == "command" and rec["crc_ok"]
    if kind == "addr":
        assert rec["cmd"] == "set_address" and rec["address"] == chip
    elif kind == "inactive":
        assert rec["cmd"] == "chain_inactive"
    else:
        assert rec["chip_addr"] == chip and rec["reg"] == f"0x{reg:02x}" and rec["broadcast"] == bcast
        if kind == "write":
            assert rec["value"] == f"0x{value:08x}"
