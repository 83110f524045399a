"""MATLAB-exact bicubic resizing of uint8 images (the degradation SR test sets were made with).

Reproduces MATLAB ``imresize(uint8_img, scale, 'bicubic')``: cubic kernel a = -0.5, widened by
1/scale when downscaling (antialiasing), output sample i (1-based) centred at ``i/scale +
0.5 * (1 - 1/scale)`` in 1-based input coordinates, symmetric (mirror) padding, weights normalised
to sum 1, rows (height) first and then columns, each pass rounded half-up to uint8 and clipped.
With this recipe every official Set5/Set14 LR image (EDSR convention) comes out bit for bit.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from blocks.errors import UserError

KERNEL_WIDTH = 4.0  # support of the bicubic kernel, in input pixels, before antialias widening


def cubic(x: np.ndarray) -> np.ndarray:
    """Keys' cubic convolution kernel with a = -0.5 (MATLAB's ``cubic``); support [-2, 2]."""
    ax = np.abs(x)
    ax2 = ax * ax
    ax3 = ax2 * ax
    inner = (1.5 * ax3 - 2.5 * ax2 + 1.0) * (ax <= 1)
    outer = (-0.5 * ax3 + 2.5 * ax2 - 4.0 * ax + 2.0) * ((ax > 1) & (ax <= 2))
    return inner + outer


def _exact_scale(scale: float) -> Fraction:
    """The scale as a fraction, snapping 1/3-like floats to their exact ratio (1/s or s)."""
    frac = Fraction(scale).limit_denominator(1000)
    if abs(float(frac) - scale) > 1e-9 * max(1.0, scale):
        return Fraction(scale)
    return frac


def output_length(in_length: int, scale: float) -> int:
    """MATLAB's output size ``ceil(in_length * scale)``, exact for ratios such as 1/3."""
    return math.ceil(in_length * _exact_scale(scale))


def contributions(in_length: int, out_length: int, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """MATLAB's ``contributions``: (weights, indices), both (out_length, taps), along one axis.

    Row i holds the normalised weights of output sample i and the 0-based input pixels they
    apply to, mirror padding folded in (MATLAB's ``aux = [1:n, n:-1:1]``). Computed with the same
    float operations, in the same order, as MATLAB (``u = x/scale + 0.5*(1 - 1/scale)``).
    """
    antialias = scale < 1
    width = KERNEL_WIDTH / scale if antialias else KERNEL_WIDTH
    x = np.arange(1, out_length + 1, dtype=np.float64)
    centre = x / scale + 0.5 * (1.0 - 1.0 / scale)  # 1-based input coordinate of each output
    left = np.floor(centre - width / 2.0)
    taps = int(math.ceil(width)) + 2
    idx = left[:, None] + np.arange(taps, dtype=np.float64)[None, :]  # 1-based input indices
    dist = centre[:, None] - idx
    weights = scale * cubic(scale * dist) if antialias else cubic(dist)
    weights = weights / np.cumsum(weights, axis=1)[:, -1:]  # left-to-right sum, like MATLAB
    period = np.concatenate([np.arange(in_length), np.arange(in_length - 1, -1, -1)])
    indices = period[np.mod(idx.astype(np.int64) - 1, 2 * in_length)]
    keep = np.any(weights != 0, axis=0)  # MATLAB drops all-zero taps
    return weights[:, keep], indices[:, keep]


def _resize_axis0(data: np.ndarray, out_length: int, scale: float) -> np.ndarray:
    """One pass along axis 0 of a float64 (N, ...) array: for each tap in order, gather the input
    rows and accumulate weight * row (MATLAB's summation order), then round to uint8."""
    weights, indices = contributions(data.shape[0], out_length, scale)
    shape = (out_length,) + (1,) * (data.ndim - 1)
    out = np.zeros((out_length,) + data.shape[1:], dtype=np.float64)
    term = np.empty_like(out)
    for tap in range(weights.shape[1]):
        np.take(data, indices[:, tap], axis=0, out=term)
        term *= weights[:, tap].reshape(shape)
        out += term
    return _to_uint8(out)


def _to_uint8(values: np.ndarray) -> np.ndarray:
    """Round half-up (MATLAB rounds half away from zero; negatives clip to 0 anyway) and clip."""
    values += 0.5
    np.floor(values, out=values)
    np.clip(values, 0, 255, out=values)
    return values.astype(np.uint8)


def imresize(img: np.ndarray, scale: float) -> np.ndarray:
    """MATLAB ``imresize(img, scale, 'bicubic')`` of a uint8 image, bit-exact.

    ``img``: uint8, HxW or HxWxC (any C). ``scale`` > 0: output is ceil(H*scale) x ceil(W*scale)
    (for 1/s on an image modcropped to a multiple of s that is H/s x W/s). Rows (height) are
    resized first, then columns; each pass is rounded half-up to uint8 and clipped to [0, 255].
    Returns uint8 with the input's layout.
    """
    if not isinstance(img, np.ndarray) or img.dtype != np.uint8 or img.ndim not in (2, 3):
        got = f"{img.dtype} {img.shape}" if isinstance(img, np.ndarray) else type(img).__name__
        raise UserError(f"imresize: expected a uint8 HxW or HxWxC array, got {got}")
    if not (isinstance(scale, (int, float)) and math.isfinite(scale) and scale > 0):
        raise UserError(f"imresize: scale must be a positive finite number, got {scale!r}")
    height, width = img.shape[:2]
    out_h, out_w = output_length(height, scale), output_length(width, scale)
    if min(height, width, out_h, out_w) < 1:
        raise UserError(f"imresize: cannot resize a {height}x{width} image by {scale}")
    # pass 1: rows (height); rounded to uint8 like MATLAB's uint8 intermediate
    tmp = _resize_axis0(img.astype(np.float64), out_h, scale)
    # pass 2: columns, on the transposed intermediate so the gather runs along axis 0
    out = _resize_axis0(np.ascontiguousarray(np.swapaxes(tmp, 0, 1), np.float64), out_w, scale)
    return np.ascontiguousarray(np.swapaxes(out, 0, 1))
