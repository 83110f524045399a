"""Exact hypervolume against Optuna's WFG and against brute force in 2-D and 3-D."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from optuna._hypervolume import compute_hypervolume  # optuna 5.0: private, exact WFG

from reports.errors import ReportError
from reports.hypervolume import (
    ReferencePoint,
    default_reference_point,
    hypervolume,
    hypervolume_over_trials,
)
from reports.pareto import pareto_front


def _grid_hypervolume(losses: np.ndarray, ref: np.ndarray) -> float:
    """Brute force: split space at every coordinate; a cell counts if a point dominates its
    lower corner. Exact for boxes, O(n^(d+1))."""
    if len(losses) == 0:
        return 0.0
    axes = [np.unique(np.append(np.minimum(losses[:, k], ref[k]), ref[k])) for k in range(len(ref))]
    total = 0.0
    for cell in itertools.product(*[range(len(a) - 1) for a in axes]):
        lo = np.array([axes[k][c] for k, c in enumerate(cell)])
        hi = np.array([axes[k][c + 1] for k, c in enumerate(cell)])
        if np.any(np.all(losses <= lo, axis=1)):
            total += float(np.prod(hi - lo))
    return total


@st.composite
def point_sets(draw: st.DrawFn, dims: tuple[int, ...]) -> tuple[np.ndarray, list[str], np.ndarray]:
    d = draw(st.sampled_from(dims))
    n = draw(st.integers(0, 9))
    # up to 7 so some points lie beyond the reference (6) in some objective
    element = st.floats(-5, 7, allow_nan=False).map(lambda v: round(v, 2))
    points = draw(arrays(float, (n, d), elements=element))
    directions = draw(st.lists(st.sampled_from(["minimize", "maximize"]), min_size=d, max_size=d))
    ref = np.array([6.0 if k == "minimize" else -6.0 for k in directions])
    return points, directions, ref


def _losses(
    points: np.ndarray, directions: list[str], ref: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    signs = np.array([-1.0 if d == "maximize" else 1.0 for d in directions])
    return points * signs, ref * signs


@settings(max_examples=200, deadline=None)
@given(point_sets((2, 3, 4)))
def test_matches_optuna(case: tuple[np.ndarray, list[str], np.ndarray]) -> None:
    points, directions, ref = case
    losses, ref_loss = _losses(points, directions, ref)
    inside = losses[np.all(losses <= ref_loss, axis=1)]  # optuna refuses points past the reference
    expected = compute_hypervolume(inside, ref_loss) if len(inside) else 0.0
    assert hypervolume(points, directions, ref) == pytest.approx(expected, rel=1e-9, abs=1e-9)


@pytest.mark.parametrize(("n", "d"), [(200, 2), (60, 3), (25, 4), (12, 5)])
def test_matches_optuna_on_larger_random_fronts(n: int, d: int) -> None:
    rng = np.random.default_rng(n + d)
    points = rng.dirichlet(np.ones(d), size=n)  # on a simplex: mostly non-dominated
    ref = np.full(d, 1.05)
    assert hypervolume(points, ["minimize"] * d, ref) == pytest.approx(
        compute_hypervolume(points, ref), rel=1e-9
    )


@settings(max_examples=120, deadline=None)
@given(point_sets((2, 3)))
def test_matches_grid_brute_force(case: tuple[np.ndarray, list[str], np.ndarray]) -> None:
    points, directions, ref = case
    losses, ref_loss = _losses(points, directions, ref)
    assert hypervolume(points, directions, ref) == pytest.approx(
        _grid_hypervolume(losses, ref_loss), rel=1e-9, abs=1e-9
    )


@pytest.mark.parametrize("d", [2, 3])
def test_matches_monte_carlo(d: int) -> None:
    rng = np.random.default_rng(d)
    points = rng.uniform(0, 1, size=(12, d))
    ref = np.ones(d) * 1.1
    samples = rng.uniform(0, 1.1, size=(200_000, d))
    dominated = np.zeros(len(samples), dtype=bool)
    for p in points:
        dominated |= np.all(samples >= p, axis=1)
    estimate = dominated.mean() * 1.1**d
    stderr = np.sqrt(dominated.mean() * (1 - dominated.mean()) / len(samples)) * 1.1**d
    exact = hypervolume(points, ["minimize"] * d, ref)
    assert abs(exact - estimate) < 4 * stderr


def test_known_values_and_reference_handling() -> None:
    pts = np.array([[1.0, 3.0], [2.0, 2.0], [3.0, 1.0]])
    assert hypervolume(pts, ["minimize", "minimize"], [4.0, 4.0]) == 6.0
    # maximise the second column: same geometry mirrored
    assert hypervolume(pts * [1, -1], ["minimize", "maximize"], [4.0, -4.0]) == 6.0
    # points outside the reference box add nothing
    assert hypervolume(np.array([[5.0, 0.0]]), ["minimize", "minimize"], [4.0, 4.0]) == 0.0
    assert hypervolume(np.empty((0, 2)), ["minimize", "minimize"], [4.0, 4.0]) == 0.0
    with pytest.raises(ReportError, match="finite"):
        hypervolume(pts, ["minimize", "minimize"], [np.inf, 4.0])
    with pytest.raises(ReportError, match="NaN"):
        hypervolume(np.array([[np.nan, 1.0]]), ["minimize", "minimize"], [4.0, 4.0])


def test_over_trials_is_monotone_and_ends_at_the_front_hypervolume(
    records: pd.DataFrame, attrs: dict
) -> None:
    objectives = {"psnr_y_db": "maximize", "macs": "minimize"}
    ref = default_reference_point(records, objectives, budgets=attrs["budgets"])
    assert ref.values["macs"] == attrs["budgets"]["macs"] and ref.basis["macs"] == "budget"
    assert ref.values["psnr_y_db"] < records.loc[records["feasible"], "psnr_y_db"].min()
    assert "budget" in ref.describe() and "psnr_y_db=" in ref.describe()
    hv = hypervolume_over_trials(records, objectives, ref)
    assert len(hv) == len(records) and hv["hypervolume"].is_monotonic_increasing
    front = pareto_front(records, objectives)
    final = hypervolume(
        front[list(objectives)].to_numpy(float),
        list(objectives.values()),
        [ref.values[n] for n in objectives],
    )
    assert hv["hypervolume"].iloc[-1] == pytest.approx(final)
    assert hv.attrs["reference_point"] == ref.values
    # the default reference (no budgets) is stated too
    default = hypervolume_over_trials(records, objectives)
    assert default.attrs["reference_basis"]["macs"].startswith("worst feasible")


def test_reference_point_errors(records: pd.DataFrame) -> None:
    with pytest.raises(ReportError, match="no value for objective"):
        hypervolume_over_trials(records, ["psnr_y_db:maximize", "macs:minimize"], {"macs": 1.0})
    with pytest.raises(ReportError, match="no feasible"):
        default_reference_point(records.iloc[0:0], ["psnr_y_db:maximize", "macs:minimize"])
    assert ReferencePoint({"macs": 1e10}, {"macs": "budget"}).describe() == "macs=1e+10 (budget)"
