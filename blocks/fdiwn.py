"""FDIWN (Gao, Li, Li, Wu, Lu, Yu, AAAI 2022): feature distillation interaction weighting network.

Every module maps NCHW float tensors to NCHW float tensors. The paper's names, with the class
names of the released code (IVIPLab/FDIWN, ``FDIWN_TrainCode/code/model/FDIWNx{2,3,4}.py``):

- ``ShuffleAttention`` [``sa_layer``]: SA-Net shuffle attention, closes WIRW/WCRW and WDIB.
- ``WIRW`` [``SRBW1``]: wide-activation identity residual weighting, C -> C.
- ``WCRW`` [``SRBW``/``SRBW2``]: wide-activation conv residual weighting (3x3 skip), C_in -> C_out.
- ``SCF`` [``CoffConv``]: self-calibration fusion, a per-channel coefficient from mean and std.
- ``WDIB`` [``MY``]: wide-residual distillation interaction block; its sigmoid-gated
  distilled-feature connections are the WRDC.
- ``FSWG`` [``Li``]: feature shuffle weighted group, 3 WDIBs.
- ``FDIWN``: 3 FSWGs applied 6 times (weight sharing) and a two-branch sub-pixel tail.

The 1x1/3x3 convs inside WIRW/WCRW bodies are weight-normalised with
``torch.nn.utils.parametrizations.weight_norm`` (parameters g, v and the bias, the same count as the
legacy ``torch.nn.utils.weight_norm`` of the released code, which is deprecated).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils.parametrizations import weight_norm

from blocks.errors import UserError

DIV2K_RGB_MEAN: tuple[float, float, float] = (0.4488, 0.4371, 0.4040)
LRELU_SLOPE = 0.05


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """Interleave `groups` channel groups of NCHW: (N, g, C/g, H, W) -> (N, C/g, g, H, W)."""
    n, c, h, w = x.shape
    return x.reshape(n, groups, c // groups, h, w).transpose(1, 2).reshape(n, c, h, w)


def _wn_conv(in_channels: int, out_channels: int, kernel_size: int) -> nn.Conv2d:
    """A weight-normalised conv with bias and "same" padding (the code's ``wn(nn.Conv2d(...))``)."""
    conv = nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2)
    return weight_norm(conv)


def _conv3x3(
    in_channels: int, out_channels: int, *, bias: bool = True, groups: int = 1
) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=bias, groups=groups)


class Scale(nn.Module):
    """A learnable scalar multiplier (one parameter), initialised to `init`."""

    def __init__(self, init: float) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.tensor([float(init)]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale


class MeanShift(nn.Conv2d):
    """Adds ``sign * rgb_range * mean`` per RGB channel; a 1x1 conv, identity weight, 12 params.

    The released code sets ``requires_grad = False`` on the module, which is a no-op, so these
    convs train and count as parameters; they are kept trainable here.
    """

    def __init__(self, rgb_range: float, *, sign: int) -> None:
        super().__init__(3, 3, kernel_size=1)
        with torch.no_grad():
            self.weight.copy_(torch.eye(3).view(3, 3, 1, 1))
            self.bias.copy_(sign * rgb_range * torch.tensor(DIV2K_RGB_MEAN))


class ShuffleAttention(nn.Module):
    """SA-Net shuffle attention [``sa_layer``]; NCHW -> NCHW, 6 * C / (2 * groups) parameters.

    The channels are split into `groups` sub-features, each halved: one half is gated by its
    global mean (channel attention), the other by its GroupNorm-ed self (spatial attention); then
    a 2-group channel shuffle. `channels` must be a multiple of ``2 * groups``.
    """

    def __init__(self, channels: int, *, groups: int = 6) -> None:
        super().__init__()
        if groups < 1 or channels % (2 * groups):
            raise UserError(
                "ShuffleAttention needs channels divisible by 2*groups; "
                f"got {channels}, groups={groups}"
            )
        self.groups = groups
        half = channels // (2 * groups)
        self.cweight = nn.Parameter(torch.zeros(1, half, 1, 1))
        self.cbias = nn.Parameter(torch.ones(1, half, 1, 1))
        self.sweight = nn.Parameter(torch.zeros(1, half, 1, 1))
        self.sbias = nn.Parameter(torch.ones(1, half, 1, 1))
        self.gn = nn.GroupNorm(half, half)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        x0, x1 = x.reshape(b * self.groups, c // self.groups, h, w).chunk(2, dim=1)
        xn = x0 * torch.sigmoid(self.cweight * x0.mean(dim=(2, 3), keepdim=True) + self.cbias)
        xs = x1 * torch.sigmoid(self.sweight * self.gn(x1) + self.sbias)
        return channel_shuffle(torch.cat([xn, xs], dim=1).reshape(b, c, h, w), 2)


class WIRW(nn.Module):
    """Wide-activation identity residual weighting [``SRBW1``]; NCHW, C -> C.

    ``y = l_r * SA(Conv3x3(C/2 -> C)(Conv1x1(e -> C/2)(ReLU(Conv1x1(C -> e)(x))))) + l_x * x``
    with ``e = int(C * expansion)``, weight-normalised body convs and learnable scalars l_r, l_x
    (init 1).
    """

    def __init__(self, channels: int, *, expansion: float) -> None:
        super().__init__()
        wide = int(channels * expansion)
        self.res_scale = Scale(1.0)
        self.x_scale = Scale(1.0)
        self.body = nn.Sequential(
            _wn_conv(channels, wide, 1),
            nn.ReLU(inplace=True),
            _wn_conv(wide, channels // 2, 1),
            _wn_conv(channels // 2, channels, 3),
        )
        self.attention = ShuffleAttention(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.res_scale(self.attention(self.body(x))) + self.x_scale(x)


class WCRW(nn.Module):
    """Wide-activation conv residual weighting [``SRBW``; fuse: ``SRBW2``]; NCHW, C_in -> C_out.

    ``y = l_r * SA(Conv3x3(m -> C_out)(Conv1x1(e -> m)(ReLU(Conv1x1(C_in -> e)(x)))))
    + l_x * Conv3x3(C_in -> C_out)(x)`` with ``e = int(C_in * expansion)`` and
    ``m = min(C_in, C_out)``: the WDIB's 12 -> 24 WCRW squeezes to 12, its fuse WCRW 48 -> 24 to
    24. The body convs are weight-normalised; the 3x3 skip is plain (with bias).
    """

    def __init__(self, in_channels: int, out_channels: int, *, expansion: float) -> None:
        super().__init__()
        wide = int(in_channels * expansion)
        squeeze = min(in_channels, out_channels)
        self.res_scale = Scale(1.0)
        self.x_scale = Scale(1.0)
        self.skip = _conv3x3(in_channels, out_channels)
        self.body = nn.Sequential(
            _wn_conv(in_channels, wide, 1),
            nn.ReLU(inplace=True),
            _wn_conv(wide, squeeze, 1),
            _wn_conv(squeeze, out_channels, 3),
        )
        self.attention = ShuffleAttention(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.res_scale(self.attention(self.body(x))) + self.x_scale(self.skip(x))


def _coefficient_mlp(channels: int, reduction: int) -> nn.Sequential:
    """1x1 C -> C/r, ReLU, 1x1 C/r -> C, ReLU, sigmoid (the last ReLU keeps it >= 0.5)."""
    return nn.Sequential(
        nn.Conv2d(channels, channels // reduction, 1),
        nn.ReLU(inplace=True),
        nn.Conv2d(channels // reduction, channels, 1),
        nn.ReLU(inplace=True),
        nn.Sigmoid(),
    )


class SCF(nn.Module):
    """Self-calibration fusion coefficient [``CoffConv``]; NCHW -> (N, C, 1, 1) in [0.5, 1).

    The mean of two gates, one on the spatial mean and one on the spatial (population) std of x,
    each with its own bottleneck MLP of width ``C // reduction``. The caller multiplies x by it.
    """

    def __init__(self, channels: int, *, reduction: int = 8) -> None:
        super().__init__()
        if reduction < 1 or channels // reduction < 1:
            raise UserError(f"SCF needs 1 <= reduction <= channels; got {channels}, {reduction}")
        self.mean_branch = _coefficient_mlp(channels, reduction)
        self.std_branch = _coefficient_mlp(channels, reduction)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(dim=(2, 3), keepdim=True)
        std = x.var(dim=(2, 3), keepdim=True, correction=0).sqrt()
        return (self.mean_branch(mean) + self.std_branch(std)) / 2


class WDIB(nn.Module):
    """Wide-residual distillation interaction block [``MY``]; NCHW, C -> C (C a multiple of 12).

    Two interacting paths, each a WIRW whose output is split into a distilled and a remaining
    half; the remaining half goes through a WCRW (C/2 -> C) and the paths exchange SCF-weighted
    features. The distilled halves gate the paths through a sigmoid of a 3x3 conv (the WRDC).
    Then two more WIRWs, a fuse WCRW (2C -> C) plus a sigmoid-gated 1x1, the input skip and a
    closing shuffle attention:

        a = LReLU(WIRW1(x)); da, ra = split(a); oa = WCRW1(ra)
        ob1 = SCF_A1(oa) oa + x;  oa1 = SCF_B1(x) x + oa
        b = LReLU(WIRW2(ob1)); db, rb = split(b); ob = WCRW2(rb)
        ob2 = (SCF_A2(oa1) oa1 + ob) sig(Conv3x3(db));  oa2 = (SCF_B2(ob) ob + oa1) sig(Conv3x3(da))
        A = WIRW3(oa2); B = WIRW4(ob2); Z = cat[s1 A, s2 B]
        out = SA(fuseWCRW(Z) + sig(Conv1x1(Z)) B + x)

    `wirw_expansion`, `wcrw_expansion`, `fuse_expansion` are the wide-activation ratios of the
    WIRWs, the two C/2 -> C WCRWs and the fuse WCRW; the defaults are the x4 model's.
    """

    def __init__(
        self,
        channels: int,
        *,
        wirw_expansion: float = 2.5,
        wcrw_expansion: float = 4.5,
        fuse_expansion: float = 2.25,
    ) -> None:
        super().__init__()
        half = channels // 2
        self.act = nn.LeakyReLU(LRELU_SLOPE)
        self.wirw1 = WIRW(channels, expansion=wirw_expansion)
        self.wirw2 = WIRW(channels, expansion=wirw_expansion)
        self.wcrw1 = WCRW(half, channels, expansion=wcrw_expansion)
        self.wcrw2 = WCRW(half, channels, expansion=wcrw_expansion)
        self.scf_a1 = SCF(channels)
        self.scf_b1 = SCF(channels)
        self.scf_a2 = SCF(channels)
        self.scf_b2 = SCF(channels)
        self.gate_b = _conv3x3(half, channels, bias=False)  # on db; "conv_distilled1"
        self.gate_a = _conv3x3(half, channels, bias=False)  # on da; "conv_distilled2"
        self.scale_a = Scale(1.0)
        self.scale_b = Scale(1.0)
        self.wirw3 = WIRW(channels, expansion=wirw_expansion)
        self.wirw4 = WIRW(channels, expansion=wirw_expansion)
        self.fuse = WCRW(2 * channels, channels, expansion=fuse_expansion)
        self.fuse_gate = nn.Conv2d(2 * channels, channels, 1, bias=False)
        self.attention = ShuffleAttention(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        da, ra = self.act(self.wirw1(x)).chunk(2, dim=1)
        oa = self.wcrw1(ra)
        ob1 = self.scf_a1(oa) * oa + x
        oa1 = self.scf_b1(x) * x + oa

        db, rb = self.act(self.wirw2(ob1)).chunk(2, dim=1)
        ob = self.wcrw2(rb)
        ob2 = (self.scf_a2(oa1) * oa1 + ob) * torch.sigmoid(self.gate_b(db))
        oa2 = (self.scf_b2(ob) * ob + oa1) * torch.sigmoid(self.gate_a(da))

        path_a = self.wirw3(oa2)
        path_b = self.wirw4(ob2)
        z = torch.cat([self.scale_a(path_a), self.scale_b(path_b)], dim=1)
        y = self.fuse(z) + torch.sigmoid(self.fuse_gate(z)) * path_b + x
        return self.attention(y)


class FSWG(nn.Module):
    """Feature shuffle weighted group [``Li``]; NCHW, C -> C (C a multiple of 12).

        o1 = WDIB1(x); o11 = WDIB2(o1); o3 = WDIB3(o11 + Conv3x3(o1))
        g1 = GConv3x3(2C -> C, 4 groups)(shuffle4(cat[o1, o11]))
        g2 = GConv3x3(2C -> C, 4 groups)(shuffle4(cat[g1, o3]))
        out = s_x (g2 + o3) + s_r WIRW(x)          # s_x, s_r learnable, init 0.5

    The expansion ratios go to every WDIB and to the group's own WIRW (see `WDIB`).
    """

    def __init__(
        self,
        channels: int,
        *,
        wirw_expansion: float = 2.5,
        wcrw_expansion: float = 4.5,
        fuse_expansion: float = 2.25,
    ) -> None:
        super().__init__()
        ratios = {
            "wirw_expansion": wirw_expansion,
            "wcrw_expansion": wcrw_expansion,
            "fuse_expansion": fuse_expansion,
        }
        self.wdib1 = WDIB(channels, **ratios)
        self.wdib2 = WDIB(channels, **ratios)
        self.wdib3 = WDIB(channels, **ratios)
        self.conv = _conv3x3(channels, channels, bias=False)
        self.group_conv1 = _conv3x3(2 * channels, channels, bias=False, groups=4)
        self.group_conv2 = _conv3x3(2 * channels, channels, bias=False, groups=4)
        self.wirw = WIRW(channels, expansion=wirw_expansion)
        self.scale_x = Scale(0.5)
        self.scale_res = Scale(0.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        o1 = self.wdib1(x)
        o11 = self.wdib2(o1)
        o3 = self.wdib3(o11 + self.conv(o1))
        g1 = self.group_conv1(channel_shuffle(torch.cat([o1, o11], dim=1), 4))
        g2 = self.group_conv2(channel_shuffle(torch.cat([g1, o3], dim=1), 4))
        return self.scale_x(g2 + o3) + self.scale_res(self.wirw(x))


@dataclass(frozen=True)
class _ScaleConfig:
    """What the released x2/x3/x4 models differ in besides the upsampler's 3*s*s outputs."""

    wirw_expansion: float
    wcrw_expansion: float
    fuse_expansion: float
    tail_width: int  # both tail branches: Conv3x3(-> tail_width), then Conv3x3(tail_width -> 3 s^2)
    lr_branch_shifted: bool  # x4 feeds the mean-shifted input to the LR branch, x2/x3 the raw input


_SCALE_CONFIGS: dict[int, _ScaleConfig] = {
    2: _ScaleConfig(2.0, 4.0, 2.0, tail_width=64, lr_branch_shifted=False),
    3: _ScaleConfig(2.0, 4.0, 2.0, tail_width=64, lr_branch_shifted=False),
    4: _ScaleConfig(2.5, 4.5, 2.25, tail_width=32, lr_branch_shifted=True),
}


def _upsampler(in_channels: int, scale: int) -> nn.Sequential:
    return nn.Sequential(_conv3x3(in_channels, 3 * scale * scale), nn.PixelShuffle(scale))


class FDIWN(nn.Module):
    """The FDIWN network; NCHW RGB (N, 3, H, W) in [0, rgb_range] -> (N, 3, scale*H, scale*W).

    ``x' = x - rgb_range * mean``; a 3x3 head to `channels`; then 3 FSWGs applied 6 times, in the
    order FSWG1, FSWG1, FSWG2, FSWG3, FSWG2, FSWG3 (each application after the first takes the
    running sum of the outputs so far, as in the released code) and the 6 outputs summed. The tail
    adds two sub-pixel branches, ``PS(Conv3x3(Conv3x3 no bias(features)))`` and
    ``PS(Conv3x3(Conv3x3(x')))`` (raw x at x2/x3), then adds the mean back. Per scale the
    expansion ratios and tail widths are the released ones: x4 WIRW 5/2, WCRW 9/2, fuse 9/4,
    tail 32; x2/x3 2, 4, 2, tail 64. Parameters: 629,176 / 646,486 / 663,848 at x2 / x3 / x4.
    """

    schedule: tuple[int, ...] = (0, 0, 1, 2, 1, 2)

    def __init__(self, scale: int, *, channels: int = 24, rgb_range: float = 1.0) -> None:
        super().__init__()
        if scale not in _SCALE_CONFIGS:
            raise UserError(f"FDIWN supports scale 2, 3 or 4; got {scale}")
        if channels < 12 or channels % 12:
            raise UserError(f"FDIWN needs channels a positive multiple of 12; got {channels}")
        cfg = _SCALE_CONFIGS[scale]
        self.scale = scale
        self.lr_branch_shifted = cfg.lr_branch_shifted
        self.sub_mean = MeanShift(rgb_range, sign=-1)
        self.add_mean = MeanShift(rgb_range, sign=1)
        self.head = _conv3x3(3, channels)
        self.fswgs = nn.ModuleList(
            FSWG(
                channels,
                wirw_expansion=cfg.wirw_expansion,
                wcrw_expansion=cfg.wcrw_expansion,
                fuse_expansion=cfg.fuse_expansion,
            )
            for _ in range(3)
        )
        self.tail = nn.Sequential(
            _conv3x3(channels, cfg.tail_width, bias=False), _upsampler(cfg.tail_width, scale)
        )
        self.lr_tail = nn.Sequential(_conv3x3(3, cfg.tail_width), _upsampler(cfg.tail_width, scale))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shifted = self.sub_mean(x)
        first, *rest = self.schedule
        running = self.fswgs[first](self.head(shifted))
        features = running
        for i in rest:
            out = self.fswgs[i](running)
            features = features + out
            running = running + out
        lr_input = shifted if self.lr_branch_shifted else x
        return self.add_mean(self.tail(features) + self.lr_tail(lr_input))
