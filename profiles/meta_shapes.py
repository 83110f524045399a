"""Shape-only answers for the meta-device counting pass, where PyTorch's own are slow.

On the meta device PyTorch runs many ops through Python decompositions and reference
implementations: a bilinear upsample takes ~13 ms there (ESA calls one per block), a leaky ReLU
~0.9 ms, a GELU ~1.1 ms, a hard sigmoid ~5 ms, against ~0.1 ms for a convolution. Counting needs
only each op's output shape, so ``MetaShapes`` answers the ops below with an empty meta tensor of
that shape and dtype, and passes every other op (and every op with arguments it does not
recognise: another device, a non-float dtype, an output size it would have to infer) to PyTorch.

- element-wise unary ops: the input's shape (``empty_like``: its memory format too);
- element-wise binary ops: the broadcast shape of the two operands (a Python number broadcasts);
- ``upsample_{bilinear,nearest}2d`` with an explicit output size: ``(N, C, *output_size)``;
- the in-place initialisers a module's ``reset_parameters`` calls (``uniform_``, ``normal_``,
  ``fill_``, ``zero_``): their input, unchanged, which is all they do on meta (building a
  network there spends ~4 ms of ~15 ms in ``uniform_``'s decomposition).

Views and the other in-place ops are never answered here. The counts a pass gives with and
without this mode are the same (tests/profiles/test_fast_counting.py compares them over the zoo
and the shipped search spaces).
"""

from __future__ import annotations

from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode

__all__ = ["MetaShapes"]

aten = torch.ops.aten

_UNARY = frozenset(
    {
        aten.relu.default,
        aten.leaky_relu.default,
        aten.gelu.default,
        aten.sigmoid.default,
        aten.hardsigmoid.default,
        aten.hardswish.default,
        aten.silu.default,
        aten.tanh.default,
        aten.elu.default,
        aten.hardtanh.default,
    }
)
_BINARY = frozenset({aten.add.Tensor, aten.sub.Tensor, aten.mul.Tensor, aten.div.Tensor})
_UPSAMPLE = frozenset({aten.upsample_bilinear2d.default, aten.upsample_nearest2d.default})
_INIT = frozenset(
    {aten.uniform_.default, aten.normal_.default, aten.fill_.Scalar, aten.zero_.default}
)


def _float_meta(t: Any) -> bool:
    return isinstance(t, torch.Tensor) and t.device.type == "meta" and t.dtype.is_floating_point


def _shape_only(func: Any, args: tuple, kwargs: dict) -> torch.Tensor | None:
    """An empty meta tensor shaped as ``func(*args, **kwargs)`` would return, or None where this
    module does not answer ``func`` (PyTorch does)."""
    if not args or not _float_meta(args[0]):
        return None
    x = args[0]
    if func in _INIT:
        return x
    if func in _UNARY:
        return torch.empty_like(x)
    if func in _BINARY:
        if len(args) != 2:
            return None
        other = args[1]
        if isinstance(other, int | float) and not isinstance(other, bool):
            return torch.empty_like(x)
        if not _float_meta(other) or other.dtype != x.dtype:
            return None
        shape = torch.broadcast_shapes(x.shape, other.shape)
        return torch.empty(shape, dtype=x.dtype, device="meta")
    if func in _UPSAMPLE:
        size = args[1] if len(args) > 1 else kwargs.get("output_size")
        if x.dim() != 4 or size is None or len(size) != 2:
            return None
        return torch.empty((*x.shape[:2], *(int(s) for s in size)), dtype=x.dtype, device="meta")
    return None


class MetaShapes(TorchDispatchMode):
    """Answers the ops of the module doc with empty meta tensors; PyTorch runs the rest."""

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001, ANN204
        kwargs = kwargs or {}
        out = _shape_only(func, args, kwargs)
        return func(*args, **kwargs) if out is None else out
