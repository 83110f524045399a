"""Proxy fidelity: rank metrics against scipy, curve fits, LOO blend, zero-cost proxies, the
reference table's schema and milestone extension."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.stats import kendalltau, spearmanr

from blocks.build import build_network
from blocks.errors import UserError
from blocks.specs import NetSpec, block_spec
from search.fidelity import (
    REFERENCE_PROTOCOL,
    LinearBlend,
    ReferenceTable,
    extend_reference,
    extrapolate,
    fit_power_law,
    kendall_tau,
    loo_blend,
    paired_tau_bootstrap,
    rank_report,
    spearman,
    strategy_protocols,
    top_k_overlap,
)
from search.proxies import TrainData
from search.zero_cost import ZERO_COST, naswot, score_spec, synflow

SPEC = NetSpec("distill", 2, (block_spec("rfdb", 8), block_spec("rfdb", 8)), "lrelu")
WIDE = NetSpec("distill", 2, (block_spec("rfdb", 12), block_spec("rfdb", 12)), "lrelu")
REPO = Path(__file__).resolve().parents[2]


def test_rank_metrics_match_scipy() -> None:
    rng = np.random.default_rng(1)
    for _ in range(5):
        a, b = rng.normal(size=9), rng.normal(size=9)
        assert kendall_tau(a, b) == pytest.approx(kendalltau(a, b).statistic)
        assert spearman(a, b) == pytest.approx(spearmanr(a, b).statistic)
    assert math.isnan(kendall_tau([1.0], [2.0]))
    assert math.isnan(spearman([1.0, 2.0], [2.0, 1.0]))


def test_paired_tau_bootstrap() -> None:
    rng = np.random.default_rng(3)
    ref = rng.normal(size=13)
    good, noisy = ref + 0.1 * rng.normal(size=13), ref + 2.0 * rng.normal(size=13)
    res = paired_tau_bootstrap(good, noisy, ref, n_boot=2000, seed=0)
    # on the items as given, untied data: tau-a over distinct pairs is scipy's tau
    assert res["tau_a"] == pytest.approx(kendalltau(good, ref).statistic)
    assert res["tau_b"] == pytest.approx(kendalltau(noisy, ref).statistic)
    assert res["diff"] > 0.3 and res["p_a_better"] > 0.95 and res["diff_ci95"][0] > 0
    lo, hi = res["diff_ci95"]
    assert lo <= res["diff"] <= hi
    # the same strategy twice: no difference in any draw
    same = paired_tau_bootstrap(noisy, noisy, ref, n_boot=500)
    assert same["diff"] == 0 and same["diff_ci95"] == [0.0, 0.0] and same["p_a_better"] == 0
    # a perfect ranking against its reverse, and determinism for one seed
    rev = paired_tau_bootstrap(ref, -ref, ref, n_boot=500)
    assert rev["tau_a"] == 1 and rev["tau_b"] == -1 and rev["p_a_better"] == 1
    assert paired_tau_bootstrap(good, noisy, ref, n_boot=300, seed=5) == paired_tau_bootstrap(
        good, noisy, ref, n_boot=300, seed=5)
    with pytest.raises(ValueError):
        paired_tau_bootstrap([1.0, 2.0], [1.0, 2.0], [1.0, 2.0])


def test_top_k_overlap() -> None:
    ref = [5.0, 4.0, 3.0, 2.0, 1.0]
    assert top_k_overlap(ref, ref, 2) == 1.0
    assert top_k_overlap([1.0, 2.0, 3.0, 4.0, 5.0], ref, 2) == 0.0
    assert top_k_overlap([5.0, 1.0, 4.0, 2.0, 3.0], ref, 3) == pytest.approx(2 / 3)
    with pytest.raises(ValueError):
        top_k_overlap(ref, ref, 6)
    rep = rank_report(ref, ref)
    assert rep["kendall_tau"] == pytest.approx(1.0) and rep["top5_overlap"] == 1.0


def test_power_law_recovers_a_synthetic_curve() -> None:
    t = np.arange(50, 501, 50, dtype=float)
    y = 34.0 - 6.0 * t**-0.5
    fit = fit_power_law(t, y)
    assert fit.c == pytest.approx(0.5) and fit.a == pytest.approx(34.0, abs=1e-6)
    assert extrapolate(list(zip(t, y, strict=True)), 8000) == pytest.approx(
        34.0 - 6.0 * 8000**-0.5, abs=1e-6
    )
    # noisy curves: the extrapolation keeps the order of two clearly different asymptotes
    rng = np.random.default_rng(0)
    lo = 33.0 - 5.0 * t**-0.6 + rng.normal(0, 0.01, t.size)
    hi = 33.5 - 40.0 * t**-0.6 + rng.normal(0, 0.01, t.size)
    assert hi[2] < lo[2]  # early on the better net looks worse
    assert fit_power_law(t, hi)(8000) > fit_power_law(t, lo)(8000)
    with pytest.raises(ValueError):
        fit_power_law([10, 10, 20], [1, 2, 3])


def test_loo_blend_never_sees_the_held_out_item() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=(8, 2))
    y = 2.0 * x[:, 0] - x[:, 1] + 30.0
    pred = loo_blend(x, y)
    assert np.allclose(pred, y, atol=1e-4)  # an exact linear law is recovered held-out
    y2 = y.copy()
    y2[0] += 100.0  # changing item 0 changes only the other items' predictions
    assert loo_blend(x, y2)[0] == pytest.approx(pred[0])



def test_a_blend_fitted_on_one_set_scores_another() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(13, 2))
    y = 0.5 * x[:, 0] + 2.0 * x[:, 1] + 33.0
    new = rng.normal(size=(8, 2)) * 3.0  # outside the fitted range too
    blend = LinearBlend.fit(x, y)
    assert np.allclose(blend.predict(new), 0.5 * new[:, 0] + 2.0 * new[:, 1] + 33.0, atol=1e-4)
    assert blend == LinearBlend.fit(x, y)  # deterministic, plain data
    with pytest.raises(ValueError, match="needs more than 3 nets"):
        LinearBlend.fit(x[:3], y[:3])

@pytest.fixture(scope="module")
def batch() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return torch.rand(4, 3, 8, 8, generator=g), torch.rand(4, 3, 16, 16, generator=g)


def test_zero_cost_proxies_run_and_are_deterministic(batch) -> None:
    lr, hr = batch
    a = score_spec(SPEC, lr, hr, seed=0)
    b = score_spec(SPEC, lr, hr, seed=0)
    assert a == b and set(a) == set(ZERO_COST)
    assert all(math.isfinite(v) for v in a.values())
    assert score_spec(SPEC, lr, hr, seed=1)["grad_norm"] != a["grad_norm"]
    # more parameters -> more SynFlow mass; the model given is left untouched
    assert score_spec(WIDE, lr, hr)["synflow"] > a["synflow"]
    net = build_network(SPEC, seed=0)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    synflow(net, lr), naswot(net, lr)
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    with pytest.raises(KeyError, match="known"):
        score_spec(SPEC, lr, hr, names=("snip",))


def test_strategies_are_valid_protocols() -> None:
    s = strategy_protocols()
    assert {"quick", "resid-const-300", "onecycle-300"} <= set(s)
    one = s["onecycle-300"]
    assert one.lr_at(0, 0.0) < one.lr_at(89, 0.3) == pytest.approx(3e-3)
    assert one.lr_at(299, 1.0) < 1e-4
    assert s["resid-const-300"].lr_at(250, 0.8) == pytest.approx(2e-3)
    ref = REFERENCE_PROTOCOL
    assert ref.lr_at(1999, 0.0) == pytest.approx(2e-3) and ref.lr_at(2000, 0.0) == 1e-3


def test_committed_reference_table_loads() -> None:
    path = REPO / "benchmarks" / "results" / "proxy_reference.json"
    if not path.is_file():
        pytest.skip("no reference table computed yet")
    table = ReferenceTable.load(path)
    assert table.data["protocol"]["name"] == REFERENCE_PROTOCOL.name
    for a in table.data["archs"]:
        assert [m["steps"] for m in a["milestones"]] == sorted(m["steps"] for m in a["milestones"])
    table.protocol(1000)  # the stored protocol is a valid ProxyProtocol again


def test_bad_reference_table_is_a_user_error(tmp_path) -> None:
    bad = tmp_path / "ref.json"
    bad.write_text(json.dumps({"schema": "other"}))
    with pytest.raises(UserError, match="not a"):
        ReferenceTable.load(bad)


def test_extending_a_reference_equals_one_longer_run(tmp_path) -> None:
    rng = np.random.default_rng(0)
    imgs = [rng.integers(0, 256, (40, 48, 3), dtype=np.uint8) for _ in range(3)]
    yy, xx = np.mgrid[0:36, 0:40]
    val = np.stack([(yy * 6) % 256, (xx * 5) % 256, (yy + xx) * 3 % 256], -1).astype(np.uint8)
    data = TrainData.from_images(imgs, {"v1": val})
    proto = replace(
        REFERENCE_PROTOCOL, lr_patch=8, batch=2, warmup_steps=1, eval_every=2, step_size=3
    )

    def build(path: Path, milestones: list[int]) -> ReferenceTable:
        table = ReferenceTable.new(
            protocol=proto, seed=0, threads=1, scale=2, data=data, code={"train_py_sha1": "x"}
        )
        return extend_reference(
            table,
            path,
            [("t", SPEC)],
            milestones=milestones,
            data=data,
            ckpt_root=path.parent / "ck",
            log=lambda m: None,
        )

    staged = build(tmp_path / "a" / "ref.json", [2, 4])
    direct = build(tmp_path / "b" / "ref.json", [4])
    a, b = staged.arch("t"), direct.arch("t")
    assert a["steps"] == b["steps"] == 4 and len(a["milestones"]) == 2
    assert a["psnr_y_db"] == pytest.approx(b["psnr_y_db"], abs=1e-9)
    assert a["curve"] == b["curve"]
    loaded = ReferenceTable.load(tmp_path / "a" / "ref.json")
    assert loaded.scores() == {"t": pytest.approx(a["psnr_y_db"])}


def test_two_shards_of_one_reference_table_keep_each_others_runs(tmp_path) -> None:
    """``reference --shard 0/2`` and ``1/2`` run side by side on one table: each save takes in
    what the other saved, so the file ends with both architectures, each as its owner wrote it."""
    rng = np.random.default_rng(1)
    data = TrainData.from_images(
        [rng.integers(0, 256, (40, 48, 3), dtype=np.uint8) for _ in range(2)],
        {"v1": rng.integers(0, 256, (36, 40, 3), dtype=np.uint8)},
    )
    proto = replace(REFERENCE_PROTOCOL, lr_patch=8, batch=2, warmup_steps=1, eval_every=2)
    path = tmp_path / "ref.json"
    other = replace(SPEC, blocks=SPEC.blocks[:1])

    def shard() -> ReferenceTable:  # each process starts from the table as it found it
        return ReferenceTable.new(
            protocol=proto, seed=0, threads=1, scale=2, data=data, code={"train_py_sha1": "x"}
        )

    first, second = shard(), shard()  # both read before either saved
    common = dict(data=data, ckpt_root=tmp_path / "ck", log=lambda m: None)
    # interleaved milestones: each save must take the other's latest entry, never write back
    # the copy it took in at its previous save
    for step in (2, 4):
        extend_reference(first, path, [("a", SPEC)], milestones=[step], **common)
        extend_reference(second, path, [("b", other)], milestones=[step], **common)
    extend_reference(first, path, [("a", SPEC)], milestones=[6], **common)
    table = ReferenceTable.load(path)
    assert [a["label"] for a in table.data["archs"]] == ["a", "b"]
    assert table.arch("a")["steps"] == 6 and table.arch("b")["steps"] == 4
    assert [m["steps"] for m in table.arch("b")["milestones"]] == [2, 4]
    assert table.arch("b")["spec_key"] == other.key() != SPEC.key()


def test_steps_of_names_the_training_behind_each_reference_score() -> None:
    """A flattened arch scored before the common milestone reports its own last milestone; a
    live one the milestone compared; an arch without a score there is left out of both."""

    def arch(label: str, steps: list[int], flattened: bool) -> dict:
        return {
            "label": label,
            "steps": steps[-1],
            "flattened": flattened,
            "milestones": [{"steps": s, "psnr_y_db": 30.0 + s / 1e4} for s in steps],
        }

    table = ReferenceTable(
        {
            "archs": [
                arch("early-flat", [4000, 5000], True),
                arch("live", [6000, 8000], False),
                arch("live-long", [8000, 10000], False),
                arch("behind", [4000], False),
            ]
        }
    )
    assert table.common_steps() == 4000  # "behind" holds the others back
    assert table.steps_of() == {"early-flat": 4000, "behind": 4000}
    assert table.steps_of(steps=8000) == {"early-flat": 5000, "live": 8000, "live-long": 8000}
    assert set(table.steps_of(steps=8000)) == set(table.scores(steps=8000))
    assert table.steps_of(["live", "behind"], steps=8000) == {"live": 8000}


def test_capacity_adjusted_tau_scores_what_size_does_not_explain() -> None:
    from search.fidelity import capacity_adjusted_tau

    rng = np.random.default_rng(0)
    size = np.linspace(4.0, 5.5, 12)
    quality = rng.normal(0, 0.05, 12)  # what each net is worth beyond its size
    reference = 0.4 * size + quality
    out = capacity_adjusted_tau(size, reference, size, n_boot=500)
    assert abs(out["tau"]) < 1e-9  # parameter count alone explains nothing beyond itself
    knows = capacity_adjusted_tau(2.0 * size + quality, reference, size, n_boot=500)
    assert knows["tau"] == pytest.approx(1.0) and knows["ci95"][0] > 0.5
    inverse = capacity_adjusted_tau(size - quality, reference, size, n_boot=500)
    assert inverse["tau"] == pytest.approx(-1.0) and inverse["ci95"][1] < -0.5
    with pytest.raises(ValueError, match=">= 4 items"):
        capacity_adjusted_tau([1, 2, 3], [1, 2, 3], [1, 2, 3])
