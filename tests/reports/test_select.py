"""Selecting a model: budgets, quality floor, preference, margins and clear failures."""

from __future__ import annotations

import pandas as pd
import pytest

from reports.errors import ReportError
from reports.select import format_selection, reference_psnr_db, select_model


def _within(records: pd.DataFrame, **limits: float) -> pd.DataFrame:
    cols = {"params": "params", "macs": "macs", "latency_ms": "latency_ms"}
    pool = records[records["status"].isin(["complete", "infeasible"]) & records["reference"].isna()]
    for name, limit in limits.items():
        pool = pool[pool[cols[name]] <= limit]
    return pool


def test_prefer_psnr_picks_the_best_within_budget(records: pd.DataFrame) -> None:
    budgets = {"params": 200_000, "latency_ms": 60.0, "macs": None}
    sel = select_model(records, budgets)
    pool = _within(records, params=200_000, latency_ms=60.0)
    assert sel.chosen["number"] == pool.loc[pool["psnr_y_db"].idxmax(), "number"]
    assert sel.chosen["reference"] is None or pd.isna(sel.chosen["reference"])
    assert len(sel.runners_up) == 5
    assert (sel.runners_up["psnr_y_db"] <= sel.chosen["psnr_y_db"]).all()
    assert sel.chosen["margin_params"] == 200_000 - sel.chosen["params"]
    assert sel.chosen["margin_latency_ms"] == pytest.approx(60.0 - sel.chosen["latency_ms"])
    assert (sel.candidates[["margin_params", "margin_latency_ms"]] >= 0).all().all()
    text = format_selection(sel)
    assert "chosen" in text and str(sel.chosen["key"]) in text and "margin_params" in text
    data = sel.to_dict()
    assert {"key", "psnr_y_db", "params", "macs", "latency_ms", "runners_up"} <= set(data)


def test_budgets_looser_than_the_study_admit_its_infeasible_trials(records: pd.DataFrame) -> None:
    sel = select_model(records, {"params": 10_000_000})
    assert sel.chosen["status"] == "infeasible"  # over the study's budget, inside this one
    assert sel.chosen["psnr_y_db"] == _within(records)["psnr_y_db"].max()


def test_floor_and_prefer_latency(records: pd.DataFrame) -> None:
    sel = select_model(records, {"latency_ms": 80.0}, min_psnr_db=32.0, prefer="latency")
    pool = _within(records, latency_ms=80.0)
    pool = pool[pool["psnr_y_db"] >= 32.0]
    assert sel.chosen["number"] == pool.loc[pool["latency_ms"].idxmin(), "number"]
    assert sel.chosen["margin_psnr_db"] >= 0 and sel.floor_psnr_db == 32.0


def test_ratio_floor_against_a_zoo_reference(records: pd.DataFrame) -> None:
    ref = reference_psnr_db(records, "rfdn-proxy")
    sel = select_model(records, {"params": 300_000}, min_psnr_ratio=1.0, reference_psnr_db=ref)
    assert sel.floor_psnr_db == pytest.approx(ref) and sel.chosen["psnr_y_db"] >= ref
    with pytest.raises(ReportError, match="known: fsrcnn, rfdn-proxy"):
        reference_psnr_db(records, "imdn")
    with pytest.raises(ReportError, match="needs the reference"):
        select_model(records, {}, min_psnr_ratio=0.9)


def test_prefer_knee(records: pd.DataFrame) -> None:
    sel = select_model(records, {"params": 300_000, "latency_ms": 80.0}, prefer="knee")
    assert "knee" in sel.reason and sel.chosen["feasible"]


def test_nothing_meets_names_the_closest_and_how_far(records: pd.DataFrame) -> None:
    with pytest.raises(ReportError) as exc:
        select_model(records, {"latency_ms": 3.0}, min_psnr_db=31.5)
    msg = str(exc.value)
    assert "\n" not in msg
    assert msg.startswith(
        "no trial meets the budget (latency_ms <= 3, psnr_y_db >= 31.500); closest:"
    )
    assert msg.count("misses") == 3 and "latency_ms by" in msg and "%" in msg


def test_bad_input(records: pd.DataFrame) -> None:
    with pytest.raises(ReportError, match="no trials"):
        select_model(records.iloc[0:0], {})
    untrained = records[records["status"].isin(["pruned", "failed"])]
    with pytest.raises(ReportError, match="no trained trial.*pruned"):
        select_model(untrained, {})
    with pytest.raises(ReportError, match="unknown budget 'speed'; known: params"):
        select_model(records, {"speed": 1})
    with pytest.raises(ReportError, match="positive"):
        select_model(records, {"params": -1})
    with pytest.raises(ReportError, match="unknown preference"):
        select_model(records, {}, prefer="size")  # type: ignore[arg-type]
