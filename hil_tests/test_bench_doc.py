"""docs/benchmarks.md is what `python -m tools.bench_all` renders from its stored figures (no
hand edits), and every figure carries its date, machine and load (the tools themselves run
outside the suite)."""

from __future__ import annotations

import json
import re

from tools import bench_all


def test_every_rendered_figure_names_its_date_machine_and_load():
    data = {"machines": {"m1": {"cores": 2, "cpu": "Test CPU", "system": "Linux x86_64", "python": "3.11"}},
            "sections": {key: [{"what": f"{key} figure", "figure": "1.5 s board", "date": "2026-01-02 03:04 UTC",
                                "load": [0.5, 1.25, 2.0], "machine": "m1"}] for key in bench_all.SECTIONS}}
    doc = bench_all.render(data)
    assert "| m1 | 2 | Test CPU | Linux x86_64 | 3.11 |" in doc
    rows = [line for line in doc.splitlines() if " figure | 1.5 s board |" in line]
    assert len(rows) == len(bench_all.SECTIONS)
    assert all(re.search(r"\| 2026-01-02 03:04 UTC \(m1, 0.5 / 1.25 / 2\) \|$", r) for r in rows)


def test_the_committed_document_is_the_rendering_of_the_committed_figures():
    data = json.loads(bench_all.DATA.read_text())
    assert set(data["sections"]) == set(bench_all.SECTIONS)
    assert bench_all.DOC.read_text() == bench_all.render(data)
