"""Regenerate docs/benchmarks.md from the benchmark tools, every figure stamped with the date and
the machine it came from (cores, CPU model, load average when its measurement started).

The measured figures are kept in docs/benchmarks.json; `--only SECTION` measures one section
again and keeps the others' figures (each with its own stamp), then renders the document.
Not a test: the suite only checks that a document renders from given figures.
Usage: python -m tools.bench_all [--only virtual chain safety hotswap diag deploy] [--render-only]"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "benchmarks.md"
DATA = REPO / "docs" / "benchmarks.json"


# ---------------------------------------------------------------------------- stamps
def machine() -> dict:
    cpu = ""
    try:
        cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                    if line.startswith("model name")), "")
    except OSError:
        pass
    return {"cores": os.cpu_count(), "cpu": cpu or platform.processor() or platform.machine(),
            "system": f"{platform.system()} {platform.machine()}", "python": platform.python_version()}


def stamp() -> dict:
    """When a measurement starts: UTC date and time, and the load average then."""
    return {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "load": [round(x, 2) for x in os.getloadavg()]}


class Section:
    """Figures of one tool: measure(what, fn, fmt) runs fn, stamps it, formats its result."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.rows: list[dict] = []

    def measure(self, what: str, fn: Callable, fmt: Callable[..., str]) -> object:
        st = stamp()
        value = fn()
        self.rows.append({"what": what, "figure": fmt(value), **st})
        print(f"  {what}: {self.rows[-1]['figure']}", flush=True)
        return value


# ---------------------------------------------------------------------------- sections
def virtual(sec: Section) -> None:
    import tempfile

    from tools import bench_virtual as bv
    from tools import build_mpy

    for speed in (1.0, 10.0):
        sec.measure(f"`hbctl sim --speed {speed:g}` start → first stdout line (controller ready)",
                    lambda speed=speed: [bv.hbctl_sim_ready(speed) for _ in range(3)],
                    lambda ts: f"{statistics.median(ts):.2f} s wall (median of 3; {min(ts):.2f}–{max(ts):.2f})")
    rows = sec.measure("live heap high-water (after collection), modular-4x, firmware heap 256k (app code in ROMFS), ×10",
                       lambda: [bv.boot_once(10.0) for _ in range(2)],
                       lambda rs: f"{max(r[2] for r in rs):,} B of {rs[0][3]:,}".replace(",", " "))
    sec.rows[-1]["figure"] += f"; start → ready {statistics.median(r[0] for r in rows):.2f} s wall"
    sec.measure("4 boards ×10 in one process, each started once the previous is ready: wall time to ready / "
                "effective speed once all run", lambda: bv.many_in_one_process(4, 10.0),
                lambda r: " / ".join(f"{t:.1f}" for t in r[0]) + " s; " + ", ".join(f"×{e:.1f}" for e in r[1]))
    for arch in build_mpy.ARCHES:
        sec.measure(f"`.mpy` total, {arch} (`-O2 -s`)",
                    lambda arch=arch: build_mpy.compile_all(arch, Path(tempfile.mkdtemp())),
                    lambda sizes: f"{sum(sizes.values()) / 1024:.1f} KB in {len(sizes)} files")


def chain(sec: Section) -> None:
    from tools import bench_chain as bc

    sec.measure("bring-up modular-4x, power-on → 96 chips at 525 MHz, fast lane", bc.bringup_fast,
                lambda s: f"{s:.2f} s board")
    for speed in (1.0, 10.0):
        sec.measure(f"bring-up on the unix port ×{speed:g}: power-on → every module hashing / longest frequency ramp",
                    lambda speed=speed: bc.bringup_and_ramp_virtual(speed),
                    lambda r: f"{r[0]:.2f} s board / {r[1]:.2f} s board")
    sec.measure("telemetry sweep, one 24-chip chain", bc.sweep_bytes,
                lambda r: f"{r[0]} B out + {r[1]} B in = {r[0] + r[1]} B; protocol minimum {r[2]} B "
                          f"(ratio {(r[0] + r[1]) / r[2]:.2f})")
    sec.measure("firmware time per decoded response frame (unix port)", bc.per_frame_us, lambda us: f"{us:.1f} µs")


def safety(sec: Section) -> None:
    from tools import bench_safety as bs

    sec.measure("reaction, first reading over dangerous (airflow loss) → first power-reducing action",
                lambda: bs.reaction("airflow:0.05", "dangerous_c"), lambda ms: f"{ms:.0f} ms board")
    sec.measure("reaction, first reading over hot (ambient 45 °C) → first throttle step",
                lambda: bs.reaction("ambient:45", "hot_c"), lambda ms: f"{ms:.0f} ms board")
    sec.measure("control periods powered above dangerous, worst of airflow loss, ambient 70 °C, stuck "
                "sensor, VRM OT, VRM OC", bs.periods_above_dangerous, str)
    cr = sec.measure("curtail (level 0) to ≤ 5 % of full power", bs.curtail_resume, lambda r: f"{r[0]:.0f} ms board")
    sec.rows.append({**sec.rows[-1], "what": "resume to within 3 % of the prior power (full re-bring-up)",
                     "figure": f"{cr[1]:.0f} ms board"})  # type: ignore[index]
    sec.measure("power target 900 W: settling (within 3 % for 3 s) / steady error", bs.power_target,
                lambda r: f"{r[0]:.0f} ms board / {r[1] * 100:.2f} %")


def hotswap(sec: Section) -> None:
    sys.path.insert(0, str(REPO / "hil_tests"))
    import hotswap_scenarios as S  # noqa: E402

    from tools import bench_hotswap as bh

    fast = S.FastLane()
    sec.measure("fast lane: insertion → hashing at the stored per-chip profile (4 swaps)",
                lambda: S.swap_all_in_turn(fast), lambda ts: f"{min(ts):.0f}–{max(ts):.0f} ms board")
    sec.measure("fast lane: presence loss → regulator enable low, module hashing",
                lambda: max(bh.presence_loss_to_off(fast, s, False) for s in range(4)), lambda ms: f"≤ {ms:.0f} ms board")
    sec.measure("fast lane: presence loss → regulator enable low, yank mid-ramp",
                lambda: max(bh.presence_loss_to_off(fast, s, True) for s in range(4)), lambda ms: f"≤ {ms:.0f} ms board")
    sec.measure("fast lane: neighbours' hashrate during a swap, worst deviation vs their own spread",
                lambda: bh.neighbour_dip(fast, 2), lambda r: f"{r[0]:.2f} % vs {r[1]:.2f} %")
    vl = S.VirtualLane(speed=5.0)
    try:
        sec.measure("unix port ×5: insertion → hashing at the stored profile (4 swaps, polled over the link)",
                    lambda: S.swap_all_in_turn(vl), lambda ts: f"{min(ts):.0f}–{max(ts):.0f} ms board")
        sec.measure("unix port ×5: neighbours' hashrate during a swap, worst deviation vs their own spread",
                    lambda: bh.neighbour_dip(vl, 1), lambda r: f"{r[0]:.2f} % vs {r[1]:.2f} %")
    finally:
        vl.close()


def deploy(sec: Section) -> None:
    from tools import bench_deploy as bd

    m = sec.measure("app: files (.mpy + board.json)", bd.measure, lambda m: f"{m['files']} files, {m['kb']:.1f} KB")
    st = {k: sec.rows[-1][k] for k in ("date", "load")}  # one run measured all of these
    for what, figure in (
            ("`mpremote cp -r` of the same files (copy only, incl. mpremote start)",
             f"{m['cp_s']:.2f} s, {m['kb'] / m['cp_s']:.1f} KB/s"),
            ("`hbctl flash`, full (survey, send, on-board SHA-256 of every file, manifest, commit)",
             f"{m['full_s']:.2f} s, {m['full_bytes'] / 1024 / m['full_s']:.1f} KB/s"),
            ("`hbctl flash --force` (every file sent again)", f"{m['force_s']:.2f} s, {m['force_bytes'] / 1024:.1f} KB sent"),
            ("`hbctl flash`, one file changed", f"{m['one_s']:.2f} s; sent {', '.join(m['one_sent'])} "
                                                f"({m['one_bytes']} B), {m['one_copied']} files copied on the board")):
        sec.rows.append({"what": what, "figure": figure, **st})


def diag(sec: Section) -> None:
    from tools import diag_campaign as dc

    r = sec.measure("fault campaign: every fault kind, 3 seeded random positions each, `diag` on the module "
                    "(fast lane); exact = right cause and component first",
                    lambda: dc.campaign(3, 50, 3), lambda r: f"{sum(r['exact'].values())}/{sum(r['total'].values())} exact")
    st = {k: sec.rows[-1][k] for k in ("date", "load")}  # one run measured all of these
    for cause in sorted(r["matrix"]):  # type: ignore[index]
        row = r["matrix"][cause]  # type: ignore[index]
        got = ", ".join(f"{k} ×{n}" for k, n in sorted(row.items()))
        sec.rows.append({"what": f"injected `{cause}` → first failing finding", "figure":
                         f"{got} ({r['exact'][cause]}/{r['total'][cause]} exact)", **st})  # type: ignore[index]
    sec.rows.append({"what": "healthy seeded modules (50) failed / with a minor finding",
                     "figure": f"{r['healthy_fail']} / {r['healthy_minor']}", **st})  # type: ignore[index]
    for what, key in (("healthy", "healthy_s"), ("faulty", "faulty_s")):
        ts = r[key]  # type: ignore[index]
        sec.rows.append({"what": f"board time of a {what} 24-chip module's diag (median / max)",
                         "figure": f"{statistics.median(ts):.1f} / {max(ts):.1f} s board", **st})
    for miss in r["misses"]:  # type: ignore[index]
        sec.rows.append({"what": "miss", "figure": miss, **st})
    sec.measure("`--passes 2` on a healthy module (median of 4)",
                lambda: [dc.run_diag(_booted(dc, s), s % 4, 2)["board_s"] for s in range(4)],
                lambda ts: f"{statistics.median(ts):.1f} s board (max {max(ts):.1f})")


def _booted(dc, seed: int):
    fb = dc.FastBoard(dc.BOARD, seed=90_000 + seed)
    fb.run_for(3000)
    return fb


SECTIONS: dict[str, tuple[str, str, Callable[[Section], None]]] = {
    "virtual": ("Virtual board", "`tools/bench_virtual.py`: wall time of `hbctl sim` to its first line, heap, "
                "compiled size. Wall figures depend on the host's load; board-time figures do not.", virtual),
    "chain": ("Chain control", "`tools/bench_chain.py`: bring-up and ramp in board time (the firmware's own "
              "events), bytes on the wire, decode cost.", chain),
    "safety": ("Power and thermal", "`tools/bench_safety.py`, fast lane, board time.", safety),
    "hotswap": ("Hot-swap", "`tools/bench_hotswap.py`: fast lane board time, and the real MicroPython unix "
                "port at ×5 polled over the link.", hotswap),
    "diag": ("Diagnostics (issue 14)", "`tools/diag_campaign.py`: faults injected at seeded random modules and "
             "positions, `diag` run by the firmware on the fast lane (CPython, simulated time); board time. "
             "Cooling faults run 300 board s first (a sink shows its resistance only at steady state).", diag),
    "deploy": ("Deploy", "`tools/bench_deploy.py`: one virtual board at ×1 behind a pty, wall clock; the pty "
               "is not throttled to a UART's baud rate, so these compare the tools, not a real link.", deploy),
}

NOTES = """## Reading these figures

- Board time is the virtual MCU's own clock (docs/emulator.md, "Board time"): the same firmware
  lives the same board time on any host, so board-time figures compare across machines. Wall
  figures (`sim` start, deploy) grow with the host's load: each row says the load average when it
  started.
- The unix port is 64-bit: every object is twice its size on a 32-bit MCU, so heap figures are
  pessimistic for RP2040 / ESP32-S3.
- Bring-up is dominated by the frequency ramp: from `freq_mhz.min` to the default in
  `freq_mhz.step` steps, at most one per `settle_ms` (modular-4x: {ramp_steps} steps × {settle} ms
  = {ramp_s:.1f} s at the least); the measured ramp is in "Chain control". Identification, soft
  start, reset and enumeration come before it.
"""


# ---------------------------------------------------------------------------- document
def render(data: dict) -> str:
    """docs/benchmarks.md from the stored figures: each row with its date, machine and load."""
    from hostlib import boards

    f = boards.load("modular-4x")["limits"]["freq_mhz"]
    steps = round((f["default"] - f["min"]) / f["step"])
    machines = data["machines"]
    out = ["# Benchmarks", "",
           "Generated by `python -m tools.bench_all` from the benchmark tools in `tools/` (figures kept in",
           "`docs/benchmarks.json`); do not edit by hand. Each figure carries the date it was measured, the",
           "machine (below) and the load average (1, 5, 15 min) when its measurement started.", "",
           "| machine | cores | CPU | system | Python |", "|---|---|---|---|---|"]
    out += [f"| {mid} | {m['cores']} | {m['cpu']} | {m['system']} | {m['python']} |" for mid, m in sorted(machines.items())]
    for key, (title, intro, _) in SECTIONS.items():
        sec = data["sections"].get(key)
        if not sec:
            continue
        out += ["", f"## {title}", "", intro, "", "| what | figure | measured (machine, load avg) |", "|---|---|---|"]
        out += [f"| {r['what']} | {r['figure']} | {r['date']} ({r['machine']}, {' / '.join(f'{x:g}' for x in r['load'])}) |"
                for r in sec]
    out += ["", NOTES.format(ramp_steps=steps, settle=f["settle_ms"], ramp_s=steps * f["settle_ms"] / 1000).rstrip()]
    return "\n".join(out) + "\n" + _kept_tail()


TAIL = "## Tuner (issue 13)"  # written by tools/bench_tune_table (its own long runs), kept as is


def _kept_tail() -> str:
    old = DOC.read_text() if DOC.exists() else ""
    i = old.find(TAIL)
    return "" if i < 0 else "\n" + old[i:].rstrip("\n") + "\n"


def machine_id(machines: dict, m: dict) -> str:
    for mid, known in machines.items():
        if known == m:
            return mid
    mid = f"m{len(machines) + 1}"
    machines[mid] = m
    return mid


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m tools.bench_all")
    ap.add_argument("--only", nargs="+", choices=list(SECTIONS), help="measure these sections again, keep the rest")
    ap.add_argument("--render-only", action="store_true", help="render docs/benchmarks.md from benchmarks.json")
    a = ap.parse_args(argv)
    data = json.loads(DATA.read_text()) if DATA.exists() else {"machines": {}, "sections": {}}
    if not a.render_only:
        mid = machine_id(data["machines"], machine())
        for key in a.only or list(SECTIONS):
            print(f"{key}:", flush=True)
            t0 = time.monotonic()
            sec = Section(key)
            SECTIONS[key][2](sec)
            data["sections"][key] = [{**r, "machine": mid} for r in sec.rows]
            print(f"  ({time.monotonic() - t0:.0f} s)", flush=True)
            DATA.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")  # a later failure keeps this
    DOC.write_text(render(data))
    print(f"wrote {DOC.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
