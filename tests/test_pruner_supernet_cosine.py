"""benchmarks/pruner_supernet_cosine.py: the step-0 rung replayed against the cosine finals."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

import pruner_supernet_cosine as bench  # noqa: E402
import pruner_supernet_replay as replay  # noqa: E402

from search.pruner import ParetoSuccessiveHalving  # noqa: E402


def _net(label: str, rung0: float, final: float, macs: float) -> dict:
    return {"label": label, "curve": {0: rung0, 200: final}, "psnr_y_db": final, "steps": 200,
            "macs": macs}


def test_the_cosine_final_replaces_the_constant_one_and_changes_what_the_rung_loses() -> None:
    # d is dominated at step 0 by b and c; under constant lr it ends on the front, under the
    # cosine it ends dominated by c: the same stop costs hypervolume only in the first case
    nets = [_net("a", 35.0, 35.5, 1.0), _net("b", 35.2, 35.7, 2.0), _net("c", 35.4, 35.9, 3.0),
            _net("d", 35.1, 36.1, 4.0)]
    costs = {n["label"]: {"c0": 1.0, "c200": 9.0} for n in nets}
    ref = [35.0 - 0.1, 4.4]
    rule = ParetoSuccessiveHalving((0,), eta=3.0)
    replay.with_costs(nets, costs)
    before = replay.replay_order(rule, nets, [0, 1, 2, 3], ref)
    finals = {lb: {"cosine": {"psnr_y_db": f}} for lb, f in
              zip("abcd", (35.5, 35.7, 35.9, 35.8), strict=True)}
    after = bench.with_cosine_finals(nets, finals)
    assert [n["curve"] for n in after][3] == {0: 35.1, 200: 35.8}
    assert after[3]["psnr_y_db"] == 35.8
    got = replay.replay_order(rule, after, [0, 1, 2, 3], ref)
    assert before["stopped"] == got["stopped"] == ["d"]  # the rung reads the same step-0 scores
    assert before["hv_ratio_macs"] < 1.0 and got["hv_ratio_macs"] == pytest.approx(1.0)
    assert got["compute_saved"] == pytest.approx(before["compute_saved"])


def test_a_net_without_a_cosine_final_is_refused() -> None:
    with pytest.raises(ValueError, match="no cosine final for b"):
        bench.with_cosine_finals([_net("a", 1, 2, 1), _net("b", 1, 2, 2)],
                                 {"a": {"cosine": {"psnr_y_db": 3.0}}, "b": {"ema": {}}})


def test_the_primary_is_row_3ls_rule_and_every_setting_reads_cosine_finals() -> None:
    which, rule = bench.settings()[bench.PRIMARY]
    assert which == "seed 0" and rule.rungs == (0,) and rule.eta == 3.0
    assert (rule.min_dominators, rule.min_peers) == (1, 3)
    assert replay.settings()[replay.PRIMARY][1] == rule  # the same rule as row 3l
    assert all(label.endswith("cosine finals") for label in bench.settings())


def test_missing_costs_are_a_one_line_error(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.setattr(bench, "COSTS", tmp_path / "none.json")
    assert bench.main(["--orders", "2", "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "pruner_supernet_cosine: no none.json: run pruner_supernet_replay.py first"
