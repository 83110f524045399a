"""Conv units, activations and the sub-pixel upsampler shared by every block family.

Every conv unit has one constructor shape: ``Unit(in_channels, out_channels, *, kernels, merge)``.
All convs have a bias and "same" padding; layouts are NCHW.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from blocks.registry import Registry

ACTIVATIONS: Registry[Callable[[], nn.Module]] = Registry("activation")
ACTIVATIONS.add("lrelu", lambda: nn.LeakyReLU(0.05))
ACTIVATIONS.add("gelu", lambda: nn.GELU())
ACTIVATIONS.add("relu", lambda: nn.ReLU())


def make_activation(name: str) -> nn.Module:
    """A fresh activation module: lrelu (slope 0.05), gelu or relu."""
    return ACTIVATIONS.get(name)()


def conv2d(in_channels: int, out_channels: int, kernel: int, *, groups: int = 1) -> nn.Conv2d:
    """A k x k conv with bias and "same" padding (odd k)."""
    return nn.Conv2d(in_channels, out_channels, kernel, padding=kernel // 2, groups=groups)


class StandardConv(nn.Sequential):
    """One dense k x k conv; ``kernels`` holds the single size k."""

    def __init__(
        self, in_channels: int, out_channels: int, *, kernels: tuple[int, ...] = (3,), merge=None
    ) -> None:
        (k,) = kernels
        super().__init__(conv2d(in_channels, out_channels, k))


class DCB(nn.Sequential):
    """Depthwise-separable conv block: depthwise k x k (groups = in_channels), pointwise 1x1."""

    def __init__(
        self, in_channels: int, out_channels: int, *, kernels: tuple[int, ...] = (3,), merge=None
    ) -> None:
        (k,) = kernels
        super().__init__(
            conv2d(in_channels, in_channels, k, groups=in_channels),
            conv2d(in_channels, out_channels, 1),
        )


class MKDCB(nn.Module):
    """Multi-kernel depthwise-separable conv block (DRFDN reconstruction).

    Parallel depthwise branches, one per kernel size, merged by ``sum`` (then a pointwise 1x1) or by
    ``concat`` (then one 1x1 over the concatenation, which is the pointwise conv: two 1x1 convs in a
    row with no activation between them would be a single linear map).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        kernels: tuple[int, ...] = (3, 5),
        merge: str | None = "sum",
    ) -> None:
        super().__init__()
        self.merge = merge
        self.branches = nn.ModuleList(
            conv2d(in_channels, in_channels, k, groups=in_channels) for k in kernels
        )
        width = in_channels * (len(kernels) if merge == "concat" else 1)
        self.pointwise = conv2d(width, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outs = [branch(x) for branch in self.branches]
        if self.merge == "concat":
            y = torch.cat(outs, dim=1)
        else:
            y = outs[0]
            for o in outs[1:]:
                y = y + o
        return self.pointwise(y)


CONV_UNITS: Registry[type[nn.Module]] = Registry("conv unit")
CONV_UNITS.add("standard", StandardConv)
CONV_UNITS.add("dcb", DCB)
CONV_UNITS.add("mkdcb", MKDCB)


def make_conv(
    kind: str, in_channels: int, out_channels: int, *, kernels: tuple[int, ...], merge: str | None
) -> nn.Module:
    """Build a conv unit by name: standard, dcb or mkdcb."""
    return CONV_UNITS.get(kind)(in_channels, out_channels, kernels=kernels, merge=merge)


class PixelShuffleUpsampler(nn.Sequential):
    """The one-conv sub-pixel upsampler: Conv3x3(in -> out*s^2) then PixelShuffle(s)."""

    def __init__(self, in_channels: int, out_channels: int = 3, *, scale: int) -> None:
        super().__init__(
            conv2d(in_channels, out_channels * scale * scale, 3), nn.PixelShuffle(scale)
        )
