"""Pareto sets: non-dominated masks, non-dominated sorting into ranks, fronts and the knee point.

Any number of objectives with any mix of directions. In a records table only eligible rows count:
feasible (status complete, no budget violation), every objective known, and not a zoo reference.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from reports.errors import ReportError
from reports.records import DIRECTIONS, parse_objectives

__all__ = [
    "eligible_mask",
    "knee_point",
    "non_dominated_mask",
    "non_dominated_ranks",
    "pareto_front",
    "pareto_ranks",
    "to_losses",
]


def to_losses(values: np.ndarray, directions: Sequence[str]) -> np.ndarray:
    """`values` (n, d) as float losses: maximised columns negated, smaller is better everywhere."""
    arr = np.asarray(values, dtype=float)
    if arr.ndim == 1:
        arr = arr.reshape(-1, len(directions)) if len(directions) else arr.reshape(-1, 0)
    if arr.ndim != 2 or arr.shape[1] != len(directions):
        raise ReportError(
            f"values have shape {arr.shape}; expected (n, {len(directions)}) for {len(directions)} "
            "directions"
        )
    bad = [d for d in directions if d not in DIRECTIONS]
    if bad:
        raise ReportError(f"direction {bad[0]!r} is not one of {', '.join(DIRECTIONS)}")
    signs = np.array([-1.0 if d == "maximize" else 1.0 for d in directions])
    return arr * signs


def non_dominated_mask(values: np.ndarray, directions: Sequence[str]) -> np.ndarray:
    """Boolean mask (n,) of rows no other row dominates; rows with NaN are never on the front.

    Row a dominates b when a is no worse in every objective and better in at least one; equal
    rows do not dominate each other, so duplicates are all kept.
    """
    losses = to_losses(values, directions)
    n = losses.shape[0]
    valid = ~np.isnan(losses).any(axis=1)
    mask = valid.copy()
    pts = losses[valid]
    idx = np.flatnonzero(valid)
    for pos, i in enumerate(idx):
        p = pts[pos]
        dominated = np.all(pts <= p, axis=1) & np.any(pts < p, axis=1)
        if dominated.any():
            mask[i] = False
    assert mask.shape == (n,)
    return mask


def non_dominated_ranks(values: np.ndarray, directions: Sequence[str]) -> np.ndarray:
    """Rank (n,) per row by repeated peeling: 0 = the front, 1 = the front once 0 is removed, ...

    Rows with NaN get rank -1.
    """
    losses = to_losses(values, directions)
    ranks = np.full(losses.shape[0], -1, dtype=int)
    remaining = np.flatnonzero(~np.isnan(losses).any(axis=1))
    rank = 0
    while remaining.size:
        front = non_dominated_mask(losses[remaining], ["minimize"] * losses.shape[1])
        ranks[remaining[front]] = rank
        remaining = remaining[~front]
        rank += 1
    return ranks


def eligible_mask(
    df: pd.DataFrame, objectives: Mapping[str, str], *, include_references: bool = False
) -> pd.Series:
    """Rows that may be on a front: feasible, every objective known, not a zoo reference (zoo
    nets are baselines drawn beside the front, unless `include_references`)."""
    missing = [name for name in objectives if name not in df.columns]
    if missing:
        raise ReportError(f"records have no column {missing[0]!r} for an objective")
    mask = df["feasible"].astype(bool) if "feasible" in df.columns else pd.Series(True, df.index)
    if "status" in df.columns:
        mask &= df["status"] == "complete"
    if "reference" in df.columns and not include_references:
        mask &= df["reference"].isna()
    for name in objectives:
        mask &= pd.to_numeric(df[name], errors="coerce").notna()
    return mask.astype(bool)


def pareto_ranks(df: pd.DataFrame, objectives: Mapping[str, str] | Sequence[str]) -> pd.Series:
    """Non-dominated rank per row of a records table (Int64, NA for ineligible rows)."""
    objs = parse_objectives(objectives)
    ok = eligible_mask(df, objs)
    out = pd.Series(pd.NA, index=df.index, dtype="Int64")
    if ok.any():
        values = df.loc[ok, list(objs)].to_numpy(dtype=float)
        out.loc[ok] = non_dominated_ranks(values, list(objs.values()))
    return out


def pareto_front(
    df: pd.DataFrame,
    objectives: Mapping[str, str] | Sequence[str],
    *,
    include_references: bool = False,
) -> pd.DataFrame:
    """The non-dominated feasible, complete rows of a records table, sorted along the front.

    Zoo reference rows (a `reference` name) are left out unless `include_references`. Sorted by
    the first objective that is minimised (a cost), ascending; ties by the others.
    """
    objs = parse_objectives(objectives)
    ok = eligible_mask(df, objs, include_references=include_references)
    pool = df.loc[ok]
    if pool.empty:
        return pool.copy()
    mask = non_dominated_mask(pool[list(objs)].to_numpy(dtype=float), list(objs.values()))
    front = pool.loc[mask]
    order = sorted(objs, key=lambda n: objs[n] != "minimize")
    ascending = [objs[n] == "minimize" for n in order]
    return front.sort_values(order, ascending=ascending, kind="stable").copy()


def knee_point(front: pd.DataFrame, objectives: Mapping[str, str] | Sequence[str]) -> pd.Series:
    """The knee of a front: the row farthest from the chord between the extremes.

    Method: each objective is turned into a loss and min-max normalised over the front to [0, 1]
    (a constant objective becomes 0). With two objectives the knee is the row with the largest
    perpendicular distance to the straight line joining the two extreme rows, counting only rows
    that bulge toward the ideal point (the "maximum distance to the chord" rule, as in Kneedle).
    With three or more objectives, a front of two rows, a front with no bulge, and as the
    tie-break, it is the row closest (Euclidean) to the ideal point (0, ..., 0) once normalised.
    A front of one row is its own knee.
    """
    objs = parse_objectives(objectives)
    if front.empty:
        raise ReportError("the front is empty: no feasible complete trial to choose a knee from")
    losses = to_losses(front[list(objs)].to_numpy(dtype=float), list(objs.values()))
    if np.isnan(losses).any():
        raise ReportError("knee_point needs every objective known on the front")
    lo, hi = losses.min(axis=0), losses.max(axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    z = (losses - lo) / span
    to_ideal = np.linalg.norm(z, axis=1)
    if len(objs) == 2 and len(front) > 2:
        a = z[np.argmin(z[:, 0])]
        b = z[np.argmin(z[:, 1])]
        chord = b - a
        length = float(np.linalg.norm(chord))
        if length > 0:
            rel = z - a
            cross = (chord[0] * rel[:, 1] - chord[1] * rel[:, 0]) / length
            ideal_side = np.sign(chord[0] * -a[1] - chord[1] * -a[0])
            dist = np.round(cross * ideal_side, 12)  # > 0: bulges toward the ideal point
            if dist.max() > 0:
                # lexicographic: farthest from the chord, then closest to the ideal point
                best = np.lexsort((to_ideal, -dist))[0]
                return front.iloc[int(best)]
    return front.iloc[int(np.argmin(to_ideal))]
