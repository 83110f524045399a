"""What one forward pass costs: params, MACs, FLOPs, NTIRE FLOPs, activations, convs, peak memory.

Counting is done the way the NTIRE/AIM efficient-SR challenges count (``ofsoundof/NTIRE2022_ESR``
``utils/model_summary.py``, itself from ``sovrasov/flops-counter.pytorch``): forward hooks on
module *calls*, one forward pass under ``torch.no_grad()`` on a zero NCHW tensor. A module reused
N times is counted N times (FDIWN applies its 3 FSWGs 6 times).

- ``macs``: multiply-accumulates of convs and linear layers, bias ignored. Conv:
  ``k_h*k_w * C_in/groups * C_out * H_out*W_out`` per image; transposed conv over the *input*
  positions (its true cost; NTIRE's and thop's formula over the output over-counts it by ~stride^2).
  Linear: ``in*out`` per row.
- ``flops`` = 2 x ``macs``, always under its own name.
- ``ntire_flops``: exactly the challenge's "FLOPs": conv MACs (Conv2d/ConvTranspose2d, NTIRE's
  output-size formula) + ``output.numel()`` of every call of an
  ``nn.ReLU/PReLU/ELU/LeakyReLU/ReLU6`` module + Linear ``in*out`` + BatchNorm2d ``numel`` (x2
  when affine). NOT counted, as there: ``nn.Sigmoid``, ``nn.GELU``, ``nn.Hardsigmoid``, every
  functional op (``F.interpolate``, ``F.max_pool2d``, ``torch.sigmoid``, element-wise add/mul),
  pooling, PixelShuffle, GroupNorm.
- ``activations``: ``output.numel()`` summed over every conv call; ``convs``: the number of conv
  calls.
- ``bias_adds``: output elements of conv/linear calls with a bias (the adds ``macs`` leaves out;
  ptflops counts them).
- ``skipped_modules`` / ``uncounted_ops``: tallies (calls, output elements) of the work no figure
  above counts: leaf modules by class, and aten ops run outside counted modules (views excluded).
  They are two views of the same skipped work; do not add them.

By default the pass runs on the ``meta`` device (shapes only, no arithmetic: ~0.1 s for E-RFDN at
256x256 instead of ~2 s), on a copy; a model that cannot run there (data-dependent shapes, tensors
created on the CPU inside ``forward``) is run for real on the CPU instead. Both give the same
counts. Two shortcuts keep the meta pass cheap for a search that screens many candidates (20-45 ms
a demo candidate before, ~0.1 ms once its blocks are known): slow shape-only ops are answered
directly (``profiles.meta_shapes``), and a spec of a chain skeleton is counted by parts, its
frame once per frame and input size and each block once per block spec and input size (counts
are per module call, so the parts add up to the whole pass; the tests compare the two).

Modes (``count_in_mode``): ``ntire`` = a 1x3x256x256 LR input whatever the scale, as the challenge
did; ``paper`` = the LR input of a 1280x720 HR output, ``(ceil(720/s), ceil(1280/s))``, i.e.
360x640 / 240x427 / 180x320 for x2/x3/x4 (ceil: IMDN x3 gives the published 71.5 G Mult-Adds;
``int(1280/3) = 426`` gives 71.3 G); ``plain`` = the caller's input size.

Peak memory (``peak_memory_mib``) is measured on the CPU; see its docstring for the method.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import math
import os
import weakref
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

from blocks.build import CHAIN_FRAMES, build_block, build_chain, build_network
from blocks.errors import UserError
from blocks.specs import BlockSpec, NetSpec
from profiles.meta_shapes import MetaShapes
from profiles.units import format_hw, parse_hw

__all__ = [
    "CONV_TYPES",
    "MODES",
    "NTIRE_ACTIVATIONS",
    "NTIRE_INPUT_HW",
    "PAPER_OUTPUT_HW",
    "PEAK_MEMORY_METHODS",
    "Counts",
    "OpTally",
    "count_in_mode",
    "count_model",
    "count_params",
    "measure_peak_memory_bytes",
    "mode_input_hw",
    "paper_input_hw",
    "parse_hw",
    "peak_memory_method",
    "peak_memory_mib",
]

MODES = ("ntire", "paper", "plain")
NTIRE_INPUT_HW: tuple[int, int] = (256, 256)
PAPER_OUTPUT_HW: tuple[int, int] = (720, 1280)  # height, width of the HR output

CONV_TYPES: tuple[type[nn.Module], ...] = (
    nn.Conv1d,
    nn.Conv2d,
    nn.Conv3d,
    nn.ConvTranspose1d,
    nn.ConvTranspose2d,
    nn.ConvTranspose3d,
)
#: the conv types NTIRE's FLOPs hook counts
NTIRE_CONV_TYPES: tuple[type[nn.Module], ...] = (nn.Conv2d, nn.ConvTranspose2d)
#: the activation modules whose output numel NTIRE adds to its FLOPs (subclasses included)
NTIRE_ACTIVATIONS: tuple[type[nn.Module], ...] = (
    nn.ReLU,
    nn.PReLU,
    nn.ELU,
    nn.LeakyReLU,
    nn.ReLU6,
)
_TRANSPOSED = (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)
_COUNTED = CONV_TYPES + NTIRE_ACTIVATIONS + (nn.Linear, nn.BatchNorm2d)
# aten ops that move no data and compute nothing (views are excluded by ``OpOverload.is_view``)
_BOOKKEEPING_OPS = frozenset(
    {"detach", "lift_fresh", "alias", "_unsafe_view", "_to_copy", "empty", "zeros"}
)


@dataclass(frozen=True)
class OpTally:
    """How often an op or module ran outside every counted figure, and the elements it output."""

    name: str
    calls: int
    elements: int


@dataclass(frozen=True)
class Counts:
    """One forward pass of one image (batch 1) at ``input_hw`` (LR height, width); raw integers."""

    params: int
    macs: int
    ntire_flops: int
    activations: int
    convs: int
    input_hw: tuple[int, int]
    bias_adds: int = 0
    mode: str = "plain"
    skipped_modules: tuple[OpTally, ...] = ()
    uncounted_ops: tuple[OpTally, ...] = ()
    flops: int = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "flops", 2 * self.macs)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: input_hw as [H, W], tallies as {name: {calls, elements}}."""
        out = asdict(self)
        out["input_hw"] = list(self.input_hw)
        for key in ("skipped_modules", "uncounted_ops"):
            out[key] = {
                t.name: {"calls": t.calls, "elements": t.elements} for t in getattr(self, key)
            }
        return out


def count_params(model: nn.Module | NetSpec) -> int:
    """All parameters (trainable or not, each shared tensor once); buffers are not parameters."""
    if isinstance(model, NetSpec):
        with torch.device("meta"):
            model = build_network(model)
    return sum(p.numel() for p in model.parameters())


def paper_input_hw(scale: int) -> tuple[int, int]:
    """LR (height, width) whose x``scale`` output covers 1280x720: (ceil(720/s), ceil(1280/s))."""
    if isinstance(scale, bool) or not isinstance(scale, int) or scale < 1:
        raise UserError(f"scale must be a positive integer; got {scale!r}")
    return math.ceil(PAPER_OUTPUT_HW[0] / scale), math.ceil(PAPER_OUTPUT_HW[1] / scale)


def mode_input_hw(
    mode: str, *, scale: int | None = None, input_hw: tuple[int, int] | str | None = None
) -> tuple[int, int]:
    """The LR input size of a counting mode: ntire 256x256, paper from ``scale``, plain as given."""
    if mode not in MODES:
        raise UserError(f"unknown counting mode {mode!r}; known: {', '.join(MODES)}")
    if isinstance(input_hw, str):
        input_hw = parse_hw(input_hw)
    if mode == "plain":
        if input_hw is None:
            raise UserError("mode 'plain' needs an input size HxW, e.g. 256x256")
        h, w = input_hw
        if h <= 0 or w <= 0:
            raise UserError(f"input size must be positive; got {format_hw(input_hw)}")
        return int(h), int(w)
    if input_hw is not None:
        raise UserError(
            f"mode {mode!r} fixes its own input size; an explicit size needs mode 'plain'"
        )
    if mode == "ntire":
        return NTIRE_INPUT_HW
    if scale is None:
        raise UserError("mode 'paper' needs the scale (the LR size is 1280x720 / scale)")
    return paper_input_hw(scale)


def count_in_mode(
    model: nn.Module | NetSpec,
    mode: str = "ntire",
    *,
    scale: int | None = None,
    input_hw: tuple[int, int] | str | None = None,
    on_meta: bool = True,
) -> Counts:
    """``count_model`` at the input size of ``mode`` (ntire / paper / plain); the scale of a NetSpec
    is used for paper mode unless ``scale`` is given."""
    if scale is None and isinstance(model, NetSpec):
        scale = model.scale
    hw = mode_input_hw(mode, scale=scale, input_hw=input_hw)
    return replace(count_model(model, hw, on_meta=on_meta), mode=mode)


# ----------------------------------------------------------------------------------------------
# the hooks


def _prod(values: Any) -> int:
    out = 1
    for v in values:
        out *= int(v)
    return out


def _numel(output: Any) -> int:
    return sum(t.numel() for t in tree_leaves(output) if isinstance(t, torch.Tensor))


class _Recorder:
    """Forward hooks that add every call of a counted module into the running totals."""

    def __init__(self) -> None:
        self.macs = 0
        self.ntire = 0
        self.activations = 0
        self.convs = 0
        self.bias_adds = 0
        self.params = 0
        self.depth = 0  # > 0 while inside a counted module (its aten ops are not "uncounted")
        self.skipped: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        self.ops: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        self.out_shape: tuple[int, ...] | None = None

    @classmethod
    def total(cls, parts: list[_Recorder]) -> _Recorder:
        """The sum of the counts of passes that together make one (parts stay unchanged)."""
        out = cls()
        for r in parts:
            out.params += r.params
            out.macs += r.macs
            out.ntire += r.ntire
            out.activations += r.activations
            out.convs += r.convs
            out.bias_adds += r.bias_adds
            for mine, theirs in ((out.skipped, r.skipped), (out.ops, r.ops)):
                for k, (calls, elements) in theirs.items():
                    mine[k][0] += calls
                    mine[k][1] += elements
        return out

    def enter(self, module: nn.Module, args: Any) -> None:
        self.depth += 1

    def counted(self, module: nn.Module, args: Any, output: Any) -> None:
        self.depth -= 1
        if isinstance(module, CONV_TYPES):
            out = output if isinstance(output, torch.Tensor) else tree_leaves(output)[0]
            k = _prod(module.kernel_size)
            cin, cout, g = module.in_channels, module.out_channels, module.groups
            if isinstance(module, _TRANSPOSED):
                x = args[0]
                positions_in = x.numel() // cin  # batch x input positions
                macs = k * cin * (cout // g) * positions_in
            else:
                macs = k * (cin // g) * out.numel()
            self.macs += macs
            if isinstance(module, NTIRE_CONV_TYPES):
                # NTIRE: prod(kernel) * C_in * (C_out // groups) * batch * output positions
                self.ntire += k * cin * (cout // g) * (out.numel() // cout)
            self.activations += out.numel()
            self.convs += 1
            if module.bias is not None:
                self.bias_adds += out.numel()
        elif isinstance(module, NTIRE_ACTIVATIONS):
            self.ntire += _numel(output)
        elif isinstance(module, nn.Linear):
            rows = output.numel() // module.out_features
            macs = module.in_features * module.out_features * rows
            self.macs += macs
            self.ntire += macs
            if module.bias is not None:
                self.bias_adds += output.numel()
        elif isinstance(module, nn.BatchNorm2d):
            self.ntire += output.numel() * (2 if module.affine else 1)

    def skipped_module(self, module: nn.Module, args: Any, output: Any) -> None:
        tally = self.skipped[type(module).__name__]
        tally[0] += 1
        tally[1] += _numel(output)

    @contextlib.contextmanager
    def attached(self, model: nn.Module) -> Iterator[None]:
        handles = []
        try:
            for m in model.modules():  # each module once; a reused module's hook fires per call
                if isinstance(m, _COUNTED):
                    handles.append(m.register_forward_pre_hook(self.enter))
                    handles.append(m.register_forward_hook(self.counted))
                elif next(m.children(), None) is None:
                    handles.append(m.register_forward_hook(self.skipped_module))
            yield
        finally:
            for h in handles:
                h.remove()


class _UncountedOps(TorchDispatchMode):
    """Tallies aten ops that run outside counted modules (element-wise, sigmoid, pooling, ...)."""

    def __init__(self, recorder: _Recorder) -> None:
        super().__init__()
        self.recorder = recorder

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001, ANN204
        out = func(*args, **(kwargs or {}))
        if self.recorder.depth == 0 and not func.is_view:
            name = func.overloadpacket.__name__
            if name not in _BOOKKEEPING_OPS:
                tally = self.recorder.ops[name]
                tally[0] += 1
                tally[1] += _numel(out)
        return out


@contextlib.contextmanager
def _eval_mode(model: nn.Module) -> Iterator[None]:
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


def _meta_copy(model: nn.Module | NetSpec) -> nn.Module | None:
    """The model on the meta device (built there for a spec, a deep copy for a module), or None."""
    try:
        if isinstance(model, NetSpec):
            with torch.device("meta"), MetaShapes():  # its parameter initialisers do nothing
                return build_network(model)
        return copy.deepcopy(model).to("meta")
    except Exception:  # noqa: BLE001 - an un-copyable or un-movable model runs on the CPU instead
        return None


def _run_counts(
    model: nn.Module, input_hw: tuple[int, int], in_channels: int, device: torch.device | str,
    tally_ops: bool = True,
    shape_shortcuts: bool = True,
) -> _Recorder:
    rec = _Recorder()
    x = torch.zeros(1, in_channels, *input_hw, device=device)
    ops = _UncountedOps(rec) if tally_ops else contextlib.nullcontext()
    # on meta, slow shape-only ops are answered directly (profiles.meta_shapes); the tally sits
    # above it in the mode stack, so it still sees every op
    fast = MetaShapes() if shape_shortcuts and torch.device(device).type == "meta" else None
    with _eval_mode(model), torch.no_grad(), rec.attached(model), fast or contextlib.nullcontext():
        with ops:
            out = model(x)
    rec.params = sum(p.numel() for p in model.parameters())
    rec.out_shape = tuple(out.shape) if isinstance(out, torch.Tensor) else None
    return rec


# A chain of blocks counted by parts: its frame (head, fusion, tail) once per frame and input
# size, each block once per block spec and input size, then summed. Counting is per module call,
# so the sum is the whole pass's count (tests/profiles/test_fast_counting.py checks it over the zoo
# and the search spaces); a search that screens many candidates built from the same few blocks
# counts each block once instead of once per candidate.


class _StandIn(nn.Module):
    """A block's place in its frame's pass: passes its input on (a chain's blocks keep shape)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


_FRAMES: dict[tuple[Any, ...], _Recorder] = {}


def _frame_record(spec: NetSpec, hw: tuple[int, int], in_channels: int, tally: bool) -> _Recorder:
    key = (spec.skeleton, spec.scale, spec.channels, spec.num_blocks, spec.fuse_activation, hw,
           in_channels, tally)
    rec = _FRAMES.get(key)
    if rec is None:
        with torch.device("meta"), MetaShapes():
            frame = build_chain(spec, lambda _: _StandIn())
        rec = _run_counts(frame, hw, in_channels, "meta", tally)
        rec.skipped.pop(_StandIn.__name__, None)
        if len(_FRAMES) >= 1024:
            _FRAMES.clear()
        _FRAMES[key] = rec
    return rec


@functools.lru_cache(maxsize=4096)
def _block_record(block: BlockSpec, hw: tuple[int, int], tally: bool) -> _Recorder | None:
    """One block's pass at the LR size, or None if it changes its input's shape."""
    with torch.device("meta"), MetaShapes():
        module = build_block(block)
    rec = _run_counts(module, hw, block.channels, "meta", tally)
    return rec if rec.out_shape == (1, block.channels, *hw) else None


def _count_chain(spec: NetSpec, hw: tuple[int, int], in_channels: int,
                 tally: bool) -> _Recorder | None:
    """A chain skeleton's counts by parts, or None where it cannot be counted that way."""
    if spec.skeleton not in CHAIN_FRAMES or any(b.channels != spec.channels for b in spec.blocks):
        return None
    try:
        blocks = [_block_record(b, hw, tally) for b in spec.blocks]
        frame = _frame_record(spec, hw, in_channels, tally)
    except Exception:  # noqa: BLE001 - the whole-network pass below counts it or raises
        return None
    if any(b is None for b in blocks):
        return None
    return _Recorder.total([frame, *blocks])


def count_model(
    model: nn.Module | NetSpec,
    input_hw: tuple[int, int] = NTIRE_INPUT_HW,
    *,
    in_channels: int = 3,
    on_meta: bool = True,
    tally_ops: bool = True,
) -> Counts:
    """Count one forward pass of batch 1 at LR ``input_hw`` (height, width); see the module doc.

    ``on_meta`` runs the pass on the meta device (shapes only) and falls back to a real CPU pass
    where the model cannot run there; ``on_meta=False`` always runs on the CPU (on the model
    itself; the hooks are removed afterwards and the train/eval mode restored).
    ``tally_ops=False`` skips the tally of aten ops outside counted modules (``uncounted_ops``
    stays empty; every count is unchanged): about 40% faster, for callers that need params and
    MACs only, such as a search screening candidates against budgets.
    """
    hw = (int(input_hw[0]), int(input_hw[1]))
    if hw[0] <= 0 or hw[1] <= 0:
        raise UserError(f"input size must be positive; got {format_hw(hw)}")
    rec = None
    if on_meta and isinstance(model, NetSpec):
        rec = _count_chain(model, hw, in_channels, tally_ops)
    if rec is None and on_meta:
        meta = _meta_copy(model)
        if meta is not None:
            try:
                rec = _run_counts(meta, hw, in_channels, "meta", tally_ops)
            except Exception:  # noqa: BLE001 - e.g. a CPU tensor made in forward; a real error
                rec = None  # recurs in the CPU pass below and is raised from there
    if rec is None:
        module = build_network(model, seed=0) if isinstance(model, NetSpec) else model
        device = next((p.device for p in module.parameters()), torch.device("cpu"))
        rec = _run_counts(module, hw, in_channels, device, tally_ops)
    return Counts(
        params=rec.params,
        macs=rec.macs,
        ntire_flops=rec.ntire,
        activations=rec.activations,
        convs=rec.convs,
        input_hw=hw,
        bias_adds=rec.bias_adds,
        skipped_modules=tuple(OpTally(k, *v) for k, v in sorted(rec.skipped.items())),
        uncounted_ops=tuple(OpTally(k, *v) for k, v in sorted(rec.ops.items())),
    )


# ----------------------------------------------------------------------------------------------
# peak memory

PEAK_MEMORY_METHODS = ("tensors", "allocator")

_METHOD_TEXT = {
    "tensors": (
        "CPU, one forward pass of batch 1 under torch.no_grad(); peak of the summed bytes of "
        "tensor storages created during the pass and alive at once (tracked per aten op by a "
        "TorchDispatchMode, freed when the storage dies; views and in-place results share their "
        "storage); the input and the weights are excluded, the output included; kernel-internal "
        "workspaces are not seen. Not torch.cuda.max_memory_allocated (NTIRE's figure: GPU "
        "caching allocator, weights, input and cuDNN workspaces, full-size validation images)."
    ),
    "allocator": (
        "CPU, one forward pass of batch 1 under torch.no_grad(); peak of the running sum of the "
        "CPU allocator's allocation/free events recorded by torch.profiler "
        "(profile_memory=True), so kernel workspaces are included; memory held before the pass "
        "(input, weights) excluded. "
        "Not torch.cuda.max_memory_allocated (NTIRE's GPU figure)."
    ),
}


def peak_memory_method(method: str = "tensors") -> str:
    """One paragraph saying how ``peak_memory_mib(..., method=method)`` measures."""
    if method not in _METHOD_TEXT:
        raise UserError(
            f"unknown peak-memory method {method!r}; known: {', '.join(PEAK_MEMORY_METHODS)}"
        )
    return _METHOD_TEXT[method]


class _LiveStorages(TorchDispatchMode):
    """Running and peak bytes of the storages that aten ops create (not views of their inputs)."""

    def __init__(self) -> None:
        super().__init__()
        self.live_bytes = 0
        self.peak_bytes = 0
        self._live: dict[int, int] = {}

    def _release(self, key: int) -> None:
        self.live_bytes -= self._live.pop(key, 0)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001, ANN204
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        inputs = {
            t.untyped_storage()._cdata
            for t in tree_leaves((args, kwargs))
            if isinstance(t, torch.Tensor)
        }
        for t in tree_leaves(out):
            if not isinstance(t, torch.Tensor):
                continue
            storage = t.untyped_storage()
            key = storage._cdata
            nbytes = storage.nbytes()
            if key in inputs or key in self._live or nbytes == 0:
                continue
            self._live[key] = nbytes
            self.live_bytes += nbytes
            self.peak_bytes = max(self.peak_bytes, self.live_bytes)
            # Storages keep their Python object while the C++ storage lives (PyObject
            # preservation), so this fires when the memory is actually released.
            weakref.finalize(storage, self._release, key)
        return out


@contextlib.contextmanager
def _stderr_silenced() -> Iterator[None]:
    """The profiler's C++ side prints start/stop lines on fd 2 in some builds; hide them."""
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _allocator_peak(model: nn.Module, x: torch.Tensor) -> int:
    from torch._C._profiler import _EventType
    from torch.profiler import ProfilerActivity, profile

    with (
        _stderr_silenced(),
        torch.no_grad(),
        profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof,
    ):
        out = model(x)
        del out
    events = []
    stack = list(prof.profiler.kineto_results.experimental_event_tree())
    while stack:
        event = stack.pop()
        stack.extend(event.children)
        if event.typed[0] == _EventType.Allocation:
            alloc = event.typed[1]
            if alloc.device.type == "cpu":
                events.append((event.start_time_ns, alloc.alloc_size))
    live = peak = 0
    for _, size in sorted(events, key=lambda e: e[0]):
        live += size
        peak = max(peak, live)
    return peak


def measure_peak_memory_bytes(
    model: nn.Module | NetSpec,
    input_hw: tuple[int, int],
    *,
    method: str = "tensors",
    in_channels: int = 3,
) -> int:
    """Peak activation bytes of one CPU forward pass of batch 1 at LR ``input_hw``; see
    ``peak_memory_method(method)`` for what is measured (``tensors`` or ``allocator``)."""
    peak_memory_method(method)  # validates
    module = build_network(model, seed=0) if isinstance(model, NetSpec) else model
    if any(p.device.type != "cpu" for p in module.parameters()):
        raise UserError("peak memory is measured on the CPU; move the model to the CPU first")
    x = torch.zeros(1, in_channels, *input_hw)
    with _eval_mode(module):
        if method == "allocator":
            return _allocator_peak(module, x)
        tracker = _LiveStorages()
        with torch.no_grad(), tracker:
            out = module(x)
            del out
        return tracker.peak_bytes


def peak_memory_mib(
    model: nn.Module | NetSpec,
    input_hw: tuple[int, int],
    *,
    method: str = "tensors",
    in_channels: int = 3,
) -> float:
    """Peak activation memory of one forward pass on the CPU, in MiB (2^20 bytes), MEASURED.

    Method ``tensors`` (default): a TorchDispatchMode sees every aten op of one forward pass of
    batch 1 under ``torch.no_grad()`` (eval mode) on a zero tensor; each new storage an op returns
    (not one of its inputs' storages: views and in-place results) adds its bytes until the storage
    is freed; the figure is the peak of that running sum. The input and the weights are excluded,
    the output is included; buffers a kernel allocates and frees inside itself are not seen.
    Method ``allocator``: the peak of the running sum of the CPU allocator's allocation and free
    events recorded by ``torch.profiler`` (``profile_memory=True``), which sees kernel workspaces
    too. On the zoo at 128x128 and E-RFDN at 256x256 the two agree to the byte.

    This is not NTIRE's memory figure, ``torch.cuda.max_memory_allocated()``: that is the GPU
    caching allocator's peak over a validation run on full-size images, including the weights, the
    input and cuDNN workspaces.
    """
    return (
        measure_peak_memory_bytes(model, input_hw, method=method, in_channels=in_channels) / 2**20
    )
