"""``build_network(spec)``: the only place a spec becomes a module."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from blocks.imdb import IMDB, IMDBlockAIM19
from blocks.lrfdb import LRFDB
from blocks.networks import DistillNet, IMDNAIM19Net
from blocks.rdb import RDG
from blocks.registry import Registry
from blocks.rfdb import RFDB
from blocks.specs import BlockSpec, NetSpec

BLOCKS: Registry[Callable[[BlockSpec], nn.Module]] = Registry("block")
BLOCKS.add("rfdb", RFDB.from_spec)
BLOCKS.add("drfdb", RFDB.from_spec)
BLOCKS.add("lrfdb", LRFDB.from_spec)
BLOCKS.add("imdb", IMDB.from_spec)
BLOCKS.add("imdb_aim19", IMDBlockAIM19.from_spec)
BLOCKS.add("rdg", RDG.from_spec)


def build_block(spec: BlockSpec) -> nn.Module:
    """Build one distillation block (channels -> channels) from its spec."""
    return BLOCKS.get(spec.kind)(spec)


# Chain skeletons: a trunk of blocks, each channels -> channels at the LR size, in a fixed frame.
CHAIN_FRAMES: dict[str, Callable[[NetSpec, list[nn.Module]], nn.Module]] = {
    "distill": lambda spec, blocks: DistillNet(
        blocks, spec.channels, scale=spec.scale, fuse_activation=spec.fuse_activation or "lrelu"
    ),
    "imdn_aim19": lambda spec, blocks: IMDNAIM19Net(blocks, spec.channels, scale=spec.scale),
}


def build_chain(
    spec: NetSpec, make_block: Callable[[BlockSpec], nn.Module] = build_block
) -> nn.Module:
    """A chain skeleton's network with each block made by ``make_block`` (``build_network`` uses
    ``build_block``; a cost counter may put stand-ins there and count the blocks apart)."""
    if spec.skeleton not in CHAIN_FRAMES:
        raise ValueError(f"skeleton {spec.skeleton!r} is not a chain of blocks")
    return CHAIN_FRAMES[spec.skeleton](spec, [make_block(b) for b in spec.blocks])


def _build_fdiwn(spec: NetSpec) -> nn.Module:
    from blocks.fdiwn import FDIWN

    return FDIWN(spec.scale, channels=spec.channels)


SKELETON_BUILDERS: Registry[Callable[[NetSpec], nn.Module]] = Registry("skeleton")
SKELETON_BUILDERS.add("distill", build_chain)
SKELETON_BUILDERS.add("imdn_aim19", build_chain)
SKELETON_BUILDERS.add("fdiwn", _build_fdiwn)


def build_network(spec: NetSpec, *, seed: int | None = None) -> nn.Module:
    """Build the module a NetSpec describes; ``seed`` makes the initial weights reproducible."""
    builder = SKELETON_BUILDERS.get(spec.skeleton)
    if seed is None:
        return builder(spec)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return builder(spec)
