"""Architectures as plain data: frozen ``BlockSpec`` / ``NetSpec`` with one canonical ``key()``.

A spec is validated when it is made; ``build_network`` (blocks.build) is the only place a spec
becomes a module. Specs round-trip through dicts, JSON and YAML; unknown keys raise.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import yaml

from blocks.errors import UserError

SCALES = (2, 3, 4)
KERNEL_SIZES = (1, 3, 5, 7, 9)
CONV_KINDS = ("standard", "dcb", "mkdcb")
MERGES = ("sum", "concat")
ATTENTION_KINDS = ("esa", "efsa", "cca", "ca", "none")
ACTIVATION_KINDS = ("lrelu", "gelu", "relu")


@dataclass(frozen=True)
class BlockFamily:
    """What a block kind accepts: its tunable fields, their allowed values and defaults."""

    name: str
    knobs: frozenset[str]
    defaults: dict[str, Any] = field(default_factory=dict)
    conv_kinds: tuple[str, ...] = CONV_KINDS
    attentions: tuple[str, ...] = ATTENTION_KINDS
    description: str = ""


# Which fields each block kind takes. A field outside ``knobs`` must stay None (so every field that
# is set changes the module). rfdb is the all-standard-conv block; drfdb is the same block whose
# SRB convs are DCB or MKDCB (the DRFDN idea).
_RFDB_KNOBS = frozenset({"conv", "kernels", "merge", "distill_ratio", "attention", "reduction",
                         "activation"})
BLOCK_FAMILIES: dict[str, BlockFamily] = {
    "rfdb": BlockFamily(
        "rfdb", _RFDB_KNOBS,
        dict(conv="standard", kernels=(3,), distill_ratio=0.5, attention="esa", activation="lrelu"),
        conv_kinds=("standard",), description="residual feature distillation block (RFDN)",
    ),
    "drfdb": BlockFamily(
        "drfdb", _RFDB_KNOBS,
        dict(conv="dcb", kernels=(3,), distill_ratio=0.5, attention="esa", activation="lrelu"),
        conv_kinds=("dcb", "mkdcb"),
        description="RFDB with DCB/MKDCB convs in its SRBs (DRFDN, reconstruction)",
    ),
    "lrfdb": BlockFamily(
        "lrfdb", _RFDB_KNOBS | {"channel_weight"},
        dict(conv="standard", kernels=(3,), distill_ratio=0.5, attention="efsa",
             activation="gelu", channel_weight=True),
        description="LRFDN block: halving widths, GELU, EFSA, channel weighting",
    ),
    "imdb": BlockFamily(
        "imdb", frozenset({"kernels", "distill_ratio", "attention", "reduction", "activation"}),
        dict(kernels=(3,), distill_ratio=0.25, attention="cca", reduction=16, activation="lrelu"),
        description="information multi-distillation block (IMDN) with CCA",
    ),
    "imdb_aim19": BlockFamily(
        "imdb_aim19", frozenset({"kernels", "distill_ratio", "activation"}),
        dict(kernels=(3,), distill_ratio=0.25, activation="lrelu"),
        description="AIM 2019 IMDN-baseline block: no CCA, residual 1x1 fusion",
    ),
    "rdg": BlockFamily(
        "rdg", frozenset({"conv", "kernels", "merge", "distill_ratio", "activation", "depth"}),
        dict(conv="standard", kernels=(3,), distill_ratio=0.25, activation="lrelu", depth=4),
        description="residual distillation group of RDBs (DRN, reconstruction)",
    ),
    "fswg": BlockFamily(
        "fswg", frozenset(), {},
        description="FDIWN feature-shuffle weighted group (3 WDIBs); applied with weight sharing",
    ),
}


def _block_family(kind: str) -> BlockFamily:
    if kind not in BLOCK_FAMILIES:
        raise UserError(f"unknown block {kind!r}; known: {', '.join(sorted(BLOCK_FAMILIES))}")
    return BLOCK_FAMILIES[kind]


def _fmt_ratio(r: float) -> str:
    return f"{r:g}"


@dataclass(frozen=True)
class BlockSpec:
    """One distillation block: kind, channels and the block-level search knobs.

    Fields that a kind does not take stay None; ``block_spec(kind, channels, **overrides)`` fills a
    kind's defaults.
    """

    kind: str
    channels: int
    conv: str | None = None
    kernels: tuple[int, ...] | None = None
    merge: str | None = None
    distill_ratio: float | None = None
    attention: str | None = None
    reduction: int | None = None
    activation: str | None = None
    channel_weight: bool | None = None
    depth: int | None = None

    def __post_init__(self) -> None:
        if self.kernels is not None and not isinstance(self.kernels, tuple):
            if not isinstance(self.kernels, list):  # a bare 3, or "3": not iterable as sizes
                raise UserError(f"kernels is a list of sizes, e.g. [3]; got {self.kernels!r}")
            object.__setattr__(self, "kernels", tuple(self.kernels))
        _validate_block(self)

    def key(self) -> str:
        """Canonical name, e.g. ``rfdb.c50.standard-k3.d0.5.esa.lrelu``."""
        parts = [self.kind, f"c{self.channels}"]
        if self.kernels is not None:
            conv = self.conv or "standard"
            ks = "-".join(str(k) for k in self.kernels)
            parts.append(f"{conv}-k{ks}" + (f"-{self.merge}" if self.merge else ""))
        if self.distill_ratio is not None:
            parts.append(f"d{_fmt_ratio(self.distill_ratio)}")
        if self.attention is not None:
            parts.append(self.attention + (f"-r{self.reduction}" if self.reduction else ""))
        if self.activation is not None:
            parts.append(self.activation)
        if self.channel_weight:
            parts.append("cw")
        if self.depth is not None:
            parts.append(f"n{self.depth}")
        return ".".join(parts)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if v is not None:
                out[f.name] = list(v) if isinstance(v, tuple) else v
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BlockSpec:
        if not isinstance(data, dict):
            raise UserError(f"a block spec is a mapping, got {type(data).__name__}")
        _check_keys(data, cls, "block spec")
        for req in ("kind", "channels"):
            if req not in data:
                raise UserError(f"block spec needs {req!r}")
        return cls(**data)


def _check_keys(data: dict[str, Any], cls: type, what: str) -> None:
    valid = [f.name for f in fields(cls)]
    unknown = sorted(set(data) - set(valid))
    if unknown:
        raise UserError(f"unknown key(s) {', '.join(map(repr, unknown))} in {what}; valid: "
                        f"{', '.join(valid)}")


#: the widest block a spec may ask for: 1024 channels is already 38 MB per 3x3 conv
MAX_CHANNELS = 1024


def _positive_int(value: Any, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise UserError(f"{name} must be a positive integer; got {value!r}")


def _validate_block(b: BlockSpec) -> None:
    fam = _block_family(b.kind)
    _positive_int(b.channels, "channels")
    if b.channels > MAX_CHANNELS:  # 100000 filled the machine's memory and was killed, no message
        raise UserError(f"channels must be at most {MAX_CHANNELS} (a lightweight SR block uses "
                        f"16-64); got {b.channels}")
    for name in ("conv", "kernels", "merge", "distill_ratio", "attention", "reduction",
                 "activation", "channel_weight", "depth"):
        if getattr(b, name) is not None and name not in fam.knobs:
            raise UserError(f"block {b.kind!r} takes no {name!r}; it takes: "
                            f"{', '.join(sorted(fam.knobs)) or 'only channels'}")
    for name in fam.knobs - {"merge", "reduction"}:
        if getattr(b, name) is None and name in fam.defaults:
            raise UserError(f"block {b.kind!r} needs {name!r} (use block_spec() for defaults)")
    if b.conv is not None and b.conv not in fam.conv_kinds:
        raise UserError(f"conv {b.conv!r} is not valid for block {b.kind!r}; valid: "
                        f"{', '.join(fam.conv_kinds)}")
    if b.kernels is not None:
        ks = b.kernels
        if not ks or any(isinstance(k, bool) or not isinstance(k, int) or k not in KERNEL_SIZES
                         for k in ks):
            raise UserError(f"kernels must be odd sizes from {', '.join(map(str, KERNEL_SIZES))}; "
                            f"got {tuple(ks)!r}")
        if len(set(ks)) != len(ks) or list(ks) != sorted(ks):
            raise UserError(f"kernels must be distinct and ascending; got {tuple(ks)!r}")
        multi = (b.conv == "mkdcb")
        if multi and len(ks) < 2:
            raise UserError(f"mkdcb needs at least two kernel sizes; got {tuple(ks)!r}")
        if not multi and len(ks) != 1:
            conv = b.conv or "standard"
            raise UserError(f"conv {conv!r} takes one kernel size; got {tuple(ks)!r}"
                            " (several sizes need conv 'mkdcb')")
    if b.conv == "mkdcb":
        if b.merge not in MERGES:
            raise UserError(f"mkdcb needs merge in {', '.join(MERGES)}; got {b.merge!r}")
    elif b.merge is not None:
        raise UserError(f"merge applies only to conv 'mkdcb'; got merge={b.merge!r}")
    if b.distill_ratio is not None:
        r = b.distill_ratio
        if isinstance(r, bool) or not isinstance(r, int | float) or not 0 < r < 1:
            raise UserError(f"distill_ratio must be in (0, 1); got {r!r}")
        if round(b.channels * r) < 1 or b.channels - int(b.channels * r) < 1:
            raise UserError(f"distill_ratio {r} leaves no channels at width {b.channels}")
    if b.attention is not None:
        if b.attention not in fam.attentions:
            raise UserError(f"unknown attention {b.attention!r}; known: "
                            f"{', '.join(fam.attentions)}")
        if b.attention in ("cca", "ca"):
            if b.reduction is None:
                raise UserError(f"attention {b.attention!r} needs a reduction ratio")
            _positive_int(b.reduction, "reduction")
        elif b.reduction is not None:
            raise UserError(f"reduction applies only to attention cca or ca; got "
                            f"attention={b.attention!r}")
        if b.attention in ("esa", "efsa") and b.channels < 4:
            raise UserError(f"attention {b.attention!r} needs channels >= 4; got {b.channels}")
    if b.activation is not None and b.activation not in ACTIVATION_KINDS:
        raise UserError(f"unknown activation {b.activation!r}; known: "
                        f"{', '.join(ACTIVATION_KINDS)}")
    if b.channel_weight is not None and not isinstance(b.channel_weight, bool):
        raise UserError(f"channel_weight must be true or false; got {b.channel_weight!r}")
    if b.depth is not None:
        _positive_int(b.depth, "depth")


def block_spec(kind: str, channels: int, **overrides: Any) -> BlockSpec:
    """A BlockSpec with the kind's defaults, overridden by ``overrides``.

    Defaults that stop applying are dropped: a kernel set for a conv kind, merge for mkdcb only, a
    reduction for cca/ca only.
    """
    fam = _block_family(kind)
    values: dict[str, Any] = dict(fam.defaults)
    values.update(overrides)
    conv = values.get("conv")
    if conv == "mkdcb":
        values.setdefault("merge", "sum")
        if "kernels" not in overrides:
            values["kernels"] = (3, 5)
    att = values.get("attention")
    if att in ("cca", "ca") and values.get("reduction") is None:
        values["reduction"] = 16 if att == "cca" else 4
    if att not in ("cca", "ca") and "reduction" not in overrides:
        values.pop("reduction", None)
    return BlockSpec(kind=kind, channels=channels, **values)


SKELETONS = ("distill", "imdn_aim19", "fdiwn")
FUSE_SKELETONS = ("distill",)


@dataclass(frozen=True)
class NetSpec:
    """A whole network: a skeleton, an upscaling factor and its chain of blocks.

    Skeletons: ``distill`` (the common IMDN/RFDN/LRFDN skeleton: shallow conv, blocks, concat of
    block outputs, 1x1 fuse + activation, 3x3 conv, global skip, one-conv pixel-shuffle upsampler),
    ``imdn_aim19`` (AIM 2019 IMDN baseline) and ``fdiwn`` (three weight-shared FSWGs applied six
    times).
    """

    skeleton: str
    scale: int
    blocks: tuple[BlockSpec, ...]
    fuse_activation: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.blocks, tuple):
            object.__setattr__(self, "blocks", tuple(self.blocks))
        _validate_net(self)

    @property
    def channels(self) -> int:
        """The trunk width (every block of a chain has the same width)."""
        return self.blocks[0].channels

    @property
    def num_blocks(self) -> int:
        return len(self.blocks)

    def key(self) -> str:
        """Canonical name: ``skeleton.xS[.fuse-act]:blockkey*n+blockkey*m`` (runs collapsed)."""
        runs: list[list[Any]] = []
        for b in self.blocks:
            k = b.key()
            if runs and runs[-1][0] == k:
                runs[-1][1] += 1
            else:
                runs.append([k, 1])
        head = f"{self.skeleton}.x{self.scale}"
        if self.fuse_activation is not None:
            head += f".fuse-{self.fuse_activation}"
        return head + ":" + "+".join(f"{k}*{n}" for k, n in runs)

    def with_scale(self, scale: int) -> NetSpec:
        return replace(self, scale=scale)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"skeleton": self.skeleton, "scale": self.scale}
        if self.fuse_activation is not None:
            out["fuse_activation"] = self.fuse_activation
        out["blocks"] = [b.to_dict() for b in self.blocks]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NetSpec:
        if not isinstance(data, dict):
            raise UserError(f"a network spec is a mapping, got {type(data).__name__}")
        _check_keys(data, cls, "network spec")
        for req in ("skeleton", "scale", "blocks"):
            if req not in data:
                raise UserError(f"network spec needs {req!r}")
        blocks = data["blocks"]
        if not isinstance(blocks, list | tuple):
            raise UserError("'blocks' must be a list of block specs")
        return cls(**{**data, "blocks": tuple(BlockSpec.from_dict(b) for b in blocks)})

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=False)

    @classmethod
    def from_json(cls, text: str) -> NetSpec:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UserError(f"spec is not valid JSON: {exc}") from None
        return cls.from_dict(data)


def _validate_net(n: NetSpec) -> None:
    if n.skeleton not in SKELETONS:
        raise UserError(f"unknown skeleton {n.skeleton!r}; known: {', '.join(SKELETONS)}")
    if isinstance(n.scale, bool) or n.scale not in SCALES:
        raise UserError(f"scale must be one of {', '.join(map(str, SCALES))}; got {n.scale!r}")
    if not n.blocks:
        raise UserError("a network needs at least one block")
    for b in n.blocks:
        if not isinstance(b, BlockSpec):
            raise UserError(f"blocks must be BlockSpec, got {type(b).__name__}")
    widths = {b.channels for b in n.blocks}
    if len(widths) != 1:
        raise UserError(f"all blocks of a chain need the same channels; got {sorted(widths)}")
    kinds = {b.kind for b in n.blocks}
    if n.skeleton in FUSE_SKELETONS:
        if n.fuse_activation not in ACTIVATION_KINDS:
            raise UserError(f"skeleton {n.skeleton!r} needs fuse_activation in "
                            f"{', '.join(ACTIVATION_KINDS)}; got {n.fuse_activation!r}")
        bad = kinds & {"fswg", "imdb_aim19"}
        if bad:
            raise UserError(f"block {sorted(bad)[0]!r} does not fit skeleton 'distill'")
    elif n.fuse_activation is not None:
        raise UserError(f"skeleton {n.skeleton!r} takes no fuse_activation")
    if n.skeleton == "imdn_aim19" and kinds != {"imdb_aim19"}:
        raise UserError("skeleton 'imdn_aim19' takes only 'imdb_aim19' blocks")
    if n.skeleton == "fdiwn" and (kinds != {"fswg"} or len(n.blocks) != 3):
        raise UserError("skeleton 'fdiwn' takes exactly three 'fswg' blocks (applied six times)")


def load_spec_file(path: str | Path) -> NetSpec:
    """Read a NetSpec from a .json or .yaml/.yml file (YAML through safe loading only)."""
    p = Path(path)
    try:
        text = p.read_text()
    except FileNotFoundError:
        raise UserError(f"spec file not found: {p}") from None
    except OSError as exc:
        raise UserError(f"cannot read spec file {p}: {exc.strerror}") from None
    except UnicodeDecodeError:  # e.g. model.ts or weights.pt given where the spec goes
        raise UserError(f"{p} is not a spec file (JSON or YAML text); a spec.json is") from None
    try:
        data = json.loads(text) if p.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        first = str(exc).splitlines()[0]
        raise UserError(f"cannot parse spec file {p}: {first}") from None
    try:
        return NetSpec.from_dict(data)
    except UserError as exc:
        raise UserError(f"{p}: {exc}") from None


def save_spec_file(spec: NetSpec, path: str | Path) -> Path:
    """Write a NetSpec as JSON (``.json``) or YAML (other suffixes)."""
    p = Path(path)
    if p.suffix == ".json":
        p.write_text(json.dumps(spec.to_dict(), indent=2) + "\n")
    else:
        p.write_text(yaml.safe_dump(spec.to_dict(), sort_keys=False))
    return p


