"""The committed supernet results (benchmarks/results/proxy_supernet[_own].json): their rank
figures follow from the per-net scores stored beside them and the committed reference tables
(recomputed here, so an edited or stale figure fails)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from search.fidelity import LinearBlend, ReferenceTable, kendall_tau, loo_blend

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"


@pytest.fixture(scope="module", params=["proxy_supernet.json", "proxy_supernet_own.json"])
def report(request) -> dict:
    path = RESULTS / request.param
    if not path.is_file():
        pytest.skip(f"{path.name} not committed (run benchmarks/proxy_supernet.py train, score)")
    return json.loads(path.read_text())


def test_the_references_are_the_committed_tables(report) -> None:
    for s in report["sets"].values():
        table = ReferenceTable.load(REPO / s["reference_file"])
        assert table.scores(list(s["ref"])) == pytest.approx(s["ref"])
        for lb, sc in s["scores"].items():
            assert sc["reference_psnr_y_db"] == pytest.approx(s["ref"][lb])
    assert len(report["sets"]["calibration"]["ref"]) == 13
    assert len(report["sets"]["heldout"]["ref"]) == 8


def blend_predictions(report: dict, ft: str) -> dict[str, float]:
    """supernet-FT+logparams(cal-fit) from the stored scores: fitted on the covered calibration
    nets (leave-one-out for themselves), applied to the covered held-out nets."""
    least = report["covered_threshold"]
    cal, held = report["sets"]["calibration"], report["sets"]["heldout"]
    c = [lb for lb, sc in cal["scores"].items() if sc["coverage"] >= least]
    h = [lb for lb, sc in held["scores"].items() if sc["coverage"] >= least]

    def x(s, labels):
        return [[s["scores"][lb][ft]["psnr_y_db"], math.log10(s["scores"][lb]["params"])]
                for lb in labels]

    y = [cal["ref"][lb] for lb in c]
    out = dict(zip(c, loo_blend(x(cal, c), y), strict=True))
    return out | dict(zip(h, LinearBlend.fit(x(cal, c), y).predict(x(held, h)), strict=True))


def test_rank_figures_follow_from_the_stored_scores(report) -> None:
    checked = 0
    for where, rows in report["rows"].items():
        sets = list(report["sets"].values()) if where == "pooled" else [report["sets"][where]]
        ref = {lb: v for s in sets for lb, v in s["ref"].items()}
        scores = {lb: v for s in sets for lb, v in s["scores"].items()}
        for r in rows:
            labels = [
                lb
                for lb in ref
                if r["on"] == "all" or scores[lb]["coverage"] >= report["covered_threshold"]
            ]
            assert r["n"] == len(labels)
            if r["strategy"] == "params-only":
                mine = [scores[lb]["params"] for lb in labels]
            elif r["strategy"].endswith("+logparams(cal-fit)"):
                ft = r["strategy"].removeprefix("supernet-").split("+")[0]
                preds = blend_predictions(report, ft)
                mine = [preds[lb] for lb in labels]
            else:
                mine = [
                    scores[lb][r["strategy"].replace("supernet-", "")]["psnr_y_db"] for lb in labels
                ]
            assert r["kendall_tau"] == pytest.approx(kendall_tau(mine, [ref[lb] for lb in labels]))
            checked += 1
    # params-only and each fine-tune on all and covered nets, each blend on covered ones
    assert checked == 3 * (2 * (1 + len(report["finetune_steps"])) + len(report["finetune_steps"]))


def test_the_amortised_cost_is_the_supernet_over_the_nets(report) -> None:
    n = report["amortised_over"]["scored"]
    assert n == 21
    assert report["amortised_cpu_seconds"]["scored"] == pytest.approx(
        report["supernet_cpu_seconds"] / n
    )
    assert report["supernet_steps"] == report["plan"]["protocol"]["steps"]
