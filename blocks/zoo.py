"""The reference networks as specs, at x2/x3/x4, and name-or-file resolution.

``drfdn`` and ``drn`` are RECONSTRUCTIONS: neither paper released code, and their published numbers
are never claimed for these specs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from blocks.errors import UserError
from blocks.registry import Registry
from blocks.specs import SCALES, NetSpec, block_spec, load_spec_file


@dataclass(frozen=True)
class ZooEntry:
    """A reference network: how to make its spec at a scale, and what was published for it."""

    name: str
    make: Callable[[int], NetSpec]
    description: str
    source: str
    reconstruction: bool = False
    published_params: dict[int, int] = field(default_factory=dict)  # rounded to the thousand

    def spec(self, scale: int) -> NetSpec:
        if scale not in SCALES:
            raise UserError(f"scale must be one of {', '.join(map(str, SCALES))}; got {scale!r}")
        return self.make(scale)


ZOO: Registry[ZooEntry] = Registry("zoo model")


def _chain(kind: str, channels: int, n: int, scale: int, fuse: str, **knobs: object) -> NetSpec:
    blocks = tuple(block_spec(kind, channels, **knobs) for _ in range(n))
    return NetSpec("distill", scale, blocks, fuse)


def _add(entry: ZooEntry) -> None:
    ZOO.add(entry.name, entry)


_add(ZooEntry(
    "imdn", lambda s: _chain("imdb", 64, 6, s, "lrelu"),
    "IMDN: 6 IMDBs with CCA (r=16), 64 ch", "Hui et al., ACM MM 2019; Zheng222/IMDN",
    published_params={2: 694_000, 3: 703_000, 4: 715_000},
))
_add(ZooEntry(
    "imdn_baseline",
    lambda s: NetSpec("imdn_aim19", s, tuple(block_spec("imdb_aim19", 64) for _ in range(8))),
    "AIM 2019 IMDN baseline: 8 IMDBs without CCA, 64 ch", "ofsoundof/NTIRE2022_ESR",
    published_params={4: 894_000},
))
_add(ZooEntry(
    "rfdn", lambda s: _chain("rfdb", 48, 6, s, "lrelu", attention="ca"),
    "RFDN (paper): 6 RFDBs, 48 ch, C->C/4->C channel attention", "Liu et al., AIM 2020 (paper)",
    published_params={2: 534_000, 3: 541_000, 4: 550_000},
))
_add(ZooEntry(
    "rfdn_l", lambda s: _chain("rfdb", 52, 6, s, "lrelu", attention="ca"),
    "RFDN-L (paper): 6 RFDBs, 52 ch, C->C/4->C channel attention", "Liu et al., AIM 2020 (paper)",
    published_params={2: 626_000, 3: 633_000, 4: 643_000},
))
_add(ZooEntry(
    "e_rfdn", lambda s: _chain("rfdb", 50, 4, s, "lrelu", attention="esa"),
    "E-RFDN (AIM 2020 winner, NTIRE baseline): 4 RFDBs with ESA, 50 ch", "njulj/RFDN RFDN.py",
    published_params={4: 433_000},
))
_add(ZooEntry(
    "lrfdn", lambda s: _chain("lrfdb", 64, 4, s, "gelu"),
    "LRFDN (NTIRE 2023): 4 LRFDBs, 64 ch, GELU, EFSA, channel weighting", "jabir-zheng/LRFDN",
    published_params={4: 198_000},
))
_add(ZooEntry(
    "fdiwn", lambda s: NetSpec("fdiwn", s, tuple(block_spec("fswg", 24) for _ in range(3))),
    "FDIWN: 3 weight-shared FSWGs applied 6 times, trunk 24 ch", "Gao et al., AAAI 2022",
    published_params={2: 629_000, 3: 645_000, 4: 664_000},
))
_add(ZooEntry(
    "drfdn",
    lambda s: NetSpec("distill", s, (
        block_spec("drfdb", 50, conv="mkdcb", kernels=(3, 5), merge="sum"),
        block_spec("drfdb", 50, conv="mkdcb", kernels=(3, 5), merge="sum"),
        block_spec("drfdb", 50, conv="dcb", kernels=(3,)),
        block_spec("drfdb", 50, conv="dcb", kernels=(3,)),
    ), "lrelu"),
    "DRFDN RECONSTRUCTION: E-RFDN skeleton with MKDCB{3,5} and DCB SRB convs, ESA, 50 ch",
    "Mardieva et al., KBS 2024 (no code; reconstruction)", reconstruction=True,
))
_add(ZooEntry(
    "drn", lambda s: _chain("rdg", 48, 3, s, "lrelu", depth=3),
    "DRN RECONSTRUCTION: 3 RDGs of 3 RDBs, 48 ch", "Sun et al., arXiv 1907.02843 (no code; "
    "reconstruction)", reconstruction=True,
))


def zoo_spec(name: str, scale: int) -> NetSpec:
    """The reference spec of a zoo network at a scale."""
    return ZOO.get(name).spec(scale)


def resolve_spec(name_or_path: str, scale: int | None = None) -> NetSpec:
    """A zoo name (at ``scale``, default 4) or a .json/.yaml spec file (``scale`` overrides it)."""
    if name_or_path in ZOO:
        return zoo_spec(name_or_path, 4 if scale is None else scale)
    p = Path(name_or_path)
    if p.suffix.lower() in (".json", ".yaml", ".yml") or p.exists():
        spec = load_spec_file(p)
        return spec if scale is None or scale == spec.scale else spec.with_scale(scale)
    raise UserError(f"unknown model {name_or_path!r}: not a spec file; zoo models: "
                    f"{', '.join(ZOO.names())}")
