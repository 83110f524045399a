"""RFDB and DRFDB: feature distillation connections (FDC) with shallow residual blocks (SRB).

RFDB follows RFDN's ``block.py:RFDB`` (AIM 2020): no block-level residual; the attention follows
the 1x1 fusion. DRFDB (DRFDN, a reconstruction: no code was released) is the same block whose SRB
convs are depthwise-separable (DCB) or multi-kernel depthwise-separable (MKDCB) units.
"""

from __future__ import annotations

import torch
from torch import nn

from blocks.attention import make_attention
from blocks.layers import conv2d, make_activation, make_conv
from blocks.specs import BlockSpec


class SRB(nn.Module):
    """Shallow residual block: act(conv(x) + x), conv being any conv unit C -> C."""

    def __init__(self, channels: int, *, conv: nn.Module, act: nn.Module) -> None:
        super().__init__()
        self.conv = conv
        self.act = act

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.conv(x) + x)


class FDC(nn.Module):
    """Feature distillation connection: a 1x1 conv to the distilled width, then the activation."""

    def __init__(self, in_channels: int, out_channels: int, *, act: nn.Module) -> None:
        super().__init__()
        self.conv = conv2d(in_channels, out_channels, 1)
        self.act = act

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.conv(x))


class RFDB(nn.Module):
    """Residual feature distillation block (RFDN); with conv='dcb'/'mkdcb' it is DRFDN's DRFDB.

    d_i = act(1x1(r_{i-1})), r_i = act(conv(r_{i-1}) + r_{i-1}) for i = 1..3; r4 = act(3x3 -> dc);
    out = ATT(1x1(cat[d1, d2, d3, r4])). dc = round(channels * distill_ratio). One shared
    activation module, as in the official code.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        conv: str = "standard",
        kernels: tuple[int, ...] = (3,),
        merge: str | None = None,
        distill_ratio: float = 0.5,
        attention: str = "esa",
        reduction: int | None = None,
        activation: str = "lrelu",
    ) -> None:
        super().__init__()
        nf = in_channels
        dc = max(1, round(nf * distill_ratio))
        self.act = make_activation(activation)
        self.distill = nn.ModuleList(FDC(nf, dc, act=self.act) for _ in range(3))
        self.refine = nn.ModuleList(
            SRB(nf, conv=make_conv(conv, nf, nf, kernels=kernels, merge=merge), act=self.act)
            for _ in range(3)
        )
        self.c4 = conv2d(nf, dc, 3)
        self.c5 = conv2d(4 * dc, out_channels, 1)
        self.att = make_attention(attention, out_channels, reduction=reduction)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        distilled = []
        r = x
        for fdc, srb in zip(self.distill, self.refine, strict=True):
            distilled.append(fdc(r))
            r = srb(r)
        distilled.append(self.act(self.c4(r)))
        return self.att(self.c5(torch.cat(distilled, dim=1)))

    @classmethod
    def from_spec(cls, spec: BlockSpec) -> RFDB:
        return cls(
            spec.channels, spec.channels, conv=spec.conv, kernels=spec.kernels, merge=spec.merge,
            distill_ratio=spec.distill_ratio, attention=spec.attention, reduction=spec.reduction,
            activation=spec.activation,
        )
