"""LRFDB: the NTIRE 2023 LRFDN block (team 30), a chain of progressively halved widths.

d1 = act(1x1(C -> w1)(x)), r1 = act(conv(d1) + d1); d2 = act(1x1(w1 -> w2)(r1)), ...;
r4 = act(3x3(w3 -> w3)(r3)); out = EFSA(1x1(cat[d1, d2, d3, r4] -> C)) * channel weight.
w_{i+1} = round(w_i * distill_ratio) (32, 16, 8 for C = 64). No block-level residual.
"""

from __future__ import annotations

import torch
from torch import nn

from blocks.attention import ChannelWeight, make_attention
from blocks.layers import conv2d, make_activation, make_conv
from blocks.rfdb import FDC, SRB
from blocks.specs import BlockSpec


def lrfdb_widths(channels: int, distill_ratio: float) -> tuple[int, int, int]:
    """Widths of the three distillation stages: each the previous times the ratio (>= 1)."""
    w1 = max(1, round(channels * distill_ratio))
    w2 = max(1, round(w1 * distill_ratio))
    w3 = max(1, round(w2 * distill_ratio))
    return w1, w2, w3


class LRFDB(nn.Module):
    """Lightweight residual feature distillation block (LRFDN)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        conv: str = "standard",
        kernels: tuple[int, ...] = (3,),
        merge: str | None = None,
        distill_ratio: float = 0.5,
        attention: str = "efsa",
        reduction: int | None = None,
        activation: str = "gelu",
        channel_weight: bool = True,
    ) -> None:
        super().__init__()
        widths = lrfdb_widths(in_channels, distill_ratio)
        ins = (in_channels, *widths[:2])
        self.distill = nn.ModuleList(
            FDC(i, w, act=make_activation(activation)) for i, w in zip(ins, widths, strict=True)
        )
        self.refine = nn.ModuleList(
            SRB(w, conv=make_conv(conv, w, w, kernels=kernels, merge=merge),
                act=make_activation(activation))
            for w in widths
        )
        self.c4 = conv2d(widths[2], widths[2], 3)
        self.act4 = make_activation(activation)
        self.c5 = conv2d(sum(widths) + widths[2], out_channels, 1)
        self.att = make_attention(attention, out_channels, reduction=reduction)
        self.cw = ChannelWeight(out_channels) if channel_weight else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        distilled = []
        r = x
        for fdc, srb in zip(self.distill, self.refine, strict=True):
            d = fdc(r)
            distilled.append(d)
            r = srb(d)
        distilled.append(self.act4(self.c4(r)))
        return self.cw(self.att(self.c5(torch.cat(distilled, dim=1))))

    @classmethod
    def from_spec(cls, spec: BlockSpec) -> LRFDB:
        return cls(
            spec.channels, spec.channels, conv=spec.conv, kernels=spec.kernels, merge=spec.merge,
            distill_ratio=spec.distill_ratio, attention=spec.attention, reduction=spec.reduction,
            activation=spec.activation, channel_weight=spec.channel_weight,
        )
