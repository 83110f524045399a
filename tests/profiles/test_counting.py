"""profiles.counting: NTIRE/AIM acceptance figures, paper mode, per-call counting, peak memory."""

from __future__ import annotations

import dataclasses
from functools import cache

import pytest
import torch
from torch import nn

from blocks.build import build_network
from blocks.errors import UserError
from blocks.specs import NetSpec, block_spec
from blocks.zoo import ZOO, zoo_spec
from profiles.counting import (
    Counts,
    count_in_mode,
    count_model,
    count_params,
    measure_peak_memory_bytes,
    mode_input_hw,
    paper_input_hw,
    peak_memory_method,
    peak_memory_mib,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@cache
def ntire_counts(name: str) -> Counts:
    return count_in_mode(zoo_spec(name, 4), "ntire")


# (params, NTIRE FLOPs, activations, convs), to the unit
NTIRE_EXACT = {
    "e_rfdn": (433_448, 27_102_622_560, 112_034_240, 64),
    "lrfdn": (198_032, 11_231_835_264, 86_182_080, 56),
    "imdn_baseline": (893_936, 58_531_512_320, 154_140_672, 43),
}


@pytest.mark.parametrize("name", sorted(NTIRE_EXACT))
def test_ntire_mode_exact(name: str) -> None:
    c = ntire_counts(name)
    assert c.input_hw == (256, 256) and c.mode == "ntire"
    assert (c.params, c.ntire_flops, c.activations, c.convs) == NTIRE_EXACT[name]


def test_ntire_mode_matches_published_rounding() -> None:
    # LRFDN factsheet: E-RFDN 0.433M / 27.10G / 112.03M / 64, LRFDN 0.198M / 11.23G / 86.18M / 56;
    # architectures.md gives the E-RFDN and LRFDN figures to the thousandth as well.
    e, lr = ntire_counts("e_rfdn"), ntire_counts("lrfdn")
    assert (round(e.ntire_flops / 1e9, 3), round(e.activations / 1e6, 3)) == (27.103, 112.034)
    assert (round(lr.ntire_flops / 1e9, 3), round(lr.activations / 1e6, 3)) == (11.232, 86.182)
    # AIM 2019 IMDN baseline: 0.894M params, 58.53 GFLOPs, 154.14M acts, 43 convs
    b = ntire_counts("imdn_baseline")
    assert round(b.params / 1e6, 3) == 0.894
    assert round(b.ntire_flops / 1e9, 2) == 58.53
    assert round(b.activations / 1e6, 2) == 154.14
    assert b.convs == 43


def test_ntire_input_ignores_scale() -> None:
    for s in (2, 3, 4):
        assert count_in_mode(zoo_spec("lrfdn", s), "ntire").input_hw == (256, 256)


def test_flops_are_twice_macs_and_named_apart() -> None:
    c = ntire_counts("e_rfdn")
    assert c.flops == 2 * c.macs == 54_067_296_768
    assert c.macs == 27_033_648_384  # conv MACs alone; the NTIRE figure adds activation numel
    assert c.ntire_flops - c.macs == 68_974_176
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.macs = 0  # type: ignore[misc]
    d = c.to_dict()
    assert d["flops"] == c.flops and d["input_hw"] == [256, 256]


def test_gelu_and_hsigmoid_are_free_under_ntire() -> None:
    # LRFDN: GELU everywhere, hsigmoid gate; only EFSA's LeakyReLUs add to the conv MACs.
    c = ntire_counts("lrfdn")
    assert c.ntire_flops - c.macs == 215_168  # 2 LReLU calls per EFSA at 41x41, 16 ch, 4 blocks
    assert 2 * 4 * 16 * 41 * 41 == 215_168
    skipped = {t.name: t for t in c.skipped_modules}
    assert skipped["GELU"].calls == 29  # 7 per block x 4 + the fuse activation
    ops = {t.name: t.calls for t in c.uncounted_ops}
    assert ops["hardsigmoid"] == 4 and ops["upsample_bilinear2d"] == 4


def test_uncounted_ops_tally_the_skipped_work() -> None:
    ops = {t.name: t for t in ntire_counts("e_rfdn").uncounted_ops}
    for name in ("sigmoid", "upsample_bilinear2d", "max_pool2d_with_indices", "mul"):
        assert ops[name].calls == 4  # one ESA per block
    assert ops["pixel_shuffle"].elements == 3 * 1024 * 1024
    assert "convolution" not in ops and "leaky_relu" not in ops  # counted ones are not tallied


PAPER_MACS = {2: 158_765_878_272, 3: 71_503_168_512, 4: 40_885_865_472}


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_paper_mode_imdn(scale: int) -> None:
    c = count_in_mode(zoo_spec("imdn", scale), "paper")
    assert c.macs == PAPER_MACS[scale]
    # published Mult-Adds: 158.8G / 71.5G / 40.9G
    assert round(c.macs / 1e9, 1) == {2: 158.8, 3: 71.5, 4: 40.9}[scale]


def test_paper_mode_rounds_up() -> None:
    assert [paper_input_hw(s) for s in (2, 3, 4)] == [(360, 640), (240, 427), (180, 320)]
    # int(1280 / 3) = 426 would give 71.3G instead of the published 71.5G
    assert count_model(zoo_spec("imdn", 3), (240, 426)).macs == 71_335_713_792


def test_mode_input_sizes_and_errors() -> None:
    assert mode_input_hw("ntire", scale=2) == (256, 256)
    assert mode_input_hw("plain", input_hw="12x34") == (12, 34)
    with pytest.raises(UserError, match="known: ntire, paper, plain"):
        mode_input_hw("ntre")
    with pytest.raises(UserError, match="needs an input size"):
        mode_input_hw("plain")
    with pytest.raises(UserError, match="plain"):
        mode_input_hw("ntire", input_hw=(64, 64))
    with pytest.raises(UserError, match="positive"):
        count_model(zoo_spec("e_rfdn", 4), (0, 5))


def test_fdiwn_counts_every_application_of_a_shared_fswg() -> None:
    spec = zoo_spec("fdiwn", 4)
    model = build_network(spec, seed=0)
    c = count_model(model, (24, 24))
    per_fswg = count_model(model.fswgs[0], (24, 24), in_channels=24)
    assert per_fswg.convs == 135
    assert c.convs == 6 * per_fswg.convs + 7 == 817  # + 2 mean shifts, head, 4 tail convs
    distinct = sum(isinstance(m, nn.Conv2d) for m in model.modules())
    assert distinct == 3 * 135 + 7 < c.convs


def test_paper_mode_fdiwn_x4() -> None:
    # conv MACs with the 6 shared applications (architectures.md section 4: 71.2G)
    assert count_in_mode(zoo_spec("fdiwn", 4), "paper").macs == 71_212_110_336


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=pytest.mark.slow) if n == "fdiwn" else n for n in ZOO.names()]
)
def test_meta_pass_equals_cpu_pass(name: str) -> None:
    model = build_network(zoo_spec(name, 4), seed=0)
    on_meta = count_model(model, (20, 28))
    on_cpu = count_model(model, (20, 28), on_meta=False)
    assert on_meta == on_cpu
    assert on_meta.params == count_params(model) == count_params(zoo_spec(name, 4))


class _Reuse(nn.Module):
    """One conv applied three times and one ReLU module applied twice."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 3, padding=1)
        self.act = nn.ReLU()
        self.gate = nn.Sigmoid()
        self.gelu = nn.GELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act(self.conv(x))
        x = self.act(self.conv(x))
        return self.gelu(self.gate(self.conv(x)))


def test_reused_modules_count_per_call() -> None:
    c = count_model(_Reuse(), (8, 8), in_channels=4)
    one_conv = 9 * 4 * 4 * 64
    assert (c.convs, c.macs, c.activations) == (3, 3 * one_conv, 3 * 256)
    assert c.ntire_flops == 3 * one_conv + 2 * 256  # sigmoid and GELU are free
    assert c.bias_adds == 3 * 256
    assert {t.name: t.calls for t in c.skipped_modules} == {"GELU": 1, "Sigmoid": 1}


def test_transposed_linear_and_batchnorm() -> None:
    tconv = nn.ConvTranspose2d(4, 2, 2, stride=2, bias=False)
    c = count_model(tconv, (8, 8), in_channels=4)
    assert c.macs == 4 * 4 * 2 * 64  # true cost: every input position scatters a 2x2x2 kernel
    assert c.ntire_flops == 4 * 4 * 2 * 256  # NTIRE's formula over the 16x16 output: 4x more
    bn = nn.Sequential(nn.BatchNorm2d(4), nn.BatchNorm2d(4, affine=False))
    assert count_model(bn, (8, 8), in_channels=4).ntire_flops == 2 * 256 + 256

    class Head(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(4, 10)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.fc(x.mean(dim=(2, 3)))

    h = count_model(Head(), (8, 8), in_channels=4)
    assert (h.macs, h.ntire_flops, h.convs, h.bias_adds) == (40, 40, 0, 10)


def test_counting_leaves_the_model_as_it_was() -> None:
    model = build_network(zoo_spec("e_rfdn", 4), seed=0).train()
    keys = list(model.state_dict())
    count_model(model, (16, 16), on_meta=False)
    peak_memory_mib(model, (16, 16))
    assert model.training and list(model.state_dict()) == keys
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())


def test_counting_falls_back_to_cpu_when_meta_cannot_run() -> None:
    class MakesCpuTensor(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(3, 3, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.conv(x) + torch.ones(1, 3, 1, 1)  # a CPU tensor: fails on meta

    c = count_model(MakesCpuTensor(), (4, 4))
    assert (c.macs, c.convs) == (9 * 16, 1)


def test_count_params_counts_non_trainable_parameters() -> None:
    model = nn.Conv2d(3, 4, 3)
    model.bias.requires_grad_(False)
    model.register_buffer("stat", torch.zeros(100))
    assert count_params(model) == 4 * 3 * 9 + 4


# ------------------------------------------------------------------------------------------------
# peak memory


def _tiny(inplace: bool) -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(inplace=inplace), nn.Conv2d(8, 4, 3, padding=1)
    )


def test_peak_memory_equals_the_activation_sizes_on_a_tiny_net() -> None:
    f32, px = 4, 16 * 16
    # conv1 out (8 ch) and the ReLU's new tensor are alive together; then ReLU out + conv2 out
    assert measure_peak_memory_bytes(_tiny(False), (16, 16)) == (8 + 8) * px * f32
    # in place: conv1 out is reused, the peak is conv1 out + conv2 out
    assert measure_peak_memory_bytes(_tiny(True), (16, 16)) == (8 + 4) * px * f32
    assert peak_memory_mib(_tiny(True), (16, 16)) == 12 * px * f32 / 2**20


def test_peak_memory_views_of_inputs_and_weights_cost_nothing() -> None:
    class Views(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = nn.Parameter(torch.ones(3, 1, 1))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x.reshape(1, 3, -1).transpose(1, 2), self.w.view(1, 3, 1, 1)

    assert measure_peak_memory_bytes(Views(), (8, 8)) == 0


def test_allocator_method_sees_at_least_the_tensors() -> None:
    model = _tiny(False)
    tensors = measure_peak_memory_bytes(model, (16, 16))
    allocator = measure_peak_memory_bytes(model, (16, 16), method="allocator")
    assert allocator >= tensors  # plus any workspace a kernel allocates (im2col, scratchpads)


def test_peak_memory_method_is_stated() -> None:
    for method in ("tensors", "allocator"):
        text = peak_memory_method(method)
        assert "CPU" in text and "max_memory_allocated" in text
    assert "max_memory_allocated" in peak_memory_mib.__doc__
    with pytest.raises(UserError, match="known: tensors, allocator"):
        peak_memory_method("rss")


def test_peak_memory_of_a_spec() -> None:
    spec = NetSpec("distill", 2, (block_spec("rfdb", 8),), "lrelu")
    mib = peak_memory_mib(spec, (16, 16))
    out_mib = 3 * 32 * 32 * 4 / 2**20
    assert out_mib < mib < 1.0


@pytest.mark.parametrize("name", ["e_rfdn", "lrfdn", "imdn"])
def test_skipping_the_op_tally_changes_no_count(name: str) -> None:
    spec = zoo_spec(name, 2)
    full = count_model(spec, (40, 56))
    fast = count_model(spec, (40, 56), tally_ops=False)
    assert full.uncounted_ops and fast.uncounted_ops == ()
    for field in ("params", "macs", "flops", "ntire_flops", "activations", "convs", "bias_adds"):
        assert getattr(fast, field) == getattr(full, field), field
