"""The bicubic acceptance table, module evaluation (RGB and gray), and weight loading."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from blocks.errors import UserError
from search.datasets import Pair, downscale
from search.evaluate import evaluate_pairs, evaluate_sets, load_weights
from search.images import save_image
from search.imresize import imresize
from search.metrics import psnr_y_db

# protocols.md acceptance targets (Y-PSNR, dB) and the SSIM this protocol gives (float Y).
BICUBIC_PSNR_Y_DB = {
    "Set5": (33.673, 30.403, 28.429),
    "Set14": (30.230, 27.537, 25.994),
    "B100": (29.561, 27.210, 25.962),
}
BICUBIC_SSIM_Y = {
    "Set5": (0.93029, 0.86891, 0.81114),
    "Set14": (0.86905, 0.77447, 0.70292),
    "B100": (0.84340, 0.73907, 0.66807),
}
IMAGES = {"Set5": 5, "Set14": 14, "B100": 100}


@pytest.mark.slow
@pytest.mark.data
def test_bicubic_acceptance_table(shared_data) -> None:
    sets = [shared_data / name for name in BICUBIC_PSNR_Y_DB]
    for i, scale in enumerate((2, 3, 4)):
        result = evaluate_sets("bicubic", sets, scale)
        for name, psnr in BICUBIC_PSNR_Y_DB.items():
            got = result["sets"][name]
            assert got["images"] == IMAGES[name]
            assert got["psnr_y_db"] == pytest.approx(psnr[i], abs=0.005), (name, scale)
            assert got["ssim_y"] == pytest.approx(BICUBIC_SSIM_Y[name][i], abs=5e-5), (name, scale)
        assert result["overall"]["images"] == 119


class Nearest(nn.Module):
    """Nearest-neighbour upscaling with one (unused by the maths) parameter."""

    def __init__(self, scale: int) -> None:
        super().__init__()
        self.scale = scale
        self.gain = nn.Parameter(torch.ones(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.interpolate(x, scale_factor=self.scale, mode="nearest") * self.gain


def _rand(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=shape, dtype=np.uint8)


def test_module_matches_numpy_nearest_rgb_and_gray() -> None:
    hr_rgb, hr_gray = _rand((36, 30, 3), 1), _rand((36, 30), 2)
    pairs = [
        Pair("rgb", downscale(hr_rgb, 3), hr_rgb),
        Pair("gray", downscale(hr_gray, 3), hr_gray),
    ]
    model = Nearest(3).train()
    res = evaluate_pairs(model, pairs, 3)
    assert model.training  # mode restored
    assert res["images"] == 2 and [r["name"] for r in res["rows"]] == ["rgb", "gray"]
    for row, (_, lr, hr) in zip(res["rows"], pairs, strict=True):
        nearest = lr.repeat(3, axis=0).repeat(3, axis=1)  # gray stays gray: its own Y
        assert row["psnr_y_db"] == pytest.approx(psnr_y_db(nearest, hr, 3), abs=1e-9)
    assert res["psnr_y_db"] == pytest.approx(np.mean([r["psnr_y_db"] for r in res["rows"]]))


def test_bicubic_upscaler_is_matlab_imresize() -> None:
    hr = _rand((24, 24, 3))
    lr = downscale(hr, 2)
    res = evaluate_pairs("bicubic", [Pair("a", lr, hr)], 2)
    assert res["psnr_y_db"] == pytest.approx(psnr_y_db(imresize(lr, 2), hr, 2))


def test_wrong_output_size_and_unknown_upscaler() -> None:
    hr = _rand((24, 24, 3))
    pairs = [Pair("a", downscale(hr, 2), hr)]
    with pytest.raises(UserError, match="expected \\(1, 3, 24, 24\\)"):
        evaluate_pairs(Nearest(3), pairs, 2)
    with pytest.raises(UserError, match="unknown upscaler"):
        evaluate_pairs("lanczos", pairs, 2)


def test_evaluate_sets_structure(tmp_path) -> None:
    for name in ("one", "two"):
        save_image(_rand((24, 24, 3)), tmp_path / name / "HR" / "a.png")
    save_image(_rand((30, 24, 3)), tmp_path / "two" / "HR" / "b.png")
    res = evaluate_sets(Nearest(2), [tmp_path / "one", tmp_path / "two"], 2)
    assert list(res["sets"]) == ["one", "two"] and res["scale"] == 2
    assert res["overall"]["images"] == 3
    all_rows = res["sets"]["one"]["rows"] + res["sets"]["two"]["rows"]
    assert res["overall"]["psnr_y_db"] == pytest.approx(np.mean([r["psnr_y_db"] for r in all_rows]))
    assert all(math.isfinite(r["ssim_y"]) for r in all_rows)


def test_load_weights(tmp_path) -> None:
    src = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Conv2d(4, 3, 1))
    good = tmp_path / "good.pt"
    torch.save(src.state_dict(), good)
    dst = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Conv2d(4, 3, 1))
    load_weights(dst, good)
    assert torch.equal(dst[0].weight, src[0].weight)
    wrapped = tmp_path / "wrapped.pt"
    torch.save(
        {"model": {f"module.{k}": v for k, v in src.state_dict().items()}, "step": 3}, wrapped
    )
    load_weights(dst, wrapped)

    other = nn.Sequential(nn.Conv2d(3, 8, 3), nn.Conv2d(8, 3, 1))
    cases = {
        "shape mismatch": good,
        "not found": tmp_path / "missing.pt",
    }
    for what, path in cases.items():
        with pytest.raises(UserError, match=what) as err:
            load_weights(other, path)
        assert str(path) in str(err.value) and "\n" not in str(err.value)
    not_dict = tmp_path / "list.pt"
    torch.save([torch.zeros(1)], not_dict)
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"definitely not a checkpoint")
    for path, what in ((not_dict, "not a state_dict"), (garbage, "not a loadable")):
        with pytest.raises(UserError, match=what) as err:
            load_weights(dst, path)
        assert str(path) in str(err.value) and "\n" not in str(err.value)
