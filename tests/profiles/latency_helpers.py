"""Tiny networks and modules shared by the latency, export, device and table tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch
from torch import nn

from blocks.build import build_network
from blocks.specs import NetSpec, block_spec

# Few runs, tiny inputs: these tests check structure, never speed.
FAST = {"warmup": 1, "runs": 3}


class Unexportable(nn.Module):
    """A module whose forward uses an op the ONNX exporter does not support (linalg.svd)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.linalg.svd(x)[0]


def tiny_spec(scale: int = 2) -> NetSpec:
    """A two-block distill net, 8 channels, ESA attention (odd sizes exercise its pooling)."""
    return NetSpec(
        "distill", scale, (block_spec("rfdb", 8), block_spec("drfdb", 8, conv="dcb")), "lrelu"
    )


def tiny_net(scale: int = 2) -> nn.Module:
    return build_network(tiny_spec(scale), seed=0)


@pytest.fixture(autouse=True)
def one_torch_thread() -> Iterator[None]:
    """Run each test with one torch thread: on a shared 2-core host two OpenMP threads can wait
    on each other for a scheduler slice per op (a tiny net then takes seconds, not ms)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
