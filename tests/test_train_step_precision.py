"""benchmarks/train_step_precision.py: both precisions are timed on the same net, and the
summary's 4000-step figures follow from the per-net step times."""

from __future__ import annotations

import json

import pytest

from tests.conftest import load_benchmark


@pytest.fixture(scope="module")
def tsp():
    return load_benchmark("train_step_precision")


def test_the_summary_takes_the_faster_precision_of_each_net(tsp) -> None:
    rows = [{"fp32_s_per_step": 0.10, "bf16_s_per_step": 0.05},
            {"fp32_s_per_step": 0.02, "bf16_s_per_step": 0.04}]
    s = tsp.summarise(rows)
    assert s["nets_faster_in_bf16"] == 1
    assert s["speedup_bf16_min"] == pytest.approx(0.5) and s["speedup_bf16_max"] == 2.0
    assert s["cut_train_s_fp32"] == pytest.approx(4000 * 0.06)
    assert s["cut_train_s_bf16"] == pytest.approx(4000 * 0.045)
    assert s["cut_train_s_faster_of_two"] == pytest.approx(4000 * 0.035)
    assert s["fits_budget"] is False  # 140 s > 120


def test_one_reference_net_is_timed_in_both_precisions(tsp, tmp_path) -> None:
    from proxy_small_batch import reference_nets  # benchmarks/ is on sys.path once loaded

    label = min(reference_nets(tsp.RESULTS), key=lambda n: n["params"])["label"]
    assert tsp.main(["--steps", "1", "--nets", label, "--out", str(tmp_path / "t")]) == 0
    report = json.loads((tmp_path / "t.json").read_text())
    (row,) = report["nets"]
    assert row["label"] == label and row["fp32_s_per_step"] > 0 and row["bf16_s_per_step"] > 0
    assert report["summary"]["n_nets"] == 1
    assert f"| {label} |" in (tmp_path / "t.md").read_text()


def test_an_unknown_net_is_a_one_line_error(tsp, capsys) -> None:
    assert tsp.main(["--nets", "no-such-net"]) == 2
    assert capsys.readouterr().err.strip() == "error: unknown net(s) no-such-net"
