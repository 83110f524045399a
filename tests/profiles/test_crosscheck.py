"""profiles.crosscheck: ptflops, thop and FlopCounterMode beside our hooks, on copies."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from blocks.build import build_network
from blocks.specs import NetSpec, block_spec
from blocks.zoo import zoo_spec
from profiles.counting import count_model
from profiles.crosscheck import (
    COUNTERS,
    PROBES,
    SKIPPED_OPS,
    crosscheck_model,
    crosscheck_table,
    probe_counters,
    run_counter,
)

pytest.importorskip("ptflops")
pytest.importorskip("thop")


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def probes():
    return probe_counters().set_index("probe")


@pytest.mark.parametrize("counter", sorted(SKIPPED_OPS))
def test_documented_behaviour_matches_the_probes(probes, counter: str) -> None:
    behaviour = SKIPPED_OPS[counter]
    assert set(behaviour.counted) <= set(PROBES)
    for probe, row in probes.iterrows():
        measured = row[counter] / row["reference"]
        assert measured == pytest.approx(behaviour.counted.get(probe, 0.0), abs=1e-9), (
            f"{counter} on {probe!r}: measured {measured:g}"
        )


def test_documented_skips_include_the_issue_list() -> None:
    # sigmoid, element-wise add/mul, PixelShuffle, interpolate, pooling: who skips what
    for op in ("nn.Sigmoid", "x + y", "x * y", "nn.PixelShuffle(2)"):
        assert all(op in b.skipped() for b in SKIPPED_OPS.values()), op
    assert "F.interpolate bilinear x2" not in SKIPPED_OPS["ptflops-pytorch"].skipped()
    assert "F.max_pool2d(3, 2)" in SKIPPED_OPS["thop"].skipped()


def _small_spec() -> NetSpec:
    return NetSpec("distill", 2, (block_spec("rfdb", 8), block_spec("rfdb", 8)), "lrelu")


def test_crosscheck_row_on_erfdn() -> None:
    model = build_network(zoo_spec("e_rfdn", 4), seed=0)
    row = crosscheck_model(model, (32, 32))
    ours = count_model(model, (32, 32))
    assert row["macs"] == ours.macs
    assert row["flopcounter_macs"] == ours.macs and row["flopcounter_rel"] == 0
    assert row["thop_macs"] == ours.macs  # plain Conv2d only: thop agrees to the unit
    assert row["ptflops_aten_macs"] == ours.macs + ours.bias_adds  # aten backend adds bias
    assert row["ptflops_pytorch_macs"] > row["ptflops_aten_macs"]  # + activations, x parents
    assert row["ptflops_pytorch_params"] == row["thop_params"] == row["params"] == 433_448
    for name in ("hooks", "ptflops_pytorch", "ptflops_aten", "thop", "flopcounter"):
        assert row[f"{name}_s"] > 0


def test_crosscheck_decomposition_explains_ptflops() -> None:
    spec = _small_spec()
    row = crosscheck_model(spec, (24, 24), decompose=True)
    # with no activation/norm/pool modules and no functional patching, ptflops is conv + bias
    assert row["ptflops_convonly_minus_bias"] == row["macs"]
    assert row["ptflops_functional"] > 0  # ESA's F.interpolate and F.max_pool2d
    # RFDB's one LeakyReLU is listed under 7 parents (block, 3 FDCs, 3 SRBs)
    assert row["ptflops_activation_modules"] > row["ntire_flops"] - row["macs"]


def test_weight_norm_convs_escape_exact_type_counters() -> None:
    from blocks.fdiwn import WIRW

    wirw = WIRW(24, expansion=2.5)  # FDIWN's WIRW: three weight-normalised body convs
    row = crosscheck_model(
        wirw, (8, 8), in_channels=24, counters=("hooks", "thop", "flopcounter", "ptflops-pytorch")
    )
    assert row["flopcounter_macs"] == row["macs"]
    # its convs are ParametrizedConv2d, not exactly nn.Conv2d: thop and ptflops see none of them
    assert row["macs"] > 0 and row["thop_macs"] == 0
    assert row["ptflops_pytorch_macs"] < row["macs"]


def test_third_party_counters_do_not_touch_the_original() -> None:
    model = build_network(_small_spec(), seed=0)
    keys = list(model.state_dict())
    for name in COUNTERS.names():
        run_counter(name, model, (3, 16, 16))
    assert list(model.state_dict()) == keys
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())


def test_thop_on_the_original_would_leave_buffers() -> None:
    import thop

    model = build_network(_small_spec(), seed=0)
    before = set(model.state_dict())
    thop.profile(model, inputs=(torch.zeros(1, 3, 16, 16),), verbose=False)
    leaked = set(model.state_dict()) - before
    assert leaked and all(k.endswith(("total_ops", "total_params")) for k in leaked)


def test_ptflops_aten_counts_zero_under_inference_mode_but_not_here() -> None:
    from ptflops import get_model_complexity_info
    from ptflops.flops_counter import FLOPS_BACKEND

    conv = nn.Conv2d(3, 4, 3, padding=1)
    with torch.inference_mode():
        macs, _ = get_model_complexity_info(
            conv,
            (3, 8, 8),
            as_strings=False,
            print_per_layer_stat=False,
            backend=FLOPS_BACKEND.ATEN,
        )
        ours = run_counter("ptflops-aten", conv, (3, 8, 8))
    assert macs == 0
    assert ours.macs == 9 * 3 * 4 * 64 + 4 * 64


def test_crosscheck_table() -> None:
    df = crosscheck_table({"a": _small_spec()}, (16, 16), counters=("hooks", "flopcounter"))
    assert list(df["model"]) == ["a"]
    assert {"macs", "flopcounter_macs", "flopcounter_rel", "hooks_s"} <= set(df.columns)
    with pytest.raises(KeyError, match="known: flopcounter"):
        run_counter("fvcore", nn.Identity(), (3, 4, 4))
