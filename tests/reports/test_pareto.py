"""Non-dominated masks and sorting, fronts of records, the knee point."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from reports.errors import ReportError
from reports.pareto import (
    knee_point,
    non_dominated_mask,
    non_dominated_ranks,
    pareto_front,
    pareto_ranks,
)


def _dominates(a: np.ndarray, b: np.ndarray, signs: np.ndarray) -> bool:
    la, lb = a * signs, b * signs
    return bool(np.all(la <= lb) and np.any(la < lb))


@st.composite
def problems(draw: st.DrawFn) -> tuple[np.ndarray, list[str]]:
    d = draw(st.integers(1, 4))
    n = draw(st.integers(0, 25))
    values = draw(arrays(float, (n, d), elements=st.integers(0, 6).map(float)))  # many ties
    directions = draw(st.lists(st.sampled_from(["minimize", "maximize"]), min_size=d, max_size=d))
    return values, directions


@settings(max_examples=150, deadline=None)
@given(problems())
def test_mask_matches_the_definition(problem: tuple[np.ndarray, list[str]]) -> None:
    values, directions = problem
    signs = np.array([-1.0 if d == "maximize" else 1.0 for d in directions])
    expected = [
        not any(_dominates(values[j], values[i], signs) for j in range(len(values)) if j != i)
        for i in range(len(values))
    ]
    assert non_dominated_mask(values, directions).tolist() == expected


@settings(max_examples=100, deadline=None)
@given(problems())
def test_ranks_peel_fronts(problem: tuple[np.ndarray, list[str]]) -> None:
    values, directions = problem
    signs = np.array([-1.0 if d == "maximize" else 1.0 for d in directions])
    ranks = non_dominated_ranks(values, directions)
    assert (ranks >= 0).all()
    for i, j in itertools.permutations(range(len(values)), 2):
        if ranks[i] == ranks[j]:
            assert not _dominates(values[i], values[j], signs)
    for i in range(len(values)):
        if ranks[i] > 0:  # dominated by someone exactly one rank better
            assert any(
                _dominates(values[j], values[i], signs)
                for j in range(len(values))
                if ranks[j] == ranks[i] - 1
            )


def test_nan_rows_are_never_on_the_front() -> None:
    values = np.array([[1.0, 1.0], [np.nan, 0.0], [2.0, 0.5]])
    assert non_dominated_mask(values, ["minimize", "minimize"]).tolist() == [True, False, True]
    assert non_dominated_ranks(values, ["minimize", "minimize"]).tolist() == [0, -1, 0]


def test_bad_directions_and_shapes() -> None:
    with pytest.raises(ReportError, match="direction"):
        non_dominated_mask(np.zeros((2, 2)), ["minimize", "up"])
    with pytest.raises(ReportError, match="shape"):
        non_dominated_mask(np.zeros((2, 3)), ["minimize", "minimize"])


def test_front_of_records_counts_only_feasible_complete_search_trials(
    records: pd.DataFrame,
) -> None:
    objectives = {"psnr_y_db": "maximize", "macs": "minimize"}
    front = pareto_front(records, objectives)
    assert len(front) > 3
    assert front["feasible"].all() and (front["status"] == "complete").all()
    assert front["reference"].isna().all()
    with_refs = pareto_front(records, objectives, include_references=True)
    assert set(with_refs.index) - set(front.index) <= set(
        records.index[records["reference"].notna()]
    )
    assert front["macs"].is_monotonic_increasing and front["psnr_y_db"].is_monotonic_increasing
    ranks = pareto_ranks(records, ["psnr_y_db:maximize", "macs:minimize"])
    assert set(ranks[ranks == 0].index) == set(front.index)
    assert ranks[~records["feasible"]].isna().all()
    # an infeasible trial with a higher PSNR does not enter the front
    best_infeasible = records.loc[records["status"] == "infeasible", "psnr_y_db"].max()
    assert best_infeasible > front["psnr_y_db"].max()


def _front(points: list[tuple[float, float]]) -> pd.DataFrame:
    return pd.DataFrame(points, columns=["macs", "psnr_y_db"]).assign(key=lambda d: d.index)


def test_knee_is_the_corner_of_an_l_shaped_front() -> None:
    front = _front([(1, 30.0), (2, 32.8), (3, 33.0), (6, 33.1), (10, 33.15)])
    knee = knee_point(front, {"psnr_y_db": "maximize", "macs": "minimize"})
    assert knee["macs"] == 2


def test_knee_edge_cases() -> None:
    objectives = {"psnr_y_db": "maximize", "macs": "minimize"}
    assert knee_point(_front([(5, 31.0)]), objectives)["macs"] == 5
    # a straight front has no bulge: closest to the ideal point, ties to the first
    assert knee_point(_front([(1, 30.0), (2, 31.0), (3, 32.0)]), objectives)["macs"] in (1, 2, 3)
    with pytest.raises(ReportError, match="empty"):
        knee_point(_front([]), objectives)
    three = pd.DataFrame(
        {"psnr_y_db": [30.0, 32.9, 33.0], "macs": [1, 2, 9], "latency_ms": [1.0, 2.0, 9.0]}
    )
    knee = knee_point(
        three, {"psnr_y_db": "maximize", "macs": "minimize", "latency_ms": "minimize"}
    )
    assert knee["macs"] == 2
