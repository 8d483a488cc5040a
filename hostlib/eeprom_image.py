"""Whole images of a module EEPROM (docs/eeprom.md): identity, tuned profile, repair log and,
on a 24C64-class part, the profile table, built with the firmware's own codecs. Used by
provisioning, the simulator and tests."""

from __future__ import annotations

from hashboard import eepart, identity, profile, ptable, repairlog

SIZE = 256  # the 24C02 layout every part shares


def module_image(serial: str, *, model: str = "HBM-1370-24", chip_id: int = 0x1370, chips: int = 24,
                 domains: int = 4, date: tuple[int, int, int] = (26, 11, 1), grade: int = 1,
                 vout_mv: int = 4600, freq_mhz: int = 525,
                 profile_freqs: list[float] | None = None, profile_vout_mv: int | None = None,
                 repairs: list[tuple[int, int, int]] = (), cal: tuple[int, int, int] = (0, 0, 0),
                 part: str = "24c02", table: list[dict] = (), vout_max_mv: int = 0) -> bytes:
    """A module image: identity in copy A, optionally a profile in copy A and repair entries
    (days, code, arg) in order; on a part with room, profile-table entries (dicts with mode
    1..3, goal, freqs, vout_mv and optional ths, power_w), each in its copy A; everything else
    blank (0xFF) as a new part."""
    size = eepart.PARTS[part][0]
    img = bytearray(b"\xff" * size)
    rec = identity.encode(model, serial, chip_id, chips, domains, date, grade, vout_mv, freq_mhz, seq=1, cal=cal,
                          vout_max_mv=vout_max_mv)
    img[identity.SLOTS[0]: identity.SLOTS[0] + len(rec)] = rec
    if profile_freqs is not None:
        p = profile.encode(profile_freqs, profile_vout_mv or vout_mv, seq=1)
        img[profile.SLOTS[0]: profile.SLOTS[0] + len(p)] = p
    for i, (days, code, arg) in enumerate(repairs):
        o = repairlog.BASE + (i % repairlog.ENTRIES) * repairlog.ENTRY
        img[o: o + repairlog.ENTRY] = repairlog.encode(i + 1, days, code, arg)
    if table and size <= ptable.BASE:
        raise ValueError(f"a {part} has no room for a profile table")
    for k, e in enumerate(table):
        rec = ptable.encode(e["mode"], e["goal"], e["freqs"], e["vout_mv"], e.get("ths", 0.0),
                            e.get("power_w", 0.0), seq=k + 1)
        base = ptable.slots(k)[0]
        img[base: base + len(rec)] = rec
    return bytes(img)
