"""The fast paths of the meta-device count change no count, and are taken: the shape-only
shortcuts of profiles.meta_shapes, and a chain of blocks counted by parts (profiles.counting)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import profiles.counting as counting
import profiles.meta_shapes as meta_shapes
from blocks.zoo import ZOO, zoo_spec
from profiles.counting import Counts, OpTally, _meta_copy, _run_counts, count_model
from profiles.meta_shapes import MetaShapes
from search.space import load_space

HW = (37, 50)  # odd sizes: ESA's strided conv and pooling round, and the upsample must undo it


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _record(spec, shortcuts: bool) -> tuple:  # noqa: ANN001
    rec = _run_counts(_meta_copy(spec), HW, 3, "meta", tally_ops=True, shape_shortcuts=shortcuts)
    return (rec.params, rec.macs, rec.ntire, rec.activations, rec.convs, rec.bias_adds,
            dict(rec.skipped), dict(rec.ops))


def _space_specs() -> list:
    rng = np.random.default_rng(7)
    return [(f"{name}-{i}", load_space(name).sample(rng))
            for name in ("demo", "rfdb", "lrfdb") for i in range(6)]


CASES = [(f"zoo-{n}", zoo_spec(n, 2)) for n in ZOO.names()] + _space_specs()


@pytest.mark.parametrize(("label", "spec"), CASES, ids=[c[0] for c in CASES])
def test_shortcuts_change_no_count(label: str, spec) -> None:  # noqa: ANN001
    with_shortcuts, without = _record(spec, True), _record(spec, False)
    assert with_shortcuts == without, label


def _whole_pass(spec, tally: bool) -> Counts:  # noqa: ANN001
    """The count of one pass over the whole network (no counting by parts)."""
    rec = _run_counts(_meta_copy(spec), HW, 3, "meta", tally_ops=tally)
    return Counts(rec.params, rec.macs, rec.ntire, rec.activations, rec.convs, HW,
                  bias_adds=rec.bias_adds,
                  skipped_modules=tuple(OpTally(k, *v) for k, v in sorted(rec.skipped.items())),
                  uncounted_ops=tuple(OpTally(k, *v) for k, v in sorted(rec.ops.items())))


@pytest.mark.parametrize("tally", [True, False])
@pytest.mark.parametrize(("label", "spec"), CASES, ids=[c[0] for c in CASES])
def test_counting_by_parts_equals_the_whole_pass(label: str, spec, tally: bool) -> None:  # noqa: ANN001
    assert count_model(spec, HW, tally_ops=tally) == _whole_pass(spec, tally), label


def test_a_chain_is_counted_by_parts_and_its_blocks_once() -> None:
    counting._block_record.cache_clear()
    counting._FRAMES.clear()
    spec = zoo_spec("e_rfdn", 2)  # 4 identical blocks
    count_model(spec, HW)
    info = counting._block_record.cache_info()
    assert (info.misses, info.hits) == (1, 3)
    assert len(counting._FRAMES) == 1
    count_model(zoo_spec("e_rfdn", 3), HW)  # another frame (scale), the same block
    assert counting._block_record.cache_info().hits == 7 and len(counting._FRAMES) == 2
    assert counting._count_chain(zoo_spec("fdiwn", 2), HW, 3, True) is None  # not a chain


def test_the_counting_pass_takes_the_shortcuts(monkeypatch: pytest.MonkeyPatch) -> None:
    answered: list[str] = []
    real = meta_shapes._shape_only

    def spy(func, args, kwargs):  # noqa: ANN001, ANN202
        out = real(func, args, kwargs)
        if out is not None:
            answered.append(func.overloadpacket.__name__)
        return out

    monkeypatch.setattr(meta_shapes, "_shape_only", spy)
    _whole_pass(zoo_spec("e_rfdn", 4), False)
    assert {"upsample_bilinear2d", "leaky_relu", "add"} <= set(answered)
    answered.clear()
    count_model(zoo_spec("e_rfdn", 4), HW, on_meta=False, tally_ops=False)  # CPU: never
    assert answered == []


def test_shapes_dtypes_and_what_passes_through() -> None:
    x = torch.empty(2, 3, 5, 7, device="meta")
    with MetaShapes():
        assert F.leaky_relu(x, 0.05).shape == x.shape
        assert (x * torch.empty(2, 3, 1, 1, device="meta")).shape == x.shape
        assert (torch.empty(3, 1, 7, device="meta") + torch.empty(2, 1, 5, 1, device="meta")
                ).shape == (2, 3, 5, 7)
        assert (x + 1.0).dtype == torch.float32
        up = F.interpolate(x, size=(11, 13), mode="bilinear", align_corners=False)
        assert up.shape == (2, 3, 11, 13)
        assert F.interpolate(x, scale_factor=2, mode="nearest").shape == (2, 3, 10, 14)
        w = torch.empty(4, 3, 3, 3, device="meta")
        assert torch.nn.init.kaiming_uniform_(w).shape == (4, 3, 3, 3)
    aten = torch.ops.aten
    ints = torch.empty(2, 3, dtype=torch.int64, device="meta")
    assert meta_shapes._shape_only(aten.add.Tensor, (ints, ints), {}) is None  # not float
    assert meta_shapes._shape_only(aten.relu.default, (torch.zeros(2),), {}) is None  # CPU
    assert meta_shapes._shape_only(aten.relu_.default, (x,), {}) is None  # in place
    half = torch.empty(2, 3, 5, 7, dtype=torch.float16, device="meta")
    assert meta_shapes._shape_only(aten.mul.Tensor, (x, half), {}) is None  # promotion
