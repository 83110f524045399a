"""Exact hypervolume with an explicit reference point, hypervolume over trials, default reference.

The hypervolume of a point set is the measure of the region each point dominates, bounded by the
reference point, in the objectives' own units (e.g. dB x MACs). Maximised objectives are negated
internally; points that do not strictly beat the reference in every objective add nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from reports.errors import ReportError
from reports.pareto import eligible_mask, non_dominated_mask, to_losses
from reports.records import BUDGET_COLUMNS, parse_objectives

__all__ = [
    "ReferencePoint",
    "default_reference_point",
    "hypervolume",
    "hypervolume_over_trials",
]


def hypervolume(
    points: np.ndarray, directions: Sequence[str], reference_point: Sequence[float] | np.ndarray
) -> float:
    """Exact hypervolume of `points` (n, d) against `reference_point` (d,), in objective units.

    2-D: one sweep after sorting, O(n log n). d >= 3: slicing along the last objective (HSO),
    each slab's (d-1)-D hypervolume computed the same way; exact, O(n^(d-1) log n).
    """
    losses = to_losses(points, directions)
    ref = to_losses(np.asarray(reference_point, dtype=float).reshape(1, -1), directions)[0]
    if not np.all(np.isfinite(ref)):
        raise ReportError(f"reference point must be finite, got {list(reference_point)}")
    if np.isnan(losses).any():
        raise ReportError("hypervolume points contain NaN; drop unknown objectives first")
    pts = losses[np.all(losses < ref, axis=1)]
    if pts.shape[0] == 0:
        return 0.0
    return float(_hv(_nondominated(pts), ref))


def _nondominated(pts: np.ndarray) -> np.ndarray:
    pts = np.unique(pts, axis=0)
    return pts[non_dominated_mask(pts, ["minimize"] * pts.shape[1])]


def _hv(pts: np.ndarray, ref: np.ndarray) -> float:
    """Hypervolume of loss points that all strictly beat `ref` (minimisation)."""
    n, d = pts.shape
    if n == 0:
        return 0.0
    if d == 1:
        return float(ref[0] - pts[:, 0].min())
    if d == 2:
        order = np.argsort(pts[:, 0], kind="stable")
        xs, ys = pts[order, 0], pts[order, 1]
        best_y = np.minimum.accumulate(ys)
        widths = np.diff(np.append(xs, ref[0]))
        return float(np.sum(widths * (ref[1] - best_y)))
    order = np.argsort(pts[:, -1], kind="stable")
    zs = pts[order, -1]
    tops = np.append(zs[1:], ref[-1])
    total = 0.0
    for i in range(n):
        thickness = tops[i] - zs[i]
        if thickness > 0:
            total += thickness * _hv(_nondominated(pts[order[: i + 1], :-1]), ref[:-1])
    return total


@dataclass(frozen=True)
class ReferencePoint:
    """A reference point per objective and how each coordinate was chosen (stated in reports)."""

    values: dict[str, float]
    basis: dict[str, str] = field(default_factory=dict)

    def describe(self) -> str:
        """One line: `psnr_y_db=27.9 (worst - 10% of range), macs=1e+10 (budget)`."""
        parts = []
        for name, value in self.values.items():
            how = self.basis.get(name)
            parts.append(f"{name}={value:.6g}" + (f" ({how})" if how else ""))
        return ", ".join(parts)


def default_reference_point(
    df: pd.DataFrame,
    objectives: Mapping[str, str] | Sequence[str],
    *,
    budgets: Mapping[str, float | None] | None = None,
    margin: float = 0.1,
) -> ReferencePoint:
    """A stated reference point: the budget for a budgeted cost, else the worst eligible value
    pushed out by `margin` x the eligible range (or x |value| when the range is 0, or 1 if 0)."""
    objs = parse_objectives(objectives)
    ok = eligible_mask(df, objs)
    if not ok.any():
        raise ReportError("no feasible complete trial to place a reference point from")
    column_budget = {
        BUDGET_COLUMNS[name]: value
        for name, value in (budgets or {}).items()
        if name in BUDGET_COLUMNS and value is not None
    }
    values: dict[str, float] = {}
    basis: dict[str, str] = {}
    for name, direction in objs.items():
        col = pd.to_numeric(df.loc[ok, name], errors="coerce").astype(float)
        best, worst = (col.min(), col.max()) if direction == "minimize" else (col.max(), col.min())
        if direction == "minimize" and name in column_budget:
            values[name] = float(column_budget[name])
            basis[name] = "budget"
            continue
        span = abs(worst - best)
        step = margin * (span if span > 0 else (abs(worst) if worst != 0 else 1.0))
        values[name] = float(worst + step if direction == "minimize" else worst - step)
        basis[name] = (
            f"worst feasible {'+' if direction == 'minimize' else '-'} {margin:.0%} of range"
        )
    return ReferencePoint(values=values, basis=basis)


def _ref_values(
    reference: Mapping[str, float] | ReferencePoint | Sequence[float], objs: Mapping[str, str]
) -> np.ndarray:
    if isinstance(reference, ReferencePoint):
        reference = reference.values
    if isinstance(reference, Mapping):
        missing = [n for n in objs if n not in reference]
        if missing:
            raise ReportError(f"reference point has no value for objective {missing[0]!r}")
        return np.array([float(reference[n]) for n in objs])
    ref = np.asarray(reference, dtype=float)
    if ref.shape != (len(objs),):
        raise ReportError(f"reference point needs {len(objs)} values, got {ref.shape}")
    return ref


def hypervolume_over_trials(
    df: pd.DataFrame,
    objectives: Mapping[str, str] | Sequence[str],
    reference: Mapping[str, float] | ReferencePoint | Sequence[float] | None = None,
) -> pd.DataFrame:
    """Hypervolume of the front of trials 0..number, one row per trial in `number` order.

    Columns: number, hypervolume, feasible (whether that trial counted). The reference point
    used (given, or `default_reference_point`) is in `.attrs["reference_point"]` and its basis in
    `.attrs["reference_basis"]`.
    """
    objs = parse_objectives(objectives)
    ref_point = default_reference_point(df, objs) if reference is None else reference
    ref = _ref_values(ref_point, objs)
    ordered = df.sort_values("number", kind="stable") if "number" in df.columns else df
    ok = eligible_mask(ordered, objs).to_numpy()
    values = ordered[list(objs)].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    directions = list(objs.values())
    rows = []
    seen: list[np.ndarray] = []
    current = 0.0
    for i in range(len(ordered)):
        if ok[i]:
            seen.append(values[i])
            kept = np.array(seen)
            kept = kept[non_dominated_mask(kept, directions)]
            seen = list(kept)
            current = hypervolume(kept, directions, ref)
        rows.append(
            {
                "number": ordered["number"].iloc[i] if "number" in ordered.columns else i,
                "hypervolume": current,
                "feasible": bool(ok[i]),
            }
        )
    out = pd.DataFrame(rows, columns=["number", "hypervolume", "feasible"])
    out.attrs["reference_point"] = dict(zip(objs, map(float, ref), strict=True))
    out.attrs["reference_basis"] = (
        dict(ref_point.basis)
        if isinstance(ref_point, ReferencePoint)
        else {n: "given" for n in objs}
    )
    return out
