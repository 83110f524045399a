"""A study's report: a JSON-ready summary, plots, a self-contained HTML page and a Markdown file.

`report_summary` computes (front, knee, hypervolume with its stated reference point, counts);
`write_report` renders that summary, the plots and the tables into a folder.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from reports.errors import ReportError
from reports.hypervolume import (
    ReferencePoint,
    default_reference_point,
    hypervolume,
    hypervolume_over_trials,
)
from reports.pareto import knee_point, pareto_front
from reports.published import published_points
from reports.records import STATUSES, objectives_to_strings, parse_objectives, to_csv

__all__ = ["FRONT_FIELDS", "json_ready", "report_summary", "write_report"]

FRONT_FIELDS = (
    "number",
    "key",
    "psnr_y_db",
    "ssim_y",
    "params",
    "macs",
    "flops",
    "latency_ms",
    "latency_source",
    "peak_memory_mib",
)
"""Fields of each front entry in the summary (and columns of the front table)."""

SETTINGS = (
    "space",
    "space_version",
    "sampler",
    "pruner",
    "seed",
    "proxy",
    "data",
    "latency_method",
)
"""Study attributes shown as the search settings (those absent are shown as '-')."""


def json_ready(value: Any) -> Any:
    """`value` with numpy/pandas scalars as Python ones and NaN/NA as None (JSON-serialisable)."""
    if isinstance(value, Mapping):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if value is pd.NA or value is pd.NaT or value is None:
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value


def _row_dict(row: pd.Series, fields: Sequence[str]) -> dict[str, Any]:
    return {f: json_ready(row.get(f)) for f in fields}


def study_scale(df: pd.DataFrame, study_attrs: Mapping[str, Any]) -> int | None:
    """The one upscaling factor of the study's trials (else of its `scale` attribute, an int or a
    one-element list); None when there are several or none."""
    if "scale" in df.columns:
        scales = set(pd.to_numeric(df["scale"], errors="coerce").dropna().astype(int))
        if len(scales) == 1:
            return scales.pop()
        if len(scales) > 1:
            return None
    value = study_attrs.get("scale")
    if isinstance(value, (list, tuple)):
        value = value[0] if len(value) == 1 else None
    return None if value is None else int(value)


def _pair(value: Any, name: str) -> tuple[int, int]:
    try:
        a, b = (int(v) for v in value)
    except (TypeError, ValueError):
        raise ReportError(f"study attribute {name} must be two integers, got {value!r}") from None
    return (a, b)


def output_size(study_attrs: Mapping[str, Any], scale: int | None = None) -> tuple[int, int] | None:
    """(width, height) of the HR output the costs are measured at: the `output_size` attribute
    ([width, height]), else the `input_hw` attribute ([LR height, LR width]) times `scale`."""
    if study_attrs.get("output_size"):
        return _pair(study_attrs["output_size"], "output_size")
    if study_attrs.get("input_hw") and scale:
        h, w = _pair(study_attrs["input_hw"], "input_hw")
        return (w * scale, h * scale)
    return None


def cost_context(study_attrs: Mapping[str, Any], scale: int | None) -> str | None:
    """`640x360 output, 320x180 input`: where MACs and latency were measured."""
    size = output_size(study_attrs, scale)
    if size is None:
        return None
    text = f"{size[0]}x{size[1]} output"
    if study_attrs.get("input_hw"):
        h, w = _pair(study_attrs["input_hw"], "input_hw")
        text += f", {w}x{h} input"
    return text


def report_summary(
    df: pd.DataFrame,
    study_attrs: Mapping[str, Any],
    *,
    objectives: Mapping[str, str] | Sequence[str] | None = None,
    reference: Mapping[str, float] | ReferencePoint | None = None,
) -> dict[str, Any]:
    """The study in numbers: front (key, psnr_y_db and cost fields per entry), knee,
    hypervolume and its reference point (with how it was chosen), counts by status, settings.

    Objectives default to the study's `objectives` attribute; the reference point to
    `default_reference_point` (budgets for budgeted costs). JSON-serialisable.
    """
    if df.empty:
        raise ReportError(
            f"study {study_attrs.get('study', '?')!r} has no trials: nothing to report"
        )
    objs = parse_objectives(objectives or study_attrs.get("objectives"))
    budgets = dict(study_attrs.get("budgets") or {})
    front = pareto_front(df, objs)
    scale = study_scale(df, study_attrs)
    summary: dict[str, Any] = {
        "study": study_attrs.get("study") or (df["study"].iloc[0] if "study" in df else None),
        "device": study_attrs.get("device"),
        "objectives": objectives_to_strings(objs),
        "budgets": budgets,
        "settings": {k: study_attrs.get(k) for k in SETTINGS if k in study_attrs},
        "scale": scale,
        "output_size": list(output_size(study_attrs, scale) or []) or None,
        "cost_context": cost_context(study_attrs, scale),
        "counts": _counts(df),
        "front": [_row_dict(row, FRONT_FIELDS) for _, row in front.iterrows()],
        "knee": None,
        "hypervolume": None,
        "reference_point": None,
        "reference_basis": None,
        "references": [
            {"reference": r["reference"], **_row_dict(r, FRONT_FIELDS)}
            for _, r in df[df["reference"].notna()].iterrows()
        ]
        if "reference" in df.columns
        else [],
    }
    if front.empty:
        summary["note"] = "no feasible complete trial: the front is empty"
        return json_ready(summary)
    summary["knee"] = _row_dict(knee_point(front, objs), FRONT_FIELDS)
    ref = reference if reference is not None else default_reference_point(df, objs, budgets=budgets)
    ref_values = ref.values if isinstance(ref, ReferencePoint) else dict(ref)
    summary["reference_point"] = {n: float(ref_values[n]) for n in objs}
    summary["reference_basis"] = (
        dict(ref.basis) if isinstance(ref, ReferencePoint) else {n: "given" for n in objs}
    )
    summary["hypervolume"] = hypervolume(
        front[list(objs)].to_numpy(dtype=float),
        list(objs.values()),
        [summary["reference_point"][n] for n in objs],
    )
    return json_ready(summary)


def _counts(df: pd.DataFrame) -> dict[str, int]:
    counts = {"trials": len(df)}
    status = df["status"].value_counts() if "status" in df.columns else pd.Series(dtype=int)
    for name in (*STATUSES, "running"):
        counts[name] = int(status.get(name, 0))
    for name, n in status.items():  # search-side statuses such as "duplicate"
        counts.setdefault(str(name), int(n))
    counts["feasible"] = int(df["feasible"].sum()) if "feasible" in df.columns else 0
    return counts


def _title(summary: Mapping[str, Any]) -> str:
    settings = summary.get("settings") or {}
    parts = [str(summary.get("study") or "study")]
    if summary.get("device"):
        parts.append(f"device {summary['device']}")
    if settings.get("proxy"):
        parts.append(f"proxy {settings['proxy']}")
    if summary.get("scale"):
        parts.append(f"x{summary['scale']}")
    return ", ".join(parts)


def write_report(
    df: pd.DataFrame,
    study_attrs: Mapping[str, Any],
    out_dir: str | Path,
    *,
    objectives: Mapping[str, str] | Sequence[str] | None = None,
    reference: Mapping[str, float] | ReferencePoint | None = None,
    formats: Sequence[str] = ("png", "svg"),
) -> dict[str, Path]:
    """Write report.html (self-contained), report.md, summary.json, records.csv, front.csv and
    front_<x> / hypervolume plots (PNG and SVG) into `out_dir`; returns name -> path."""
    from reports.html import render_html
    from reports.markdown import render_markdown
    from reports.plots import new_figure, plot_front, plot_hypervolume, save_figure

    summary = report_summary(df, study_attrs, objectives=objectives, reference=reference)
    objs = parse_objectives(objectives or study_attrs.get("objectives"))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    scale = summary["scale"]
    size = output_size(study_attrs, scale)
    size_text = summary["cost_context"]
    device = summary.get("device")
    title = _title(summary)
    figures: list[tuple[str, str, Path]] = []  # (name, caption, png path)

    xs = ["macs", "params"]
    if pd.to_numeric(df["latency_ms"], errors="coerce").notna().any():
        xs.append("latency_ms")
    for x in xs:
        # params need no context; MACs name the output size; latency the device, how it was
        # obtained (measured / table / roofline estimate) and the size
        context = size_text if x == "macs" else None
        if x == "latency_ms":
            context = ", ".join(p for p in (device, _latency_sources(df), size_text) if p)
        fig = new_figure()
        plot_front(
            df,
            fig.axes[0],
            x=x,
            budgets=summary["budgets"],
            published=published_points(),
            x_context=context or None,
            macs_output_size=size,
            scale=scale,
            title=title,
        )
        saved = save_figure(fig, out / f"front_{x}", formats)
        for p in saved:
            paths[f"front_{x}_{p.suffix[1:]}"] = p
        figures.append((f"front_{x}", _caption(x, summary), saved[0]))
    if summary["hypervolume"] is not None:
        hv = hypervolume_over_trials(df, objs, summary["reference_point"])
        hv.attrs["reference_basis"] = summary["reference_basis"]
        fig = new_figure(7.5, 4.0)
        plot_hypervolume(hv, fig.axes[0], objectives=objs, title=f"{title}: search progress")
        saved = save_figure(fig, out / "hypervolume", formats)
        for p in saved:
            paths[f"hypervolume_{p.suffix[1:]}"] = p
        figures.append(("hypervolume", "Hypervolume of the front after each trial.", saved[0]))

    front = pareto_front(df, objs)
    paths["records_csv"] = to_csv(df, out / "records.csv")
    paths["front_csv"] = to_csv(front, out / "front.csv")
    paths["summary_json"] = out / "summary.json"
    paths["summary_json"].write_text(json.dumps(summary, indent=2) + "\n")
    paths["html"] = out / "report.html"
    paths["html"].write_text(render_html(summary, figures), encoding="utf-8")
    paths["markdown"] = out / "report.md"
    paths["markdown"].write_text(render_markdown(summary, figures, out), encoding="utf-8")
    return paths


def _latency_sources(df: pd.DataFrame) -> str | None:
    names = sorted(set(df["latency_source"].dropna().astype(str))) if "latency_source" in df else []
    words = {"roofline": "roofline estimate", "table": "latency table", "measured": "measured"}
    return "/".join(words.get(n, n) for n in names) or None


def _caption(x: str, summary: Mapping[str, Any]) -> str:
    return (
        f"Y-PSNR against {x}: the blue step line is the 2-D front of this pair among feasible "
        "complete trials; grey points are dominated, red x markers infeasible, diamonds zoo nets "
        "trained under the same proxy. Hollow squares, where shown, are published results under "
        "a different protocol (DIV2K, GPU-days; Set5 x2) and are not part of any front. "
        f"The study's objectives are {', '.join(summary['objectives'])}."
    )
