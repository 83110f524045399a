"""Latency on this host: eager, eager channels_last, TorchScript and ONNX Runtime (CPU EP) backends.

One protocol for every figure: a fixed, stated thread count; ``warmup`` untimed runs; ``runs`` timed
runs of one forward pass each; the median in ms with the IQR (p75 - p25). The clock is ``wall``
(``time.perf_counter_ns``, the latency) unless ``clock="cpu"`` is asked for: the CPU time of the
calling thread (``time.thread_time_ns``), allowed with one thread only (torch and ORT then compute
on the calling thread). It equals the wall latency on an idle core and leaves out the time other
processes hold the core, so it is the steadier figure on a shared host; it is always labelled.
Inputs are NCHW float32 in [0, 1) from a fixed seed. Every result carries its context (backend,
threads, input size, batch, torch / ONNX Runtime versions, CPU model, device key). torch's thread
count is restored afterwards. ONNX output is checked against torch before it is timed.

Never time inside workers that share the cores with other work: the figures are then noise.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import importlib.metadata
import os
import platform
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from blocks.errors import UserError
from blocks.registry import Registry
from profiles.export import (
    ONNX_OPSET,
    ExportError,
    ExportMismatchError,
    check_onnx,
    example_input,
    export_onnx,
    import_onnxruntime,
    onnx_session,
    onnx_tolerance,
    trace_torchscript,
)

DEFAULT_WARMUP = 10
DEFAULT_RUNS = 50
HOST_DEVICE = "host-cpu"
# ARM "CPU part" ids (/proc/cpuinfo) of the cores our device profiles name.
_ARM_PARTS = {
    "0xd03": "Cortex-A53",
    "0xd07": "Cortex-A57",
    "0xd08": "Cortex-A72",
    "0xd0b": "Cortex-A76",
    "0xd05": "Cortex-A55",
    "0xd09": "Cortex-A73",
}


def available_cpus() -> int:
    """CPUs this process may run on (its affinity mask), else os.cpu_count()."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def default_threads() -> int:
    """The default intra-op thread count: min(2, available CPUs)."""
    return max(1, min(2, available_cpus()))


def check_hw(input_hw: Sequence[int]) -> tuple[int, int]:
    """Validate an (H, W) pair of positive ints."""
    hw = tuple(input_hw) if isinstance(input_hw, list | tuple) else ()
    if len(hw) != 2 or any(isinstance(v, bool) or not isinstance(v, int) or v <= 0 for v in hw):
        raise UserError(f"input size must be two positive integers (H, W); got {input_hw!r}")
    return int(hw[0]), int(hw[1])


def _check_positive(value: int, name: str, *, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise UserError(f"{name} must be an integer >= {minimum}; got {value!r}")
    return value


@functools.lru_cache(maxsize=1)
def cpu_model() -> str:
    """The CPU model: /proc/cpuinfo 'model name' (x86) or board + core (ARM), else platform."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        text = ""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() not in fields:
            fields[key.strip()] = value.strip()
    if fields.get("model name"):
        return fields["model name"]
    core = _ARM_PARTS.get(fields.get("CPU part", "").lower())
    board = fields.get("Model") or fields.get("Hardware")
    named = " / ".join(v for v in (board, core) if v)
    return named or platform.processor() or platform.machine() or "unknown"


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


@functools.lru_cache(maxsize=1)
def _host_context() -> tuple[tuple[str, Any], ...]:
    return (
        ("torch_version", torch.__version__),
        ("onnxruntime_version", _version("onnxruntime")),
        ("cpu_model", cpu_model()),
        ("cpu_count", available_cpus()),
        ("machine", platform.machine()),
        ("python_version", platform.python_version()),
    )


def host_context() -> dict[str, Any]:
    """What identifies this host in a figure: torch / ORT versions, CPU model and count, machine."""
    return dict(_host_context())


@contextlib.contextmanager
def torch_threads(threads: int) -> Iterator[None]:
    """Set torch's intra-op thread count for the block and restore the previous one afterwards."""
    from profiles.devices import MAX_THREADS

    if not 1 <= threads <= MAX_THREADS:
        raise UserError(f"threads must be 1..{MAX_THREADS}; got {threads}")
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@dataclass
class CpuShare:
    """Process CPU time / (wall time x threads) over a timed stretch; None until it ends."""

    value: float | None = None


@contextlib.contextmanager
def cpu_share_meter(threads: int) -> Iterator[CpuShare]:
    """Measure the CPU share: about 1 when the cores were ours; well below 1, other work ran on
    them and the figures are inflated. (Spinning threads count as busy, so it can read high.)"""
    out = CpuShare()
    c0, w0 = time.process_time(), time.perf_counter()
    try:
        yield out
    finally:
        wall = time.perf_counter() - w0
        out.value = round((time.process_time() - c0) / (wall * threads), 3) if wall > 0 else None


def summarize_ms(samples_ms: Sequence[float]) -> tuple[float, float]:
    """(median, IQR = p75 - p25) of the samples, in ms."""
    a = np.asarray(samples_ms, dtype=float)
    p25, p50, p75 = np.percentile(a, [25, 50, 75])
    return float(p50), float(p75 - p25)


@dataclass(frozen=True)
class LatencyResult:
    """One latency figure: median and IQR over ``runs`` timed forward passes, with its context."""

    latency_ms: float
    latency_iqr_ms: float
    runs: int
    warmup: int
    context: dict[str, Any]
    samples_ms: tuple[float, ...] = field(default=(), repr=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (without the raw samples)."""
        return {
            "latency_ms": self.latency_ms,
            "latency_iqr_ms": self.latency_iqr_ms,
            "runs": self.runs,
            "warmup": self.warmup,
            "context": dict(self.context),
        }


@dataclass(frozen=True)
class BackendFailure:
    """A backend that could not time a model (export failed, output mismatch, missing package)."""

    backend: str
    reason: str
    kind: str  # "export", "mismatch" or "missing-dependency"

    def to_dict(self) -> dict[str, Any]:
        return {"backend": self.backend, "failed": self.kind, "reason": self.reason}


@dataclass
class Runner:
    """One prepared model: ``run()`` does one forward pass; ``info`` joins the result's context."""

    run: Callable[[], object]
    info: dict[str, Any] = field(default_factory=dict)
    cleanup: Callable[[], None] | None = None

    def close(self) -> None:
        if self.cleanup is not None:
            self.cleanup()
            self.cleanup = None


# A backend prepares (model, example input, threads) -> Runner; the model is not modified.
BACKENDS: Registry[Callable[[nn.Module, torch.Tensor, int], Runner]] = Registry("latency backend")


def _torch_runner(model: nn.Module, x: torch.Tensor) -> Callable[[], object]:
    def run() -> object:
        with torch.inference_mode():
            return model(x)

    return run


def _eval_copy(model: nn.Module) -> nn.Module:
    return copy.deepcopy(model).eval()


@BACKENDS.register("eager")
def _prepare_eager(model: nn.Module, x: torch.Tensor, threads: int) -> Runner:
    return Runner(_torch_runner(_eval_copy(model), x), {"memory_format": "contiguous"})


@BACKENDS.register("channels_last")
def _prepare_channels_last(model: nn.Module, x: torch.Tensor, threads: int) -> Runner:
    m = _eval_copy(model).to(memory_format=torch.channels_last)
    xc = x.contiguous(memory_format=torch.channels_last)
    return Runner(_torch_runner(m, xc), {"memory_format": "channels_last"})


TORCHSCRIPT_PREPARE_RUNS = 3


@BACKENDS.register("torchscript")
def _prepare_torchscript(model: nn.Module, x: torch.Tensor, threads: int) -> Runner:
    traced = trace_torchscript(_eval_copy(model), x, freeze=True)
    run = _torch_runner(traced, x)
    for _ in range(TORCHSCRIPT_PREPARE_RUNS):  # the profiling executor optimises on early calls
        run()
    return Runner(
        run, {"torchscript": "trace+freeze", "torchscript_prepare_runs": TORCHSCRIPT_PREPARE_RUNS}
    )


@BACKENDS.register("onnxruntime")
def _prepare_onnxruntime(model: nn.Module, x: torch.Tensor, threads: int) -> Runner:
    import_onnxruntime()  # fail early and clearly when it is missing
    m = _eval_copy(model)
    tmp = Path(tempfile.mkdtemp(prefix="distillnas-onnx-"))
    try:
        path = export_onnx(m, tmp / "model.onnx", example=x, dynamic_hw=True)
        sess = onnx_session(path, threads=threads)
        with torch.inference_mode():
            tol = onnx_tolerance(m(x))
        diff = check_onnx(path, m, x, session=sess)
        if not diff <= tol:
            raise ExportMismatchError(
                f"ONNX output of {type(model).__name__} differs from torch by {diff:.3g} "
                f"(tolerance {tol:.3g}); not timed"
            )
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    feed = {sess.get_inputs()[0].name: x.numpy()}
    ort = import_onnxruntime()
    info = {
        "onnx_opset": ONNX_OPSET,
        "onnx_dynamic_hw": True,
        "onnx_max_abs_diff": diff,
        "onnx_tolerance": tol,
        "execution_provider": "CPUExecutionProvider",
        "graph_optimization": "ORT_ENABLE_ALL",
        "onnxruntime_version": ort.__version__,
    }
    return Runner(
        lambda: sess.run(None, feed), info, lambda: shutil.rmtree(tmp, ignore_errors=True)
    )


def backend_names() -> list[str]:
    """The registered latency backends."""
    return BACKENDS.names()


def prepare_runner(
    model: nn.Module, example: torch.Tensor, *, backend: str, threads: int
) -> Runner:
    """Prepare ``model`` on ``backend`` for input ``example`` (export + check for ONNX)."""
    return BACKENDS.get(backend)(model, example, threads)


# clock name -> (nanosecond counter, its name in the context)
CLOCKS: dict[str, tuple[Callable[[], int], str]] = {
    "wall": (time.perf_counter_ns, "perf_counter_ns"),
    "cpu": (time.thread_time_ns, "thread_time_ns"),
}


def check_clock(clock: str, threads: int) -> str:
    """Validate a clock name; ``cpu`` needs one thread (other threads' work would be missed)."""
    if clock not in CLOCKS:
        raise UserError(f"unknown clock {clock!r}; known: {', '.join(CLOCKS)}")
    if clock == "cpu" and threads != 1:
        raise UserError(
            f"clock 'cpu' times the calling thread only: it needs threads=1, got {threads}"
        )
    return clock


def time_interleaved(
    runs_fns: Sequence[Callable[[], object]],
    *,
    warmup: int,
    runs: int,
    clock: str = "wall",
    settle: int = 0,
) -> list[list[float]]:
    """Time several prepared runs interleaved, round by round; per-run lists of ms.

    Each round times every function once; odd rounds go in reverse order (A B, B A, ...), so that
    drift and order effects fall on all of them alike. Warm-up rounds are not timed. ``settle``
    untimed calls go right before each timed one, so the timed call finds its own weights and
    input in the caches (steady state) rather than those of the function before it.
    """
    counter = CLOCKS[clock][0]
    n = len(runs_fns)
    out: list[list[float]] = [[] for _ in range(n)]
    for r in range(warmup + runs):
        order = range(n) if r % 2 == 0 else range(n - 1, -1, -1)
        for i in order:
            fn = runs_fns[i]
            for _ in range(settle if r >= warmup else 0):
                fn()
            t0 = counter()
            fn()
            ms = (counter() - t0) / 1e6
            if r >= warmup:
                out[i].append(ms)
    return out


def _context(
    backend: str,
    threads: int,
    input_hw: tuple[int, int],
    batch: int,
    device: str | None,
    clock: str = "wall",
) -> dict[str, Any]:
    return {
        "backend": backend,
        "threads": threads,
        "input_hw": [input_hw[0], input_hw[1]],
        "batch": batch,
        "device": device or HOST_DEVICE,
        "statistic": "median",
        "clock": clock,
        "timer": CLOCKS[clock][1],
        **host_context(),
    }


def check_protocol(threads: int | None, warmup: int, runs: int, batch: int = 1) -> int:
    """Validate the measuring protocol's counts; returns the thread count (default resolved)."""
    t = default_threads() if threads is None else _check_positive(threads, "threads")
    _check_positive(warmup, "warmup", minimum=0)
    _check_positive(runs, "runs")
    _check_positive(batch, "batch")
    return t


def measure_latency(
    model: nn.Module,
    input_hw: tuple[int, int],
    *,
    backend: str = "eager",
    threads: int | None = None,
    warmup: int = DEFAULT_WARMUP,
    runs: int = DEFAULT_RUNS,
    batch: int = 1,
    device: str | None = None,
    clock: str = "wall",
) -> LatencyResult:
    """Median and IQR latency (ms) of one forward pass on a (batch, 3, H, W) input.

    ``threads``: torch intra-op threads (ORT intra_op_num_threads), default min(2, CPUs).
    ``device``: the device key stored in the context (default ``host-cpu``). ``clock``: ``wall``
    (default) or ``cpu`` (one thread only; see the module doc). Raises UserError for
    an unknown backend, ExportError when the backend cannot export the model (the other backends
    are unaffected), ImportError when onnxruntime is missing.
    """
    (result,) = measure_interleaved(
        [model],
        input_hw,
        backend=backend,
        threads=threads,
        warmup=warmup,
        runs=runs,
        batch=batch,
        device=device,
        clock=clock,
        settle=0,
    )
    return result


def measure_interleaved(
    models: Sequence[nn.Module],
    input_hw: tuple[int, int],
    *,
    backend: str,
    threads: int | None,
    warmup: int,
    runs: int,
    batch: int,
    device: str | None,
    clock: str = "wall",
    settle: int = 1,
) -> list[LatencyResult]:
    """Prepare every model on one backend and time them interleaved (A B, B A, ...); one result
    each. ``settle`` untimed calls precede each timed call (see ``time_interleaved``)."""
    hw = check_hw(input_hw)
    t = check_protocol(threads, warmup, runs, batch)
    check_clock(clock, t)
    backend_fn = BACKENDS.get(backend)
    x = example_input(hw, batch=batch)
    runners: list[Runner] = []
    with torch_threads(t):
        try:
            for m in models:
                runners.append(backend_fn(m, x, t))
            with cpu_share_meter(t) as share:
                samples = time_interleaved(
                    [r.run for r in runners], warmup=warmup, runs=runs, clock=clock, settle=settle
                )
        finally:
            for r in runners:
                r.close()
    base = {**_context(backend, t, hw, batch, device, clock), "cpu_share": share.value}
    if len(models) > 1:
        base["interleaved"] = "ab-ba" + (
            f", {settle} untimed settle call(s) before each timed call" if settle else ""
        )
    out = []
    for s, r in zip(samples, runners, strict=True):
        med, iqr = summarize_ms(s)
        out.append(LatencyResult(med, iqr, runs, warmup, {**base, **r.info}, tuple(s)))
    return out


def measure_backends(
    model: nn.Module,
    input_hw: tuple[int, int],
    *,
    backends: Sequence[str] | None = None,
    threads: int | None = None,
    warmup: int = DEFAULT_WARMUP,
    runs: int = DEFAULT_RUNS,
    batch: int = 1,
    device: str | None = None,
    clock: str = "wall",
) -> dict[str, LatencyResult | BackendFailure]:
    """``measure_latency`` on several backends (default all); a backend that cannot export the
    model or lacks its package yields a BackendFailure and the others still run."""
    names = list(backends) if backends is not None else backend_names()
    for name in names:
        BACKENDS.get(name)  # unknown names fail before anything is timed
    out: dict[str, LatencyResult | BackendFailure] = {}
    for name in names:
        try:
            out[name] = measure_latency(
                model,
                input_hw,
                backend=name,
                threads=threads,
                warmup=warmup,
                runs=runs,
                batch=batch,
                device=device,
                clock=clock,
            )
        except ExportMismatchError as exc:
            out[name] = BackendFailure(name, str(exc), "mismatch")
        except ExportError as exc:
            out[name] = BackendFailure(name, str(exc), "export")
        except ImportError as exc:
            out[name] = BackendFailure(name, str(exc), "missing-dependency")
    return out


@dataclass(frozen=True)
class ABResult:
    """Interleaved A/B timing: both distributions and ``ratio`` = median over pairs of b_i / a_i
    (below 1: B is faster), with the IQR of the paired ratios."""

    a: LatencyResult
    b: LatencyResult
    ratio: float
    ratio_iqr: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "a": self.a.to_dict(),
            "b": self.b.to_dict(),
            "ratio_b_over_a": self.ratio,
            "ratio_iqr": self.ratio_iqr,
        }


def compare_ab(
    model_a: nn.Module,
    model_b: nn.Module,
    input_hw: tuple[int, int],
    *,
    backend: str = "eager",
    threads: int | None = None,
    warmup: int = DEFAULT_WARMUP,
    runs: int = DEFAULT_RUNS,
    batch: int = 1,
    device: str | None = None,
    clock: str = "wall",
) -> ABResult:
    """Time A and B interleaved (A B, B A, A B, ...) on the same input, backend and threads;
    each timed call follows one untimed call of the same model (steady-state caches)."""
    a, b = measure_interleaved(
        [model_a, model_b],
        input_hw,
        backend=backend,
        threads=threads,
        warmup=warmup,
        runs=runs,
        batch=batch,
        device=device,
        clock=clock,
        settle=1,
    )
    ratio, ratio_iqr = summarize_ms(np.asarray(b.samples_ms) / np.asarray(a.samples_ms))
    return ABResult(a, b, ratio, ratio_iqr)
