"""benchmarks/pruner_supernet_replay.py on synthetic nets: what a step-0 rung costs and keeps."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

import pruner_supernet_replay as bench  # noqa: E402

from search.pruner import ParetoSuccessiveHalving  # noqa: E402


def _net(label: str, rung0: float, final: float, macs: float) -> dict:
    return {"label": label, "curve": {0: rung0, 200: final}, "psnr_y_db": final, "steps": 200,
            "macs": macs}


def test_a_stopped_net_costs_its_rung_score_and_a_continued_one_both() -> None:
    # four nets, same cost order as quality at step 0: the last one is dominated there
    nets = [_net("a", 35.0, 35.5, 1.0), _net("b", 35.2, 35.7, 2.0), _net("c", 35.4, 35.9, 3.0),
            _net("d", 35.1, 36.1, 4.0)]  # d: dominated at step 0 by b and c, best at the end
    costs = {n["label"]: {"c0": 1.0, "c200": 9.0} for n in nets}
    ref = [35.0 - 0.1, 4.4]
    bench.with_costs(nets, costs)
    out = bench.replay_order(ParetoSuccessiveHalving((0,), eta=3.0), nets, [0, 1, 2, 3], ref)
    assert out["stopped"] == ["d"]  # the front net the rung loses
    # unpruned 4 x 9; pruned: three continue (1 + 9 each), d stops (1)
    assert out["compute_saved"] == pytest.approx(1 - 31 / 36)
    assert out["steps_saved"] == pytest.approx(1 / 4)
    assert out["hv_ratio_macs"] < 1.0
    keep_all = bench.replay_order(ParetoSuccessiveHalving((0,), eta=1.01), nets, [0, 1, 2, 3],
                                  ref)
    assert keep_all["stopped"] == [] and keep_all["hv_ratio_macs"] == pytest.approx(1.0)
    assert keep_all["compute_saved"] == pytest.approx(1 - 40 / 36)  # scoring twice costs


def test_the_primary_reads_the_seed0_supernet_with_eta_3() -> None:
    which, rule = bench.settings()[bench.PRIMARY]
    assert which == "seed 0" and rule.rungs == (0,) and rule.eta == 3.0
    assert rule.min_dominators == 1 and rule.min_peers == 3
