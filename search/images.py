"""Image files and arrays for SR: loading, saving, modcrop, BT.601 Y and tensor -> uint8.

Arrays are uint8 HxWx3 (RGB) or HxW (one channel) with values in [0, 255] unless a function
says otherwise; tensors are float in [0, 1], NCHW or CHW.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, UnidentifiedImageError

from blocks.errors import UserError

if TYPE_CHECKING:  # torch is imported lazily, so the numpy helpers stay cheap to import
    import torch

IMAGE_SUFFIXES = (".png", ".bmp", ".tif", ".tiff", ".jpg", ".jpeg")


def load_image(path: str | Path) -> np.ndarray:
    """Decode an image file to uint8: RGB HxWx3, or HxW for a one-channel (gray) image.

    Alpha is dropped (RGBA -> RGB, LA -> L); palette and other modes become RGB; 16-bit gray is
    scaled to 8 bits. A missing, unreadable, corrupt or truncated file raises a one-line UserError
    naming it.
    """
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: image file not found")
    try:
        with Image.open(path) as im:
            im.load()  # decode now, so a truncated or corrupt file fails here and not later
            mode = im.mode
            if mode in ("L", "1"):
                arr = np.asarray(im.convert("L"))
            elif mode == "LA":
                arr = np.asarray(im.getchannel("L"))
            elif mode in ("I;16", "I;16B", "I;16L", "I"):
                wide = np.asarray(im, dtype=np.float64)
                peak = 65535.0 if wide.max(initial=0) > 255 else 255.0
                arr = np.clip(np.floor(wide * 255.0 / peak + 0.5), 0, 255).astype(np.uint8)
            else:  # RGB, RGBA (alpha dropped), P (palette), CMYK, YCbCr, ...
                if mode == "P" and "transparency" in im.info:
                    im = im.convert("RGBA")
                arr = np.asarray(im.convert("RGB"))
    except UserError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"{path}: not a readable image (corrupt or truncated?): {reason}") from None
    return np.ascontiguousarray(arr, dtype=np.uint8)


def save_image(img: np.ndarray, path: str | Path) -> Path:
    """Write a uint8 HxW or HxWx3 array losslessly (format from the suffix, e.g. .png); makes
    the parent folder. Returns the path."""
    path = Path(path)
    img = _check_uint8(img, "save_image")
    if img.ndim == 3 and img.shape[2] not in (3, 4):
        raise UserError(f"{path}: can only save 1, 3 or 4 channels, got {img.shape[2]}")
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(img).save(path)
    return path


def modcrop(img: np.ndarray, scale: int) -> np.ndarray:
    """Crop HxW[xC] to a multiple of ``scale`` in both sides, keeping the top-left part."""
    if int(scale) != scale or scale < 1:
        raise UserError(f"modcrop: scale must be a positive integer, got {scale!r}")
    scale = int(scale)
    height, width = img.shape[:2]
    return img[: height - height % scale, : width - width % scale]


def rgb_to_y(img: np.ndarray) -> np.ndarray:
    """BT.601 luma as float64 in [16, 235]: Y = 16 + (65.481 R + 128.553 G + 24.966 B) / 255.

    Input: values in [0, 255] (uint8 or float), HxWx3 RGB (extra channels such as alpha are
    ignored) or HxW; a one-channel image is its own Y (returned as float64, unchanged).
    No rounding.
    """
    arr = np.asarray(img)
    if arr.ndim == 2:
        return arr.astype(np.float64)
    if arr.ndim == 3 and arr.shape[2] == 1:
        return arr[..., 0].astype(np.float64)
    if arr.ndim != 3 or arr.shape[2] < 3:
        raise UserError(f"rgb_to_y: expected HxW or HxWx3, got shape {arr.shape}")
    rgb = arr[..., :3].astype(np.float64)
    return 16.0 + (65.481 * rgb[..., 0] + 128.553 * rgb[..., 1] + 24.966 * rgb[..., 2]) / 255.0


def to_rgb(img: np.ndarray) -> np.ndarray:
    """uint8 HxW (gray) -> HxWx3 by replication; HxWx4 -> drop alpha; HxWx3 unchanged."""
    img = _check_uint8(img, "to_rgb")
    if img.ndim == 2:
        return np.repeat(img[:, :, None], 3, axis=2)
    if img.shape[2] == 1:
        return np.repeat(img, 3, axis=2)
    if img.shape[2] >= 3:
        return np.ascontiguousarray(img[:, :, :3])
    raise UserError(f"to_rgb: cannot make RGB from {img.shape[2]} channels")


def rgb_to_gray(img: np.ndarray) -> np.ndarray:
    """uint8 HxWx3 -> HxW: the channel mean rounded half-up (exact for R = G = B images)."""
    img = _check_uint8(img, "rgb_to_gray")
    if img.ndim == 2:
        return img
    mean = img[:, :, :3].astype(np.float64).mean(axis=2)
    return np.clip(np.floor(mean + 0.5), 0, 255).astype(np.uint8)


def uint8_to_tensor(img: np.ndarray) -> torch.Tensor:
    """uint8 HxW or HxWxC -> float32 tensor 1xCxHxW in [0, 1] (a gray image gives C = 1)."""
    import torch

    img = _check_uint8(img, "uint8_to_tensor")
    arr = img[:, :, None] if img.ndim == 2 else img
    chw = np.ascontiguousarray(arr.transpose(2, 0, 1), dtype=np.float32) / np.float32(255.0)
    return torch.from_numpy(chw).unsqueeze(0)


def tensor_to_uint8(t: torch.Tensor) -> np.ndarray:
    """Float tensor in [0, 1], 1xCxHxW or CxHxW -> uint8 HxWxC (HxW when C = 1).

    Values are clipped to [0, 1], scaled by 255 and rounded half-up, as a saved image would be.
    """
    import torch

    if not isinstance(t, torch.Tensor):
        raise UserError(f"tensor_to_uint8: expected a torch.Tensor, got {type(t).__name__}")
    if t.dim() == 4:
        if t.shape[0] != 1:
            raise UserError(f"tensor_to_uint8: expected batch size 1, got shape {tuple(t.shape)}")
        t = t[0]
    if t.dim() != 3:
        raise UserError(f"tensor_to_uint8: expected CHW or 1xCxHxW, got shape {tuple(t.shape)}")
    arr = t.detach().to("cpu", torch.float64).clamp(0.0, 1.0).numpy()
    out = np.floor(arr * 255.0 + 0.5).astype(np.uint8).transpose(1, 2, 0)
    return np.ascontiguousarray(out[:, :, 0] if out.shape[2] == 1 else out)


def list_images(folder: Path) -> list[Path]:
    """Image files (by suffix, see IMAGE_SUFFIXES) directly in ``folder``, sorted by name."""
    return sorted(
        p for p in Path(folder).iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
    )


def _check_uint8(img: np.ndarray, what: str) -> np.ndarray:
    if not isinstance(img, np.ndarray) or img.dtype != np.uint8 or img.ndim not in (2, 3):
        got = f"{img.dtype} {img.shape}" if isinstance(img, np.ndarray) else type(img).__name__
        raise UserError(f"{what}: expected a uint8 HxW or HxWxC array, got {got}")
    return img
