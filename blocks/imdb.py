"""IMDB (IMDN, ACM MM 2019) and the AIM 2019 IMDN-baseline block.

IMDB: three k x k convs each split into distilled (d) and remaining (C - d) channels, a fourth conv
to d channels, cat -> attention (CCA) -> 1x1 -> + input. The AIM 2019 block has no attention and
applies the activation to the whole conv output before the split, as in ``basicblock.IMDBlock``.
"""

from __future__ import annotations

import torch
from torch import nn

from blocks.attention import make_attention
from blocks.layers import conv2d, make_activation
from blocks.specs import BlockSpec


class IMDB(nn.Module):
    """Information multi-distillation block; d = int(channels * distill_ratio)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        kernels: tuple[int, ...] = (3,),
        distill_ratio: float = 0.25,
        attention: str | None = "cca",
        reduction: int | None = 16,
        activation: str = "lrelu",
    ) -> None:
        super().__init__()
        (k,) = kernels
        self.d = int(in_channels * distill_ratio)
        self.r = in_channels - self.d
        self.c1 = conv2d(in_channels, in_channels, k)
        self.c2 = conv2d(self.r, in_channels, k)
        self.c3 = conv2d(self.r, in_channels, k)
        self.c4 = conv2d(self.r, self.d, k)
        self.act = make_activation(activation)
        self.att = (
            make_attention(attention, 4 * self.d, reduction=reduction)
            if attention is not None
            else nn.Identity()
        )
        self.c5 = conv2d(4 * self.d, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        d1, r1 = torch.split(self.act(self.c1(x)), (self.d, self.r), dim=1)
        d2, r2 = torch.split(self.act(self.c2(r1)), (self.d, self.r), dim=1)
        d3, r3 = torch.split(self.act(self.c3(r2)), (self.d, self.r), dim=1)
        d4 = self.c4(r3)
        return self.c5(self.att(torch.cat([d1, d2, d3, d4], dim=1))) + x

    @classmethod
    def from_spec(cls, spec: BlockSpec) -> IMDB:
        return cls(
            spec.channels, spec.channels, kernels=spec.kernels, distill_ratio=spec.distill_ratio,
            attention=spec.attention, reduction=spec.reduction, activation=spec.activation,
        )


class IMDBlockAIM19(IMDB):
    """The AIM 2019 / NTIRE 2022 IMDN-baseline block: IMDB without attention."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        kernels: tuple[int, ...] = (3,),
        distill_ratio: float = 0.25,
        activation: str = "lrelu",
    ) -> None:
        super().__init__(
            in_channels, out_channels, kernels=kernels, distill_ratio=distill_ratio,
            attention=None, activation=activation,
        )

    @classmethod
    def from_spec(cls, spec: BlockSpec) -> IMDBlockAIM19:
        return cls(spec.channels, spec.channels, kernels=spec.kernels,
                   distill_ratio=spec.distill_ratio, activation=spec.activation)
