"""Standard SR evaluation: upscale each test set's LR and score Y-PSNR and SSIM per protocol.

The upscaler is ``"bicubic"`` (MATLAB bicubic of the official LR, the baseline SR papers print)
or a torch module mapping float NCHW RGB in [0, 1] (LR) to NCHW RGB in [0, 1] at ``scale`` x
the size. Model outputs are quantised to uint8 (clip, round half-up) before scoring, as saved
images would be. A gray (one-channel) test image is fed to a model replicated to RGB, and its
output is turned back to gray (channel mean, rounded) so that, per protocol, it is its own Y.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from blocks.errors import UserError
from search.datasets import Pair, check_scale, load_pairs
from search.images import rgb_to_gray, tensor_to_uint8, to_rgb, uint8_to_tensor
from search.imresize import imresize
from search.metrics import psnr_y_db, ssim_y

if TYPE_CHECKING:
    from torch import nn

BICUBIC = "bicubic"


def _mean(values: Sequence[float]) -> float:
    return float(np.mean(values)) if values else math.nan


def upscaler_name(upscaler: str | nn.Module) -> str:
    """``bicubic`` or the module's class name."""
    return upscaler if isinstance(upscaler, str) else type(upscaler).__name__


def upscale(
    upscaler: str | nn.Module, lr: np.ndarray, scale: int, device: str = "cpu"
) -> np.ndarray:
    """Upscale one uint8 LR (HxWx3 or HxW) by ``scale``; returns uint8 in the LR's layout."""
    if isinstance(upscaler, str):
        if upscaler != BICUBIC:
            raise UserError(f"unknown upscaler {upscaler!r}; valid: 'bicubic' or a torch module")
        return imresize(lr, scale)
    import torch

    x = uint8_to_tensor(to_rgb(lr)).to(device)
    with torch.no_grad():
        y = upscaler(x)
    want = (1, 3, lr.shape[0] * scale, lr.shape[1] * scale)
    if not isinstance(y, torch.Tensor) or tuple(y.shape) != want:
        got = tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__
        raise UserError(
            f"model {upscaler_name(upscaler)} returned {got} for a {tuple(x.shape)} input; "
            f"expected {want} at x{scale}"
        )
    sr = tensor_to_uint8(y)
    return rgb_to_gray(sr) if lr.ndim == 2 else sr


def evaluate_pairs(
    upscaler: str | nn.Module, pairs: Sequence[Pair], scale: int, *, device: str = "cpu"
) -> dict[str, Any]:
    """Score each (name, LR, HR) pair: ``{"psnr_y_db", "ssim_y", "images", "rows"}``.

    ``psnr_y_db`` (dB) and ``ssim_y`` (in [-1, 1]) are plain means over the images; ``rows`` has
    one ``{"name", "psnr_y_db", "ssim_y"}`` per image. A module is put in eval mode and on
    ``device`` for the call (its train/eval mode is restored afterwards).
    """
    scale = check_scale(scale)
    was_training = None
    if not isinstance(upscaler, str):
        was_training = upscaler.training
        upscaler.eval()
        upscaler.to(device)
    try:
        rows = []
        for name, lr, hr in pairs:
            sr = upscale(upscaler, lr, scale, device)
            rows.append(
                {
                    "name": name,
                    "psnr_y_db": psnr_y_db(sr, hr, scale),
                    "ssim_y": ssim_y(sr, hr, scale),
                }
            )
    finally:
        if was_training:
            upscaler.train()
    return {
        "psnr_y_db": _mean([r["psnr_y_db"] for r in rows]),
        "ssim_y": _mean([r["ssim_y"] for r in rows]),
        "images": len(rows),
        "rows": rows,
    }


def evaluate_sets(
    upscaler: str | nn.Module,
    sets: Sequence[str | Path],
    scale: int,
    *,
    device: str = "cpu",
) -> dict[str, Any]:
    """Evaluate on test-set folders (standard layout, see ``search.datasets.SRSet``).

    Returns ``{"upscaler", "scale", "sets": {set_name: {"psnr_y_db", "ssim_y", "images",
    "rows"}}, "overall": {"psnr_y_db", "ssim_y", "images"}}``; set names are folder names,
    ``overall`` averages over all images of all sets (so larger sets weigh more).
    """
    if not sets:
        raise UserError("no test sets given (pass at least one --data DIR)")
    scale = check_scale(scale, sets[0])
    results: dict[str, dict[str, Any]] = {}
    for root in map(Path, sets):
        pairs = load_pairs(root, scale)
        name = root.resolve().name
        if name in results:
            name = str(root)
        results[name] = evaluate_pairs(upscaler, pairs, scale, device=device)
    all_rows = [row for res in results.values() for row in res["rows"]]
    return {
        "upscaler": upscaler_name(upscaler),
        "scale": scale,
        "sets": results,
        "overall": {
            "psnr_y_db": _mean([r["psnr_y_db"] for r in all_rows]),
            "ssim_y": _mean([r["ssim_y"] for r in all_rows]),
            "images": len(all_rows),
        },
    }


WRAPPER_KEYS = ("state_dict", "model", "params_ema", "params", "ema")


def load_weights(model: nn.Module, path: str | Path) -> nn.Module:
    """Load a state_dict file into ``model`` (``torch.load(weights_only=True)``, strict).

    Accepts a bare state_dict or one wrapped under ``state_dict``/``model``/``params_ema``/
    ``params``/``ema``; a ``module.`` prefix (DataParallel) is dropped. A missing file, a file
    that is not a state_dict, or one whose names or shapes do not fit the model is a one-line
    UserError naming the file.
    """
    import torch

    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: weights file not found")
    try:
        obj = torch.load(path, weights_only=True, map_location="cpu")
    except Exception as exc:  # noqa: BLE001 - unpickling raises many types; all mean "bad file"
        first = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else ""
        raise UserError(
            f"{path}: not a loadable PyTorch weights file ({type(exc).__name__}: {first})"
        ) from None
    if isinstance(obj, dict):
        for key in WRAPPER_KEYS:
            if isinstance(obj.get(key), dict):
                obj = obj[key]
                break
    if (
        not isinstance(obj, dict)
        or not obj
        or not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items())
    ):
        raise UserError(f"{path}: not a state_dict (expected a dict of parameter name -> tensor)")
    state = {k.removeprefix("module."): v for k, v in obj.items()}
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    wrong = [k for k in own if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    if missing or unexpected or wrong:
        detail = []
        if wrong:
            k = wrong[0]
            detail.append(
                f"{len(wrong)} shape mismatches (first {k}: file {tuple(state[k].shape)}, "
                f"model {tuple(own[k].shape)})"
            )
        if missing:
            detail.append(f"{len(missing)} missing (first {missing[0]})")
        if unexpected:
            detail.append(f"{len(unexpected)} unexpected (first {unexpected[0]})")
        raise UserError(
            f"{path}: weights do not fit model {type(model).__name__}: {'; '.join(detail)}"
        )
    model.load_state_dict(state, strict=True)
    return model
