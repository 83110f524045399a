"""RDB / RDG of DRN (Sun et al., arXiv 1907.02843): a labelled RECONSTRUCTION.

Only the abstract is available and no code was released, so this follows the provisional reading
of the reference: RDB(x) = x + conv(act(conv(x))) with a parallel 1x1 "distill" conv; an RDG stacks
``depth`` RDBs, concatenates their distilled outputs with the last residual output, fuses them by a
1x1 and adds its input (the long skip). None of DRN's published numbers apply to it.
"""

from __future__ import annotations

import torch
from torch import nn

from blocks.layers import conv2d, make_activation, make_conv
from blocks.specs import BlockSpec


class RDB(nn.Module):
    """Residual distillation block: returns (x + conv(act(conv(x))), act(1x1(x)))."""

    def __init__(
        self, channels: int, distilled: int, *, conv: str, kernels: tuple[int, ...],
        merge: str | None, activation: str,
    ) -> None:
        super().__init__()
        self.conv1 = make_conv(conv, channels, channels, kernels=kernels, merge=merge)
        self.conv2 = make_conv(conv, channels, channels, kernels=kernels, merge=merge)
        self.distill = conv2d(channels, distilled, 1)
        self.act = make_activation(activation)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return x + self.conv2(self.act(self.conv1(x))), self.act(self.distill(x))


class RDG(nn.Module):
    """Residual distillation group: ``depth`` RDBs, 1x1 fusion of their distilled features, skip."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        conv: str = "standard",
        kernels: tuple[int, ...] = (3,),
        merge: str | None = None,
        distill_ratio: float = 0.25,
        activation: str = "lrelu",
        depth: int = 4,
    ) -> None:
        super().__init__()
        dc = max(1, round(in_channels * distill_ratio))
        self.rdbs = nn.ModuleList(
            RDB(in_channels, dc, conv=conv, kernels=kernels, merge=merge, activation=activation)
            for _ in range(depth)
        )
        self.fuse = conv2d(depth * dc + in_channels, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x
        distilled = []
        for rdb in self.rdbs:
            h, d = rdb(h)
            distilled.append(d)
        return self.fuse(torch.cat([*distilled, h], dim=1)) + x

    @classmethod
    def from_spec(cls, spec: BlockSpec) -> RDG:
        return cls(
            spec.channels, spec.channels, conv=spec.conv, kernels=spec.kernels, merge=spec.merge,
            distill_ratio=spec.distill_ratio, activation=spec.activation, depth=spec.depth,
        )
