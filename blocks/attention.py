"""Attention units applied at the end of a distillation block: ESA, EFSA, CCA, CA, none.

Constructor shape: ``Unit(channels, *, reduction)``; each maps NCHW -> NCHW of the same size.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from blocks.registry import Registry


def _pool_7_3(x: torch.Tensor) -> torch.Tensor:
    """MaxPool(7, stride 3), replicate-padding maps smaller than the window (tiny inputs only)."""
    h, w = x.shape[-2:]
    if h < 7 or w < 7:
        x = F.pad(x, (0, max(0, 7 - w), 0, max(0, 7 - h)), mode="replicate")
    return F.max_pool2d(x, kernel_size=7, stride=3)


class ESA(nn.Module):
    """Enhanced spatial attention (RFDN ``block.py:ESA``), f = channels // 4."""

    def __init__(self, channels: int, *, reduction: int | None = None) -> None:
        super().__init__()
        f = channels // 4
        self.conv1 = nn.Conv2d(channels, f, 1)
        self.conv_f = nn.Conv2d(f, f, 1)
        self.conv_max = nn.Conv2d(f, f, 3, padding=1)
        self.conv2 = nn.Conv2d(f, f, 3, stride=2, padding=0)
        self.conv3 = nn.Conv2d(f, f, 3, padding=1)
        self.conv3_ = nn.Conv2d(f, f, 3, padding=1)
        self.conv4 = nn.Conv2d(f, channels, 1)
        self.sigmoid = nn.Sigmoid()
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c1_ = self.conv1(x)
        c1 = self.conv2(c1_)
        v_max = _pool_7_3(c1)
        v_range = self.relu(self.conv_max(v_max))
        c3 = self.relu(self.conv3(v_range))
        c3 = self.conv3_(c3)
        c3 = F.interpolate(c3, size=x.shape[-2:], mode="bilinear", align_corners=False)
        cf = self.conv_f(c1_)
        return x * self.sigmoid(self.conv4(c3 + cf))


class EFSA(nn.Module):
    """Efficient fast spatial attention of LRFDN (from MAFFSRN); f = channels // 4, hsigmoid."""

    def __init__(self, channels: int, *, reduction: int | None = None) -> None:
        super().__init__()
        f = channels // 4
        self.conv1 = nn.Conv2d(channels, f, 1)
        self.conv2 = nn.Conv2d(f, f, 3, stride=2, padding=0)
        self.conv_max = nn.Conv2d(f, f, 3, padding=1)
        self.conv_dil = nn.Conv2d(f, f, 3, padding=2, dilation=2)
        self.conv4 = nn.Conv2d(f, channels, 1)
        self.lrelu = nn.LeakyReLU(0.05)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c1 = self.conv1(x)
        vm = _pool_7_3(self.conv2(c1))
        vr = self.lrelu(self.conv_max(vm))
        c3 = self.lrelu(self.conv_dil(vm)) + vr
        c3 = F.interpolate(c3, size=x.shape[-2:], mode="bilinear", align_corners=False)
        return x * F.hardsigmoid(self.conv4(c3 + c1))  # hsigmoid = relu6(x + 3) / 6


def _std_hw(x: torch.Tensor) -> torch.Tensor:
    """Per-channel standard deviation over H, W (IMDN's ``stdv_channels``, population variance)."""
    mean = x.mean(dim=(2, 3), keepdim=True)
    return (x - mean).pow(2).mean(dim=(2, 3), keepdim=True).sqrt()


class _SqueezeExcite(nn.Module):
    def __init__(self, channels: int, reduction: int) -> None:
        super().__init__()
        hidden = max(1, channels // reduction)
        self.conv_du = nn.Sequential(
            nn.Conv2d(channels, hidden, 1), nn.ReLU(), nn.Conv2d(hidden, channels, 1), nn.Sigmoid()
        )

    def statistic(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.conv_du(self.statistic(x))


class CCA(_SqueezeExcite):
    """Contrast-aware channel attention (IMDN): std_hw(x) + mean_hw(x), C -> C/r -> C, sigmoid."""

    def __init__(self, channels: int, *, reduction: int | None = 16) -> None:
        super().__init__(channels, 16 if reduction is None else reduction)

    def statistic(self, x: torch.Tensor) -> torch.Tensor:
        return _std_hw(x) + x.mean(dim=(2, 3), keepdim=True)


class CA(_SqueezeExcite):
    """Plain channel attention of the paper RFDN: mean_hw(x), C -> C/4 -> C, sigmoid."""

    def __init__(self, channels: int, *, reduction: int | None = 4) -> None:
        super().__init__(channels, 4 if reduction is None else reduction)

    def statistic(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=(2, 3), keepdim=True)


class NoAttention(nn.Identity):
    """No attention: the identity."""

    def __init__(self, channels: int, *, reduction: int | None = None) -> None:
        super().__init__()


class ChannelWeight(nn.Module):
    """LRFDN's channel weighting: a learnable per-channel scale, initialised N(1, 0.2)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(1, channels, 1, 1).normal_(1.0, 0.2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.weight


ATTENTIONS: Registry[Callable[..., nn.Module]] = Registry("attention")
ATTENTIONS.add("esa", ESA)
ATTENTIONS.add("efsa", EFSA)
ATTENTIONS.add("cca", CCA)
ATTENTIONS.add("ca", CA)
ATTENTIONS.add("none", NoAttention)

#: attentions whose ``reduction`` ratio is a knob
REDUCIBLE_ATTENTIONS = frozenset({"cca", "ca"})


def make_attention(name: str, channels: int, *, reduction: int | None = None) -> nn.Module:
    """Build an attention unit by name: esa, efsa, cca, ca or none."""
    return ATTENTIONS.get(name)(channels, reduction=reduction)
