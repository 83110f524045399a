"""benchmarks/pruner_supernet_rungs.py on synthetic nets: what a rung inside the fine-tune costs
and keeps, and its pre-registered primary."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

import pruner_supernet_rungs as bench  # noqa: E402
from pruner_supernet_replay import replay_order  # noqa: E402 - one replay for both benchmarks

from search.pruner import ParetoSuccessiveHalving  # noqa: E402


def _net(label: str, rung20: float, final: float, macs: float) -> dict:
    return {"label": label, "curve": {20: rung20, 200: final}, "psnr_y_db": final,
            "steps": 200, "macs": macs, "cpu_s": {20: 2.0, 200: 10.0}, "score_cpu_s": 0.5}


def test_a_net_stopped_at_a_rung_costs_its_steps_there_and_a_continued_one_an_extra_score(
) -> None:
    nets = [_net("a", 35.0, 35.5, 1.0), _net("b", 35.2, 35.7, 2.0), _net("c", 35.4, 35.9, 3.0),
            _net("d", 35.1, 36.1, 4.0)]  # d: dominated at step 20 by b and c, best at the end
    ref = [35.0 - 0.1, 4.4]
    out = replay_order(ParetoSuccessiveHalving((20,), eta=3.0), nets, [0, 1, 2, 3], ref)
    assert out["stopped"] == ["d"]
    # unpruned 4 x 10; pruned: three continue (10 + 0.5 each), d stops at step 20 (2)
    assert out["compute_saved"] == pytest.approx(1 - 33.5 / 40)
    assert out["steps_saved"] == pytest.approx(180 / 800)
    assert out["hv_ratio_macs"] < 1.0
    keep_all = replay_order(ParetoSuccessiveHalving((20,), eta=1.01), nets, [0, 1, 2, 3],
                                  ref)
    assert keep_all["stopped"] == [] and keep_all["hv_ratio_macs"] == pytest.approx(1.0)
    assert keep_all["compute_saved"] == pytest.approx(1 - 42 / 40)  # the rung's score costs


def test_the_primary_is_the_pre_registered_rule() -> None:
    which, rule = bench.settings()[bench.PRIMARY]
    assert which == 0 and rule.rungs == (20,) and rule.eta == 4.0
    assert rule.min_dominators == 1 and rule.min_peers == 3


def test_a_replay_without_measurements_is_a_one_line_error(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setattr(bench, "RESULTS", tmp_path)
    assert bench.main(["replay", "--orders", "2", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("pruner_supernet_rungs: no pruner_supernet_rungs_seed0.json")
    assert "\n" not in err
