"""A Markdown summary of a study: settings, budgets, the front as a table, the plots as links."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from reports.published import PUBLISHED_PROTOCOL
from reports.report import FRONT_FIELDS

__all__ = ["render_markdown"]


def _fmt(field: str, value: Any) -> str:
    if value is None:
        return "-"
    if field in ("macs", "flops"):
        return f"{value / 1e9:.2f}G"
    if field == "params":
        return f"{value:,}"
    if field == "psnr_y_db":
        return f"{value:.3f}"
    if field == "ssim_y":
        return f"{value:.4f}"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value).replace("|", "\\|")


def _table(rows: Sequence[Mapping[str, Any]], fields: Sequence[str]) -> list[str]:
    lines = ["| " + " | ".join(fields) + " |", "|" + "---|" * len(fields)]
    lines += ["| " + " | ".join(_fmt(f, r.get(f)) for f in fields) + " |" for r in rows]
    return lines


def render_markdown(
    summary: Mapping[str, Any], figures: Sequence[tuple[str, str, Path]], out_dir: str | Path
) -> str:
    """Markdown for `report_summary(...)` output; figures are linked relative to `out_dir`."""
    settings = dict(summary.get("settings") or {})
    counts = summary.get("counts") or {}
    fields = [f for f in FRONT_FIELDS if any(r.get(f) is not None for r in summary["front"])]
    lines = [
        f"# distillnas report: {summary.get('study') or 'study'}",
        "",
        f"- device: {summary.get('device') or '-'}",
        f"- proxy protocol: {settings.get('proxy') or '-'}; scale x{summary.get('scale') or '-'}",
    ]
    if summary.get("cost_context"):
        lines.append(f"- MACs and latency at {summary['cost_context']}")
    lines += [
        f"- objectives: {', '.join(summary.get('objectives') or [])}",
        "- search: "
        + ", ".join(
            f"{k} {settings[k]}"
            for k in settings
            if k not in ("proxy", "data") and settings[k] is not None
        ),
        f"- data: {settings.get('data') or '-'}",
        "- trials: " + ", ".join(f"{k} {v}" for k, v in counts.items() if v),
        "- budgets: "
        + (
            ", ".join(
                f"{k} {'none' if v is None else v}"
                for k, v in (summary.get("budgets") or {}).items()
            )
            or "none"
        ),
        "",
        "## Front",
        "",
    ]
    if summary.get("note"):
        lines += [f"**{summary['note']}**", ""]
    if summary.get("hypervolume") is not None:
        basis = summary.get("reference_basis") or {}
        ref = ", ".join(
            f"{n} = {v:.6g}" + (f" ({basis[n]})" if n in basis else "")
            for n, v in summary["reference_point"].items()
        )
        lines += [
            f"Hypervolume {summary['hypervolume']:.6g} against the reference point {ref}.",
            "",
        ]
    if summary.get("knee"):
        lines += [f"Knee: `{summary['knee']['key']}` (max distance to the chord, normalised).", ""]
    if summary["front"]:
        lines += _table(summary["front"], fields) + [""]
    if summary.get("references"):
        lines += ["## Zoo references (same proxy)", ""]
        lines += _table(summary["references"], ["reference", *fields]) + [""]
    if figures:
        lines += ["## Plots", ""]
        for name, caption, path in figures:
            rel = os.path.relpath(Path(path), Path(out_dir))
            lines += [f"![{name}]({rel})", "", caption, ""]
        lines += [
            f'Published points ("{PUBLISHED_PROTOCOL}") follow another protocol; they are '
            "drawn for orientation and are never part of a front.",
            "",
        ]
    return "\n".join(lines)
