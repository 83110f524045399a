"""Plots of records (matplotlib Agg, PNG and SVG): fronts, fronts by device, hypervolume.

Compute first, render second: the functions take records (and optionally a precomputed front)
and draw on a given Axes; `new_figure` and `save_figure` wrap figure creation and export without
pyplot's global state. Every figure states its context (device, proxy, scale, input size).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.text import Annotation, Text
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from reports.errors import ReportError
from reports.hypervolume import ReferencePoint
from reports.pareto import eligible_mask, pareto_front
from reports.published import PUBLISHED_MACS_OUTPUT_SIZE, PUBLISHED_PROTOCOL, PUBLISHED_SCALE
from reports.records import BUDGET_COLUMNS

__all__ = [
    "AXES",
    "axis_label",
    "new_figure",
    "plot_front",
    "plot_fronts_by_device",
    "plot_hypervolume",
    "save_figure",
]

# column -> (name on the axis, divisor for display, unit shown, log scale)
AXES: dict[str, tuple[str, float, str, bool]] = {
    "params": ("Params", 1e3, "K", True),
    "macs": ("MACs", 1e9, "G", True),
    "flops": ("FLOPs", 1e9, "G", True),
    "latency_ms": ("Latency", 1.0, "ms", False),
    "peak_memory_mib": ("Peak memory", 1.0, "MiB", False),
    "psnr_y_db": ("Y-PSNR", 1.0, "dB", False),
    "ssim_y": ("Y-SSIM", 1.0, "", False),
}
_COLUMN_BUDGET = {column: name for name, column in BUDGET_COLUMNS.items()}

FRONT_COLOR = "#1f5fbf"
DOMINATED_COLOR = "#8a8a8a"
INFEASIBLE_COLOR = "#d62728"
REFERENCE_COLOR = "#111111"
PUBLISHED_COLOR = "#b35900"
BUDGET_COLOR = "#555555"
DEVICE_COLORS = ("#1f5fbf", "#d95f02", "#1b9e77", "#7570b3", "#e7298a", "#66a61e")


def new_figure(width_in: float = 7.5, height_in: float = 5.0, *, ncols: int = 1) -> Figure:
    """A constrained-layout Figure on an Agg canvas (no pyplot state), with `ncols` Axes."""
    fig = Figure(figsize=(width_in, height_in), layout="constrained")
    FigureCanvasAgg(fig)
    fig.subplots(1, ncols)
    return fig


def save_figure(
    fig: Figure, stem: str | Path, formats: Sequence[str] = ("png", "svg"), *, dpi: int = 150
) -> list[Path]:
    """Write `fig` as stem.png, stem.svg, ...; returns the paths."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = []
    for fmt in formats:
        if fmt not in ("png", "svg", "pdf"):
            raise ReportError(f"unknown figure format {fmt!r}; known: png, svg, pdf")
        path = stem.with_suffix(f".{fmt}")
        fig.savefig(path, format=fmt, dpi=dpi)
        paths.append(path)
    return paths


def axis_label(column: str, context: str | None = None) -> str:
    """`MACs (G, 1280x720 output)`, `Params (K)`, `Latency (ms, cpu-2core)`."""
    name, _, unit, _ = AXES.get(column, (column, 1.0, "", False))
    inside = ", ".join(p for p in (unit, context) if p)
    return f"{name} ({inside})" if inside else name


def _display(column: str, values: Any) -> np.ndarray:
    divisor = AXES.get(column, (column, 1.0, "", False))[1]
    return pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=float) / divisor


def _format_axis(ax: Axes, column: str, *, which: str = "x") -> None:
    log = AXES.get(column, (column, 1.0, "", False))[3]
    axis = ax.xaxis if which == "x" else ax.yaxis
    if log:
        (ax.set_xscale if which == "x" else ax.set_yscale)("log")
        axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        axis.set_minor_formatter(NullFormatter())


def _budget_value(budgets: Mapping[str, Any] | None, column: str) -> float | None:
    if not budgets:
        return None
    value = budgets.get(_COLUMN_BUDGET.get(column, column))
    return None if value is None else float(value)


def _fmt_count(column: str, value: float) -> str:
    _, divisor, unit, _ = AXES.get(column, (column, 1.0, "", False))
    return f"{value / divisor:g}{unit}" if unit in ("K", "G") else f"{value:g} {unit}".strip()


def plot_front(
    df: pd.DataFrame,
    ax: Axes,
    *,
    x: str = "macs",
    y: str = "psnr_y_db",
    front: pd.DataFrame | None = None,
    budgets: Mapping[str, Any] | None = None,
    references: pd.DataFrame | None = None,
    published: pd.DataFrame | None = None,
    x_context: str | None = None,
    macs_output_size: tuple[int, int] | None = None,
    scale: int | None = None,
    title: str | None = None,
) -> Axes:
    """PSNR (or `y`) against a cost: front as a step line, dominated trials faded, infeasible
    trials as x markers, the `x` budget as a dashed line, zoo references as labelled diamonds.

    `front` defaults to the 2-D front of (`y` max, `x` min) over eligible rows of `df`.
    `references` are rows with a `reference` name column trained under the same proxy (by default
    those rows of `df`). `published` points (reports.published) are drawn as hollow squares,
    labelled as a different protocol, only where x is params or MACs, `scale` (default: the one
    scale of `df`) is PUBLISHED_SCALE and, for MACs, `macs_output_size` is the published
    1280x720 output.
    """
    if x not in df.columns or y not in df.columns:
        raise ReportError(f"records have no column {x if x not in df.columns else y!r} to plot")
    objectives = {y: "maximize", x: "minimize"}
    if front is None:
        front = pareto_front(df, objectives)
    ok = eligible_mask(df, objectives)
    on_front = df.index.isin(front.index)
    dominated = df[ok & ~on_front]
    yvals = pd.to_numeric(df[y], errors="coerce")
    infeasible = df[(df["status"] == "infeasible") & yvals.notna() & df[x].notna()]
    if references is None and "reference" in df.columns:
        references = df[df["reference"].notna()]

    label_points: list[tuple[float, float, str, str]] = []
    ax.scatter(
        _display(x, dominated[x]),
        dominated[y].astype(float),
        s=18,
        color=DOMINATED_COLOR,
        alpha=0.35,
        linewidths=0,
        label=f"dominated ({len(dominated)})",
        zorder=2,
    )
    if len(infeasible):
        ax.scatter(
            _display(x, infeasible[x]),
            infeasible[y].astype(float),
            s=26,
            marker="x",
            color=INFEASIBLE_COLOR,
            alpha=0.8,
            label=f"infeasible ({len(infeasible)})",
            zorder=3,
        )
    if len(front):
        fx = _display(x, front[x])
        fy = front[y].to_numpy(dtype=float)
        order = np.argsort(fx, kind="stable")
        ax.step(fx[order], fy[order], where="post", color=FRONT_COLOR, lw=1.6, zorder=4)
        ax.scatter(fx, fy, s=30, color=FRONT_COLOR, zorder=5, label=f"Pareto front ({len(front)})")
    if references is not None and len(references):
        refs = references[references[x].notna() & references[y].notna()]
        rx, ry = _display(x, refs[x]), refs[y].to_numpy(dtype=float)
        ax.scatter(
            rx,
            ry,
            s=48,
            marker="D",
            facecolor="white",
            edgecolor=REFERENCE_COLOR,
            linewidths=1.3,
            zorder=6,
            label="zoo reference (same proxy)",
        )
        names = refs["reference"].astype(str).tolist()
        label_points += [(a, b, n, REFERENCE_COLOR) for a, b, n in zip(rx, ry, names, strict=True)]
    if scale is None and "scale" in df.columns:
        scales = set(pd.to_numeric(df["scale"], errors="coerce").dropna().astype(int))
        scale = scales.pop() if len(scales) == 1 else None
    if published is not None and _published_comparable(x, y, scale, macs_output_size):
        pub = published[published[x].notna()]
        px, py = _display(x, pub[x]), pub[y].to_numpy(dtype=float)
        ax.scatter(
            px,
            py,
            s=40,
            marker="s",
            facecolor="none",
            edgecolor=PUBLISHED_COLOR,
            linewidths=1.3,
            zorder=6,
            label=f"{PUBLISHED_PROTOCOL}, Set5 x{PUBLISHED_SCALE}: other protocol",
        )
        label_points += [
            (a, b, str(n), PUBLISHED_COLOR) for a, b, n in zip(px, py, pub["name"], strict=True)
        ]

    _format_axis(ax, x)
    ax.margins(x=0.04, y=0.08)
    ax.set_xlabel(axis_label(x, x_context or _default_context(x, macs_output_size)))
    ax.set_ylabel(axis_label(y))
    ax.grid(True, which="major", alpha=0.3)
    limit = _budget_value(budgets, x)
    if limit is not None:
        _draw_budget(ax, limit / AXES.get(x, (x, 1.0, "", False))[1], _fmt_count(x, limit))
    if title:
        ax.set_title(title, fontsize=10)
    _legend_below(ax, title=_hidden_counts(df) or None)
    _place_labels(ax, label_points)
    return ax


def _legend_below(
    ax: Axes, *, title: str | None = None, handles: Any = None, labels: Any = None
) -> None:
    """The legend under the axes, so it never hides points or labels."""
    if handles is None:
        handles, labels = ax.get_legend_handles_labels()
    ax.legend(
        handles,
        labels,
        fontsize=7.5,
        title=title,
        title_fontsize=7.5,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.13),
        ncol=2 if len(handles) > 2 else len(handles) or 1,
        frameon=False,
    )


def _published_comparable(
    x: str, y: str, scale: int | None, macs_output_size: tuple[int, int] | None
) -> bool:
    if y != "psnr_y_db" or x not in ("params", "macs"):
        return False
    if scale is None or int(scale) != PUBLISHED_SCALE:
        return False
    if x == "macs" and tuple(macs_output_size or ()) != PUBLISHED_MACS_OUTPUT_SIZE:
        return False
    return True


def _default_context(x: str, macs_output_size: tuple[int, int] | None) -> str | None:
    if x in ("macs", "flops", "latency_ms", "peak_memory_mib") and macs_output_size:
        w, h = macs_output_size
        return f"{w}x{h} output"
    return None


def _hidden_counts(df: pd.DataFrame) -> str:
    if "status" not in df.columns:
        return ""
    counts = df["status"].value_counts()
    parts = [
        f"{name} {int(n)}" for name, n in counts.items() if name not in ("complete", "infeasible")
    ]
    untrained = int(((df["status"] == "infeasible") & df["psnr_y_db"].isna()).sum())
    if untrained:
        parts.append(f"untrained infeasible {untrained}")
    return ("not shown: " + ", ".join(parts)) if parts else ""


def _draw_budget(ax: Axes, value: float, text: str) -> None:
    ax.axvline(value, color=BUDGET_COLOR, ls="--", lw=1.1, zorder=1)
    ax.annotate(
        f"budget {text}",
        xy=(value, 1.0),
        xycoords=("data", "axes fraction"),
        xytext=(-3, -4),
        textcoords="offset points",
        rotation=90,
        ha="right",
        va="top",
        fontsize=7.5,
        color=BUDGET_COLOR,
    )


# Offsets (points) tried in order for a label beside its marker: right, left, above, below, ...
_CANDIDATES = (
    (6, 4, "left", "bottom"),
    (6, -4, "left", "top"),
    (-6, 4, "right", "bottom"),
    (-6, -4, "right", "top"),
    (0, 9, "center", "bottom"),
    (0, -9, "center", "top"),
    (8, 16, "left", "bottom"),
    (8, -16, "left", "top"),
    (-8, 16, "right", "bottom"),
    (-8, -16, "right", "top"),
    (0, 24, "center", "bottom"),
    (0, -24, "center", "top"),
)


def _place_labels(ax: Axes, points: Iterable[tuple[float, float, str, str]]) -> None:
    """Greedy label placement: each label takes the first offset whose box overlaps no earlier
    label, marker or the legend and stays inside the axes; else the least-overlapping one."""
    points = [p for p in points if np.isfinite(p[0]) and np.isfinite(p[1])]
    if not points:
        return
    fig = ax.get_figure()
    assert fig is not None
    fig.canvas.draw()  # fix layout and limits so display boxes are final
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    inside = ax.get_window_extent(renderer)
    obstacles = []
    for collection in ax.collections:  # every scatter marker, labelled or not
        for cx, cy in collection.get_offset_transform().transform(collection.get_offsets()):
            if np.isfinite(cx) and np.isfinite(cy):
                obstacles.append((cx - 4, cy - 4, cx + 4, cy + 4))
    for artist in [*ax.texts, ax.get_legend()]:
        if artist is not None and artist.get_visible():
            b = artist.get_window_extent(renderer)
            obstacles.append((b.x0, b.y0, b.x1, b.y1))
    for px, py, text, color in sorted(points, key=lambda p: (p[0], -p[1])):
        best: tuple[float, int, tuple[float, float, float, float]] | None = None
        for k in range(len(_CANDIDATES)):
            ann = _label(ax, text, px, py, k, color)
            ann.update_positions(renderer)
            b = Text.get_window_extent(ann, renderer)  # the text alone, not its leader line
            ann.remove()
            box = (b.x0 - 1, b.y0 - 1, b.x1 + 1, b.y1 + 1)
            outside = (
                max(0, inside.x0 - box[0])
                + max(0, box[2] - inside.x1)
                + max(0, inside.y0 - box[1])
                + max(0, box[3] - inside.y1)
            )
            score = sum(_overlap(box, o) for o in obstacles) + 100 * outside
            if best is None or score < best[0]:
                best = (score, k, box)
            if score == 0:
                break
        assert best is not None
        _label(ax, text, px, py, best[1], color)
        obstacles.append(best[2])


def _label(ax: Axes, text: str, px: float, py: float, k: int, color: str) -> Annotation:
    """Label at candidate offset `k`; beyond the first ring a thin leader line joins it."""
    dx, dy, ha, va = _CANDIDATES[k]
    arrow = (
        {"arrowstyle": "-", "lw": 0.6, "color": color, "alpha": 0.7, "shrinkA": 1, "shrinkB": 4}
        if k >= 4
        else None
    )
    return ax.annotate(
        text,
        (px, py),
        xytext=(dx, dy),
        textcoords="offset points",
        ha=ha,
        va=va,
        fontsize=7.5,
        color=color,
        zorder=7,
        arrowprops=arrow,
    )


def _overlap(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return w * h if w > 0 and h > 0 else 0.0


def plot_fronts_by_device(
    df: pd.DataFrame,
    ax: Axes,
    *,
    x: str = "latency_ms",
    y: str = "psnr_y_db",
    budgets: Mapping[str, Any] | None = None,
    x_context: str | None = None,
    title: str | None = None,
) -> Axes:
    """Each device's front (rows grouped by `device`) as its own step line, dominated rows faded
    in the same colour; one budget line for `x` if given."""
    if "device" not in df.columns or df["device"].isna().all():
        raise ReportError("records have no device column to group fronts by")
    objectives = {y: "maximize", x: "minimize"}
    devices = sorted(str(d) for d in df["device"].dropna().unique())
    for i, device in enumerate(devices):
        color = DEVICE_COLORS[i % len(DEVICE_COLORS)]
        rows = df[df["device"].astype(str) == device]
        front = pareto_front(rows, objectives)
        ok = eligible_mask(rows, objectives)
        rest = rows[ok & ~rows.index.isin(front.index)]
        ax.scatter(_display(x, rest[x]), rest[y].astype(float), s=14, color=color, alpha=0.25, lw=0)
        if len(front):
            fx, fy = _display(x, front[x]), front[y].to_numpy(dtype=float)
            order = np.argsort(fx, kind="stable")
            ax.step(fx[order], fy[order], where="post", color=color, lw=1.6)
            ax.scatter(fx, fy, s=26, color=color, label=f"{device} front ({len(front)})")
    _format_axis(ax, x)
    ax.set_xlabel(axis_label(x, x_context))
    ax.set_ylabel(axis_label(y))
    ax.grid(True, which="major", alpha=0.3)
    limit = _budget_value(budgets, x)
    if limit is not None:
        _draw_budget(ax, limit / AXES.get(x, (x, 1.0, "", False))[1], _fmt_count(x, limit))
    handles, labels = ax.get_legend_handles_labels()
    handles.append(Line2D([], [], color="#999", marker="o", lw=0, alpha=0.4))
    labels.append("dominated (faded)")
    _legend_below(ax, handles=handles, labels=labels)
    if title:
        ax.set_title(title, fontsize=10)
    return ax


def plot_hypervolume(
    hv: pd.DataFrame,
    ax: Axes,
    *,
    objectives: Mapping[str, str] | None = None,
    reference: Mapping[str, float] | ReferencePoint | None = None,
    title: str | None = None,
) -> Axes:
    """Hypervolume over trials (from `hypervolume_over_trials`) as a step line; the reference
    point (given, or `hv.attrs["reference_point"]`) is stated on the plot."""
    if hv.empty:
        raise ReportError("no trials to plot the hypervolume of")
    if isinstance(reference, ReferencePoint):
        ref_values, basis = reference.values, reference.basis
    else:
        ref_values = dict(reference or hv.attrs.get("reference_point", {}))
        basis = dict(hv.attrs.get("reference_basis", {}))
    names = list(objectives or ref_values)
    divisor = float(np.prod([AXES.get(n, (n, 1.0, "", False))[1] for n in names])) or 1.0
    units = " x ".join(
        f"{AXES[n][2]}{'MACs' if n == 'macs' else 'params' if n == 'params' else ''}".strip()
        for n in names
        if n in AXES and AXES[n][2]
    )
    values = hv["hypervolume"].to_numpy(dtype=float) / divisor
    numbers = hv["number"].to_numpy(dtype=float)
    ax.step(numbers, values, where="post", color=FRONT_COLOR, lw=1.6, label="front hypervolume")
    improved = np.r_[values[0] > 0, np.diff(values) > 0]
    ax.scatter(
        numbers[improved],
        values[improved],
        s=16,
        color=FRONT_COLOR,
        zorder=3,
        label="trial improved the front",
    )
    ax.set_xlabel("trial number")
    ax.set_ylabel(f"hypervolume ({units})" if units else "hypervolume")
    ax.grid(True, alpha=0.3)
    ref_text = ", ".join(
        f"{n} = {_fmt_ref(n, v)}" + (f" ({basis[n]})" if n in basis else "")
        for n, v in ref_values.items()
    )
    ax.text(
        0.99,
        0.02,
        f"reference point: {ref_text}",
        transform=ax.transAxes,
        ha="right",
        va="bottom",
        fontsize=7.5,
        color="#333",
        wrap=True,
    )
    ax.legend(fontsize=7.5, loc="upper left")
    if title:
        ax.set_title(title, fontsize=10)
    return ax


def _fmt_ref(name: str, value: float) -> str:
    if name in AXES and AXES[name][2] in ("K", "G"):
        return _fmt_count(name, value)
    return f"{value:.3f}"
