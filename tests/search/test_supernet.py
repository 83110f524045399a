"""The weight-sharing supernet: store keys, slicing, inheritance, gradients, resumable training."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from blocks.build import build_network
from blocks.errors import UserError
from blocks.specs import NetSpec, block_spec
from search.proxies import TrainData, get_protocol
from search.space import load_space
from search.supernet import SupernetPlan, WeightStore, store_keys, train_supernet, window


def chain(kind: str, channels: int, n: int, **knobs: object) -> NetSpec:
    return NetSpec(
        "distill", 2, tuple(block_spec(kind, channels, **knobs) for _ in range(n)), "lrelu"
    )


def test_keys_follow_the_module_classes_not_the_widths() -> None:
    narrow = store_keys(build_network(chain("rfdb", 8, 2), seed=0))
    wide = store_keys(build_network(chain("rfdb", 16, 2), seed=0))
    assert narrow == wide  # same names, same classes: every tensor shared
    dcb = set(store_keys(build_network(chain("drfdb", 8, 2, conv="dcb"), seed=0)).values())
    assert dcb != set(narrow.values()) and "fea_conv:Conv2d/weight#4" in dcb  # head shared
    imdb = set(store_keys(build_network(chain("imdb", 8, 2), seed=0)).values())
    assert not {k for k in imdb if k.startswith("blocks")} & set(narrow.values())


def test_window_takes_leading_channels_and_the_centred_kernel() -> None:
    assert window((8, 6, 7, 7), (4, 3, 3, 3)) == (
        slice(0, 4),
        slice(0, 3),
        slice(2, 5),
        slice(2, 5),
    )
    assert window((8,), (5,)) == (slice(0, 5),)
    whole = (slice(0, 4), slice(0, 4))  # a 3x3 store inside a 5x5 parameter: its centre
    assert window((4, 4, 5, 5), (4, 4, 3, 3)) == (*whole, slice(1, 4), slice(1, 4))
    assert window((4, 4, 3, 3), (6, 4, 5, 5)) == (
        slice(0, 4),
        slice(0, 4),
        slice(0, 3),
        slice(0, 3),
    )


def test_a_store_covers_its_specs_and_hands_out_its_own_values() -> None:
    small, big = chain("rfdb", 8, 1), chain("rfdb", 16, 3, kernels=(5,))
    store = WeightStore.for_specs([small, big], seed=0)
    net = build_network(small, seed=7)
    assert store.inherit(net) == 1.0
    w = net.get_parameter("blocks.0.refine.0.conv.0.weight")  # 3x3 c8, centred in 5x5 c16
    key = store_keys(net)["blocks.0.refine.0.conv.0.weight"]
    s = store.tensor(key)
    assert s.shape[0] > w.shape[0]
    torch.testing.assert_close(w, s[: w.shape[0], : w.shape[1], 1:4, 1:4])
    # the largest net was written last: it inherits exactly its own initialisation
    again = build_network(big, seed=1)
    before = {k: v.clone() for k, v in again.state_dict().items()}
    assert store.inherit(again) == 1.0
    for k, v in again.state_dict().items():
        torch.testing.assert_close(v, before[k])
    other = build_network(chain("imdb", 8, 1), seed=0)
    outside = sum(p.numel() for n, p in other.named_parameters() if not n.startswith("blocks."))
    total = sum(p.numel() for p in other.parameters())
    assert store.inherit(other) == pytest.approx(outside / total)  # only head, fusion, tail


def test_gradients_land_in_the_slices_the_net_used() -> None:
    store = WeightStore.for_specs([chain("rfdb", 8, 1), chain("rfdb", 16, 1)], seed=0)
    net = build_network(chain("rfdb", 8, 1), seed=0)
    store.inherit(net)
    net(torch.rand(1, 3, 8, 8)).abs().mean().backward()
    store.add_grads(net)
    s = store.tensor(store_keys(net)["fea_conv.weight"])
    assert s.grad[:8].abs().sum() > 0 and s.grad[8:].abs().sum() == 0
    torch.testing.assert_close(s.grad[:8], net.fea_conv.weight.grad)


@pytest.fixture(scope="module")
def data() -> TrainData:
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (40, 48, 3), dtype=np.uint8) for _ in range(3)]
    return TrainData.from_images(images, {"v1": images[0][:24, :24]})


def tiny_plan(steps: int = 6) -> SupernetPlan:
    recipe = replace(get_protocol("quick"), name="t", steps=steps, lr_patch=8, batch=2)
    space = replace(load_space("rfdb"), num_blocks=(1, 2))
    return SupernetPlan((space,), recipe, channels=(8, 12), init_sample=12)


def test_training_moves_the_store_and_resumes_to_the_same_weights(data, tmp_path) -> None:
    torch.set_num_threads(1)
    whole = train_supernet(tiny_plan(), data, checkpoint=tmp_path / "a.pt")
    assert whole["done"] and whole["step"] == 6 and np.isfinite(whole["cpu_seconds"])
    rng = np.random.default_rng([0, 0x50E7])  # the draw train_supernet starts its store from
    init = WeightStore.for_specs([tiny_plan().sample(rng) for _ in range(12)], seed=0)
    pairs = zip(whole["store"].tensors, init.tensors, strict=True)
    moved = [not torch.equal(a, b) for a, b in pairs]
    assert all(
        a.shape == b.shape for a, b in zip(whole["store"].tensors, init.tensors, strict=True)
    )
    assert any(moved)
    part = train_supernet(tiny_plan(), data, checkpoint=tmp_path / "b.pt", stop_at=3)
    assert not part["done"] and part["step"] == 3
    rest = train_supernet(tiny_plan(), data, checkpoint=tmp_path / "b.pt")
    assert rest["done"]
    for a, b in zip(whole["store"].tensors, rest["store"].tensors, strict=True):
        torch.testing.assert_close(a, b)
    with pytest.raises(UserError, match="another supernet plan"):
        train_supernet(tiny_plan(steps=7), data, checkpoint=tmp_path / "b.pt")


def test_a_plan_checks_its_spaces_and_budget() -> None:
    recipe = get_protocol("quick")
    with pytest.raises(UserError, match="at least one"):
        SupernetPlan((), recipe)
    with pytest.raises(UserError, match="no x5"):
        SupernetPlan((load_space("rfdb"),), recipe, scale=5)
    spec = tiny_plan().sample(np.random.default_rng(3))
    assert spec.scale == 2 and {b.channels for b in spec.blocks} <= {8, 12}


def test_cover_space_sizes_the_store_to_every_candidate() -> None:
    """A sampled initialisation leaves wide, deep combinations partly outside the store;
    ``cover_space`` adds the widest, deepest chain of each block choice, so that every candidate
    of the space inherits all of its weights."""
    recipe = replace(get_protocol("quick"), name="t", steps=1, lr_patch=8, batch=2)
    space = replace(load_space("rfdb"), num_blocks=(1, 3))
    rng = np.random.default_rng(9)
    probe = [replace(space, scale=(2,), channels=(8, 12)).sample(rng) for _ in range(40)]

    def worst(cover: bool) -> float:
        plan = SupernetPlan((space,), recipe, channels=(8, 12), init_sample=3, cover_space=cover)
        init = [plan.sample(np.random.default_rng([0, 0x50E7])) for _ in range(3)]
        store = WeightStore.for_specs(init + (plan.cover_specs() if cover else []))
        return min(store.inherit(build_network(s, seed=0)) for s in probe)

    assert worst(False) < 1.0
    assert worst(True) == 1.0
    plain = SupernetPlan((space,), recipe, channels=(8, 12))
    assert "cover_space" not in plain.describe()  # stores trained before it keep their identity
    assert replace(plain, cover_space=True).describe()["cover_space"] is True
