"""A slice of tools/fuzz.py on every suite run (the full 10^5 per target is the tool's, quoted in
docs/benchmarks.md), and every crash it found kept as a regression test."""

from __future__ import annotations

import json

import pytest

from hashboard import profile, ptable, repairlog
from tools import fuzz

SLICE = {"protocol": 1500, "auth": 3000, "frames": 3000, "decoder": 3000, "pmbus": 3000, "eeprom": 3000,
         "boards": 2000, "manifests": 300, "i2c": 2000}


@pytest.mark.parametrize("name", sorted(SLICE))
def test_a_slice_of_every_fuzz_target_finds_nothing(name, tmp_path):
    r = fuzz.fuzz(fuzz.targets(tmp_path)[name](), SLICE[name], seed=7)
    assert r["crashes"] == {} and r["hangs"] == [], r


def test_the_fuzzer_reports_a_crash_when_there_is_one(tmp_path):
    """It must be able to fail: a parser that raises on some inputs is caught, with the input."""
    def brittle(data: bytes) -> None:
        if len(data) > 3 and data[2] == 0x42:
            raise IndexError("boom")

    r = fuzz.fuzz(fuzz.Target("brittle", [b"\x00\x00\x41\x00"], brittle), 3000, seed=1)
    assert "IndexError: boom" in r["crashes"] and r["crashes"]["IndexError: boom"][2] == 0x42


# regressions: inputs tools/fuzz.py found (seed 1, 3000 per target)
def test_a_short_repair_log_image_holds_no_entries_instead_of_raising():
    assert repairlog.decode_all(bytes.fromhex("aadae5")) == []
    assert repairlog.decode_all(repairlog.encode(1, 2, 3, 4))[0][:4] == (1, 2, 3, 4)


@pytest.mark.parametrize("dec,magic", [(profile.decode, profile.MAGIC), (ptable.decode, ptable.MAGIC)])
def test_short_profile_records_are_refused_by_name(dec, magic):
    with pytest.raises(ValueError, match="short"):
        dec(bytes([magic, 1, 2]))


def test_a_signature_file_that_is_not_text_is_refused_by_the_loader(tmp_path):
    t = fuzz._manifests(tmp_path)
    slot = tmp_path / "apps" / "a"
    (slot / "manifest.json").write_text(json.dumps({"board": "modular-4x", "seq": 1, "files": {}}))
    (slot / "manifest.sig").write_bytes(b"\xba\x90\xb9")
    bootsel = t.module
    assert bootsel.admit("a", bootsel.load_state()) == "signature is not hex"


def test_a_board_definition_whose_expander_lost_its_address_is_refused_by_name():
    from hashboard import boardcfg
    from hostlib import boards

    cfg = json.loads(boards.path_of("modular-4x").read_text())
    cfg["expander"]["5addr"] = cfg["expander"].pop("addr")  # the input tools/fuzz.py found
    with pytest.raises(boardcfg.BoardError, match="expander.addr: missing"):
        boardcfg.validate(cfg)
