"""Export a model to ONNX (one file, dynamic H/W) or TorchScript; check an ONNX file against torch.

ONNX goes through the TorchScript-based exporter (``dynamo=False``), chosen deliberately: in torch
2.13 the default dynamo exporter needs the ``onnxscript`` package, takes about 3 s per model and
writes weights to a side ``.onnx.data`` file; the TorchScript exporter writes one self-contained
file and its ORT latency is the same. Both exporters trace: a Python branch on the input size (the
replicate padding of ESA/EFSA for maps under 7 px) is frozen at ``example_hw``. Export at an
example of at least 15 x 15 px (the default is 64 x 64); the file then runs at any LR size >= 15.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from torch import nn

from blocks.errors import UserError

ONNX_OPSET = 17
ONNX_INPUT = "lr"
ONNX_OUTPUT = "sr"
DEFAULT_EXAMPLE_HW = (64, 64)
ONNX_INSTALL_HINT = "pip install distillnas[onnx]"


class ExportError(UserError):
    """A model that a backend cannot export (an unsupported op, a failed trace); one line."""


class ExportMismatchError(ExportError):
    """An exported model whose output differs from torch's beyond the tolerance."""


def import_onnxruntime() -> Any:
    """Import onnxruntime lazily; the ImportError says what to install."""
    try:
        import onnxruntime
    except ImportError:
        raise ImportError(
            f"the ONNX Runtime backend needs onnxruntime: {ONNX_INSTALL_HINT}"
        ) from None
    return onnxruntime


def _first_line(exc: BaseException) -> str:
    lines = [ln for ln in str(exc).strip().splitlines() if ln.strip()]
    return lines[0] if lines else type(exc).__name__


@contextlib.contextmanager
def _quiet_export() -> Iterator[None]:
    """Silence the exporter's deprecation and tracer warnings (the export is checked afterwards)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.simplefilter("ignore", UserWarning)
        yield


def example_input(
    hw: tuple[int, int], *, batch: int = 1, channels: int = 3, seed: int = 0
) -> torch.Tensor:
    """A reproducible NCHW float32 tensor in [0, 1) of shape (batch, channels, H, W)."""
    g = torch.Generator().manual_seed(seed)
    return torch.rand(batch, channels, hw[0], hw[1], generator=g)


def export_onnx(
    model: nn.Module,
    path: str | Path,
    *,
    example_hw: tuple[int, int] = DEFAULT_EXAMPLE_HW,
    dynamic_hw: bool = True,
    opset: int = ONNX_OPSET,
    example: torch.Tensor | None = None,
) -> Path:
    """Export ``model`` (NCHW float32 in, NCHW out) to one self-contained ONNX file at ``path``.

    Input ``lr``, output ``sr``; with ``dynamic_hw`` the batch, height and width axes are dynamic.
    ``example`` overrides the traced input (its channel count then need not be 3). Raises
    ExportError naming the model and the first line of the exporter's complaint.
    """
    p = Path(path)
    x = example if example is not None else example_input(example_hw)
    kwargs: dict[str, Any] = {}
    if dynamic_hw:
        kwargs["dynamic_axes"] = {
            ONNX_INPUT: {0: "batch", 2: "height", 3: "width"},
            ONNX_OUTPUT: {0: "batch", 2: "out_height", 3: "out_width"},
        }
    was_training = model.training
    model.eval()
    try:
        with _quiet_export(), torch.no_grad(), contextlib.redirect_stdout(io.StringIO()):
            torch.onnx.export(
                model,
                (x,),
                str(p),
                dynamo=False,
                opset_version=opset,
                input_names=[ONNX_INPUT],
                output_names=[ONNX_OUTPUT],
                do_constant_folding=True,
                **kwargs,
            )
    except Exception as exc:  # noqa: BLE001 - any exporter failure is reported as one kind
        p.unlink(missing_ok=True)
        raise ExportError(
            f"ONNX export (opset {opset}) failed for {type(model).__name__}: {_first_line(exc)}"
        ) from exc
    finally:
        model.train(was_training)
    return p


def onnx_session(path: str | Path, *, threads: int) -> Any:
    """An ONNX Runtime session on the CPU execution provider, intra-op threads = ``threads``.

    One inter-op thread, sequential execution, all graph optimisations.
    """
    ort = import_onnxruntime()
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.log_severity_level = 3  # errors only
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def check_onnx(
    path: str | Path, model: nn.Module, image_tensor: torch.Tensor, *, session: Any = None
) -> float:
    """Max |ORT(path)(x) - model(x)| over all output elements for NCHW ``image_tensor``.

    Runs torch under no_grad in eval mode; ``session`` reuses an open ORT session. A run that ORT
    refuses (e.g. an input below the size the export supports) raises ExportError.
    """
    sess = session if session is not None else onnx_session(path, threads=1)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            ref = model(image_tensor).float().numpy()
    finally:
        model.train(was_training)
    try:
        (got,) = sess.run(None, {sess.get_inputs()[0].name: image_tensor.numpy()})
    except Exception as exc:  # noqa: BLE001 - ORT raises its own exception types
        raise ExportError(
            f"ONNX Runtime cannot run {Path(path).name} on input "
            f"{tuple(image_tensor.shape)}: {_first_line(exc)}"
        ) from exc
    if got.shape != ref.shape:
        raise ExportMismatchError(
            f"ONNX output shape {tuple(got.shape)} differs from torch {tuple(ref.shape)}"
        )
    return float(abs(got - ref).max()) if ref.size else 0.0


def onnx_tolerance(reference: torch.Tensor, *, atol: float = 1e-4, rtol: float = 1e-4) -> float:
    """The largest acceptable max-abs difference: atol + rtol * max|reference|."""
    return atol + rtol * float(reference.abs().max()) if reference.numel() else atol


def export_torchscript(
    model: nn.Module,
    path: str | Path,
    *,
    example_hw: tuple[int, int] = DEFAULT_EXAMPLE_HW,
    example: torch.Tensor | None = None,
) -> Path:
    """Trace ``model`` in eval mode at ``example_hw`` and save it with ``torch.jit.save``.

    Tracing, not scripting: the blocks use Python constructs TorchScript cannot compile. A branch
    on the input size is frozen at the example, as for ONNX. Raises ExportError when tracing fails.
    """
    p = Path(path)
    traced = trace_torchscript(model, example if example is not None else example_input(example_hw))
    with _quiet_export():
        torch.jit.save(traced, str(p))
    return p


def trace_torchscript(model: nn.Module, example: torch.Tensor, *, freeze: bool = False) -> Any:
    """``torch.jit.trace`` in eval mode (optionally frozen); ExportError when it fails."""
    was_training = model.training
    model.eval()
    try:
        with _quiet_export(), torch.no_grad():
            traced = torch.jit.trace(model, (example,), check_trace=False)
            if freeze:
                traced = torch.jit.freeze(traced)
    except Exception as exc:  # noqa: BLE001
        raise ExportError(
            f"TorchScript trace failed for {type(model).__name__}: {_first_line(exc)}"
        ) from exc
    finally:
        model.train(was_training)
    return traced
