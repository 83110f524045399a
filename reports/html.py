"""A self-contained HTML report: images embedded as base64 PNG, a sortable front table (a few
lines of vanilla JS), budgets, device, proxy protocol and search settings. No external resource."""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any

from reports.published import PUBLISHED_PROTOCOL
from reports.report import FRONT_FIELDS

__all__ = ["render_html"]

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2em auto;
max-width:1100px;padding:0 1em;color:#222;line-height:1.4}
h1{font-size:1.5em;margin-bottom:.2em}h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid
#ddd}table{border-collapse:collapse;font-size:.9em;margin:.5em 0}th,td{border:1px solid #ccc;
padding:.25em .6em;text-align:right}th{background:#f1f4f9;cursor:pointer;user-select:none}
td.t,th.t{text-align:left}td.t{white-space:nowrap}tr.knee td{background:#fff6d6}figure{margin:1em 0}
figure img{max-width:100%;height:auto;border:1px solid #eee}figcaption{font-size:.85em;color:#555}
.kv td:first-child{text-align:left;color:#555}.note{color:#8a4b00}
"""

# Click a header to sort by that column; numbers compare as numbers (data-v), blanks last.
_JS = """
document.querySelectorAll('table.sortable th').forEach(function(th, col){
  th.addEventListener('click', function(){
    var body = th.closest('table').tBodies[0], rows = Array.from(body.rows);
    var asc = th.dataset.dir !== 'asc'; th.dataset.dir = asc ? 'asc' : 'desc';
    rows.sort(function(a, b){
      var x = a.cells[col].dataset.v, y = b.cells[col].dataset.v;
      if (x === '') return 1; if (y === '') return -1;
      var nx = parseFloat(x), ny = parseFloat(y);
      var c = (isNaN(nx) || isNaN(ny)) ? x.localeCompare(y) : nx - ny;
      return asc ? c : -c;
    });
    rows.forEach(function(r){ body.appendChild(r); });
  });
});
// Record how many images failed to decode (a headless browser check reads this attribute).
window.addEventListener('load', function(){
  var broken = Array.from(document.images).filter(function(i){
    return !i.complete || i.naturalWidth === 0; }).length;
  var n = document.images.length;
  document.body.setAttribute('data-images', n + ' total, ' + broken + ' broken');
});
"""

_TEXT_FIELDS = ("key", "latency_source", "reference")
_HEADINGS = {
    "reference": "zoo net",
    "number": "trial",
    "key": "spec key",
    "psnr_y_db": "Y-PSNR (dB)",
    "ssim_y": "Y-SSIM",
    "params": "params",
    "macs": "MACs (G)",
    "flops": "FLOPs (G)",
    "latency_ms": "latency (ms)",
    "latency_source": "latency source",
    "peak_memory_mib": "peak memory (MiB)",
}


def _cell(field: str, value: Any) -> str:
    """A <td> with the raw value in data-v (for sorting) and a readable text."""
    raw = "" if value is None else str(value)
    if value is None:
        text = "-"
    elif field in ("macs", "flops"):
        text = f"{value / 1e9:.2f}"
    elif field == "params":
        text = f"{value:,}"
    elif field == "psnr_y_db":
        text = f"{value:.3f}"
    elif field == "ssim_y":
        text = f"{value:.4f}"
    elif isinstance(value, float):
        text = f"{value:.2f}"
    else:
        text = str(value)
    cls = ' class="t"' if field in _TEXT_FIELDS else ""
    return f'<td{cls} data-v="{escape(raw)}">{escape(text)}</td>'


def _table(rows: Sequence[Mapping[str, Any]], fields: Sequence[str], knee_key: Any = None) -> str:
    head = "".join(
        f"<th{' class=t' if f in _TEXT_FIELDS else ''}>{escape(_HEADINGS.get(f, f))}</th>"
        for f in fields
    )
    body = []
    for row in rows:
        knee = knee_key is not None and row.get("number") == knee_key
        cells = "".join(_cell(f, row.get(f)) for f in fields)
        body.append(f"<tr{' class=knee' if knee else ''}>{cells}</tr>")
    return (
        f'<table class="sortable"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def _kv(items: Mapping[str, Any]) -> str:
    rows = "".join(
        f"<tr><td>{escape(str(k))}</td><td class=t>{escape('-' if v is None else str(v))}</td></tr>"
        for k, v in items.items()
    )
    return f'<table class="kv">{rows}</table>'


def _budget_text(name: str, value: Any) -> str:
    if value is None:
        return "none"
    if name in ("params", "macs", "flops") and float(value) >= 1e3:
        divisor, unit = (1e9, "G") if float(value) >= 1e9 else (1e3, "K")
        return f"{float(value):,.0f} ({float(value) / divisor:g}{unit})"
    return str(value)


def _img(path: Path, alt: str) -> str:
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return f'<img alt="{escape(alt)}" src="data:image/png;base64,{data}">'


def render_html(summary: Mapping[str, Any], figures: Sequence[tuple[str, str, Path]]) -> str:
    """The report page for `report_summary(...)` output and (name, caption, PNG path) figures."""
    settings = dict(summary.get("settings") or {})
    budgets = summary.get("budgets") or {}
    counts = summary.get("counts") or {}
    knee = summary.get("knee") or {}
    fields = [f for f in FRONT_FIELDS if any(r.get(f) is not None for r in summary["front"])]
    title = f"distillnas report: {summary.get('study') or 'study'}"
    context = summary.get("cost_context")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        f"<p>Device <b>{escape(str(summary.get('device') or '-'))}</b>; proxy protocol "
        f"<b>{escape(str(settings.get('proxy') or '-'))}</b>; "
        f"scale x{escape(str(summary.get('scale') or '-'))}"
        + (f"; MACs and latency at {escape(str(context))}" if context else "")
        + ".</p>",
        "<h2>Search</h2>",
        _kv(
            {
                "objectives": ", ".join(summary.get("objectives") or []),
                **{k: v for k, v in settings.items()},
                "trials": ", ".join(
                    f"{v} total" if k == "trials" else f"{k} {v}" for k, v in counts.items() if v
                ),
            }
        ),
        "<h2>Budgets</h2>",
        _kv({k: _budget_text(k, v) for k, v in budgets.items()})
        if budgets
        else "<p>No budgets.</p>",
        "<h2>Front</h2>",
    ]
    if summary.get("note"):
        parts.append(f'<p class="note">{escape(str(summary["note"]))}</p>')
    if summary.get("hypervolume") is not None:
        ref = ", ".join(
            f"{n} = {v:.6g}"
            + (f" ({summary['reference_basis'].get(n)})" if summary.get("reference_basis") else "")
            for n, v in summary["reference_point"].items()
        )
        parts.append(
            f"<p>Hypervolume {summary['hypervolume']:.6g} (objective units) against the "
            f"reference point {escape(ref)}.</p>"
        )
    if knee:
        parts.append(
            f"<p>Knee (highlighted): <code>{escape(str(knee.get('key')))}</code>, the front row "
            "farthest from the chord between the extremes after min-max normalisation.</p>"
        )
    parts.append(
        "<p>Click a column heading to sort.</p>"
        + _table(summary["front"], fields, knee.get("number"))
        if summary["front"]
        else "<p>The front is empty.</p>"
    )
    if summary.get("references"):
        parts.append("<h2>Zoo references (same proxy)</h2>")
        parts.append(_table(summary["references"], ["reference", *fields]))
    parts.append("<h2>Plots</h2>")
    for name, caption, path in figures:
        parts.append(
            f"<figure>{_img(path, name)}<figcaption>{escape(caption)}</figcaption></figure>"
        )
    parts.append(
        f"<p>Published points are labelled &ldquo;{escape(PUBLISHED_PROTOCOL)}&rdquo;: another "
        "protocol, drawn for orientation and never compared as if trained under this proxy.</p>"
    )
    parts.append(f"<script>{_JS}</script></body></html>")
    return "\n".join(parts) + "\n"
