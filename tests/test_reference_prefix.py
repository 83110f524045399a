"""benchmarks/reference_prefix.py on synthetic reference tables."""

from __future__ import annotations

import json

import pytest

from tests.conftest import load_benchmark


@pytest.fixture(scope="module")
def rp():
    return load_benchmark("reference_prefix")


def _net(i: int) -> dict:
    final = 32.0 + 0.1 * i
    # at 4000 steps the order of the finals already holds; at 1000 it is reversed
    curve = {1000: 31.0 - 0.1 * i, 2000: 31.5 + 0.01 * (i % 2), 4000: final - 0.05, 8000: final}
    return {"label": f"n{i}", "params": 10_000 - 1000 * i, "psnr_y_db": final, "curve": curve,
            "seconds": {s: 0.1 * s for s in curve}}


def test_each_step_is_judged_on_rank_and_cost(rp) -> None:
    rows = {r["steps"]: r for r in rp.prefix_rows([_net(i) for i in range(6)])}
    assert list(rows) == [1000, 2000, 4000]
    assert rows[4000]["kendall_tau"] == pytest.approx(1.0)
    assert rows[4000]["params_only_tau"] == pytest.approx(-1.0)  # bigger nets score lower here
    assert rows[4000]["fidelity_met"] and not rows[4000]["budget_met"]  # 400 s > 120 s
    assert rows[4000]["seconds_per_candidate"] == pytest.approx(400.0)
    assert rows[1000]["kendall_tau"] == pytest.approx(-1.0) and not rows[1000]["fidelity_met"]
    assert rows[1000]["budget_met"]  # 100 s


def test_main_writes_the_table_and_a_missing_table_is_one_line(rp, tmp_path, capsys) -> None:
    out = tmp_path / "out"
    assert rp.main(["--results", str(tmp_path), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("reference_prefix: no reference table") and "\n" not in err
    from tests.test_pruner_reference_replay import _table

    for j, name in enumerate(rp.TABLES):
        (tmp_path / name).write_text(json.dumps(_table([f"n{j}{i}" for i in range(3)], 0)))
    assert rp.main(["--results", str(tmp_path), "--out", str(out)]) == 0
    got = json.loads(out.with_suffix(".json").read_text())
    assert [r["n_architectures"] for r in got["rows"]] == [9, 9, 9]
    assert "| 4000 |" in out.with_suffix(".md").read_text()


def test_the_fresh_table_adds_out_of_sample_rows_and_the_primary_is_unchanged(
        rp, tmp_path) -> None:
    from tests.test_pruner_reference_replay import _table

    out = tmp_path / "out"
    for j, name in enumerate(rp.TABLES):
        (tmp_path / name).write_text(json.dumps(_table([f"n{j}{i}" for i in range(3)], 0)))
    assert rp.main(["--results", str(tmp_path), "--out", str(out)]) == 0
    before = json.loads(out.with_suffix(".json").read_text())
    assert before["fresh_rows"] is None
    assert "Out of sample" not in out.with_suffix(".md").read_text()
    (tmp_path / rp.FRESH).write_text(json.dumps(_table([f"f{i}" for i in range(4)], 0)))
    assert rp.main(["--results", str(tmp_path), "--out", str(out)]) == 0
    got = json.loads(out.with_suffix(".json").read_text())
    assert got["rows"] == before["rows"]
    assert [r["n_architectures"] for r in got["fresh_rows"]] == [4, 4, 4]
    assert [r["n_architectures"] for r in got["all_rows"]] == [13, 13, 13]
    md = out.with_suffix(".md").read_text()
    assert "## Out of sample: the 4 fresh nets" in md and "## All 13 nets" in md


def test_a_broken_fresh_table_is_one_line(rp, tmp_path, capsys) -> None:
    from tests.test_pruner_reference_replay import _table

    for j, name in enumerate(rp.TABLES):
        (tmp_path / name).write_text(json.dumps(_table([f"n{j}{i}" for i in range(3)], 0)))
    (tmp_path / rp.FRESH).write_text("{}")
    assert rp.main(["--results", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("reference_prefix: ") and rp.FRESH in err and "\n" not in err
