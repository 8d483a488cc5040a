"""The firmware compiles for both target MCUs and type-checks against their stubs."""

import pytest

from tools import build_mpy, typecheck


@pytest.mark.parametrize("arch", build_mpy.ARCHES)
def test_every_firmware_file_compiles_with_mpy_cross(arch, tmp_path):
    sizes = build_mpy.compile_all(arch, tmp_path)
    assert set(sizes) == {str(p.relative_to(build_mpy.FIRMWARE)) for p in build_mpy.sources()}
    assert all(n > 0 for n in sizes.values())


def test_mpy_cross_rejection_is_reported(tmp_path, monkeypatch):
    bad = tmp_path / "fw"
    bad.mkdir()
    (bad / "broken.py").write_text("def f(:\n")
    monkeypatch.setattr(build_mpy, "FIRMWARE", bad)
    with pytest.raises(RuntimeError, match="broken.py"):
        build_mpy.compile_all("armv6m", tmp_path / "out")


@pytest.mark.parametrize("port", ["esp32", "rp2"])
def test_firmware_type_checks_against_port_stubs(port):
    assert typecheck.check(port) == []


def test_only_hal_imports_machine():
    """In the app only hal.py touches machine; of the loader only bootsel, for the one reset
    that counts a failed trial boot (it must work when the app itself cannot import)."""
    offenders = []
    for src in build_mpy.sources():
        text = src.read_text()
        if "import machine" in text or "from machine" in text:
            offenders.append(src.name)
    assert sorted(offenders) == ["bootsel.py", "hal.py"]
