"""The diag report (hbctl diag --report): one self-contained HTML file, rendered in a real headless
Chromium. Hand-made documents here; the report of a real diag run (a fault injected on the
real interpreter) is checked in test_diag.py::test_hbctl_diag_on_the_real_interpreter."""

from __future__ import annotations

import re

import browser

from hashboard import refs
from hashboard.diagcodes import finding
from hostlib import boards, diag_report

CFG = boards.load("modular-4x")


def chips(bad=(), grades=None):
    out = []
    for i in range(24):
        x, y, d = refs.chip_pos(CFG, i)
        out.append({"index": i, "ref": refs.chip_ref(CFG, i), "domain": d, "x_mm": x, "y_mm": y,
                    "grade_mhz": None if grades is None else grades[i], "ok": i not in bad})
    return out


def doc(findings, bad=(), grades=None, verdict="fail"):
    return {"board": "modular-4x", "passes": 1, "modules": [
        {"module": 2, "serial": "HB-0042", "verdict": verdict, "board_s": 40.2, "findings": findings,
         "stages": [{"name": "identity", "result": "pass", "board_s": 0.0, "evidence": "copy A ok"}],
         "chips": chips(bad, grades), "bad_chips": list(bad)}]}


def write(tmp_path, d, history=None):
    page = tmp_path / "report.html"
    page.write_text(diag_report.render(d, CFG, {2: history}))
    return page


def test_a_regulator_fault_marks_the_regulator_and_no_chip(tmp_path):
    f = finding("vrm_oc", 2, "module fault (vrm:oc)", ref="U30")
    dom, console = browser.render(write(tmp_path, doc([f]), [{"seq": 1, "date": "2026-11-20",
                                                              "action": "replaced regulator", "chip": None}]))
    assert browser.failing_refs(dom) == ["U30"]
    assert console == []
    assert 'data-verdict="fail"' in dom and "replaced regulator" in dom and "HB-0042" in dom
    assert len(re.findall(r'<g data-ref="U\d+" data-chip=', dom)) == 24  # every chip drawn


def test_board_text_is_escaped_and_a_module_without_grades_renders(tmp_path):
    evil = '<script>console.error("pwned")</script><img src=x onerror=alert(1)>'
    f = finding("crc_errors", 2, evil, chip=13, domain=2, ref="U14", prev="U13")
    page = write(tmp_path, doc([f], bad=(13,)))
    html = page.read_text()
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "http" not in html.replace("http://www.w3.org/2000/svg", "")  # no external asset
    dom, console = browser.render(page)
    assert browser.failing_refs(dom) == ["U14"] and console == []


def test_grades_shade_the_chips_and_a_pass_marks_nothing(tmp_path):
    grades = [625.0] * 24
    grades[5] = 537.5
    dom, console = browser.render(write(tmp_path, doc([], grades=grades, verdict="pass"), []))
    assert browser.failing_refs(dom) == [] and console == []
    assert 'data-verdict="pass"' in dom and "grade 537.5 MHz" in dom


def test_the_console_check_can_fail(tmp_path):
    """The browser helper really sees a page's console errors (else the checks above prove nothing)."""
    page = tmp_path / "broken.html"
    page.write_text("<!DOCTYPE html><html><body><script>console.error('boom'); undefinedThing();</script>"
                    "</body></html>")
    dom, console = browser.render(page)
    assert console, "a page that logs errors showed none"
