"""Named proxy protocols (registry, schedules, budgets) and the data they resolve to."""

from __future__ import annotations

from dataclasses import FrozenInstanceError, replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from blocks.errors import UserError
from search import proxies
from search.datasets import PatchSampler
from search.proxies import EMBEDDED_VAL_NAME, ProxyProtocol, TrainData, get_protocol


def test_registry_names_and_unknown_name_lists_them() -> None:
    assert {"quick", "medium", "demo", "paper"} <= set(proxies.protocol_names())
    with pytest.raises(UserError, match="known: demo, medium, paper, quick"):
        get_protocol("fast")
    quick = get_protocol("quick")
    assert get_protocol(quick) is quick
    with pytest.raises(FrozenInstanceError):
        quick.steps = 5  # type: ignore[misc]


@pytest.mark.parametrize("name", ["quick", "medium", "demo", "paper"])
def test_protocols_name_their_data_budget_and_eval(name: str) -> None:
    p = get_protocol(name)
    assert p.train_data and p.lr_patch and p.batch and p.lr and p.eval_sets and p.final_sets
    assert p.steps or p.seconds
    assert ProxyProtocol.from_dict(p.to_dict()) == p


def test_documented_choices() -> None:
    quick, medium, paper = get_protocol("quick"), get_protocol("medium"), get_protocol("paper")
    assert quick.residual == "bicubic" and medium.residual is None
    assert quick.steps * 4 <= medium.steps
    assert set(medium.final_sets) == {"Set5", "Set14", "B100"}
    assert paper.requires_gpu and paper.train_data == "div2k" and paper.steps == 1_000_000
    assert paper.lr == 2e-4 and paper.step_size == 200_000 and paper.gamma == 0.5
    assert "IMDN" in paper.source and get_protocol("demo").train_data == "embedded"


def test_from_dict_rejects_unknown_keys_and_bad_values() -> None:
    with pytest.raises(UserError, match="unknown key"):
        ProxyProtocol.from_dict({**get_protocol("quick").to_dict(), "lrr": 1})
    with pytest.raises(UserError, match="schedule"):
        replace(get_protocol("quick"), schedule="linear")
    with pytest.raises(UserError, match="residual"):
        replace(get_protocol("quick"), residual="nearest")
    with pytest.raises(UserError, match="budget"):
        replace(get_protocol("quick"), steps=None, seconds=None)


def test_learning_rate_schedules() -> None:
    p = replace(get_protocol("quick"), steps=100, warmup_steps=10, lr=1.0, min_lr_ratio=0.1)
    assert p.lr_at(0, 0.0) == pytest.approx(0.1) and p.lr_at(9, 0.0) == pytest.approx(1.0)
    assert p.lr_at(10, 0.1) == pytest.approx(1.0)
    assert p.lr_at(100, 1.0) == pytest.approx(0.1)
    assert p.lr_at(55, 0.55) == pytest.approx(0.55)  # half way through the cosine
    const = replace(p, schedule="constant")
    assert const.lr_at(99, 0.99) == 1.0
    step = replace(p, schedule="step", step_size=20, gamma=0.5, warmup_steps=0)
    assert [step.lr_at(s, 0) for s in (0, 19, 20, 45)] == [1.0, 1.0, 0.5, 0.25]
    timed = replace(p, steps=None, seconds=10.0)  # horizon from the time used
    assert timed.lr_at(50, 1.0) == pytest.approx(0.1)


def test_with_budget() -> None:
    paper = get_protocol("paper").with_budget(steps=10)
    assert paper.steps == 10 and paper.seconds is None and not paper.requires_gpu
    timed = get_protocol("quick").with_budget(seconds=30)
    assert timed.steps is None and timed.seconds == 30
    with pytest.raises(UserError):
        get_protocol("quick").with_budget()


def _write_images(folder: Path, n: int, size: tuple[int, int], seed: int) -> None:
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (*size, 3), dtype=np.uint8)).save(folder / f"{i}.png")


@pytest.fixture()
def data_root(tmp_path: Path) -> Path:
    _write_images(tmp_path / "T91", 2, (40, 44), 0)
    _write_images(tmp_path / "BSD200", 2, (36, 40), 1)
    _write_images(tmp_path / "Set5" / "HR", 2, (24, 28), 2)
    return tmp_path


def test_data_root_resolution(data_root: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("DISTILLNAS_DATA", raising=False)
    data = TrainData.for_protocol("quick", data_root, cache_dir=None)
    assert data.source == "t91+bsd200" and len(data.train_images) == 4
    assert data.set_names(("Set5",)) == ["Set5"]
    assert data.set_names(("Set5", "Set14", "B100")) == ["Set5"]
    assert len(data.pairs("Set5", 2)) == 2 and data.pairs("Set5", 2) is data.pairs("Set5", 2)
    monkeypatch.setenv("DISTILLNAS_DATA", str(data_root))
    assert TrainData.for_protocol("medium", cache_dir=None).root == data_root
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UserError, match="T91"):
        TrainData.for_protocol("quick", empty, cache_dir=None)
    with pytest.raises(UserError, match="DIV2K"):
        TrainData.for_protocol("paper", data_root, cache_dir=None)


def test_without_any_data_root_the_embedded_photos_are_used(monkeypatch) -> None:
    monkeypatch.delenv("DISTILLNAS_DATA", raising=False)
    monkeypatch.setattr(proxies, "shared_data_root", lambda: None)
    data = TrainData.for_protocol("quick", cache_dir=None)
    assert data.source == "embedded" and len(data.train_images) == 5
    assert data.set_names(("Set5",)) == [EMBEDDED_VAL_NAME]


def test_shared_lr_sampler_draws_what_patch_sampler_draws(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    images = [rng.integers(0, 256, (30 + 3 * i, 41, 3), dtype=np.uint8) for i in range(3)]
    images.append(rng.integers(0, 256, (10, 10, 3), dtype=np.uint8))  # smaller than a patch
    data = TrainData.from_images(images, {"v": images[0]})
    data.cache_dir = tmp_path
    with pytest.warns(UserWarning, match="skipped 1 of 4"):
        ours = data.sampler(3, 6, 4, np.random.default_rng(1))
    with pytest.warns(UserWarning):
        theirs = PatchSampler(images, 3, 6, 4, np.random.default_rng(1))
    for _ in range(3):
        (a_lr, a_hr), (b_lr, b_hr) = ours.sample_uint8(), theirs.sample_uint8()
        assert np.array_equal(a_lr, b_lr) and np.array_equal(a_hr, b_hr)
    # the LR cache on disk is reused by a fresh TrainData
    assert len(list((tmp_path / "lr").glob("*.npy"))) == 4
    again = TrainData.from_images(images, {"v": images[0]})
    again.cache_dir = tmp_path
    assert all(
        np.array_equal(x, y) for x, y in zip(again.lr_images(3), data.lr_images(3), strict=True)
    )
    with pytest.raises(UserError, match="no training image"):
        data.sampler(4, 20, 2, np.random.default_rng(0))
