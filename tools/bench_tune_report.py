"""Text report of one tools/bench_tune.py run: per module and for the board, the firmware's
figures beside stock, the best single setting and the per-chip bound."""

from __future__ import annotations

from typing import TextIO

KINDS = ("firmware", "steady", "stock", "single", "bound")


def board_totals(figures: list[dict | None]) -> dict | None:
    """Sum of TH/s and W over modules, J/TH of the sums, the worst error and sensors."""
    if not figures or any(f is None for f in figures):
        return None
    ths = sum(f["ths"] for f in figures)  # type: ignore[index]
    watts = sum(f["power_w"] for f in figures)  # type: ignore[index]
    out = {"ths": ths, "power_w": watts, "jth": watts / ths if ths else float("inf"),
           "max_err": max(f["max_err"] for f in figures)}  # type: ignore[index]
    if all("outlet_c" in f for f in figures):  # type: ignore[operator]
        out["outlet_c"] = max(f["outlet_c"] for f in figures)  # type: ignore[index]
    return out


def ratios(fw: dict | None, ys: dict) -> dict:
    """The firmware's TH/s as a share of the bound and its gain over single and stock."""
    if fw is None:
        return {}
    out = {}
    if ys.get("bound") and ys["bound"]["ths"] > 0:
        out["of_bound_pct"] = 100.0 * fw["ths"] / ys["bound"]["ths"]
    for k in ("single", "stock"):  # stock in a hot room may have no thermal fixed point (0 TH/s)
        if ys.get(k) and ys[k]["ths"] > 0:
            out[f"vs_{k}_pct"] = 100.0 * (fw["ths"] / ys[k]["ths"] - 1)
    return out


def module_rows(run: dict) -> dict:
    """{label: {kind: figures}} for every module and the board."""
    fw = run.get("firmware", {}).get("modules", {})
    rows = {}
    for slot, ys in run["yardsticks"].items():
        row = dict(ys)
        if slot in fw:
            row["firmware"] = fw[slot]["firmware"]
            row["steady"] = fw[slot]["steady"]
            row["converged_s"] = fw[slot]["converged_s"]
            row["parked"] = fw[slot]["parked"]
            row["peak"] = fw[slot]["peak"]
        rows[f"module {slot}"] = row
    board = {k: board_totals([r.get(k) for r in rows.values()]) for k in KINDS}
    board["converged_s"] = run.get("firmware", {}).get("converged_s")
    rows["board"] = board
    for row in rows.values():
        row["ratios"] = ratios(row.get("firmware"), row)
    return rows


def _fmt(f: dict) -> str:
    s = f"{f['ths']:7.2f} TH/s {f['power_w']:7.1f} W {f['jth']:6.2f} J/TH  err {100 * f['max_err']:5.2f} %"
    if "outlet_c" in f:
        s += f"  outlet {f['outlet_c']:5.1f} °C"
    return s


def print_run(run: dict, out: TextIO) -> None:
    print(f"\n== cap {run['cap_w']:g} W per module · profile {run['profile']} · seed {run['seed']} · "
          f"ambient {run['ambient_c']:g} °C · airflow {run['airflow']:g} · lane {run['lane']}", file=out)
    fw = run.get("firmware")
    if run.get("firmware_error"):
        print(f"   firmware run failed: {run['firmware_error']}", file=out)
    if fw is not None:
        conv = "not converged" if fw["converged_s"] is None else f"converged after {fw['converged_s']:.0f} board s"
        print(f"   board: {conv}; ran {fw['board_s']:.0f} board s", file=out)
    for label, row in module_rows(run).items():
        print(f"  {label}", file=out)
        for kind in KINDS:
            f = row.get(kind)
            if f is not None:
                extra = ""
                if kind == "firmware" and row.get("converged_s") is not None:
                    extra = f"  converged {row['converged_s']:.0f} s"
                if kind == "firmware" and row.get("parked"):
                    extra += f"  {row['parked']} parked"
                if kind == "firmware" and row.get("peak"):
                    p = row["peak"]
                    extra += f"  (peaks: {p['power_w']:.1f} W, outlet {p['outlet_c']:.1f} °C)"
                print(f"    {kind:9s}{_fmt(f)}{extra}", file=out)
        r = row["ratios"]
        if r:
            print(f"    => {r.get('of_bound_pct', float('nan')):.1f} % of bound, "
                  f"{r.get('vs_single_pct', float('nan')):+.1f} % vs single, "
                  f"{r.get('vs_stock_pct', float('nan')):+.1f} % vs stock", file=out)
    if fw is not None and fw.get("swap"):
        print(f"   re-seated module back at its tuned settings after: {fw['swap']}", file=out)
