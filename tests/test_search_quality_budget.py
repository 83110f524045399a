"""benchmarks/search_quality.py: the pruner replayed at a compute budget down a longer proposal
stream (issue 5), and a run's record cut at its first --trials trained trials."""

from __future__ import annotations

from types import SimpleNamespace

import optuna
import pytest
from optuna.trial import TrialState, create_trial

from tests.conftest import load_benchmark


@pytest.fixture(scope="module")
def sq():
    return load_benchmark("search_quality")


def net(key: str, gmacs: float, final_db: float, curve: dict[int, float]) -> dict:
    return {"key": key, "macs": gmacs * 1e9, "psnr_y_db": final_db,
            "intermediate": [[s, v] for s, v in curve.items()]}


def at(db: float) -> dict[int, float]:
    return {50: db, 100: db + 0.1, 150: db + 0.2}


# 300 steps, default rungs 50/100/150. The run: A, B, C train to the end (fewer than 3 peers at
# step 50 for each), D scores lowest at step 50 at the highest cost and stops there, although
# its final score (35 dB at 4 G) is the run's best. The extension: F stops at step 50 the same
# way; E (the cheapest net) is never dominated and trains to the end.
BASE = [net("A", 1, 33.0, at(32.0)), net("B", 2, 32.0, at(31.0)), net("C", 3, 34.0, at(33.0)),
        net("D", 4, 35.0, at(29.0))]
EXTENSION = [net("F", 4.5, 30.0, at(28.0)), net("E", 0.5, 31.5, at(31.0))]
PROTOCOL = SimpleNamespace(steps=300, eval_every=50)
REF = [29.0, 5e9]
# HV in dB x G over (29 dB, 5 G): the run A, B, C, D: 4x2 (A, 1-3 G) + 5x1 (C) + 6x1 (D) = 19;
# A, B alone: 4x4 = 16; A, B, C: 4x2 + 5x2 = 18; A, B, C, E: 2.5x0.5 + 18 = 19.25


def default_row(sq, monkeypatch, share: float) -> dict:
    monkeypatch.setattr(sq, "BUDGET_SHARE", share)
    runs = {"random-full-0": {"pruner": False, "points": BASE}}
    rows = sq.budget_rows(runs, {"random-full-0": EXTENSION}, REF, PROTOCOL)
    label = next(k for k in rows["settings"] if k.startswith("default"))
    return rows["settings"][label]["random-full-0"]


def test_the_budget_stops_the_pruned_search_in_its_own_run(sq, monkeypatch) -> None:
    # 60% of 1200 steps: A and B (600) fit, C would make 900
    row = default_row(sq, monkeypatch, 0.6)
    assert (row["proposals"], row["stream"], row["base"]) == (2, 6, 4)
    assert not row["exhausted"] and row["compute_share"] == pytest.approx(0.5)
    assert row["hv_ratio_macs"] == pytest.approx(16 / 19)


def test_a_larger_budget_reaches_into_the_extension(sq, monkeypatch) -> None:
    # 110% of 1200 = 1320: A, B, C (900), D and F stopped at 50 (1000), E (1300); stream spent
    row = default_row(sq, monkeypatch, 1.1)
    assert row["proposals"] == 6 and row["exhausted"]
    assert row["compute_share"] == pytest.approx(1300 / 1200)
    assert row["hv_ratio_macs"] == pytest.approx(19.25 / 19)
    # 98% of 19 = 18.62: the pruned search first gets there with E (1300 steps), the unpruned
    # one with D, its last net
    assert row["share_to_target"] == pytest.approx(1300 / 1200)
    assert row["unpruned_share_to_target"] == pytest.approx(1.0)


def test_runs_without_an_extension_or_with_a_pruner_are_left_out(sq) -> None:
    runs = {"random-full-0": {"pruner": False, "points": BASE},
            "random-prune-0": {"pruner": True, "points": BASE}}
    assert sq.budget_rows(runs, {}, REF, PROTOCOL)["settings"] == {}
    rows = sq.budget_rows(runs, {"random-full-0": EXTENSION, "random-prune-0": EXTENSION},
                          REF, PROTOCOL)
    assert all(set(v) == {"random-full-0"} for v in rows["settings"].values())


def test_a_record_keeps_the_first_trained_trials_only(sq) -> None:
    study = optuna.create_study(directions=["maximize", "minimize"])

    def add(status: str, key: str, steps: int, **extra) -> None:
        attrs = {"status": status, "key": key, "steps": steps, **extra}
        if status == "complete":
            attrs |= {"spec": "{}", "psnr_y_db": 30.0, "macs": 1e9, "params": 1000}
        state = {"pruned": TrialState.PRUNED, "failed": TrialState.FAIL}.get(
            status, TrialState.COMPLETE)
        study.add_trial(create_trial(state=state, values=[30.0, 1e9]
                                     if state == TrialState.COMPLETE else None,
                                     user_attrs=attrs))

    # a stale trial that was retried does not count, as for --trials: its retry does
    for status, key, steps, extra in [("complete", "a", 300, {}), ("duplicate", "a", 0, {}),
                                      ("failed", "b", 20, {"retried": True}),
                                      ("pruned", "b", 50, {}), ("complete", "c", 300, {}),
                                      ("complete", "d", 300, {})]:
        add(status, key, steps, **extra)
    rec = sq.record(study, "random-full-0", "random", "full", 0, 1.0, [], limit=3)
    assert [p["key"] for p in rec["points"]] == ["a", "c"]
    assert (rec["pruned"], rec["failed"], rec["steps"]) == (1, 1, 670)
    assert [p["key"] for p in sq.record(study, "r", "random", "full", 0, 1.0, [],
                                        limit=10)["points"]] == ["a", "c", "d"]
