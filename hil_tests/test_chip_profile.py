"""Chip profile files (chip-model.md) parameterise the emulated silicon; bad ones are refused."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from hostlib.sim.virtual import _load_profile

BIN = Path(sys.executable).parent


def test_profile_sets_chip_silicon_and_the_firmware_sees_it(fast, tmp_path):
    prof = {"chip": "BM1370", "modules": {"1": {"chips": [{}, {}, {"F": 480.0}]}}}
    fb = fast(chip_profile=prof)
    assert fb.sim.modules[1].model.chips[2].F == 480.0
    fb.run_for(15000)
    st = fb.status()
    assert st["chains"][1]["fault"] == {"chip": 2, "cause": "unstable"}  # a slow bin at 525 MHz
    assert st["chains"][0]["fault"] is None


def test_profile_file_loads_and_bad_file_is_named(tmp_path):
    good = tmp_path / "p.json"
    good.write_text(json.dumps({"chip": "BM1370", "constants": {"W": 5.0}}))
    assert _load_profile(str(good))["constants"]["W"] == 5.0
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    r = subprocess.run([str(BIN / "hbctl"), "sim", "--chip-profile", str(bad)], capture_output=True, text=True)
    assert r.returncode != 0 and "chip profile" in r.stderr and "Traceback" not in r.stderr
    with pytest.raises(ValueError, match="chip profile"):
        _load_profile(str(tmp_path / "missing.json"))
