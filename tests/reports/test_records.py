"""The records table from Optuna storages and Ray Tune results; CSV/Parquet export."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import pytest

from reports.errors import ReportError
from reports.records import (
    RECORD_COLUMNS,
    TRIAL_ATTRS,
    load_ray_results,
    load_records,
    parse_objectives,
    records_from_trials,
    to_csv,
    to_parquet,
    validate_trial_attrs,
)
from tests.reports.synth import trial_attrs


def test_columns_types_and_states(records: pd.DataFrame) -> None:
    assert tuple(records.columns[: len(RECORD_COLUMNS)]) == RECORD_COLUMNS
    assert records["number"].tolist() == list(range(43))
    assert str(records["params"].dtype) == "Int64" and str(records["macs"].dtype) == "Int64"
    assert (records["flops"] == 2 * records["macs"]).all()
    counts = records["status"].value_counts().to_dict()
    assert counts == {"complete": 28, "infeasible": 9, "pruned": 4, "failed": 1, "duplicate": 1}
    # search/ tells Optuna a placeholder 0.0 for an untrained infeasible trial: never a PSNR
    untrained = records[(records["status"] == "infeasible") & (records["number"] % 2 == 0)]
    assert len(untrained) and untrained["psnr_y_db"].isna().all()
    duplicate = records[records["status"] == "duplicate"].iloc[0]
    assert duplicate["duplicate_of"] == 0 and not duplicate["feasible"]
    assert records["feasible"].sum() == 28
    assert not records.loc[records["status"] != "complete", "feasible"].any()
    assert records.loc[records["feasible"], "violations"].map(len).eq(0).all()
    assert set(records["device"]) == {"cpu-2core"} and set(records["study"]) == {"demo"}
    assert set(records["proxy"]) == {"quick"} and set(records["scale"]) == {2}
    assert sorted(records["reference"].dropna()) == ["fsrcnn", "rfdn-proxy"]
    assert (records["duration_s"] >= 0).all()


def test_journal_and_sqlite_give_the_same_table(journal_url: str, sqlite_url: str) -> None:
    a = load_records(journal_url, "demo")
    b = load_records(sqlite_url, "demo")
    cols = ["key", "status", "params", "macs", "psnr_y_db", "feasible"]
    # the sqlite study holds the first 6 search trials (same seed), a duplicate, two references
    pd.testing.assert_frame_equal(
        a.loc[:5, cols].reset_index(drop=True), b.loc[:5, cols].reset_index(drop=True)
    )


def test_objective_values_fill_missing_metric_attrs() -> None:
    attrs = trial_attrs(np.random.default_rng(0), 0)
    del attrs["psnr_y_db"]
    trial = optuna.trial.create_trial(values=[31.5, float(attrs["macs"])], user_attrs=attrs)
    df = records_from_trials(
        [trial], study_attrs={"objectives": ["psnr_y_db:maximize", "macs:minimize"]}
    )
    assert df.loc[0, "psnr_y_db"] == 31.5


def test_running_and_failed_states_override_the_attribute() -> None:
    attrs = trial_attrs(np.random.default_rng(0), 0)
    failed = optuna.trial.create_trial(state=optuna.trial.TrialState.FAIL, user_attrs=attrs)
    df = records_from_trials([failed])
    assert df.loc[0, "status"] == "failed" and not df.loc[0, "feasible"]


def test_validate_trial_attrs_names_the_problem() -> None:
    attrs = trial_attrs(np.random.default_rng(0), 0)
    for change, words in [
        ({"status": "done"}, "status 'done'"),
        ({"flops": 1}, "flops must be 2 \\* macs"),
        ({"violations": {"speed": 1.0}}, "unknown budget in violations"),
    ]:
        with pytest.raises(ReportError, match=words):
            validate_trial_attrs({**attrs, **change})
    validate_trial_attrs({**attrs, "worker": "host:1:2"})  # search-side extras are allowed
    with pytest.raises(ReportError, match="unknown trial attributes: typo"):
        validate_trial_attrs({**attrs, "typo": 1}, strict=True)
    with pytest.raises(ReportError, match="missing: key"):
        validate_trial_attrs({k: v for k, v in attrs.items() if k != "key"})
    assert set(TRIAL_ATTRS) <= set(attrs)


def test_parse_objectives() -> None:
    assert parse_objectives(["psnr_y_db:maximize", "latency_ms:minimize"]) == {
        "psnr_y_db": "maximize",
        "latency_ms": "minimize",
    }
    for bad, words in [(["flops_g:minimize"], "unknown objective"), (["macs:min"], "direction")]:
        with pytest.raises(ReportError, match=words):
            parse_objectives(bad)


def test_csv_and_parquet_round_trip(records: pd.DataFrame, tmp_path: Path) -> None:
    csv = pd.read_csv(to_csv(records, tmp_path / "r.csv"))
    parquet = pd.read_parquet(to_parquet(records, tmp_path / "r.parquet"))
    for back in (csv, parquet):
        assert len(back) == len(records) and list(back.columns) == list(records.columns)
        assert np.allclose(back["psnr_y_db"], records["psnr_y_db"], equal_nan=True)
        violations = [json.loads(v) for v in back["violations"]]
        assert violations == records["violations"].tolist()


def _ray_experiment(root: Path) -> None:
    rng = np.random.default_rng(3)
    for i in range(3):
        trial_dir = root / f"objective_{i:05d}_{i}_n={i}"
        trial_dir.mkdir(parents=True)
        lines = []
        for step in (1, 2):
            attrs = trial_attrs(rng, i)
            lines.append(
                json.dumps(
                    {
                        **attrs,
                        "config": {"n": i},
                        "training_iteration": step,
                        "timestamp": 1_700_000_000 + 10 * step,
                        "time_total_s": 5.0 * step,
                        "trial_id": f"t{i}",
                    }
                )
            )
        text = "\n".join(lines) + "\n"
        if i == 1:
            text += '{"psnr_y_db": 3'  # killed mid-write: the partial line is skipped
        (trial_dir / "result.json").write_text(text)
    (root / "objective_00003_3").mkdir()
    (root / "objective_00003_3" / "result.json").write_text("")  # died before its first report


def test_load_ray_results_reads_the_last_line_per_trial(tmp_path: Path) -> None:
    root = tmp_path / "exp"
    _ray_experiment(root)
    df = load_ray_results(root, device="cpu-2core")
    assert len(df) == 4 and tuple(df.columns[: len(RECORD_COLUMNS)]) == RECORD_COLUMNS
    assert df["trial_id"].tolist()[:3] == ["t0", "t1", "t2"]
    assert df["status"].tolist()[3] == "failed"
    assert df.loc[0, "duration_s"] == 10.0 and df.loc[0, "device"] == "cpu-2core"
    assert (df["study"] == "exp").all()
    last = json.loads((root / "objective_00000_0_n=0" / "result.json").read_text().splitlines()[-1])
    assert df.loc[0, "psnr_y_db"] == pytest.approx(last["psnr_y_db"])


def test_load_ray_results_errors(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match="no Ray Tune results"):
        load_ray_results(tmp_path / "none")
    with pytest.raises(ReportError, match="no result.json"):
        load_ray_results(tmp_path)
