"""The farm at a glance: one static HTML page the gateway serves at `/` (no script, no external
asset; it refreshes itself every 5 s). One row per board, one cell per module, coloured by state;
the dispatch line on top. Everything shown comes from the gateway's last snapshots."""

from __future__ import annotations

from html import escape

_COLOURS = {"hashing": "#2e7d32", "throttled": "#f9a825", "off": "#757575", "fault": "#c62828",
            "unidentified": "#c62828", "incompatible": "#c62828", "empty": "#eeeeee"}
_STYLE = """body{font:14px sans-serif;margin:1em}table{border-collapse:collapse}
td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}td.m{color:#fff;text-align:center;min-width:7em}
tr.silent td{background:#fde0dc}.shed{outline:3px dashed #1565c0;outline-offset:-3px}"""


def _num(v, fmt: str) -> str:
    return "" if v is None else format(v, fmt)


def _module_cell(m: dict) -> str:
    state = m.get("state") or "?"
    colour = _COLOURS.get(state, "#6a1b9a")
    text = f"{state}<br>{_num(m.get('power_w'), '.0f')} W {_num(m.get('temp_c'), '.0f')} °C"
    cls = "m shed" if m.get("shed") else "m"
    title = escape(f"slot {m.get('slot')} {m.get('serial') or ''} {m.get('cause') or ''}")
    return f'<td class="{cls}" style="background:{colour}" title="{title}">{text}</td>'


def render(farm: dict) -> str:
    rows = []
    total_w = total_ths = 0.0
    for b in farm["boards"]:
        total_w += b.get("power_w") or 0.0
        total_ths += b.get("ths") or 0.0
        flagged = ", ".join(f"m{c['module']} chip {c['index']}: {c['flag']}" for c in b.get("flagged") or [])
        cells = "".join(_module_cell(m) for m in b.get("modules") or [])
        silent = "" if b.get("online") else f" (silent: {escape(str(b.get('error') or ''))})"
        rows.append(f'<tr class="{"" if b.get("online") else "silent"}"><th>{escape(b["name"])}{silent}</th>'
                    f"<td>{escape(str(b.get('state')))}</td><td>{_num(b.get('power_w'), '.0f')}</td>"
                    f"<td>{_num(b.get('ths'), '.2f')}</td>{cells}<td>{escape(flagged)}</td></tr>")
    d = farm.get("dispatch")
    disp = "no dispatch role" if d is None else (
        f"dispatch: {escape(str(d['state']))}, limit {'none' if d['limit_w'] is None else str(d['limit_w']) + ' W'}, "
        f"measured {d['measured_w']} W" + (f", at limit after {d['t_to_limit_s']} s" if d.get("t_to_limit_s") is not None else ""))
    return (f'<!doctype html><html><head><meta charset="utf-8"><meta http-equiv="refresh" content="5">'
            f"<title>{escape(farm['gateway'])}: farm</title><style>{_STYLE}</style></head><body>"
            f"<h1>{escape(farm['gateway'])}</h1><p>{len(farm['boards'])} boards, {total_w:.0f} W, "
            f"{total_ths:.2f} TH/s. {disp}</p><table><tr><th>board</th><th>state</th><th>W</th><th>TH/s</th>"
            f"<th colspan=4>modules</th><th>health flags</th></tr>{''.join(rows)}</table>"
            f'<p><a href="/metrics">metrics</a> · <a href="/farm.json">farm.json</a></p></body></html>')
