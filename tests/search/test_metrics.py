"""Y-PSNR / SSIM per protocols.md, the NTIRE RGB mode, and the image helpers they rest on."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from PIL import Image
from scipy import signal
from skimage.metrics import structural_similarity

from blocks.errors import UserError
from search.images import load_image, modcrop, rgb_to_y, save_image, tensor_to_uint8
from search.metrics import psnr_rgb_db, psnr_y_db, ssim_map, ssim_y


def _rand(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=shape, dtype=np.uint8)


def test_rgb_to_y_bt601_range() -> None:
    px = np.array([[[0, 0, 0], [255, 255, 255], [255, 0, 0]]], dtype=np.uint8)
    y = rgb_to_y(px)
    assert y.dtype == np.float64
    np.testing.assert_allclose(y[0], [16.0, 235.0, 16.0 + 65.481], atol=1e-12)
    gray = _rand((5, 7))
    np.testing.assert_array_equal(rgb_to_y(gray), gray.astype(np.float64))


def test_psnr_y_known_value_and_identity() -> None:
    hr = np.full((20, 20, 3), 100, dtype=np.uint8)
    sr = hr + np.uint8(10)  # every channel +10 -> Y moves by 10 * 219 / 255
    want = 10 * math.log10(255**2 / (10 * 219 / 255) ** 2)
    assert psnr_y_db(sr, hr, 2) == pytest.approx(want, abs=1e-9)
    assert psnr_y_db(hr, hr, 2) == math.inf


def test_psnr_modcrops_hr_and_shaves_scale_px() -> None:
    hr = _rand((31, 22, 3))
    sr = modcrop(hr, 3).copy()  # 30x21
    sr[:3] = 0  # damage only the shaved border
    sr[:, -3:] = 255
    assert psnr_y_db(sr, hr, 3) == math.inf
    sr[3, 3] ^= 1  # first pixel inside the border counts
    assert psnr_y_db(sr, hr, 3) < math.inf
    with pytest.raises(UserError, match="modcropped hr shape"):
        psnr_y_db(hr, hr, 3)  # sr not cropped to a multiple of the scale


def test_gray_image_is_its_own_y() -> None:
    hr = _rand((24, 24))
    sr = np.clip(hr.astype(int) + 5, 0, 255).astype(np.uint8)
    mse = np.mean((sr[2:-2, 2:-2].astype(float) - hr[2:-2, 2:-2]) ** 2)
    assert psnr_y_db(sr, hr, 2) == pytest.approx(10 * math.log10(255**2 / mse), abs=1e-12)


def _wang_2004(y1: np.ndarray, y2: np.ndarray) -> float:
    """Direct 2-D port of ssim_index.m: fspecial('gaussian', 11, 1.5), filter2 'valid'."""
    x = np.arange(11) - 5.0
    win = np.exp(-(x[:, None] ** 2 + x[None, :] ** 2) / (2 * 1.5**2))
    win /= win.sum()

    def f(a: np.ndarray) -> np.ndarray:
        return signal.correlate2d(a, win, mode="valid")

    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    m1, m2 = f(y1), f(y2)
    s1, s2, s12 = f(y1 * y1) - m1 * m1, f(y2 * y2) - m2 * m2, f(y1 * y2) - m1 * m2
    return float(
        np.mean(((2 * m1 * m2 + c1) * (2 * s12 + c2)) / ((m1**2 + m2**2 + c1) * (s1 + s2 + c2)))
    )


def test_ssim_matches_wang_2004_and_skimage_gaussian_mode() -> None:
    hr = _rand((40, 36, 3), 1)
    noise = np.random.default_rng(2).normal(0, 12, hr.shape)
    sr = np.clip(hr + noise, 0, 255).astype(np.uint8)
    got = ssim_y(sr, hr, 2)
    y_sr, y_hr = rgb_to_y(sr)[2:-2, 2:-2], rgb_to_y(hr)[2:-2, 2:-2]
    assert got == pytest.approx(_wang_2004(y_sr, y_hr), abs=1e-12)
    sk = structural_similarity(
        y_sr, y_hr, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255
    )
    assert got == pytest.approx(sk, abs=1e-12)
    assert ssim_map(y_sr, y_hr).shape == (36 - 10, 32 - 10)  # valid region only
    assert ssim_y(hr, hr, 2) == pytest.approx(1.0, abs=1e-12)
    assert 0.0 < got < 1.0


def test_ssim_too_small_raises() -> None:
    img = _rand((14, 14, 3))
    with pytest.raises(UserError, match="smaller than the 11x11 window"):
        ssim_y(img, img, 2)  # 10x10 after shaving


def test_psnr_rgb_ntire_mode() -> None:
    hr = np.full((16, 16, 3), 50, dtype=np.uint8)
    sr = hr.copy()
    sr[:4] = 0  # inside the 4-px border: ignored
    assert psnr_rgb_db(sr, hr) == math.inf
    sr[4:12, 4:12, 0] = 60  # one channel off by 10 over the whole inner region
    want = 10 * math.log10(255**2 / (100 / 3))
    assert psnr_rgb_db(sr, hr, border=4) == pytest.approx(want, abs=1e-9)
    with pytest.raises(UserError, match="differs"):
        psnr_rgb_db(sr[:-1], hr)


def test_tensor_to_uint8_rounds_half_up_and_clips() -> None:
    values = torch.tensor([-0.2, 0.0, 1.0 / 255, 0.5, 1.0, 1.7], dtype=torch.float64)
    t = values.repeat(3, 1).reshape(3, 1, 6)  # CHW
    out = tensor_to_uint8(t)
    assert out.shape == (1, 6, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out[0, :, 0], [0, 0, 1, 128, 255, 255])  # 127.5 -> 128
    assert tensor_to_uint8(t.unsqueeze(0)).shape == (1, 6, 3)  # NCHW with N = 1
    assert tensor_to_uint8(t[:1]).shape == (1, 6)  # one channel -> HxW
    with pytest.raises(UserError, match="batch size 1"):
        tensor_to_uint8(torch.zeros(2, 3, 4, 4))


def test_load_image_modes(tmp_path) -> None:
    rgb = _rand((9, 11, 3))
    rgba = np.dstack([rgb, np.full((9, 11), 7, np.uint8)])
    Image.fromarray(rgba, "RGBA").save(tmp_path / "rgba.png")
    np.testing.assert_array_equal(load_image(tmp_path / "rgba.png"), rgb)  # alpha dropped
    Image.fromarray(rgb).convert("P").save(tmp_path / "pal.png")
    pal = load_image(tmp_path / "pal.png")
    assert pal.shape == (9, 11, 3) and pal.dtype == np.uint8
    gray = _rand((9, 11))
    save_image(gray, tmp_path / "sub" / "gray.png")
    np.testing.assert_array_equal(load_image(tmp_path / "sub" / "gray.png"), gray)
    save_image(rgb, tmp_path / "rgb.bmp")
    np.testing.assert_array_equal(load_image(tmp_path / "rgb.bmp"), rgb)


def test_load_image_bad_files(tmp_path) -> None:
    with pytest.raises(UserError, match="not found") as err:
        load_image(tmp_path / "missing.png")
    assert "missing.png" in str(err.value)
    good = tmp_path / "good.png"
    save_image(_rand((64, 64, 3)), good)
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 20)
    text = tmp_path / "text.png"
    text.write_text("not an image")
    for path in (truncated, corrupt, text):
        with pytest.raises(UserError) as err:
            load_image(path)
        msg = str(err.value)
        assert str(path) in msg and "\n" not in msg
