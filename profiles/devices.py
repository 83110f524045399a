"""Device profiles (YAML under profiles/devices/) and how latency is obtained on each device.

A profile names a target, its LR input size, default budgets and one latency method:

- ``measured``: time the model on this host (``profiles.latency``), with the profile's threads.
- ``table``: predict from a latency table measured on that device (``profiles.latency_table``);
  the table path is relative to the YAML file.
- ``roofline``: ``max(FLOPs / peak, bytes / bandwidth)`` from data-sheet peaks. Always an
  ESTIMATE (a lower bound for a perfect implementation), labelled as such wherever it is shown.

The schema is strict: unknown keys raise a one-line UserError, as do missing required keys.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from blocks.errors import UserError
from profiles.units import format_hw

#: the most torch threads any command takes: far above any host's cores, and torch segfaults
#: on absurd counts (100000 here) instead of raising
MAX_THREADS = 1024

if TYPE_CHECKING:
    from torch import nn

    from blocks.specs import NetSpec

LATENCY_METHODS = ("measured", "table", "roofline")
ESTIMATE_LABEL = "roofline estimate from data-sheet peaks, not a measurement"
_TOP_KEYS = (
    "name",
    "description",
    "input_hw",
    "input_note",
    "threads",
    "budgets",
    "latency",
    "sources",
)
_REQUIRED = ("name", "description", "input_hw", "threads", "budgets", "latency")
_BUDGET_KEYS = ("params", "macs", "latency_ms", "memory_mib")
_METHOD_KEYS = {
    "measured": ("method", "backend"),
    "table": ("method", "table"),
    "roofline": ("method", "peak_gflops", "bandwidth_gbps"),
}


@dataclass(frozen=True)
class Budgets:
    """Default budgets of a device; None means no limit. MACs at the device's input size."""

    params: int | None = None
    macs: int | None = None
    latency_ms: float | None = None
    memory_mib: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in _BUDGET_KEYS}


@dataclass(frozen=True)
class LatencyMethod:
    """How latency is obtained: measured (backend), table (file) or roofline (peaks)."""

    method: str
    backend: str | None = None
    table: Path | None = None
    peak_gflops: float | None = None
    bandwidth_gbps: float | None = None

    @property
    def estimate(self) -> bool:
        """True for roofline figures, which are never measurements."""
        return self.method == "roofline"

    def describe(self) -> str:
        if self.method == "measured":
            return f"measured on this host ({self.backend})"
        if self.method == "table":
            return f"latency table {self.table.name if self.table else '?'}"
        return f"roofline ESTIMATE: {self.peak_gflops:g} GFLOP/s peak, {self.bandwidth_gbps:g} GB/s"


@dataclass(frozen=True)
class DeviceProfile:
    """A target device: LR input size (H, W), budgets, threads and latency method."""

    name: str
    description: str
    input_hw: tuple[int, int]
    threads: int
    budgets: Budgets
    latency: LatencyMethod
    input_note: str = ""
    sources: tuple[str, ...] = ()
    path: Path | None = field(default=None, compare=False)

    def to_dict(self) -> dict[str, Any]:
        lat: dict[str, Any] = {"method": self.latency.method, "estimate": self.latency.estimate}
        for key in _METHOD_KEYS[self.latency.method][1:]:
            value = getattr(self.latency, key)
            lat[key] = str(value) if isinstance(value, Path) else value
        return {
            "name": self.name,
            "description": self.description,
            "input_hw": list(self.input_hw),
            "input": format_hw(self.input_hw),
            "input_note": self.input_note,
            "threads": self.threads,
            "budgets": self.budgets.to_dict(),
            "latency": lat,
            "sources": list(self.sources),
        }


# ---- loading --------------------------------------------------------------------------------


def _devices_dir() -> Path:
    return Path(str(resources.files("profiles") / "devices"))


def device_names() -> list[str]:
    """Names of the shipped device profiles."""
    return sorted(p.stem for p in _devices_dir().glob("*.yaml"))


def _check_keys(data: dict[str, Any], valid: tuple[str, ...], where: str) -> None:
    unknown = sorted(set(map(str, data)) - set(valid))
    if unknown:
        raise UserError(
            f"{where}: unknown key(s) {', '.join(map(repr, unknown))}; valid: {', '.join(valid)}"
        )


def _int(value: Any, name: str, where: str, *, minimum: int = 1,
         maximum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise UserError(f"{where}: {name} must be an integer >= {minimum}; got {value!r}")
    if maximum is not None and value > maximum:
        raise UserError(f"{where}: {name} must be at most {maximum}; got {value!r}")
    return value


def _number(value: Any, name: str, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise UserError(f"{where}: {name} must be a positive number; got {value!r}")
    if not math.isfinite(value):
        raise UserError(f"{where}: {name} must be finite; got {value!r}")
    return float(value)


def _parse_hw(value: Any, where: str) -> tuple[int, int]:
    if isinstance(value, str):
        from profiles.units import parse_hw

        try:
            return parse_hw(value)
        except UserError as exc:
            raise UserError(f"{where}: input_hw: {exc}") from None
    if not isinstance(value, list) or len(value) != 2:
        raise UserError(f"{where}: input_hw is [H, W] or 'HxW' (LR pixels); got {value!r}")
    return _int(value[0], "input_hw height", where), _int(value[1], "input_hw width", where)


def _parse_budgets(data: Any, where: str) -> Budgets:
    if not isinstance(data, dict):
        raise UserError(
            f"{where}: budgets is a mapping of {', '.join(_BUDGET_KEYS)} (null allowed)"
        )
    _check_keys(data, _BUDGET_KEYS, f"{where}: budgets")
    out: dict[str, Any] = {}
    for key in _BUDGET_KEYS:
        value = data.get(key)
        if value is None:
            out[key] = None
        elif key in ("params", "macs"):
            out[key] = _int(value, f"budgets.{key}", where)
        else:
            out[key] = _number(value, f"budgets.{key}", where)
    return Budgets(**out)


def _parse_latency(data: Any, where: str, base: Path | None) -> LatencyMethod:
    if not isinstance(data, dict) or "method" not in data:
        raise UserError(
            f"{where}: latency is a mapping with a method: {', '.join(LATENCY_METHODS)}"
        )
    method = data["method"]
    if method not in LATENCY_METHODS:
        raise UserError(
            f"{where}: unknown latency method {method!r}; known: {', '.join(LATENCY_METHODS)}"
        )
    _check_keys(data, _METHOD_KEYS[method], f"{where}: latency ({method})")
    if method == "measured":
        from profiles.latency import BACKENDS

        backend = data.get("backend", "eager")
        if not isinstance(backend, str) or backend not in BACKENDS:  # [eager]: unhashable
            raise UserError(
                f"{where}: unknown latency backend {backend!r}; known: "
                f"{', '.join(BACKENDS.names())}"
            )
        return LatencyMethod("measured", backend=backend)
    if method == "table":
        table = data.get("table")
        if not isinstance(table, str) or not table:
            raise UserError(
                f"{where}: latency method 'table' needs 'table: FILE.json' "
                "(relative to the YAML file)"
            )
        p = Path(table)
        return LatencyMethod("table", table=p if p.is_absolute() or base is None else base / p)
    for key in ("peak_gflops", "bandwidth_gbps"):
        if key not in data:
            raise UserError(f"{where}: latency method 'roofline' needs {key!r}")
    return LatencyMethod(
        "roofline",
        peak_gflops=_number(data["peak_gflops"], "peak_gflops", where),
        bandwidth_gbps=_number(data["bandwidth_gbps"], "bandwidth_gbps", where),
    )


def parse_device(data: Any, *, path: Path | None = None, where: str = "device") -> DeviceProfile:
    """Validate plain data (from YAML) into a DeviceProfile; every problem is one line."""
    if not isinstance(data, dict):
        raise UserError(f"{where}: a device profile is a mapping; got {type(data).__name__}")
    _check_keys(data, _TOP_KEYS, where)
    missing = [k for k in _REQUIRED if k not in data]
    if missing:
        raise UserError(f"{where}: missing key(s) {', '.join(missing)}")
    name = data["name"]
    if not isinstance(name, str) or not name or name != name.lower():
        raise UserError(f"{where}: name must be a non-empty lower-case string; got {name!r}")
    sources = data.get("sources", [])
    if not isinstance(sources, list) or not all(isinstance(s, str) for s in sources):
        raise UserError(f"{where}: sources is a list of strings")
    return DeviceProfile(
        name=name,
        description=str(data["description"]),
        input_hw=_parse_hw(data["input_hw"], where),
        threads=_int(data["threads"], "threads", where, maximum=MAX_THREADS),
        budgets=_parse_budgets(data["budgets"], where),
        latency=_parse_latency(data["latency"], where, path.parent if path else None),
        input_note=str(data.get("input_note", "")),
        sources=tuple(sources),
        path=path,
    )


def load_device(name_or_path: str | Path) -> DeviceProfile:
    """A shipped device by name (``host-cpu``, ``rpi4``, ...) or a YAML file (safe loading)."""
    key = str(name_or_path)
    p = Path(key)
    if key in device_names():
        p = _devices_dir() / f"{key}.yaml"
    elif p.suffix.lower() not in (".yaml", ".yml") and not p.is_file():
        raise UserError(
            f"unknown device {key!r}; known: {', '.join(device_names())}, or a path to a YAML file"
        )
    try:
        text = p.read_text()
    except FileNotFoundError:
        raise UserError(f"device file not found: {p}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read device file {p}: {exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise UserError(f"{p}: malformed YAML: {' '.join(str(exc).split())[:160]}") from None
    return parse_device(data, path=p.resolve(), where=str(p))


def list_devices() -> list[DeviceProfile]:
    """Every shipped device profile, by name."""
    return [load_device(n) for n in device_names()]


# ---- roofline --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RooflineEstimate:
    """A roofline latency ESTIMATE; ``bound`` says which roof sets it (compute or memory)."""

    latency_ms: float
    compute_ms: float
    memory_ms: float
    bound: str
    label: str = ESTIMATE_LABEL


def roofline(macs: int, bytes_moved: int, device: DeviceProfile) -> RooflineEstimate:
    """The roofline estimate with both roofs: FLOPs = 2 x MACs over peak, bytes over bandwidth."""
    lat = device.latency
    if lat.method != "roofline" or lat.peak_gflops is None or lat.bandwidth_gbps is None:
        raise UserError(f"device {device.name!r} has latency method {lat.method!r}, not roofline")
    if macs < 0 or bytes_moved < 0:
        raise UserError(f"MACs and bytes must be >= 0; got {macs}, {bytes_moved}")
    compute_ms = 2 * macs / (lat.peak_gflops * 1e9) * 1e3
    memory_ms = bytes_moved / (lat.bandwidth_gbps * 1e9) * 1e3
    bound = "compute" if compute_ms >= memory_ms else "memory"
    return RooflineEstimate(max(compute_ms, memory_ms), compute_ms, memory_ms, bound)


def roofline_latency_ms(macs: int, bytes_moved: int, device: DeviceProfile) -> float:
    """ESTIMATE (ms): max(2 x macs / peak FLOP/s, bytes_moved / bandwidth), data-sheet peaks."""
    return roofline(macs, bytes_moved, device).latency_ms


def estimate_bytes_moved(
    model: nn.Module, input_hw: tuple[int, int], *, batch: int = 1, in_channels: int = 3
) -> int:
    """Bytes an unfused forward pass moves to and from memory: the roofline's memory model.

    Every aten op that is not a view reads all its tensor inputs (weights included, once per use)
    and writes all its outputs, in their dtype (float32: 4 bytes per element). One pass on the
    meta device (shapes only) on a copy of the model. No cache reuse and no operator fusion is
    assumed, so this is an upper bound on DRAM traffic; a runtime that fuses conv + activation, or
    whose activations stay in cache, moves less.
    """
    import copy

    import torch
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils._pytree import tree_leaves

    def nbytes(tree: Any) -> int:
        return sum(
            t.numel() * t.element_size() for t in tree_leaves(tree) if isinstance(t, torch.Tensor)
        )

    class ByteCounter(TorchDispatchMode):
        def __init__(self) -> None:
            super().__init__()
            self.bytes = 0

        def __torch_dispatch__(
            self, func: Any, types: Any, args: Any = (), kwargs: Any = None
        ) -> Any:
            out = func(*args, **(kwargs or {}))
            if not func.is_view and func.__name__.split(".")[0] not in _FREE_OPS:
                self.bytes += nbytes((args, kwargs or {})) + nbytes(out)
            return out

    meta = copy.deepcopy(model).to("meta").eval()
    x = torch.empty(batch, in_channels, *input_hw, device="meta")
    counter = ByteCounter()
    with torch.no_grad(), counter:
        meta(x)
    return counter.bytes


# Ops that move no data: bookkeeping and shape-only results.
_FREE_OPS = frozenset({"detach", "alias", "lift_fresh", "empty", "sym_size", "sym_stride"})


# ---- latency on a device, by its method -----------------------------------------------------


@dataclass(frozen=True)
class DeviceLatency:
    """A device latency: measured, predicted from a table, or a roofline ESTIMATE (``estimate``).

    ``label`` says which in words, for every output that shows the figure.
    """

    latency_ms: float
    method: str
    estimate: bool
    label: str
    latency_iqr_ms: float | None
    context: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "latency_ms": self.latency_ms,
            "latency_iqr_ms": self.latency_iqr_ms,
            "latency_method": self.method,
            "estimate": self.estimate,
            "label": self.label,
            "context": dict(self.context),
        }


def device_latency(
    spec: NetSpec,
    device: DeviceProfile,
    *,
    model: nn.Module | None = None,
    runs: int = 30,
    warmup: int = 5,
    macs: int | None = None,
) -> DeviceLatency:
    """Latency of ``spec`` on ``device`` at the device's input size, by the device's method.

    measured: ``measure_latency`` here with the device's backend and threads (``model`` is built
    from ``spec`` with seed 0 unless given). table: ``predict_latency_ms`` from the device's table
    (checked against the device name). roofline: an ESTIMATE from ``macs`` (counted by
    ``profiles.counting`` unless given) and ``estimate_bytes_moved``.
    """
    from blocks.build import build_network

    lat = device.latency
    base = {"device": device.name, "input_hw": list(device.input_hw), "latency_method": lat.method}
    if lat.method == "measured":
        from profiles.latency import measure_latency

        m = model if model is not None else build_network(spec, seed=0)
        r = measure_latency(
            m,
            device.input_hw,
            backend=lat.backend or "eager",
            threads=device.threads,
            runs=runs,
            warmup=warmup,
            device=device.name,
        )
        return DeviceLatency(
            r.latency_ms,
            "measured",
            False,
            f"measured ({lat.backend})",
            r.latency_iqr_ms,
            {**r.context, **base},
        )
    if lat.method == "table":
        from profiles.latency_table import load_table, predict_latency_ms

        assert lat.table is not None
        table = load_table(lat.table, device=device.name)
        if table.input_hw != device.input_hw:
            raise UserError(
                f"latency table {lat.table.name} was measured at "
                f"{format_hw(table.input_hw)}, device {device.name!r} uses "
                f"{format_hw(device.input_hw)}"
            )
        ms = predict_latency_ms(spec, table)
        return DeviceLatency(
            ms,
            "table",
            False,
            f"predicted from table {lat.table.name}",
            None,
            {**table.context(), **base},
        )
    m = model if model is not None else build_network(spec, seed=0)
    if macs is None:
        from profiles.counting import count_model

        macs = count_model(m, device.input_hw).macs
    moved = estimate_bytes_moved(m, device.input_hw)
    est = roofline(macs, moved, device)
    ctx = {
        **base,
        "macs": macs,
        "bytes_moved": moved,
        "peak_gflops": lat.peak_gflops,
        "bandwidth_gbps": lat.bandwidth_gbps,
        "compute_ms": est.compute_ms,
        "memory_ms": est.memory_ms,
        "bound": est.bound,
    }
    return DeviceLatency(est.latency_ms, "roofline", True, est.label, None, ctx)


def budget_rows(devices: list[DeviceProfile]) -> list[dict[str, Any]]:
    """One flat row per device for listings: name, description, input, budgets, method."""
    rows = []
    for d in devices:
        rows.append(
            {
                "name": d.name,
                "description": d.description,
                "input": format_hw(d.input_hw),
                "threads": d.threads,
                **d.budgets.to_dict(),
                "latency_method": d.latency.method,
                "estimate": d.latency.estimate,
                "latency": d.latency.describe(),
            }
        )
    return rows
