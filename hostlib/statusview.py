"""The status document as a text table: `hbctl status` prints it, `hbctl demo` redraws it."""

from __future__ import annotations


def fmt(v, spec: str, none: str = "-") -> str:
    return none if v is None else format(v, spec)


def _settings(st: dict) -> str:
    """The host's settings in force, in words: power target, curtailment, heartbeat contract."""
    p, hb = st.get("power") or {}, st.get("heartbeat") or {}
    out = []
    if p.get("curtailed"):
        out.append(f"curtailed to {p.get('curtail_level')} %")
    if p.get("target_w") is not None:
        out.append(f"power target {p['target_w']:g} W" + (" (after resume)" if p.get("curtailed") else ""))
    if hb.get("armed"):
        out.append(f"heartbeat {hb['armed']['policy']} after {hb['armed']['timeout_s']:g} s"
                   + (f" (lost: {hb.get('applied')} applied)" if hb.get("lost") else ""))
    return "settings: " + "; ".join(out) if out else ""


def status_lines(st: dict) -> list[str]:
    lines = [f"{st['board']}  state {st['state']}  power {st['power_w']:.1f} W  "
             f"runtime {st['runtime']['name']} {st['runtime']['version']}  fw {st['firmware']['version']}",
             f"{'slot':>4} {'state':<13} {'serial':<12} {'chips':>7} {'vout':>6} {'iout':>6} {'temp':>6} {'TH/s':>7}  fault"]
    settings = _settings(st)
    if settings:
        lines.insert(1, settings)
    regs = {r["module"]: r for r in st["regulators"]}
    chains = {c["module"]: c for c in st["chains"]}
    for m in st["modules"]:
        s = m["slot"]
        c, r = chains[s], regs[s]
        fault = c["fault"]
        ftxt = f"chip {fault['chip']} {fault['cause']}" if fault else ""
        if r["faults"]:
            ftxt = (ftxt + " vrm " + ",".join(r["faults"])).strip()
        if m.get("cause") and not ftxt:
            ftxt = m["cause"]
        lines.append(f"{s:>4} {m['state']:<13} {m['serial'] or '-':<12} {c['found']:>3}/{c['expected']:<3} "
                     f"{r['vout']:>6.3f} {r['iout']:>6.1f} {fmt(m.get('temp_c'), '6.1f'):>6} "
                     f"{(m.get('ghs') or 0) / 1000:>7.2f}  {ftxt}")
    # a sensor of an empty slot is not unreadable: it left with its module (the table says empty)
    lines += [f"sensor {t['name']}: {t.get('error') or 'unreadable'}" for t in st["temps"]
              if not t["ok"] and t.get("error") != "empty"]
    return lines
