"""Search spaces in YAML: global knobs (scale, channels, number of blocks) and per-block knobs.

A space file is plain data, validated on load (unknown keys, empty choices and impossible ranges
raise ``UserError``). ``SearchSpace.suggest(trial)`` samples a ``NetSpec`` define-by-run from an
Optuna trial, with conditional parameters (a kernel set only for the conv kind that uses it, a
merge only for MKDCB, a reduction only for CCA/CA); ``sample(rng)`` does the same from a numpy
Generator; ``block_specs()`` enumerates every block configuration for a latency table.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import yaml

from blocks.errors import UserError
from blocks.specs import (
    ACTIVATION_KINDS,
    ATTENTION_KINDS,
    CONV_KINDS,
    KERNEL_SIZES,
    MERGES,
    SCALES,
    BlockSpec,
    NetSpec,
    block_spec,
)

FAMILIES = ("rfdb", "lrfdb", "imdb", "rdg")
TOP_KEYS = {"name", "description", "version", "family", "scale", "channels", "num_blocks",
            "fuse_activation", "share_blocks", "blocks"}
BLOCK_KEYS = {"conv", "kernels", "merge", "distill_ratio", "attention", "reduction", "activation",
              "channel_weight", "depth"}
# which per-block knobs each family takes (beyond channels)
FAMILY_KNOBS = {
    "rfdb": {"conv", "kernels", "merge", "distill_ratio", "attention", "reduction", "activation"},
    "lrfdb": {"conv", "kernels", "merge", "distill_ratio", "attention", "reduction", "activation",
              "channel_weight"},
    "imdb": {"kernels", "distill_ratio", "attention", "reduction", "activation"},
    "rdg": {"conv", "kernels", "merge", "distill_ratio", "activation", "depth"},
}


class Suggester(Protocol):
    """What a space needs of an Optuna trial (or of the numpy adapter below)."""

    def suggest_categorical(self, name: str, choices: Sequence[Any]) -> Any: ...

    def suggest_int(self, name: str, low: int, high: int) -> int: ...


def _kernel_label(ks: Sequence[int]) -> str:
    return "-".join(str(k) for k in ks)


def _parse_kernels(label: str) -> tuple[int, ...]:
    return tuple(int(k) for k in label.split("-"))


@dataclass(frozen=True)
class BlockChoices:
    """Per-block choices. ``kernels`` maps a conv kind to its kernel sets."""

    conv: tuple[str, ...]
    kernels: dict[str, tuple[tuple[int, ...], ...]]
    merge: tuple[str, ...]
    distill_ratio: tuple[float, ...]
    attention: tuple[str, ...]
    reduction: tuple[int, ...]
    activation: tuple[str, ...]
    channel_weight: tuple[bool, ...]
    depth: tuple[int, ...]


@dataclass(frozen=True)
class SearchSpace:
    """A validated search space; see search/spaces/*.yaml for the format."""

    name: str
    description: str
    version: int
    family: str
    scale: tuple[int, ...]
    channels: tuple[int, ...]
    num_blocks: tuple[int, int]
    fuse_activation: tuple[str, ...]
    share_blocks: bool
    blocks: BlockChoices
    source: str = ""

    # ---- sampling -------------------------------------------------------------------------
    def suggest(self, trial: Suggester) -> NetSpec:
        """Sample a NetSpec define-by-run; parameter names are stable across trials."""
        scale = self._pick(trial, "scale", self.scale)
        channels = self._pick(trial, "channels", self.channels)
        lo, hi = self.num_blocks
        n = lo if lo == hi else trial.suggest_int("num_blocks", lo, hi)
        fuse = self._pick(trial, "fuse_activation", self.fuse_activation)
        if self.share_blocks:
            one = self._suggest_block(trial, "block", channels)
            blocks = (one,) * n
        else:
            blocks = tuple(self._suggest_block(trial, f"b{i}", channels) for i in range(n))
        return NetSpec("distill", scale, blocks, fuse)

    def sample(self, rng: np.random.Generator) -> NetSpec:
        """Sample a NetSpec with a numpy Generator (uniform over each choice)."""
        return self.suggest(_RandomSuggester(rng))

    def params_for(self, spec: NetSpec) -> dict[str, Any] | None:
        """The trial parameters that make ``spec`` in this space, or None if it cannot."""
        replay = _ReplaySuggester(spec)
        try:
            again = self.suggest(replay)
        except (LookupError, IndexError, AttributeError, UserError):
            return None
        return replay.params if again == spec else None

    @staticmethod
    def _pick(trial: Suggester, name: str, choices: Sequence[Any]) -> Any:
        return choices[0] if len(choices) == 1 else trial.suggest_categorical(name, list(choices))

    def _suggest_block(self, trial: Suggester, prefix: str, channels: int) -> BlockSpec:
        c = self.blocks
        knobs = FAMILY_KNOBS[self.family]
        kw: dict[str, Any] = {}
        conv = "standard"
        if "conv" in knobs:
            conv = self._pick(trial, f"{prefix}.conv", c.conv)
            kw["conv"] = conv
        if "kernels" in knobs:
            sets = c.kernels[conv]
            label = self._pick(trial, f"{prefix}.kernels.{conv}", [_kernel_label(s) for s in sets])
            kw["kernels"] = _parse_kernels(label)
        if conv == "mkdcb":
            kw["merge"] = self._pick(trial, f"{prefix}.merge", c.merge)
        if "distill_ratio" in knobs:
            kw["distill_ratio"] = float(self._pick(trial, f"{prefix}.distill_ratio",
                                                   c.distill_ratio))
        if "attention" in knobs:
            att = self._pick(trial, f"{prefix}.attention", c.attention)
            kw["attention"] = att
            if att in ("cca", "ca"):
                kw["reduction"] = int(self._pick(trial, f"{prefix}.reduction", c.reduction))
        if "activation" in knobs:
            kw["activation"] = self._pick(trial, f"{prefix}.activation", c.activation)
        if "channel_weight" in knobs:
            kw["channel_weight"] = bool(self._pick(trial, f"{prefix}.channel_weight",
                                                   c.channel_weight))
        if "depth" in knobs:
            kw["depth"] = int(self._pick(trial, f"{prefix}.depth", c.depth))
        return block_spec(self._block_kind(conv), channels, **kw)

    def _block_kind(self, conv: str) -> str:
        if self.family == "rfdb":
            return "rfdb" if conv == "standard" else "drfdb"
        return self.family

    # ---- enumeration ----------------------------------------------------------------------
    def block_choices(self, channels: int) -> Iterator[BlockSpec]:
        """Every block configuration of this space at one width."""
        c = self.blocks
        knobs = FAMILY_KNOBS[self.family]
        convs = c.conv if "conv" in knobs else ("standard",)
        for conv in convs:
            merges = c.merge if conv == "mkdcb" else (None,)
            kernel_sets = c.kernels[conv] if "kernels" in knobs else (None,)
            atts: list[tuple[str | None, int | None]] = [(None, None)]
            if "attention" in knobs:
                atts = [(a, r) for a in c.attention
                        for r in (c.reduction if a in ("cca", "ca") else (None,))]
            for ks, merge, ratio, (att, red), act, cw, depth in itertools.product(
                kernel_sets, merges,
                c.distill_ratio if "distill_ratio" in knobs else (None,),
                atts,
                c.activation if "activation" in knobs else (None,),
                c.channel_weight if "channel_weight" in knobs else (None,),
                c.depth if "depth" in knobs else (None,),
            ):
                kw = {k: v for k, v in dict(
                    conv=conv if "conv" in knobs else None, kernels=ks, merge=merge,
                    distill_ratio=ratio, attention=att, reduction=red, activation=act,
                    channel_weight=cw, depth=depth).items() if v is not None}
                yield block_spec(self._block_kind(conv), channels, **kw)

    def block_specs(self) -> list[BlockSpec]:
        """Every block configuration the space can produce, over all widths (deduplicated)."""
        seen: dict[str, BlockSpec] = {}
        for ch in self.channels:
            for b in self.block_choices(ch):
                seen.setdefault(b.key(), b)
        return list(seen.values())

    def size(self) -> int:
        """The number of distinct networks the space can produce (over all scales)."""
        per_width = {ch: sum(1 for _ in self.block_choices(ch)) for ch in self.channels}
        lo, hi = self.num_blocks
        total = 0
        for nb in per_width.values():
            for n in range(lo, hi + 1):
                total += nb if self.share_blocks else nb**n
        return total * len(self.scale) * len(self.fuse_activation)

    def version_hash(self) -> str:
        """A short hash of the space's content: latency tables record it."""
        return hashlib.sha256(self.source.encode()).hexdigest()[:12]


class _ReplaySuggester:
    """Answers a space's questions from a given spec, to find the parameters that make it."""

    def __init__(self, spec: NetSpec) -> None:
        self.spec = spec
        self.params: dict[str, Any] = {}

    def _value(self, name: str) -> Any:
        if name in ("scale", "channels", "num_blocks", "fuse_activation"):
            return {"scale": self.spec.scale, "channels": self.spec.channels,
                    "num_blocks": len(self.spec.blocks),
                    "fuse_activation": self.spec.fuse_activation}[name]
        prefix, knob = name.split(".", 1)
        block = self.spec.blocks[0 if prefix == "block" else int(prefix[1:])]
        if knob.startswith("kernels."):
            return _kernel_label(block.kernels or ())
        return getattr(block, knob)

    def suggest_categorical(self, name: str, choices: Sequence[Any]) -> Any:
        value = self._value(name)
        if value not in choices:
            raise LookupError(name)
        self.params[name] = value
        return value

    def suggest_int(self, name: str, low: int, high: int) -> int:
        value = self._value(name)
        if not low <= value <= high:
            raise LookupError(name)
        self.params[name] = value
        return value


class _RandomSuggester:
    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng

    def suggest_categorical(self, name: str, choices: Sequence[Any]) -> Any:
        return choices[int(self.rng.integers(len(choices)))]

    def suggest_int(self, name: str, low: int, high: int) -> int:
        return int(self.rng.integers(low, high + 1))


# ---- loading and validation -----------------------------------------------------------------
def _choices(data: dict, key: str, default: Any, valid: Sequence[Any] | None, where: str) -> tuple:
    value = data.get(key, default)
    if not isinstance(value, list | tuple):
        value = [value]
    if len(value) == 0:
        raise UserError(f"{where}: '{key}' has no choices")
    if valid is not None:
        bad = [v for v in value if v not in valid]
        if bad:
            raise UserError(f"{where}: '{key}' has invalid choice(s) {bad}; valid: "
                            f"{', '.join(map(str, valid))}")
    if len(set(json.dumps(v, default=repr) for v in value)) != len(value):  # a YAML date too
        raise UserError(f"{where}: '{key}' repeats a choice: {list(value)}")
    return tuple(value)


def _positive_ints(values: tuple, key: str, where: str) -> None:
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
            raise UserError(f"{where}: '{key}' choices must be positive integers; got {v!r}")


def _kernel_sets(data: Any, convs: tuple[str, ...], where: str) -> dict:
    defaults = {"standard": [[3]], "dcb": [[3]], "mkdcb": [[3, 5]]}
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise UserError(f"{where}: 'kernels' maps a conv kind to a list of kernel sets, e.g. "
                        "{mkdcb: [[3, 5], [3, 5, 7]]}")
    unknown = sorted(set(data) - set(CONV_KINDS))
    if unknown:
        raise UserError(f"{where}: unknown conv kind(s) {unknown} under 'kernels'; valid: "
                        f"{', '.join(CONV_KINDS)}")
    out = {}
    for conv in convs:
        sets = data.get(conv, defaults[conv])
        if not isinstance(sets, list) or not sets:
            raise UserError(f"{where}: 'kernels.{conv}' has no choices")
        parsed = []
        for s in sets:
            s = [s] if isinstance(s, int) else s
            if (not isinstance(s, list) or not s
                    or any(isinstance(k, bool) or k not in KERNEL_SIZES for k in s)):
                raise UserError(f"{where}: kernel set {s!r} for {conv}: sizes must be odd, from "
                                f"{', '.join(map(str, KERNEL_SIZES))}")
            if (conv == "mkdcb") != (len(s) > 1):
                need = "two or more sizes" if conv == "mkdcb" else "exactly one size"
                raise UserError(f"{where}: kernel set {s!r} for {conv} needs {need}")
            parsed.append(tuple(sorted(s)))
        out[conv] = tuple(parsed)
    return out


def parse_space(data: Any, *, source: str = "", where: str = "space") -> SearchSpace:
    """Validate plain data (from YAML) into a SearchSpace; every problem is a one-line UserError."""
    if not isinstance(data, dict):
        raise UserError(f"{where}: a search space is a mapping of knobs, got "
                        f"{type(data).__name__}")
    unknown = sorted(set(data) - TOP_KEYS)
    if unknown:
        raise UserError(f"{where}: unknown key(s) {unknown}; valid: {', '.join(sorted(TOP_KEYS))}")
    family = data.get("family", "rfdb")
    if family not in FAMILIES:
        raise UserError(f"{where}: unknown family {family!r}; known: {', '.join(FAMILIES)}")
    scale = _choices(data, "scale", [2], SCALES, where)
    channels = _choices(data, "channels", None, None, where)
    _positive_ints(channels, "channels", where)
    nb = data.get("num_blocks", {"low": 2, "high": 4})
    if isinstance(nb, int) and not isinstance(nb, bool):
        nb = {"low": nb, "high": nb}
    if not isinstance(nb, dict) or set(nb) != {"low", "high"}:
        raise UserError(f"{where}: 'num_blocks' is an integer or {{low: N, high: M}}")
    lo, hi = nb["low"], nb["high"]
    _positive_ints((lo, hi), "num_blocks", where)
    if lo > hi:
        raise UserError(f"{where}: impossible range num_blocks low={lo} > high={hi}")
    fuse = _choices(data, "fuse_activation", ["lrelu"], ACTIVATION_KINDS, where)
    share = data.get("share_blocks", False)
    if not isinstance(share, bool):
        raise UserError(f"{where}: 'share_blocks' must be true or false")
    braw = data.get("blocks", {}) or {}
    if not isinstance(braw, dict):
        raise UserError(f"{where}: 'blocks' is a mapping of per-block knobs")
    bwhere = f"{where}: blocks"
    unknown = sorted(set(braw) - BLOCK_KEYS)
    if unknown:
        raise UserError(f"{bwhere}: unknown key(s) {unknown}; valid: "
                        f"{', '.join(sorted(BLOCK_KEYS))}")
    knobs = FAMILY_KNOBS[family]
    not_for_family = sorted(set(braw) - knobs)
    if not_for_family:
        raise UserError(f"{bwhere}: family {family!r} takes no {not_for_family}; it takes: "
                        f"{', '.join(sorted(knobs))}")
    conv_valid = ("standard", "dcb", "mkdcb")
    conv = _choices(braw, "conv", ["standard"], conv_valid, bwhere)
    defaults = {"rfdb": ("esa", 0.5, "lrelu"), "lrfdb": ("efsa", 0.5, "gelu"),
                "imdb": ("cca", 0.25, "lrelu"), "rdg": (None, 0.25, "lrelu")}[family]
    ratios = _choices(braw, "distill_ratio", [defaults[1]], None, bwhere)
    for r in ratios:
        if isinstance(r, bool) or not isinstance(r, int | float) or not 0 < r < 1:
            raise UserError(f"{bwhere}: distill_ratio choices must be in (0, 1); got {r!r}")
    att_valid = ATTENTION_KINDS
    choices = BlockChoices(
        conv=conv,
        kernels=_kernel_sets(braw.get("kernels"), conv, bwhere),
        merge=_choices(braw, "merge", ["sum"], MERGES, bwhere),
        distill_ratio=tuple(float(r) for r in ratios),
        attention=_choices(braw, "attention", [defaults[0] or "none"], att_valid, bwhere),
        reduction=_choices(braw, "reduction", [4], None, bwhere),
        activation=_choices(braw, "activation", [defaults[2]], ACTIVATION_KINDS, bwhere),
        channel_weight=_choices(braw, "channel_weight", [True], (True, False), bwhere),
        depth=_choices(braw, "depth", [3], None, bwhere),
    )
    _positive_ints(choices.reduction, "reduction", bwhere)
    _positive_ints(choices.depth, "depth", bwhere)
    version = data.get("version", 1)
    _positive_ints((version,), "version", where)
    for key in ("name", "description"):
        if key in data and not isinstance(data[key], str):
            raise UserError(f"{where}: '{key}' is a string; got {data[key]!r}")
    space = SearchSpace(
        name=str(data.get("name", "custom")), description=str(data.get("description", "")),
        version=version, family=family, scale=scale, channels=channels, num_blocks=(lo, hi),
        fuse_activation=fuse, share_blocks=share, blocks=choices,
        source=source or json.dumps(data, sort_keys=True, default=str),
    )
    # every combination must be a valid spec: build one block of each choice at each width
    for ch in channels:
        try:
            for _ in space.block_choices(ch):
                pass
        except UserError as exc:
            raise UserError(f"{where}: channels {ch}: {exc}") from None
    return space


def shipped_spaces() -> list[str]:
    """Names of the spaces shipped in search/spaces/."""
    folder = resources.files("search") / "spaces"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml"))


def load_space(name_or_path: str | Path) -> SearchSpace:
    """A shipped space by name (``demo``, ``rfdb``, ``lrfdb``) or a YAML file (safe loading)."""
    text: str
    where = str(name_or_path)
    p = Path(name_or_path)
    if str(name_or_path) in shipped_spaces():
        text = (resources.files("search") / "spaces" / f"{name_or_path}.yaml").read_text()
    elif p.suffix.lower() in (".yaml", ".yml", ".json") or p.exists():
        try:
            text = p.read_text()
        except FileNotFoundError:
            raise UserError(f"search space file not found: {p}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise UserError(f"cannot read search space {p}: {exc}") from None
    else:
        raise UserError(f"unknown search space {name_or_path!r}; shipped: "
                        f"{', '.join(shipped_spaces())}, or a path to a YAML file")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        first = " ".join(str(exc).split())[:160]
        raise UserError(f"{where}: malformed YAML: {first}") from None
    return parse_space(data, source=text, where=where)
