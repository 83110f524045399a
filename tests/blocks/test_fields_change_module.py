"""Every spec field changes the module (the original RFDN ignored its upscale/num_modules)."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from blocks.build import build_network
from blocks.specs import NetSpec, block_spec

X = torch.rand(1, 3, 20, 18, generator=torch.Generator().manual_seed(0))


def fingerprint(spec: NetSpec) -> tuple:
    model = build_network(spec, seed=0).eval()
    with torch.no_grad():
        y = model(X)
    params = sum(p.numel() for p in model.parameters())
    return tuple(y.shape), params, round(float(y.double().sum()), 6), repr(model)


def net(block, n: int = 2, scale: int = 2, fuse: str = "lrelu") -> NetSpec:
    return NetSpec("distill", scale, (block,) * n, fuse)


BLOCK_CASES = {
    "rfdb": (block_spec("rfdb", 16), {
        "channels": 24, "kernels": (5,), "distill_ratio": 0.25, "attention": "efsa",
        "activation": "relu"}),
    "drfdb": (block_spec("drfdb", 16, conv="mkdcb", kernels=(3, 5), merge="sum"), {
        "conv": ("dcb", {"kernels": (3,), "merge": None}), "kernels": (3, 7), "merge": "concat",
        "distill_ratio": 0.25, "attention": "none", "activation": "gelu"}),
    "lrfdb": (block_spec("lrfdb", 16), {
        "channels": 32, "kernels": (5,), "distill_ratio": 0.25, "attention": "esa",
        "activation": "lrelu", "channel_weight": False}),
    "imdb": (block_spec("imdb", 16), {
        "channels": 32, "kernels": (5,), "distill_ratio": 0.5, "attention": "ca",
        "reduction": 8, "activation": "relu"}),
    "rdg": (block_spec("rdg", 16), {
        "channels": 8, "kernels": (5,), "distill_ratio": 0.5, "activation": "relu", "depth": 2}),
}


@pytest.mark.parametrize(
    ("kind", "field", "value"),
    [(k, f, v) for k, (_, changes) in BLOCK_CASES.items() for f, v in changes.items()],
)
def test_block_field_changes_module(kind: str, field: str, value) -> None:
    base, _ = BLOCK_CASES[kind]
    extra = {}
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], dict):
        value, extra = value
    changed = replace(base, **{field: value}, **extra)
    assert fingerprint(net(changed)) != fingerprint(net(base))


def test_cca_reduction_changes_module() -> None:
    base = block_spec("rfdb", 16, attention="cca")
    assert fingerprint(net(base)) != fingerprint(net(replace(base, reduction=4)))


def test_net_fields_change_module() -> None:
    base = net(block_spec("rfdb", 16))
    assert fingerprint(replace(base, scale=3))[0] == (1, 3, 60, 54)
    assert fingerprint(replace(base, scale=4))[0] == (1, 3, 80, 72)
    assert fingerprint(replace(base, fuse_activation="gelu")) != fingerprint(base)
    assert fingerprint(net(block_spec("rfdb", 16), n=3)) != fingerprint(base)


def test_imdn_aim19_fields_change_module() -> None:
    b = block_spec("imdb_aim19", 16)
    base = NetSpec("imdn_aim19", 2, (b, b))
    assert fingerprint(NetSpec("imdn_aim19", 2, (b,) * 3)) != fingerprint(base)
    assert fingerprint(replace(base, blocks=(replace(b, distill_ratio=0.5),) * 2)) != \
        fingerprint(base)
    assert fingerprint(replace(base, scale=4))[0] == (1, 3, 80, 72)


def test_fdiwn_fields_change_module() -> None:
    b = block_spec("fswg", 24)
    base = NetSpec("fdiwn", 2, (b,) * 3)
    assert fingerprint(replace(base, scale=3))[0] == (1, 3, 60, 54)
    assert fingerprint(NetSpec("fdiwn", 2, (block_spec("fswg", 48),) * 3)) != fingerprint(base)


def test_seed_makes_weights_reproducible() -> None:
    spec = net(block_spec("lrfdb", 16))
    assert fingerprint(spec) == fingerprint(spec)
    a = build_network(spec, seed=1).state_dict()
    b = build_network(spec, seed=2).state_dict()
    assert any(not torch.equal(a[k], b[k]) for k in a)
