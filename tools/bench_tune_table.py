"""Markdown table for docs/benchmarks.md from `python -m tools.bench_tune --json` outputs, stamped
with the date, the machine (cores, CPU model) and its load average when the table is made.
Usage: python -m tools.bench_tune_table RUN.json [RUN.json ...]"""

from __future__ import annotations

import datetime
import json
import os
import platform
import sys
from pathlib import Path

from .bench_tune_report import module_rows

HEAD = ("| profile | cap W/module | | TH/s | W | J/TH | max err % | converged s | % of bound "
        "| vs single | vs stock | bound TH/s | single TH/s | stock TH/s |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def stamp() -> str:
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    return (f"{datetime.date.today().isoformat()}, {os.cpu_count()} cores, {cpu_model()}, "
            f"load average {load} (1/5/15 min) when the table was made")


def _n(v, fmt: str) -> str:
    return "–" if v is None else format(v, fmt)


def rows(run: dict) -> list[str]:
    out = []
    name = Path(run["profile"]).stem
    if run.get("firmware_error"):
        out.append(f"| {name} | {run['cap_w']:g} | board | firmware run failed: {run['firmware_error']} |")
    for label, row in module_rows(run).items():
        fw = row.get("firmware")
        r = row["ratios"]
        ys = {k: row.get(k) for k in ("bound", "single", "stock")}
        if fw is None:
            continue
        out.append(
            f"| {name} | {run['cap_w']:g} | {label} | {fw['ths']:.2f} | {fw['power_w']:.1f} | {fw['jth']:.2f} "
            f"| {100 * fw['max_err']:.2f} | {_n(row.get('converged_s'), '.0f')} "
            f"| {_n(r.get('of_bound_pct'), '.1f')} | {_n(r.get('vs_single_pct'), '+.1f')} "
            f"| {_n(r.get('vs_stock_pct'), '+.1f')} "
            + " ".join(f"| {_n(ys[k] and ys[k]['ths'], '.2f')}" for k in ys) + " |")
    return out


def main(argv: list[str] | None = None) -> int:
    files = argv if argv is not None else sys.argv[1:]
    print(f"Measured {stamp()}.\n")
    print(HEAD)
    for f in files:
        for run in json.loads(Path(f).read_text()):
            run["yardsticks"] = {int(k): v for k, v in run["yardsticks"].items()}
            if "firmware" in run:
                run["firmware"]["modules"] = {int(k): v for k, v in run["firmware"]["modules"].items()}
            print("\n".join(rows(run)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
