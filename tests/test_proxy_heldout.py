"""benchmarks/proxy_heldout.py: the strategies are fixed by the calibration report, and the
held-out and pooled agreements and paired intervals are computed over the right nets."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from search.fidelity import kendall_tau

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def heldout():
    sys.path.insert(0, str(REPO / "benchmarks"))
    spec = importlib.util.spec_from_file_location(
        "proxy_heldout", REPO / "benchmarks" / "proxy_heldout.py"
    )
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_the_questions_come_from_the_calibration_report(heldout) -> None:
    cal = {
        "strategy": "zero-cost:naswot",
        "comparisons": [
            {"a": "zero-cost:naswot", "b": "params-only"},
            {"a": "quick", "b": "params-only"},
            {"a": "own-const-300", "b": "quick"},
        ],
    }
    assert heldout.questions(cal) == [
        "zero-cost:naswot", "params-only", "macs-only", "quick", "own-const-300"
    ]


def test_heldout_and_pooled_agreement(heldout) -> None:
    held_ref = {f"h{i}": float(i) for i in range(6)}
    cal_ref = {f"c{i}": float(i) for i in range(5)}
    held = {
        "good": {lb: v for lb, v in held_ref.items()},  # ranks the held-out nets perfectly
        "params-only": {lb: -v for lb, v in held_ref.items()},  # exactly backwards
        "partial": {"h0": 0.0, "h1": 1.0},  # too few held-out nets to score alone
    }
    cal = {
        "good": {lb: -v for lb, v in cal_ref.items()},  # backwards on the calibration set
        "params-only": {lb: v for lb, v in cal_ref.items()},
    }
    out = heldout.evaluate(["good", "params-only", "partial"], held, held_ref, cal, cal_ref,
                           n_boot=200)
    rows = {r["name"]: r for r in out["strategies"]}
    assert rows["good"]["heldout"]["kendall_tau"] == pytest.approx(1.0)
    assert rows["params-only"]["heldout"]["kendall_tau"] == pytest.approx(-1.0)
    pooled = list(held_ref.values()) + list(cal_ref.values())
    good_pooled = list(held_ref.values()) + [-v for v in cal_ref.values()]
    assert rows["good"]["pooled"]["kendall_tau"] == pytest.approx(kendall_tau(good_pooled, pooled))
    assert rows["good"]["n_pooled"] == 11 and rows["partial"]["n_heldout"] == 2
    assert "heldout" not in rows["partial"]  # 2 nets: no agreement claimed
    comp = {(c["a"], c["on"]): c for c in out["comparisons"]}
    assert set(comp) == {("good", "heldout"), ("good", "pooled")}  # partial has < 4 nets
    h = comp[("good", "heldout")]
    assert h["n_items"] == 6 and h["diff"] == pytest.approx(2.0)
    assert h["clearly_above"] and h["diff_ci95"][0] > 0
    p = comp[("good", "pooled")]
    assert p["n_items"] == 11 and p["clearly_above"] == (p["diff_ci95"][0] > 0)


def test_a_leave_one_out_blend_cannot_be_scored_out_of_sample(heldout) -> None:
    from blocks.errors import UserError

    with pytest.raises(UserError, match="out of sample"):
        heldout.strategy_scores("quick+logparams(LOO)", [], train_runs=False, common={})
