"""The diag report (docs/diagnostics.md, "Report"): one self-contained HTML file a technician can
open, print or attach to a ticket. No network and no external assets: inline CSS and SVG, no
script. Each module is drawn as its PCB (chips at the board definition's positions, outlined by
voltage domain, coloured by health and grade; the regulator, EEPROM, sensors and connector in a
row below), with the failing parts marked; then its findings, stage timings, identity and repair
history. Every drawn part carries `data-ref` (its designator) and a failing one
`data-failing="true"`, so a test can ask the browser which part is marked."""

from __future__ import annotations

import datetime
from html import escape

from hashboard import refs
from hashboard.diagcodes import FAILING

CHIP_W, CHIP_H = 14.0, 14.0  # mm, drawn size of a chip package
PART_W, PART_H = 16.0, 9.0  # mm, the non-chip parts' boxes
SCALE = 4.0  # px per mm

CSS = """
body{font-family:system-ui,sans-serif;margin:24px;color:#222}
h1{margin:0 0 4px}h2{margin:28px 0 6px;border-bottom:1px solid #ccc}
.verdict{display:inline-block;padding:4px 14px;border-radius:4px;color:#fff;font-weight:bold;font-size:28px}
.pass{background:#2e7d32}.fail{background:#c62828}.other{background:#757575}
table{border-collapse:collapse;margin:6px 0 12px;font-size:13px}
td,th{border:1px solid #bbb;padding:3px 7px;text-align:left;vertical-align:top}
tr.root td{background:#ffebee;font-weight:bold}
.meta td{border:none;padding:1px 10px 1px 0}
svg text{font-size:10px;font-family:monospace}
.legend span{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px;vertical-align:middle}
@media print{body{margin:8mm}.module{page-break-after:always}}
"""


def _grade_fill(grade: float | None, median: float | None) -> str:
    """Healthy chips shaded by grade against the module's median: the lower, the warmer."""
    if grade is None or not median:
        return "#e0e0e0"
    r = max(0.0, min(1.0, (median - grade) / (0.15 * median)))  # 0 at the median, 1 at -15 %
    g = int(200 - 90 * r)
    return f"rgb({int(120 + 120 * r)},{g},{int(120 - 60 * r)})"


def _svg(m: dict, cfg: dict) -> str:
    chips = m.get("chips", [])
    failing_chips = {f["chip"] for f in m["findings"] if f["chip"] is not None and f["severity"] in FAILING}
    failing_refs = {f["ref"] for f in m["findings"] if f["ref"] and f["severity"] in FAILING}
    # a finding on a whole series domain (its balance): the domain is the marked part
    failing_domains = {f["domain"] for f in m["findings"] if f["chip"] is None and f["domain"] is not None
                       and f["severity"] in FAILING}
    grades = [c["grade_mhz"] for c in chips if c.get("grade_mhz") is not None]
    median = sorted(grades)[len(grades) // 2] if grades else None
    xs = [c.get("x_mm", 0.0) for c in chips] or [0.0]
    ys = [c.get("y_mm", 0.0) for c in chips] or [0.0]
    width = max(xs) + CHIP_W + 12
    parts_y = max(ys) + CHIP_H + 12
    height = parts_y + PART_H + 14
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width * SCALE:.0f}" height="{height * SCALE:.0f}" '
           f'viewBox="0 0 {width:.1f} {height:.1f}" role="img" aria-label="module {m["module"]} PCB">',
           f'<rect x="0.5" y="0.5" width="{width - 1:.1f}" height="{height - 1:.1f}" fill="#f1f8e9" stroke="#558b2f"/>']
    domains: dict[int, list[dict]] = {}
    for c in chips:
        domains.setdefault(c.get("domain") or 0, []).append(c)
    for d, group in sorted(domains.items()):  # each series voltage domain outlined
        gx = min(c.get("x_mm", 0.0) for c in group) - 3
        gy = min(c.get("y_mm", 0.0) for c in group) - 3
        gw = max(c.get("x_mm", 0.0) for c in group) + CHIP_W + 3 - gx
        gh = max(c.get("y_mm", 0.0) for c in group) + CHIP_H + 3 - gy
        bad = d in failing_domains
        dref = refs.domain_refs(cfg, d)
        out.append(f'<g data-ref="{escape(dref)}" data-domain="{d}"' + (' data-failing="true"' if bad else "")
                   + f'><title>domain {d}: {escape(dref)}</title>'
                   f'<rect x="{gx:.1f}" y="{gy:.1f}" width="{gw:.1f}" height="{gh:.1f}" '
                   + ('fill="#ffcdd2" stroke="#b71c1c" stroke-width="1.2"' if bad else
                      'fill="none" stroke="#1565c0" stroke-dasharray="2 1" stroke-width="0.4"')
                   + f'/><text x="{gx + 0.5:.1f}" y="{gy - 0.6:.1f}" style="font-size:2.6px">domain {d}'
                   + (" ✖" if bad else "") + "</text></g>")
    for c in chips:
        ref = c.get("ref") or str(c["index"])
        bad = c["index"] in failing_chips or not c.get("ok", True)
        fill = "#ef5350" if bad else _grade_fill(c.get("grade_mhz"), median)
        stroke = 'stroke="#b71c1c" stroke-width="1.2"' if bad else 'stroke="#424242" stroke-width="0.3"'
        grade = c.get("grade_mhz")
        tip = f"{ref} chip {c['index']}, domain {c.get('domain')}" + (f", grade {grade:.1f} MHz" if grade else "")
        x, y = c.get("x_mm", 0.0), c.get("y_mm", 0.0)
        out.append(f'<g data-ref="{escape(ref)}" data-chip="{c["index"]}"' + (' data-failing="true"' if bad else "")
                   + f'><title>{escape(tip)}</title><rect x="{x:.1f}" y="{y:.1f}" width="{CHIP_W}" height="{CHIP_H}" '
                   f'rx="1" fill="{fill}" {stroke}/><text x="{x + 1.2:.1f}" y="{y + 5:.1f}" style="font-size:3.4px">'
                   f'{escape(ref)}</text>' + (f'<text x="{x + 1.2:.1f}" y="{y + 10.5:.1f}" style="font-size:2.8px">'
                                              f'{grade:.0f}</text>' if grade else "")
                   + (f'<text x="{x + CHIP_W - 4:.1f}" y="{y + 5:.1f}" style="font-size:5px" fill="#fff">✖</text>'
                      if bad else "") + "</g>")
    x = 6.0
    for label, ref in _parts(cfg):
        bad = ref in failing_refs
        out.append(f'<g data-ref="{escape(ref)}"' + (' data-failing="true"' if bad else "")
                   + f'><title>{escape(label)}</title><rect x="{x:.1f}" y="{parts_y:.1f}" width="{PART_W}" '
                   f'height="{PART_H}" rx="1" fill="{"#ef5350" if bad else "#cfd8dc"}" '
                   + ('stroke="#b71c1c" stroke-width="1.2"' if bad else 'stroke="#424242" stroke-width="0.3"')
                   + f'/><text x="{x + 1:.1f}" y="{parts_y + 4:.1f}" style="font-size:3.2px">{escape(ref)}</text>'
                   f'<text x="{x + 1:.1f}" y="{parts_y + 7.6:.1f}" style="font-size:2.4px">{escape(label[:12])}</text></g>')
        x += PART_W + 3
    out.append("</svg>")
    return "".join(out)


def _parts(cfg: dict) -> list[tuple[str, str]]:
    """The module's parts other than chips, as the board definition names them."""
    out = []
    for part, label in (("vrm", "regulator"), ("eeprom", "identity EEPROM"), ("connector", "connector")):
        ref = refs.part_ref(cfg, part)
        if ref:
            out.append((label, ref))
    names = [s["name"] for s in cfg["slots"][0].get("sensors", [])]
    for k, ref in enumerate(cfg["module"].get("refs", {}).get("sensors", [])):
        out.append((names[k].split(".")[-1] if k < len(names) else "sensor", ref))
    return out


def _module(m: dict, cfg: dict | None, history: list[dict] | None) -> str:
    verdict = m["verdict"]
    cls = verdict if verdict in ("pass", "fail") else "other"
    root = next((f for f in m["findings"] if f["severity"] in FAILING), None)
    out = [f'<section class="module" id="module-{m["module"]}"><h2>Module {m["module"]}</h2>',
           f'<span class="verdict {cls}" data-verdict="{escape(verdict)}">{escape(verdict.upper())}</span>',
           '<table class="meta">',
           f'<tr><td>serial</td><td>{escape(str(m.get("serial") or "none"))}</td></tr>',
           f'<tr><td>board time</td><td>{m["board_s"]:.1f} s</td></tr>']
    if root is not None:
        out.append(f'<tr><td>replace / repair</td><td><b>{escape(root["action"])}</b></td></tr>')
    if m.get("error"):
        out.append(f'<tr><td>not tested</td><td>{escape(m["error"])}</td></tr>')
    out.append("</table>")
    if cfg is not None and m.get("chips"):
        out += ["<h3>Board map</h3>", _svg(m, cfg),
                '<div class="legend"><span style="background:#ef5350"></span>failing'
                '<span style="background:rgb(120,200,120)"></span>grade at the median'
                '<span style="background:rgb(240,110,60)"></span>grade 15 % below'
                '<span style="background:#e0e0e0"></span>not graded</div>']
    out.append("<h3>Findings</h3>")
    if m["findings"]:
        out.append("<table><tr><th></th><th>code</th><th>severity</th><th>cause</th><th>part</th><th>domain</th>"
                   "<th>chip</th><th>action</th><th>evidence</th></tr>")
        for f in m["findings"]:
            lead = "root cause" if f is root else ("also" if f["severity"] in FAILING else "note")
            out.append(f'<tr class="{"root" if f is root else ""}"><td>{lead}</td><td>{f["code"]}</td>'
                       f'<td>{escape(f["severity"])}</td><td>{escape(f["cause"])}</td>'
                       f'<td>{escape(f["ref"] or "module")}</td><td>{"" if f["domain"] is None else f["domain"]}</td>'
                       f'<td>{"" if f["chip"] is None else f["chip"]}</td><td>{escape(f["action"])}</td>'
                       f'<td>{escape(f["evidence"])}</td></tr>')
        out.append("</table>")
    else:
        out.append("<p>none</p>")
    out.append("<h3>Stages</h3><table><tr><th>stage</th><th>result</th><th>board s</th><th>evidence</th></tr>")
    for s in m["stages"]:
        out.append(f'<tr><td>{escape(s["name"])}</td><td>{escape(s["result"])}</td><td>{s["board_s"]:.1f}</td>'
                   f'<td>{escape(str(s.get("evidence", "")))}</td></tr>')
    out.append("</table><h3>Repair history</h3>")
    if history:
        out.append("<table><tr><th>#</th><th>date</th><th>action</th><th>chip</th></tr>")
        for r in history:
            out.append(f'<tr><td>{r["seq"]}</td><td>{escape(r["date"])}</td><td>{escape(r["action"])}</td>'
                       f'<td>{"" if r["chip"] is None else r["chip"]}</td></tr>')
        out.append("</table>")
    else:
        out.append("<p>" + ("no entries" if history is not None else "not read (no identity EEPROM)") + "</p>")
    out.append("</section>")
    return "".join(out)


def render(doc: dict, cfg: dict | None, history: dict[int, list[dict] | None],
           now: datetime.datetime | None = None) -> str:
    """The whole report: `doc` is hbctl diag's document (interfaces.md, "Diagnostics"), `cfg`
    the board definition (None: no board map), `history` each module's repair-log rows."""
    when = (now or datetime.datetime.now()).strftime("%Y-%m-%d %H:%M")
    mods = doc["modules"]
    overall = "fail" if any(m["verdict"] != "pass" for m in mods) else "pass"
    head = (f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>diag {escape(str(doc.get('board')))} {when}</title><style>{CSS}</style></head><body>"
            f"<h1>Module diagnostics: <span class=\"verdict {overall}\" id=\"verdict\">{overall.upper()}</span></h1>"
            f"<table class=\"meta\"><tr><td>board</td><td>{escape(str(doc.get('board')))}</td></tr>"
            f"<tr><td>report</td><td>{when} (host time)</td></tr><tr><td>passes</td><td>{doc.get('passes')}</td></tr>"
            f"<tr><td>modules</td><td>{', '.join(str(m['module']) for m in mods)}</td></tr></table>")
    body = "".join(_module(m, cfg, history.get(m["module"])) for m in mods)
    return head + body + "</body></html>\n"
