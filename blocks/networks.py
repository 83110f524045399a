"""Network skeletons: the common distillation skeleton and the AIM 2019 IMDN baseline.

Inputs are NCHW RGB in [0, 1]; outputs are NCHW RGB at ``scale`` times the input size.
"""

from __future__ import annotations

import torch
from torch import nn

from blocks.layers import PixelShuffleUpsampler, conv2d, make_activation


class DistillNet(nn.Module):
    """The IMDN/RFDN/E-RFDN/LRFDN skeleton.

    F0 = 3x3(3 -> nf)(x); B_i = block_i(B_{i-1}); F = act(1x1(M*nf -> nf)(cat[B_1..B_M]));
    F = 3x3(nf -> nf)(F) + F0; y = PixelShuffle(s)(3x3(nf -> 3 s^2)(F)).
    """

    def __init__(self, blocks: list[nn.Module], channels: int, *, scale: int,
                 fuse_activation: str = "lrelu") -> None:
        super().__init__()
        self.fea_conv = conv2d(3, channels, 3)
        self.blocks = nn.ModuleList(blocks)
        self.fuse = nn.Sequential(
            conv2d(len(blocks) * channels, channels, 1), make_activation(fuse_activation)
        )
        self.lr_conv = conv2d(channels, channels, 3)
        self.upsampler = PixelShuffleUpsampler(channels, 3, scale=scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f0 = self.fea_conv(x)
        outs = []
        h = f0
        for block in self.blocks:
            h = block(h)
            outs.append(h)
        f = self.fuse(torch.cat(outs, dim=1))
        return self.upsampler(self.lr_conv(f) + f0)


class IMDNAIM19Net(nn.Module):
    """AIM 2019 IMDN baseline: head 3x3, shortcut(blocks + 3x3), one-conv pixel-shuffle upsampler.

    No concat-of-all-blocks fusion (``ofsoundof/NTIRE2022_ESR`` ``models/imdn_baseline.py``).
    """

    def __init__(self, blocks: list[nn.Module], channels: int, *, scale: int) -> None:
        super().__init__()
        self.head = conv2d(3, channels, 3)
        self.body = nn.Sequential(*blocks, conv2d(channels, channels, 3))
        self.upsampler = PixelShuffleUpsampler(channels, 3, scale=scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.head(x)
        return self.upsampler(h + self.body(h))


