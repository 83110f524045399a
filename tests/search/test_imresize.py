"""MATLAB-exact bicubic: bit-exact against the official LR images, and against a literal port."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from blocks.errors import UserError
from search.images import load_image, modcrop
from search.imresize import cubic, imresize, output_length


def matlab_reference(img: np.ndarray, scale: float) -> np.ndarray:
    """A literal, loop-based port of MATLAB imresize 'bicubic' (contributions, per-pass uint8)."""

    def contributions(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray]:
        width = 4.0 / scale if scale < 1 else 4.0
        taps = math.ceil(width) + 2
        weights = np.zeros((n_out, taps))
        indices = np.zeros((n_out, taps), dtype=int)
        aux = list(range(1, n_in + 1)) + list(range(n_in, 0, -1))
        for i in range(1, n_out + 1):
            u = i / scale + 0.5 * (1 - 1 / scale)
            left = math.floor(u - width / 2)
            for j in range(taps):
                idx = left + j
                d = u - idx
                w = scale * cubic(np.array(scale * d)) if scale < 1 else cubic(np.array(d))
                weights[i - 1, j] = float(w)
                indices[i - 1, j] = aux[(idx - 1) % len(aux)] - 1
            weights[i - 1] /= sum(weights[i - 1].tolist())  # left to right, like MATLAB
        return weights, indices

    def one_pass(a: np.ndarray, axis: int, n_out: int) -> np.ndarray:
        a = np.moveaxis(a.astype(np.float64), axis, 0)
        w, idx = contributions(a.shape[0], n_out)
        out = np.zeros((n_out,) + a.shape[1:])
        for i in range(n_out):
            for j in range(w.shape[1]):
                out[i] += w[i, j] * a[idx[i, j]]
        out = np.clip(np.floor(out + 0.5), 0, 255).astype(np.uint8)
        return np.moveaxis(out, 0, axis)

    h, w = img.shape[:2]
    tmp = one_pass(img, 0, math.ceil(h * scale - 1e-9))
    return one_pass(tmp, 1, math.ceil(w * scale - 1e-9))


@pytest.mark.parametrize("scale", [1 / 2, 1 / 3, 1 / 4, 2, 3, 4, 0.7, 1.5])
def test_matches_literal_matlab_port(scale: float) -> None:
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, size=(13, 17, 3), dtype=np.uint8)
    img = np.where(rng.random(img.shape) < 0.5, img, 128).astype(np.uint8)  # flat and sharp parts
    np.testing.assert_array_equal(imresize(img, scale), matlab_reference(img, scale))


def test_official_set5_set14_lr_bit_exact(shared_data) -> None:
    exact, total, off = 0, 0, []
    for name in ("Set5", "Set14"):
        for hr_path in sorted((shared_data / name / "HR").glob("*.png")):
            hr = load_image(hr_path)
            for s in (2, 3, 4):
                lr = load_image(
                    shared_data / name / "LR_bicubic" / f"X{s}" / f"{hr_path.stem}x{s}.png"
                )
                ours = imresize(modcrop(hr, s), 1 / s)
                total += 1
                if ours.shape == lr.shape and np.array_equal(ours, lr):
                    exact += 1
                else:
                    off.append(f"{name}/{hr_path.stem} x{s}")
    assert total == 57
    assert exact == total, off


def test_gray_bridge_stays_gray(shared_data) -> None:
    hr = load_image(shared_data / "Set14" / "HR" / "bridge.png")
    assert hr.ndim == 2
    lr = imresize(modcrop(hr, 3), 1 / 3)
    assert lr.ndim == 2 and lr.shape == (hr.shape[0] // 3, hr.shape[1] // 3)


@pytest.mark.parametrize(
    ("n", "scale", "want"),
    [
        (255, 1 / 3, 85),
        (256, 1 / 2, 128),
        (7, 1 / 2, 4),
        (361, 1 / 3, 121),
        (10, 3, 30),
        (5, 0.5, 3),
    ],
)
def test_output_length_is_matlab_ceil(n: int, scale: float, want: int) -> None:
    assert output_length(n, scale) == want


def test_channels_are_independent_and_layout_kept() -> None:
    rng = np.random.default_rng(1)
    img = rng.integers(0, 256, size=(20, 14, 3), dtype=np.uint8)
    out = imresize(img, 1 / 2)
    assert out.shape == (10, 7, 3) and out.dtype == np.uint8
    for c in range(3):
        np.testing.assert_array_equal(
            out[..., c], imresize(np.ascontiguousarray(img[..., c]), 1 / 2)
        )
    assert imresize(img[..., :1], 2).shape == (40, 28, 1)


@settings(max_examples=30, deadline=None)
@given(
    value=st.integers(0, 255),
    h=st.integers(1, 12),
    w=st.integers(1, 12),
    scale=st.sampled_from([1 / 4, 1 / 3, 1 / 2, 2.0, 3.0, 4.0]),
)
def test_constant_image_stays_constant(value: int, h: int, w: int, scale: float) -> None:
    img = np.full((h * 4, w * 4), value, dtype=np.uint8)
    out = imresize(img, scale)
    assert out.shape == (output_length(h * 4, scale), output_length(w * 4, scale))
    assert (out == value).all()


@pytest.mark.parametrize(
    "bad",
    [np.zeros((4, 4), np.float32), np.zeros((2, 2, 2, 2), np.uint8), [[1, 2], [3, 4]]],
)
def test_bad_arrays_raise(bad: object) -> None:
    with pytest.raises(UserError, match="uint8"):
        imresize(bad, 2)  # type: ignore[arg-type]


@pytest.mark.parametrize("scale", [0, -2, float("nan"), float("inf")])
def test_bad_scale_raises(scale: float) -> None:
    with pytest.raises(UserError, match="scale"):
        imresize(np.zeros((4, 4), np.uint8), scale)
