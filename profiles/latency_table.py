"""Latency tables: measure every part of a space on the device itself, then predict whole networks.

``measure_table`` times, ON THE MACHINE IT RUNS ON, each block configuration given and every
non-block part of the skeleton, at one LR input size:

- ``block:<BlockSpec.key()>``: one distillation block, C -> C;
- ``stem:c<C>``: the shallow 3x3 conv, 3 -> C;
- ``fuse:m<M>.c<C>.<act>``: concatenation of M distinct block outputs, 1x1 (M*C -> C), activation;
- ``lr_conv:c<C>``: the 3x3 conv C -> C with the global skip add;
- ``up:x<s>.c<C>``: the upsampler, 3x3 (C -> 3 s^2) + PixelShuffle(s).

Each key carries the input size, ``@<H>x<W>``. ``overhead:null`` times an identity module: the
cost of one timed call (timer, dispatch, backend entry), which every part includes once; it is
taken off each part before summing, as a whole network pays it only once.

Protocol: fixed threads, warm-up, median of ``runs``. Parts are timed in chunks, in a seeded random
order, interleaved round by round within each chunk, so that drift on the machine falls on all of
them alike; each timed call follows one untimed call of the same part (steady-state caches, as a
part that is timed alone). A few whole networks drawn from the same parts are timed alongside,
and ``latency = scale * sum(parts) + offset_ms`` is fitted to them by least squares; both numbers
are stored in the table. It needs torch only (eager, channels_last, torchscript backends) or
torch + onnxruntime (the onnxruntime backend); nothing else, so it runs on a Raspberry Pi.

The JSON file records the device name, host CPU model, backend, threads, input size, torch / ORT
versions, the space version and when it was made. Loading a table for another device or space
version, or predicting a network whose part is missing, is a one-line UserError saying which.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from blocks.build import build_block, build_network
from blocks.errors import UserError
from blocks.networks import DistillNet
from blocks.specs import ACTIVATION_KINDS, SCALES, BlockSpec, NetSpec
from profiles.export import example_input
from profiles.latency import (
    BACKENDS,
    DEFAULT_WARMUP,
    HOST_DEVICE,
    check_clock,
    check_hw,
    check_protocol,
    cpu_share_meter,
    host_context,
    summarize_ms,
    time_interleaved,
    torch_threads,
)
from profiles.units import format_hw

TABLE_FORMAT = "distillnas-latency-table/1"
# skeletons a table can predict, and the parts each is made of (blocks in between)
PREDICTABLE_SKELETONS = ("distill", "imdn_aim19")
DEFAULT_CHUNK = 48
CHUNK_INPUT_BYTES = 512 * 2**20
OVERHEAD_PART = "overhead:null"


class TableSpace(Protocol):
    """What ``measure_space_table`` needs of a search space (search.space.SearchSpace has it)."""

    name: str
    channels: tuple[int, ...]
    scale: tuple[int, ...]
    num_blocks: tuple[int, int]
    fuse_activation: tuple[str, ...]

    def block_specs(self) -> list[BlockSpec]: ...

    def version_hash(self) -> str: ...


# ---- part keys --------------------------------------------------------------------------------


def hw_suffix(input_hw: tuple[int, int]) -> str:
    return f"@{format_hw(input_hw)}"


def block_part(block: BlockSpec) -> str:
    return f"block:{block.key()}"


def stem_part(channels: int) -> str:
    return f"stem:c{channels}"


def fuse_part(num_blocks: int, channels: int, activation: str) -> str:
    return f"fuse:m{num_blocks}.c{channels}.{activation}"


def lr_conv_part(channels: int) -> str:
    return f"lr_conv:c{channels}"


def up_part(scale: int, channels: int) -> str:
    return f"up:x{scale}.c{channels}"


def spec_parts(spec: NetSpec) -> list[str]:
    """The table parts (keys without the input size) whose latencies sum to ``spec``'s."""
    if spec.skeleton not in PREDICTABLE_SKELETONS:
        raise UserError(
            f"skeleton {spec.skeleton!r} is not decomposed into table parts; "
            f"predictable: {', '.join(PREDICTABLE_SKELETONS)} (measure it instead)"
        )
    c = spec.channels
    parts = [stem_part(c), *(block_part(b) for b in spec.blocks)]
    if spec.skeleton == "distill":
        parts.append(fuse_part(spec.num_blocks, c, spec.fuse_activation or "lrelu"))
    parts += [lr_conv_part(c), up_part(spec.scale, c)]
    return parts


def space_version_of(block_specs: Iterable[BlockSpec]) -> str:
    """A version for a bare set of block configurations: a hash of their sorted keys."""
    keys = sorted({b.key() for b in block_specs})
    return "blocks:" + hashlib.sha256("\n".join(keys).encode()).hexdigest()[:12]


# ---- part modules -----------------------------------------------------------------------------


class _FusePart(nn.Module):
    """cat of M distinct C-channel maps -> 1x1 -> act. The input holds the M maps side by side
    (M*C channels); splitting it and concatenating copies M*C*H*W distinct elements, as the
    network's cat of its M block outputs does."""

    def __init__(self, fuse: nn.Module, channels: int) -> None:
        super().__init__()
        self.fuse = fuse
        self.channels = channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fuse(torch.cat(x.split(self.channels, dim=1), dim=1))


class _SkipConvPart(nn.Module):
    """conv(x) + x: the lr_conv with the global skip (or the AIM19 body's last conv + skip)."""

    def __init__(self, conv: nn.Module) -> None:
        super().__init__()
        self.conv = conv

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x) + x


def _skeleton(channels: int, num_blocks: int, scale: int, activation: str) -> DistillNet:
    # The non-block parts come from the real skeleton, so they stay what build_network makes.
    return DistillNet(
        [nn.Identity() for _ in range(num_blocks)],
        channels,
        scale=scale,
        fuse_activation=activation,
    )


@dataclass(frozen=True)
class Part:
    """One thing the table times: its key (without input size), a builder and its input width."""

    key: str
    build: Callable[[], nn.Module]
    in_channels: int


def _block_partdef(b: BlockSpec) -> Part:
    return Part(block_part(b), lambda: build_block(b), b.channels)


def _table_parts(
    block_specs: Sequence[BlockSpec],
    channels_list: Sequence[int],
    scales: Sequence[int],
    num_blocks_list: Sequence[int],
    fuse_activations: Sequence[str],
) -> list[Part]:
    parts: dict[str, Part] = {OVERHEAD_PART: Part(OVERHEAD_PART, nn.Identity, 3)}
    for b in block_specs:
        parts.setdefault(block_part(b), _block_partdef(b))
    for c in channels_list:
        parts[stem_part(c)] = Part(stem_part(c), lambda c=c: _skeleton(c, 1, 2, "relu").fea_conv, 3)
        parts[lr_conv_part(c)] = Part(
            lr_conv_part(c), lambda c=c: _SkipConvPart(_skeleton(c, 1, 2, "relu").lr_conv), c
        )
        for s in scales:
            parts[up_part(s, c)] = Part(
                up_part(s, c), lambda c=c, s=s: _skeleton(c, 1, s, "relu").upsampler, c
            )
        for m in num_blocks_list:
            for act in fuse_activations:
                parts[fuse_part(m, c, act)] = Part(
                    fuse_part(m, c, act),
                    lambda c=c, m=m, act=act: _FusePart(_skeleton(c, m, 2, act).fuse, c),
                    m * c,
                )
    return list(parts.values())


# ---- the table --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PartLatency:
    """Median and IQR (ms) of one part."""

    latency_ms: float
    latency_iqr_ms: float


@dataclass(frozen=True)
class TableFit:
    """``latency_ms = scale * sum(parts) + offset_ms``, fitted on whole-net calibrations."""

    scale: float
    offset_ms: float
    calibration: tuple[dict[str, Any], ...] = ()
    method: str = "scale+offset"

    def apply(self, parts_ms: float) -> float:
        return self.scale * parts_ms + self.offset_ms

    def to_dict(self) -> dict[str, Any]:
        return {
            "scale": self.scale,
            "offset_ms": self.offset_ms,
            "method": self.method,
            "calibration": [dict(c) for c in self.calibration],
        }


FIT_MODELS = ("identity", "offset", "scale", "scale+offset")
_MAX_SCALE_CHANGE = 2.0  # a fitted scale outside [1/2, 2] is refused as a fitting artefact


def _fit_model(model: str, x: np.ndarray, y: np.ndarray) -> tuple[float, float] | None:
    """(scale, offset) minimising the squared RELATIVE error sum(((a x + b - y) / y)^2); None
    for a fitting artefact: a scale outside [1/2, 2], or an offset that takes away more than half
    of the smallest calibration net."""
    w = 1.0 / y**2
    if model == "identity":
        return 1.0, 0.0
    if model == "offset":
        b = float(np.sum(w * (y - x)) / np.sum(w))
        return (1.0, b) if b >= -0.5 * float(np.min(x)) else None
    if model == "scale":
        a = float(np.sum(w * x * y) / np.sum(w * x * x))
        b = 0.0
    else:
        sw = np.sqrt(w)
        design = np.stack([x * sw, sw], axis=1)
        (a, b), *_ = np.linalg.lstsq(design, y * sw, rcond=None)
        a, b = float(a), float(b)
    if not 1 / _MAX_SCALE_CHANGE <= a <= _MAX_SCALE_CHANGE or b < -0.5 * a * float(np.min(x)):
        return None
    return a, b


def fit_scale_offset(
    parts_ms: Sequence[float], measured_ms: Sequence[float]
) -> tuple[float, float, str]:
    """(scale, offset_ms, model) of ``measured = scale * parts + offset_ms``.

    Least squares on the RELATIVE error (the goal is a share within +-10%, so a large net must not
    outweigh a small one). The model (identity, offset, scale, scale+offset) is chosen by
    leave-one-out relative error over the calibration nets when there are three or more;
    with one or two, the offset alone; with none, the identity. Fitting artefacts (see
    ``_fit_model``) fall back to a simpler model.
    """
    x = np.asarray(parts_ms, dtype=float)
    y = np.asarray(measured_ms, dtype=float)
    n = len(x)
    if n == 0:
        return 1.0, 0.0, "identity"
    if n < 3:
        fit = _fit_model("offset", x, y)
        return (fit[0], fit[1], "offset") if fit is not None else (1.0, 0.0, "identity")
    best: tuple[float, str] | None = None
    for model in FIT_MODELS:
        errors = []
        for k in range(n):
            keep = np.arange(n) != k
            fit = _fit_model(model, x[keep], y[keep])
            if fit is None:
                break
            errors.append(((fit[0] * x[k] + fit[1]) / y[k] - 1) ** 2)
        else:
            score = float(np.mean(errors))
            if _fit_model(model, x, y) is not None and (best is None or score < best[0] - 1e-12):
                best = (score, model)
    model = best[1] if best is not None else "identity"
    a, b = _fit_model(model, x, y)  # type: ignore[misc]
    return a, b, model


@dataclass(frozen=True)
class LatencyTable:
    """Per-part latencies measured on one device at one input size, with the fitted correction."""

    device: str
    host_cpu: str
    backend: str
    threads: int
    input_hw: tuple[int, int]
    space_version: str
    created: str
    entries: dict[str, PartLatency]
    fit: TableFit
    runs: int
    warmup: int
    torch_version: str | None = None
    onnxruntime_version: str | None = None
    batch: int = 1
    cpu_share: float | None = None
    clock: str = "wall"
    validation: tuple[dict[str, Any], ...] = ()
    path: Path | None = field(default=None, compare=False)

    def key(self, part: str) -> str:
        """The stored key of a part: ``part@HxW``."""
        return part + hw_suffix(self.input_hw)

    def has(self, part: str) -> bool:
        return self.key(part) in self.entries

    def part_ms(self, part: str) -> float:
        """The median latency of one part; a missing part is a one-line UserError."""
        try:
            return self.entries[self.key(part)].latency_ms
        except KeyError:
            raise UserError(
                f"latency table {self._name()} lacks {self.key(part)!r} (device {self.device!r}, "
                f"space {self.space_version}); re-run profile-device for this space"
            ) from None

    def _name(self) -> str:
        return self.path.name if self.path is not None else f"for {self.device!r}"

    def context(self) -> dict[str, Any]:
        """The table's measuring context, for figures predicted from it."""
        return {
            "backend": self.backend,
            "threads": self.threads,
            "input_hw": list(self.input_hw),
            "batch": self.batch,
            "device": self.device,
            "cpu_model": self.host_cpu,
            "torch_version": self.torch_version,
            "onnxruntime_version": self.onnxruntime_version,
            "space_version": self.space_version,
            "table_created": self.created,
            "clock": self.clock,
            "validation": {
                "summary": validation_summary(self.validation),
                "nets": [dict(v) for v in self.validation],
            },
            "latency_source": "table",
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": TABLE_FORMAT,
            "device": self.device,
            "host_cpu": self.host_cpu,
            "backend": self.backend,
            "threads": self.threads,
            "input_hw": list(self.input_hw),
            "batch": self.batch,
            "torch_version": self.torch_version,
            "onnxruntime_version": self.onnxruntime_version,
            "space_version": self.space_version,
            "created": self.created,
            "runs": self.runs,
            "warmup": self.warmup,
            "statistic": "median",
            "cpu_share": self.cpu_share,
            "clock": self.clock,
            "validation": {
                "summary": validation_summary(self.validation),
                "nets": [dict(v) for v in self.validation],
            },
            "fit": self.fit.to_dict(),
            "entries": {
                k: {"latency_ms": v.latency_ms, "latency_iqr_ms": v.latency_iqr_ms}
                for k, v in sorted(self.entries.items())
            },
        }

    def save(self, path: str | Path) -> Path:
        """Write the table as JSON (indent 1, keys sorted)."""
        p = Path(path)
        p.write_text(json.dumps(self.to_dict(), indent=1) + "\n")
        return p

    @classmethod
    def from_dict(cls, data: Any, *, path: Path | None = None) -> LatencyTable:
        where = str(path) if path else "latency table"
        if not isinstance(data, dict) or data.get("format") != TABLE_FORMAT:
            raise UserError(f"{where} is not a latency table (format {TABLE_FORMAT!r} expected)")
        try:
            fit = data["fit"]
            entries = {
                str(k): PartLatency(float(v["latency_ms"]), float(v["latency_iqr_ms"]))
                for k, v in data["entries"].items()
            }
            return cls(
                device=str(data["device"]),
                host_cpu=str(data["host_cpu"]),
                backend=str(data["backend"]),
                threads=int(data["threads"]),
                input_hw=check_hw(tuple(data["input_hw"])),
                space_version=str(data["space_version"]),
                created=str(data["created"]),
                entries=entries,
                fit=TableFit(
                    float(fit["scale"]),
                    float(fit["offset_ms"]),
                    tuple(fit.get("calibration", ())),
                    str(fit.get("method", "")),
                ),
                runs=int(data["runs"]),
                warmup=int(data["warmup"]),
                torch_version=data.get("torch_version"),
                onnxruntime_version=data.get("onnxruntime_version"),
                batch=int(data.get("batch", 1)),
                cpu_share=data.get("cpu_share"),
                clock=str(data.get("clock", "wall")),
                validation=tuple(data.get("validation", {}).get("nets", ())),
                path=path,
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise UserError(
                f"{where}: malformed latency table ({type(exc).__name__}: {exc})"
            ) from None


def spearman(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Spearman rank correlation (ties get their average rank); None for fewer than 3 points."""
    if len(x) < 3:
        return None

    def ranks(v: Sequence[float]) -> np.ndarray:
        a = np.asarray(v, dtype=float)
        order = np.argsort(a, kind="mergesort")
        r = np.empty(len(a))
        r[order] = np.arange(len(a), dtype=float)
        for value in np.unique(a):  # average rank over ties
            tied = a == value
            r[tied] = r[tied].mean()
        return r

    rx, ry = ranks(x), ranks(y)
    if rx.std() == 0 or ry.std() == 0:
        return None
    return float(np.corrcoef(rx, ry)[0, 1])


def validation_summary(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Held-out accuracy: count, share of predictions within +-10%, mean |error|, Spearman."""
    if not rows:
        return {"nets": 0}
    err = np.array([r["predicted_ms"] / r["measured_ms"] - 1 for r in rows])
    return {
        "nets": len(rows),
        "share_within_10pct": float(np.mean(np.abs(err) <= 0.10)),
        "mean_abs_rel_error": float(np.mean(np.abs(err))),
        "max_abs_rel_error": float(np.max(np.abs(err))),
        "spearman": spearman([r["predicted_ms"] for r in rows], [r["measured_ms"] for r in rows]),
    }


def load_table(
    path: str | Path,
    *,
    device: str | None = None,
    space_version: str | None = None,
    input_hw: tuple[int, int] | None = None,
) -> LatencyTable:
    """Read a table; a table for another device, space version or input size is a UserError."""
    p = Path(path)
    try:
        data = json.loads(p.read_text())
    except FileNotFoundError:
        raise UserError(f"latency table not found: {p}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read latency table {p}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise UserError(f"latency table {p} is not valid JSON: {exc}") from None
    table = LatencyTable.from_dict(data, path=p)
    if device is not None and table.device != device:
        raise UserError(
            f"latency table {p.name} was measured on device {table.device!r}, not {device!r}"
        )
    if space_version is not None and table.space_version != space_version:
        raise UserError(
            f"latency table {p.name} is for space version {table.space_version!r}, "
            f"not {space_version!r}; re-run profile-device for this space"
        )
    if input_hw is not None and table.input_hw != tuple(input_hw):
        raise UserError(
            f"latency table {p.name} was measured at {format_hw(table.input_hw)}, "
            f"not {format_hw(tuple(input_hw))}"
        )
    return table


def predict_parts_ms(spec: NetSpec, table: LatencyTable) -> dict[str, float]:
    """Each part's table latency for ``spec`` (blocks repeated in a chain appear once per use,
    keyed ``block[i]:...``)."""
    out: dict[str, float] = {}
    block_index = 0
    for part in spec_parts(spec):
        label = part
        if part.startswith("block:"):
            label = f"block[{block_index}]:{part[len('block:') :]}"
            block_index += 1
        out[label] = table.part_ms(part)
    return out


def parts_sum_ms(spec: NetSpec, table: LatencyTable) -> float:
    """Sum of ``spec``'s part latencies, each less the per-call overhead (when the table has it)."""
    parts = predict_parts_ms(spec, table)
    overhead = table.part_ms(OVERHEAD_PART) if table.has(OVERHEAD_PART) else 0.0
    return sum(parts.values()) - overhead * len(parts)


def predict_latency_ms(spec: NetSpec, table: LatencyTable) -> float:
    """Predicted latency (ms) of ``spec`` at the table's input size: fit(sum over its parts)."""
    return table.fit.apply(parts_sum_ms(spec, table))


# ---- measuring --------------------------------------------------------------------------------


def _time_parts(
    items: Sequence[tuple[str, Callable[[], nn.Module], int]],
    *,
    input_hw: tuple[int, int],
    backend: str,
    threads: int,
    runs: int,
    warmup: int,
    chunk: int,
    progress: Callable[[str], None] | None,
    clock: str = "wall",
    settle: int = 1,
) -> dict[str, list[float]]:
    """Time (key, builder, in_channels) items interleaved in chunks; samples in ms per key.

    A chunk holds at most ``chunk`` items and, past its first item, at most
    ``CHUNK_INPUT_BYTES`` of example inputs (a device with little memory times big inputs in
    smaller groups).
    """
    backend_fn = BACKENDS.get(backend)
    out: dict[str, list[float]] = {}
    per_channel = input_hw[0] * input_hw[1] * 4
    groups: list[list[tuple[str, Callable[[], nn.Module], int]]] = [[]]
    held = 0
    for item in items:
        size = item[2] * per_channel
        if groups[-1] and (len(groups[-1]) >= chunk or held + size > CHUNK_INPUT_BYTES):
            groups.append([])
            held = 0
        groups[-1].append(item)
        held += size
    done = 0
    for group in groups:
        runners = []
        try:
            for _key, build, cin in group:
                x = example_input(input_hw, channels=cin)
                runners.append(backend_fn(build().eval(), x, threads))
            samples = time_interleaved(
                [r.run for r in runners], warmup=warmup, runs=runs, clock=clock, settle=settle
            )
        finally:
            for r in runners:
                r.close()
        for (key, _, _), s in zip(group, samples, strict=True):
            out[key] = s
        done += len(group)
        if progress is not None:
            progress(f"timed {done}/{len(items)}")
    return out


def calibration_specs(
    block_specs: Sequence[BlockSpec],
    *,
    scales: Sequence[int],
    num_blocks_list: Sequence[int],
    fuse_activations: Sequence[str],
    count: int,
    seed: int = 0,
) -> list[NetSpec]:
    """``count`` distinct random distill nets made of the given parts (numpy Generator ``seed``)."""
    rng = np.random.default_rng(seed)
    by_width: dict[int, list[BlockSpec]] = {}
    for b in block_specs:
        if b.kind not in ("fswg", "imdb_aim19"):
            by_width.setdefault(b.channels, []).append(b)
    if not by_width or count <= 0:
        return []
    widths = sorted(by_width)
    out: dict[str, NetSpec] = {}
    for _ in range(count * 20):
        if len(out) >= count:
            break
        c = widths[int(rng.integers(len(widths)))]
        m = int(num_blocks_list[int(rng.integers(len(num_blocks_list)))])
        pool = by_width[c]
        blocks = tuple(pool[int(rng.integers(len(pool)))] for _ in range(m))
        s = int(scales[int(rng.integers(len(scales)))])
        act = fuse_activations[int(rng.integers(len(fuse_activations)))]
        spec = NetSpec("distill", s, blocks, act)
        out.setdefault(spec.key(), spec)
    return list(out.values())


def _positive_ints(values: Sequence[int], name: str) -> tuple[int, ...]:
    vals = tuple(values)
    if not vals or any(isinstance(v, bool) or not isinstance(v, int) or v <= 0 for v in vals):
        raise UserError(f"{name} must be a non-empty list of positive integers; got {list(vals)}")
    return vals


def measure_table(
    block_specs: Sequence[BlockSpec],
    *,
    input_hw: tuple[int, int],
    channels_list: Sequence[int] | None = None,
    scales: Sequence[int] = SCALES,
    num_blocks_list: Sequence[int] = (1, 2, 3, 4, 5, 6),
    fuse_activations: Sequence[str] = ACTIVATION_KINDS,
    backend: str = "eager",
    threads: int | None = None,
    runs: int = 30,
    warmup: int = DEFAULT_WARMUP,
    device: str = HOST_DEVICE,
    space_version: str | None = None,
    calibration: int | Sequence[NetSpec] = 6,
    seed: int = 0,
    chunk: int = DEFAULT_CHUNK,
    progress: Callable[[str], None] | None = None,
    clock: str = "wall",
    validation: int | Sequence[NetSpec] = 0,
    settle: int = 1,
) -> LatencyTable:
    """Measure every block configuration and skeleton part on this machine; fit the correction.

    ``channels_list`` (default: the blocks' widths) sizes the stem, fuse, lr_conv and upsampler;
    ``scales`` the upsamplers; ``num_blocks_list`` x ``fuse_activations`` the fuse parts.
    ``calibration``: how many random whole nets (seeded) to time alongside for the fit, or the
    nets themselves. ``device`` and ``space_version`` (default: a hash of the block keys) are
    recorded and checked when the table is loaded. ``clock``: ``wall`` (default) or ``cpu``
    (one thread only: the calling thread's CPU time, steadier on a shared host; recorded).
    ``validation``: held-out nets (a count, drawn with ``seed + 1``, or the nets) timed in the
    same session but not fitted on; the table records their predicted vs measured latency and
    the share within +-10% (``LatencyTable.validation``). ``chunk``: runners prepared and timed
    together (interleaved); a larger chunk shares more of the session, at more memory.
    ``settle``: untimed calls before each timed call (1: steady-state caches; 0 halves the time,
    reasonable when every activation is far larger than the caches anyway).
    """
    hw = check_hw(input_hw)
    blocks = list(dict.fromkeys(block_specs))
    if not blocks:
        raise UserError("a latency table needs at least one block configuration")
    widths = _positive_ints(
        channels_list if channels_list is not None else sorted({b.channels for b in blocks}),
        "channels_list",
    )
    scales = _positive_ints(scales, "scales")
    bad = [s for s in scales if s not in SCALES]
    if bad:
        raise UserError(f"scales must be from {', '.join(map(str, SCALES))}; got {bad}")
    nbs = _positive_ints(num_blocks_list, "num_blocks_list")
    acts = tuple(fuse_activations)
    unknown = [a for a in acts if a not in ACTIVATION_KINDS]
    if unknown or not acts:
        raise UserError(
            f"fuse_activations must be from {', '.join(ACTIVATION_KINDS)}; got {list(acts)}"
        )
    t = check_protocol(threads, warmup, runs)
    BACKENDS.get(backend)
    check_clock(clock, t)
    parts = _table_parts(blocks, widths, scales, nbs, acts)
    cal = (
        calibration_specs(
            blocks,
            scales=scales,
            num_blocks_list=nbs,
            fuse_activations=acts,
            count=calibration,
            seed=seed,
        )
        if isinstance(calibration, int)
        else list(calibration)
    )
    cal_keys = {n.key() for n in cal}
    held_out = (
        calibration_specs(
            blocks,
            scales=scales,
            num_blocks_list=nbs,
            fuse_activations=acts,
            count=validation,
            seed=seed + 1,
        )
        if isinstance(validation, int)
        else list(validation)
    )
    held_out = [n for n in dict((n.key(), n) for n in held_out).values() if n.key() not in cal_keys]
    items: list[tuple[str, Callable[[], nn.Module], int]] = [
        (p.key + hw_suffix(hw), p.build, p.in_channels) for p in parts
    ]
    items += [(f"net:{n.key()}", lambda n=n: build_network(n, seed=seed), 3) for n in cal]
    items += [(f"val:{n.key()}", lambda n=n: build_network(n, seed=seed), 3) for n in held_out]
    # a seeded shuffle spreads parts and calibration nets over the chunks, so drift between
    # chunks falls on all kinds alike
    order = np.random.default_rng(seed).permutation(len(items))
    items = [items[i] for i in order]
    with torch_threads(t), cpu_share_meter(t) as share:
        samples = _time_parts(
            items,
            input_hw=hw,
            backend=backend,
            threads=t,
            runs=runs,
            warmup=warmup,
            chunk=chunk,
            progress=progress,
            clock=clock,
            settle=settle,
        )
    entries = {}
    for p in parts:
        med, iqr = summarize_ms(samples[p.key + hw_suffix(hw)])
        entries[p.key + hw_suffix(hw)] = PartLatency(med, iqr)
    ctx = host_context()
    table = LatencyTable(
        device=device,
        host_cpu=ctx["cpu_model"],
        backend=backend,
        threads=t,
        input_hw=hw,
        space_version=space_version or space_version_of(blocks),
        created=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        entries=entries,
        fit=TableFit(1.0, 0.0, (), "identity"),
        runs=runs,
        warmup=warmup,
        torch_version=ctx["torch_version"],
        onnxruntime_version=ctx["onnxruntime_version"],
        cpu_share=share.value,
        clock=clock,
    )
    rows = []
    for n in cal:
        measured, _ = summarize_ms(samples[f"net:{n.key()}"])
        rows.append({"key": n.key(), "measured_ms": measured, "parts_ms": parts_sum_ms(n, table)})
    a, b, method = fit_scale_offset([r["parts_ms"] for r in rows], [r["measured_ms"] for r in rows])
    table = replace(table, fit=TableFit(a, b, tuple(rows), method))
    checks = []
    for n in held_out:
        measured, iqr = summarize_ms(samples[f"val:{n.key()}"])
        checks.append(
            {
                "key": n.key(),
                "measured_ms": measured,
                "measured_iqr_ms": iqr,
                "predicted_ms": predict_latency_ms(n, table),
            }
        )
    return replace(table, validation=tuple(checks))


def measure_space_table(
    space: TableSpace, *, input_hw: tuple[int, int], **kwargs: Any
) -> LatencyTable:
    """``measure_table`` over everything a search space can produce; its version is recorded."""
    lo, hi = space.num_blocks
    return measure_table(
        space.block_specs(),
        input_hw=input_hw,
        channels_list=space.channels,
        scales=space.scale,
        num_blocks_list=range(lo, hi + 1),
        fuse_activations=space.fuse_activation,
        space_version=f"{space.name}:{space.version_hash()}",
        **kwargs,
    )
