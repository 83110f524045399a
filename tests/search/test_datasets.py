"""Test-set layouts and their errors, training images, the patch sampler, the defaults."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from blocks.errors import UserError
from search.datasets import (
    EMBEDDED_TRAIN,
    EMBEDDED_VAL,
    PatchSampler,
    SRSet,
    default_eval_dirs,
    default_train_dirs,
    downscale,
    embedded_default,
    load_pairs,
    load_train_images,
)
from search.images import save_image


def _rand(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=shape, dtype=np.uint8)


def _smooth(h: int, w: int, seed: int = 0) -> np.ndarray:
    """A textured but band-limited RGB image (so a one-pixel misalignment is visible)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(float)
    chans = [
        127
        + 120 * np.sin(xx / rng.uniform(3, 7) + rng.uniform(0, 6)) * np.cos(yy / rng.uniform(3, 7))
        for _ in range(3)
    ]
    return np.clip(np.dstack(chans), 0, 255).astype(np.uint8)


def _make_set(root: Path, sizes: dict[str, tuple[int, ...]], scales=(2,)) -> Path:
    for i, (name, shape) in enumerate(sizes.items()):
        hr = _rand(shape, i)
        save_image(hr, root / "HR" / f"{name}.png")
        for s in scales:
            save_image(downscale(hr, s), root / "LR_bicubic" / f"X{s}" / f"{name}x{s}.png")
    return root


def _one_line_naming(err: pytest.ExceptionInfo, path: Path) -> None:
    msg = str(err.value)
    assert "\n" not in msg and str(path) in msg, msg


def test_shared_set5_pairs(shared_data) -> None:
    pairs = load_pairs(shared_data / "Set5", 3)
    assert [p.name for p in pairs] == ["baby", "bird", "butterfly", "head", "woman"]
    for name, lr, hr in pairs:
        assert lr.shape == (hr.shape[0] // 3, hr.shape[1] // 3, 3), name


def test_standard_layout_and_hr_only_layouts(tmp_path) -> None:
    root = _make_set(tmp_path / "mini", {"a": (20, 18, 3), "b": (17, 23)}, scales=(2, 3))
    pairs = load_pairs(root, 3)
    assert [p.name for p in pairs] == ["a", "b"]
    assert pairs[1].lr.shape == (5, 7) and pairs[1].hr.shape == (17, 23)  # gray stays gray
    assert SRSet.open(root).name == "mini"
    # scale 4 has no LR_bicubic/X4: made on the fly from the HR
    on_the_fly = load_pairs(root, 4)
    np.testing.assert_array_equal(on_the_fly[0].lr, downscale(on_the_fly[0].hr, 4))
    # a plain folder of images is an HR-only set
    flat = tmp_path / "flat"
    save_image(_rand((12, 12, 3)), flat / "x.png")
    (pair,) = load_pairs(flat, 2)
    assert pair.lr.shape == (6, 6, 3)


def test_missing_and_empty_folders(tmp_path) -> None:
    with pytest.raises(UserError, match="not found") as err:
        load_pairs(tmp_path / "nope", 2)
    _one_line_naming(err, tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no HR/ folder and no images") as err:
        load_pairs(tmp_path / "empty", 2)
    _one_line_naming(err, tmp_path / "empty")
    (tmp_path / "hr_empty" / "HR").mkdir(parents=True)
    with pytest.raises(UserError, match="empty folder") as err:
        load_pairs(tmp_path / "hr_empty", 2)
    _one_line_naming(err, tmp_path / "hr_empty" / "HR")


def test_lr_problems_name_the_file(tmp_path) -> None:
    root = _make_set(tmp_path / "s", {"a": (20, 20, 3), "b": (20, 20, 3)})
    lr_b = root / "LR_bicubic" / "X2" / "bx2.png"
    save_image(_rand((9, 10, 3)), lr_b)  # should be 10x10
    with pytest.raises(UserError, match="needs 10x10") as err:
        load_pairs(root, 2)
    _one_line_naming(err, lr_b)
    lr_b.unlink()
    with pytest.raises(UserError, match="LR image missing") as err:
        load_pairs(root, 2)
    _one_line_naming(err, lr_b)
    lr_b.write_bytes(b"\x89PNG\r\n\x1a\ntruncated")
    with pytest.raises(UserError, match="corrupt or truncated") as err:
        load_pairs(root, 2)
    _one_line_naming(err, lr_b)


@pytest.mark.parametrize("scale", [1, 5, 8, 2.5, "x"])
def test_unsupported_scale(tmp_path, scale) -> None:
    root = _make_set(tmp_path / "s", {"a": (20, 20, 3)})
    with pytest.raises(UserError, match="valid scales: 2, 3, 4") as err:
        load_pairs(root, scale)
    _one_line_naming(err, root)


def test_patch_sampler_shapes_range_and_determinism() -> None:
    images = [_smooth(120, 90, 0), _smooth(70, 130, 1)]
    a = PatchSampler(images, scale=3, lr_patch=12, batch=5, rng=np.random.default_rng(7))
    lr, hr = a.sample()
    assert lr.shape == (5, 3, 12, 12) and hr.shape == (5, 3, 36, 36)
    assert lr.dtype == hr.dtype == torch.float32
    assert 0.0 <= float(lr.min()) and float(hr.max()) <= 1.0
    b = PatchSampler(images, scale=3, lr_patch=12, batch=5, rng=np.random.default_rng(7))
    lr_b, hr_b = b.sample()
    assert torch.equal(lr, lr_b) and torch.equal(hr, hr_b)
    c = PatchSampler(images, scale=3, lr_patch=12, batch=5, rng=np.random.default_rng(8))
    assert not torch.equal(lr, c.sample()[0])


def test_patch_sampler_lr_is_aligned_with_hr() -> None:
    sampler = PatchSampler([_smooth(160, 160, 3)], 2, 16, 8, np.random.default_rng(0))
    lr, hr = sampler.sample_uint8()
    for i in range(8):
        fresh = downscale(hr[i], 2).astype(int)  # LR of the HR crop itself
        inner = np.abs(fresh[3:-3, 3:-3] - lr[i, 3:-3, 3:-3].astype(int))
        assert inner.max() <= 1  # flips/transposes only change the intermediate rounding


def test_patch_sampler_flips_cover_all_eight() -> None:
    img = _smooth(64, 64, 5)
    sampler = PatchSampler([img], 2, 32, 64, np.random.default_rng(1))
    _, hr = sampler.sample_uint8()  # the whole image each time: only the flips vary
    variants = {h.tobytes() for h in hr}
    assert len(variants) == 8


def test_patch_sampler_resume_state() -> None:
    images = [_smooth(80, 80)]
    s = PatchSampler(images, 2, 8, 4, np.random.default_rng(3))
    s.sample()
    state = s.state_dict()
    want = s.sample()[1]
    s.load_state_dict(state)
    assert torch.equal(s.sample()[1], want)


def test_patch_sampler_small_gray_rgba() -> None:
    gray, rgba, tiny = (
        _smooth(60, 60)[..., 0],
        np.dstack([_smooth(60, 60), _rand((60, 60))]),
        _smooth(20, 60),
    )
    with pytest.warns(UserWarning, match="skipped 1 of 3"):
        s = PatchSampler([gray, rgba, tiny], 2, 16, 2, np.random.default_rng(0))
    assert s.skipped == 1 and len(s.images) == 2
    assert all(img.shape[2] == 3 for img in s.images)
    np.testing.assert_array_equal(s.images[1], rgba[:, :, :3])
    with pytest.raises(UserError, match="no training image is at least 64x64"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            PatchSampler([tiny], 4, 16, 2, np.random.default_rng(0))


def test_load_train_images(tmp_path) -> None:
    save_image(_rand((10, 12)), tmp_path / "t" / "g.png")
    save_image(_rand((10, 12, 3)), tmp_path / "t" / "c.png")
    imgs = load_train_images([tmp_path / "t"])
    assert [i.shape for i in imgs] == [(10, 12, 3), (10, 12, 3)]  # c.png, g.png (sorted)
    assert (imgs[1][..., 0] == imgs[1][..., 2]).all()
    with pytest.raises(UserError, match="not found"):
        load_train_images([tmp_path / "nope"])
    (tmp_path / "e").mkdir()
    with pytest.raises(UserError, match="empty folder") as err:
        load_train_images([tmp_path / "e"])
    _one_line_naming(err, tmp_path / "e")


def test_shared_defaults(shared_data) -> None:
    assert [p.name for p in default_train_dirs(shared_data)] == ["T91", "BSD200"]
    assert [p.name for p in default_eval_dirs(shared_data)] == ["Set5", "Set14", "B100"]


def test_defaults_absent(tmp_path) -> None:
    assert default_train_dirs(tmp_path) == [] and default_eval_dirs(tmp_path) == []


def test_embedded_default_is_offline_real_photos() -> None:
    data = embedded_default()
    assert list(data.train) == list(EMBEDDED_TRAIN) and list(data.val) == list(EMBEDDED_VAL)
    assert not set(data.train) & set(data.val)
    for img in [*data.train.values(), *data.val.values()]:
        assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3
        assert min(img.shape[:2]) >= 256 and img.std() > 20
    s = PatchSampler(list(data.train.values()), 4, 24, 2, np.random.default_rng(0))
    assert s.skipped == 0


def test_precompute_draws_the_same_batches() -> None:
    images = [_smooth(90, 70, 0), _smooth(64, 96, 1)]
    lazy = PatchSampler(images, 2, 16, 3, np.random.default_rng(4))
    eager = PatchSampler(images, 2, 16, 3, np.random.default_rng(4), precompute=True)
    assert all(lr is not None for lr in eager._lr)
    for _ in range(3):
        a, b = lazy.sample(), eager.sample()
        assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
