"""benchmarks/proxy_heldout.py: the strategies are fixed by the calibration report, and the
held-out and pooled agreements and paired intervals are computed over the right nets."""

from __future__ import annotations

import math

import pytest

from search.fidelity import kendall_tau
from tests.conftest import load_benchmark


@pytest.fixture(scope="module")
def heldout():
    return load_benchmark("proxy_heldout")


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


def test_every_calibration_blend_that_can_score_new_nets_is_refitted(heldout) -> None:
    cal = {
        "strategies": [
            {"name": "params-only", "fitted_leave_one_out": False},
            {"name": "params+macs(LOO)", "fitted_leave_one_out": True},
            {"name": "quick+logparams(LOO)", "fitted_leave_one_out": True},
            {"name": "quick+powerlaw+logparams(LOO)", "fitted_leave_one_out": True},
            {"name": "plain-const-300+logparams(LOO)", "fitted_leave_one_out": True},  # same run
        ]
    }
    assert heldout.calibration_blends(cal) == {
        "params+macs(cal-fit)": ["params-only", "macs-only"],
        "quick+logparams(cal-fit)": ["quick", "params-only"],
        "quick+powerlaw+logparams(cal-fit)": ["quick+powerlaw", "params-only"],
    }


def test_a_calibration_fit_scores_only_held_out_nets_that_have_every_part(heldout) -> None:
    law = {"c0": (0, 1), "c1": (1, 0), "c2": (2, 2), "c3": (3, 1), "c4": (1, 3), "c5": (4, 4)}
    cal = {
        "a": {lb: float(x) for lb, (x, _) in law.items()},
        "b": {lb: float(y) for lb, (_, y) in law.items()},
    }
    cal_ref = {lb: 30.0 + x - 0.5 * y for lb, (x, y) in law.items()}
    held = {"a": {"h0": 10.0, "h1": -3.0, "h2": 5.0}, "b": {"h0": 2.0, "h1": 7.0}}
    pred = heldout.fit_on_calibration(["a", "b"], cal, cal_ref, held)
    assert set(pred) == {"h0", "h1"}  # h2 lacks part b: not scored, not guessed
    assert pred["h0"] == pytest.approx(39.0) and pred["h1"] == pytest.approx(23.5)


def test_the_tau_ceiling_of_a_reproducing_reference(heldout) -> None:
    assert heldout.tau_ceiling(1.0) == pytest.approx(1.0)
    assert heldout.tau_ceiling(0.0) == heldout.tau_ceiling(-0.3) == 0.0
    # replicates at tau 0.5 correlate at sin(pi/4) = 0.707; truth and one run at its root
    assert heldout.tau_ceiling(0.5) == pytest.approx(2 / math.pi * math.asin(0.5 ** 0.25))
    assert 0.5 < heldout.tau_ceiling(0.5) < 1.0


def test_the_replicate_comparison(heldout) -> None:
    ref = {"h0": 33.0, "h1": 33.5, "h2": 33.2, "h3": 33.9}
    rep = {"h0": 33.1, "h1": 33.2, "h2": 33.25, "h3": 33.8, "x": 1.0}  # h1/h2 swap
    held = {"s": {"h0": 1.0, "h1": 3.0, "h2": 2.0, "h3": 4.0}, "few": {"h0": 1.0}}
    out = heldout.against_replicate(["s", "few"], held, ref, rep)
    assert out["n"] == 4 and out["kendall_tau"] == pytest.approx(4 / 6)
    assert out["diff_db"]["h1"] == pytest.approx(-0.3)
    assert out["mean_abs_diff_db"] == pytest.approx((0.1 + 0.3 + 0.05 + 0.1) / 4)
    assert out["max_abs_diff_db"] == pytest.approx(0.3)
    (row,) = out["strategies"]  # "few" scored 1 net: no tau
    assert row["tau_vs_first"] == pytest.approx(1.0)
    assert row["tau_vs_second"] == pytest.approx(4 / 6)
    assert heldout.against_replicate(["s"], held, ref, {"h0": 1.0}) == {"n": 1}


def test_the_held_out_report_renders_as_committed_and_the_fresh_set_in_its_own_words(
        heldout) -> None:
    import json

    res = heldout.RESULTS
    committed = json.loads((res / "proxy_fidelity_heldout.json").read_text())
    assert heldout.render(committed) == (res / "proxy_fidelity_heldout.md").read_text()
    fresh = heldout.render(dict(committed, set="fresh"))
    assert fresh.startswith("# Proxy fidelity out of sample (issue 8, fresh architectures)")
    assert "drawn at random after every strategy here was fixed" in fresh
    assert "held-out" not in fresh.split("## Does the reference reproduce?")[0]
    assert "| fresh (8) |" in fresh and "| heldout (8) |" not in fresh


def test_each_set_has_its_own_nets_table_and_report(heldout) -> None:
    held, fresh = heldout.SETS["heldout"], heldout.SETS["fresh"]
    assert held.out.name == "proxy_fidelity_heldout" and fresh.out.name == "proxy_fidelity_fresh"
    assert fresh.table.name == "proxy_reference_fresh.json" and fresh.replicate is None
    h = {lb for lb, _ in held.archs(2)}
    f = {lb for lb, _ in fresh.archs(2)}
    assert len(h) == 8 and len(f) == 10 and not h & f
