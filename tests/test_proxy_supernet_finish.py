"""benchmarks/proxy_supernet_finish.py: the endings it measures and how it judges them."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

import proxy_supernet_finish as bench  # noqa: E402

from blocks.errors import UserError  # noqa: E402
from search.supernet import finetune_protocol  # noqa: E402


def test_the_endings_change_only_how_the_fine_tune_ends() -> None:
    base = finetune_protocol(200)
    cos, ema = bench.ending(base, "cosine"), bench.ending(base, "ema")
    assert cos.lr_at(0, 0.0) == pytest.approx(5e-4) and cos.lr_at(199, 1.0) < 1e-7
    assert ema.schedule == "constant" and ema.ema_decay == 0.95 and base.ema_decay is None
    for p in (cos, ema):
        assert (p.steps, p.batch, p.lr_patch, p.residual, p.final_sets) == (
            base.steps, base.batch, base.lr_patch, base.residual, base.final_sets)
    with pytest.raises(UserError, match="unknown ending 'warm'"):
        bench.ending(base, "warm")


def _seed(order: list[float], cpu: float) -> dict:
    """12 nets: the reference rises with the index, params fall with it; ``cosine`` scores in
    the reference's order, ``ema`` in ``order``, ``constant`` against it."""
    nets = {}
    for i in range(12):
        nets[f"n{i}"] = {"params": float(1000 * (12 - i)), "reference": 30.0 + i,
                         "constant": {"psnr_y_db": -float(i), "cpu_s": cpu},
                         "cosine": {"psnr_y_db": float(i), "cpu_s": cpu},
                         "ema": {"psnr_y_db": order[i], "cpu_s": cpu},
                         "cosine400": {"psnr_y_db": order[i], "cpu_s": 2 * cpu}}
    return {"nets": nets, "supernet_cpu_s": 3000.0}


def test_the_primary_meets_the_goal_only_above_params_and_within_the_cpu_budget() -> None:
    shuffled = [3.0, 1.0, 4.0, 0.0, 5.0, 9.0, 2.0, 6.0, 5.5, 3.5, 8.0, 7.0]
    report = bench.rank({0: _seed(shuffled, 20.0), 1: _seed(shuffled, 20.0)})
    row = {(r["ending"], r["supernet_seed"]): r for r in report["rows"]}
    assert row[("params-only", 0)]["kendall_tau"] == pytest.approx(-1.0)
    assert row[("cosine", 0)]["kendall_tau"] == pytest.approx(1.0)
    assert row[("cosine", 0)]["clearly_above_params"] and row[("cosine", 0)]["meets_goal"]
    assert row[("cosine", 0)]["cpu_s_amortised"] == pytest.approx(23.0)  # 20 + 3000 / 1000
    assert row[("cosine", 0)]["vs_constant_diff"] == pytest.approx(2.0)
    assert report["verdict"] == "met" and report["agreement"]["ema"] == pytest.approx(1.0)
    assert row[("cosine400", 0)]["cpu_s_amortised"] == pytest.approx(43.0)
    slow = bench.rank({0: _seed(shuffled, 118.0), 1: _seed(shuffled, 20.0)})
    assert slow["verdict"] == "missed"  # 118 + 3 CPU-s > 120
    report["command"] = "benchmarks/proxy_supernet_finish.py rank"
    assert bench.render(report).count("**met**") == 1  # only the primary carries the verdict


def test_two_supernets_over_different_nets_are_refused() -> None:
    a, b = _seed(list(map(float, range(12))), 1.0), _seed(list(map(float, range(12))), 1.0)
    b["nets"]["extra"] = b["nets"].pop("n0")
    with pytest.raises(ValueError, match="cover different nets"):
        bench.rank({0: a, 1: b})


def test_the_search_default_is_the_cosine_ending_measured_here() -> None:
    from dataclasses import asdict

    from search.supernet import DEFAULT_FINETUNE_SCHEDULE

    assert DEFAULT_FINETUNE_SCHEDULE == "cosine"
    measured = asdict(bench.ending(finetune_protocol(200), "cosine"))
    searched = asdict(finetune_protocol(200, schedule=DEFAULT_FINETUNE_SCHEDULE))
    assert measured.pop("description") != searched.pop("description")
    assert measured == searched  # the same training, to every field; named supernet-ft-200-cos
    assert searched["name"] == "supernet-ft-200-cos"
    constant = finetune_protocol(200)
    assert (constant.name, constant.schedule) == ("supernet-ft-200", "constant")
    with pytest.raises(UserError, match="unknown fine-tune schedule 'step'"):
        finetune_protocol(200, schedule="step")
