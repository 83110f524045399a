"""Our conv MACs beside ptflops (both backends, named), thop and ``FlopCounterMode / 2``.

Every third-party counter runs on its own deep copy of the model: thop leaves ``total_ops`` /
``total_params`` buffers in the state_dict of every module it has no rule for, ptflops' aten
backend leaves forward hooks on the top-level children, and ptflops' pytorch backend writes
attributes onto modules while it runs. All run under ``torch.no_grad()`` with inference mode
switched off (ptflops' aten backend counts 0 under ``torch.inference_mode()``), batch 1, a zero
input.

``probe_counters()`` runs every counter on one-op probe modules; ``SKIPPED_OPS`` states, per
counter, what it does with each op, and a test checks those statements against the probes.
"""

from __future__ import annotations

import contextlib
import copy
import io
import statistics
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from blocks.build import build_network
from blocks.registry import Registry
from blocks.specs import NetSpec
from profiles.counting import count_model
from profiles.units import format_hw

__all__ = [
    "COUNTERS",
    "PROBES",
    "SKIPPED_OPS",
    "CounterBehaviour",
    "CounterResult",
    "crosscheck_model",
    "crosscheck_table",
    "probe_counters",
    "run_counter",
]


@dataclass(frozen=True)
class CounterResult:
    """One counter's figure for one model: ``macs`` (its "MACs"; FlopCounterMode's FLOPs / 2),
    its parameter count where it reports one, and the wall time of its call in seconds."""

    counter: str
    macs: int
    params: int | None
    seconds: float


@contextlib.contextmanager
def _counting_context() -> Iterator[None]:
    with torch.inference_mode(False), torch.no_grad():
        yield


def _zeros(shape: tuple[int, ...]) -> torch.Tensor:
    return torch.zeros(1, *shape)


def _quiet() -> contextlib.ExitStack:
    stack = contextlib.ExitStack()
    stack.enter_context(contextlib.redirect_stdout(io.StringIO()))
    stack.enter_context(contextlib.redirect_stderr(io.StringIO()))
    return stack


def _hooks(model: nn.Module, shape: tuple[int, ...]) -> tuple[int, int | None]:
    counts = count_model(model, (shape[1], shape[2]), in_channels=shape[0])
    return counts.macs, counts.params


def _hooks_cpu(model: nn.Module, shape: tuple[int, ...]) -> tuple[int, int | None]:
    counts = count_model(model, (shape[1], shape[2]), in_channels=shape[0], on_meta=False)
    return counts.macs, counts.params


def _ptflops(backend: str, **config: Any) -> Callable[[nn.Module, tuple[int, ...]], tuple]:
    def run(model: nn.Module, shape: tuple[int, ...]) -> tuple[int, int | None]:
        try:
            from ptflops import get_model_complexity_info
            from ptflops.flops_counter import FLOPS_BACKEND
        except ImportError as exc:
            raise ImportError("the ptflops cross-check needs ptflops: pip install ptflops") from exc
        ignore = config.get("ignore_modules", [])
        extra = {k: v for k, v in config.items() if k != "ignore_modules"}
        sink = io.StringIO()
        with _quiet():
            macs, params = get_model_complexity_info(
                model,
                tuple(shape),
                print_per_layer_stat=False,
                as_strings=False,
                input_constructor=_zeros,
                ost=sink,
                verbose=False,
                ignore_modules=ignore,
                backend=FLOPS_BACKEND(backend),
                backend_specific_config=extra,
            )
        if macs is None:
            raise RuntimeError(f"ptflops ({backend} backend) failed on {type(model).__name__}")
        return int(macs), int(params)

    return run


def _thop(model: nn.Module, shape: tuple[int, ...]) -> tuple[int, int | None]:
    try:
        import thop
    except ImportError as exc:
        raise ImportError("the thop cross-check needs thop: pip install thop") from exc
    with _quiet():
        ops, params = thop.profile(model, inputs=(_zeros(shape),), verbose=False)
    return int(round(float(ops))), int(round(float(params)))


def _flopcounter(model: nn.Module, shape: tuple[int, ...]) -> tuple[int, int | None]:
    from torch.utils.flop_counter import FlopCounterMode

    mode = FlopCounterMode(display=False)
    with mode:
        model(_zeros(shape))
    return mode.get_total_flops() // 2, None  # it counts FLOPs = 2 x MACs


_ACTIVATION_AND_NORM_MODULES = [
    nn.ReLU,
    nn.LeakyReLU,
    nn.PReLU,
    nn.ELU,
    nn.ReLU6,
    nn.GELU,
    nn.GroupNorm,
    nn.BatchNorm2d,
    nn.MaxPool2d,
    nn.AvgPool2d,
    nn.AdaptiveAvgPool2d,
    nn.AdaptiveMaxPool2d,
    nn.Upsample,
]

#: name -> (function(model, (C, H, W)) -> (macs, params), runs on a deep copy?, what it is)
COUNTERS: Registry[tuple[Callable[..., tuple], bool, str]] = Registry("counter")
COUNTERS.add("hooks", (_hooks, False, "profiles.counting forward hooks (meta-device pass)"))
COUNTERS.add("hooks-cpu", (_hooks_cpu, False, "profiles.counting forward hooks, real CPU pass"))
COUNTERS.add(
    "ptflops-pytorch",
    (
        _ptflops("pytorch"),
        True,
        "ptflops 0.7 backend=FLOPS_BACKEND.PYTORCH (module hooks + "
        "patched torch.nn.functional / torch.add / torch.mul)",
    ),
)
COUNTERS.add(
    "ptflops-aten",
    (
        _ptflops("aten"),
        True,
        "ptflops 0.7 backend=FLOPS_BACKEND.ATEN (TorchDispatchMode; "
        "aten.convolution / mm / addmm / bmm only)",
    ),
)
COUNTERS.add("thop", (_thop, True, "thop.profile 0.1.1 (module hooks on exact types)"))
COUNTERS.add(
    "flopcounter", (_flopcounter, True, "torch.utils.flop_counter.FlopCounterMode, total FLOPs / 2")
)
# decomposition runs of ptflops' pytorch backend (benchmark only)
COUNTERS.add(
    "ptflops-pytorch-nofunc",
    (
        _ptflops("pytorch", count_functional=False),
        True,
        "ptflops pytorch backend with count_functional=False (module hooks only)",
    ),
)
COUNTERS.add(
    "ptflops-pytorch-convonly",
    (
        _ptflops("pytorch", count_functional=False, ignore_modules=_ACTIVATION_AND_NORM_MODULES),
        True,
        "ptflops pytorch backend, no functional patching, activation/norm/pool modules ignored",
    ),
)

MAIN_COUNTERS = ("hooks", "ptflops-pytorch", "ptflops-aten", "thop", "flopcounter")


def run_counter(
    name: str, model: nn.Module, input_shape: tuple[int, int, int], *, repeat: int = 1
) -> CounterResult:
    """Run one counter on ``model`` (a fresh deep copy per run where the counter mutates it) for a
    (C, H, W) input of batch 1; ``seconds`` is the median over ``repeat`` runs, copies untimed."""
    fn, needs_copy, _ = COUNTERS.get(name)
    times = []
    for _ in range(max(1, repeat)):
        target = copy.deepcopy(model) if needs_copy else model
        with _counting_context():
            start = time.perf_counter()
            macs, params = fn(target, tuple(input_shape))
            times.append(time.perf_counter() - start)
    return CounterResult(name, int(macs), params, statistics.median(times))


def _rel(value: int | None, ref: int) -> float | None:
    if value is None or ref == 0:
        return None
    return (value - ref) / ref


def crosscheck_model(
    model: nn.Module | NetSpec,
    input_hw: tuple[int, int],
    *,
    in_channels: int = 3,
    counters: Iterable[str] = MAIN_COUNTERS,
    decompose: bool = False,
    repeat: int = 1,
) -> dict[str, Any]:
    """One row: our conv MACs, each counter's figure and time, and each one's relative difference.

    Keys: ``input_hw``, ``params``, ``macs``, ``ntire_flops``, ``bias_adds``, then per counter
    ``<name>_macs``, ``<name>_rel`` ((theirs - ours) / ours), ``<name>_params`` where reported and
    ``<name>_s``. ``decompose`` adds ptflops' pytorch backend without functional patching and
    without activation/norm/pool modules, so its surplus over ours splits into functional ops,
    activation-type modules and the rest (bias adds, shared-module multiplicity). Times are the
    median of ``repeat`` runs (the decomposition runs are timed once).
    """
    module = build_network(model, seed=0) if isinstance(model, NetSpec) else model
    hw = (int(input_hw[0]), int(input_hw[1]))
    counts = count_model(module, hw, in_channels=in_channels)  # also warms the meta kernels
    row: dict[str, Any] = {
        "input_hw": format_hw(hw),
        "params": counts.params,
        "macs": counts.macs,
        "ntire_flops": counts.ntire_flops,
        "bias_adds": counts.bias_adds,
    }
    counters_list = list(counters)
    names = list(counters_list)
    if decompose:
        names += [
            n
            for n in ("ptflops-pytorch", "ptflops-pytorch-nofunc", "ptflops-pytorch-convonly")
            if n not in names
        ]
    for name in names:
        reps = repeat if name in counters_list else 1
        res = run_counter(name, module, (in_channels, *hw), repeat=reps)
        key = name.replace("-", "_")
        row[f"{key}_macs"] = res.macs
        row[f"{key}_rel"] = _rel(res.macs, counts.macs)
        if res.params is not None:
            row[f"{key}_params"] = res.params
        row[f"{key}_s"] = res.seconds
    if decompose:
        full, nofunc = row["ptflops_pytorch_macs"], row["ptflops_pytorch_nofunc_macs"]
        convonly = row["ptflops_pytorch_convonly_macs"]
        row["ptflops_functional"] = full - nofunc
        row["ptflops_activation_modules"] = nofunc - convonly
        row["ptflops_convonly_minus_bias"] = convonly - counts.bias_adds
    return row


def crosscheck_table(
    models: dict[str, nn.Module | NetSpec],
    input_hw: tuple[int, int],
    *,
    counters: Iterable[str] = MAIN_COUNTERS,
    decompose: bool = False,
) -> Any:
    """``crosscheck_model`` for each named model, as a pandas DataFrame (one row per model)."""
    import pandas as pd

    rows = []
    for name, model in models.items():
        rows.append(
            {
                "model": name,
                **crosscheck_model(model, input_hw, counters=counters, decompose=decompose),
            }
        )
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------------------------
# probes: one op each, to measure what every counter does with it


class _Fn(nn.Module):
    """A module that calls ``fn``; probes look functions up at call time (as model code does),
    so that ptflops' patching of ``torch.nn.functional`` takes effect."""

    def __init__(self, fn: Callable[[torch.Tensor], torch.Tensor]) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(x)


class _SubclassConv(nn.Conv2d):
    """A Conv2d subclass (like FDIWN's MeanShift)."""


class _Wrap(nn.Module):
    def __init__(self, act: nn.Module) -> None:
        super().__init__()
        self.act = act

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(x)


class _SharedActivation(nn.Module):
    """One LeakyReLU registered under three parents (itself and two wrappers), called twice."""

    def __init__(self) -> None:
        super().__init__()
        self.act = nn.LeakyReLU(0.05)
        self.a = _Wrap(self.act)
        self.b = _Wrap(self.act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.b(self.a(x))


def _wn_conv() -> nn.Module:
    from torch.nn.utils.parametrizations import weight_norm

    return weight_norm(nn.Conv2d(4, 4, 3, padding=1))


PROBE_SHAPE = (4, 8, 8)
_NUMEL = 4 * 8 * 8

#: name -> (factory, reference count, what the reference is)
PROBES: dict[str, tuple[Callable[[], nn.Module], int, str]] = {
    "conv3x3": (lambda: nn.Conv2d(4, 4, 3, padding=1), 9 * 4 * 4 * 64, "conv MACs"),
    "conv3x3 no bias": (
        lambda: nn.Conv2d(4, 4, 3, padding=1, bias=False),
        9 * 4 * 4 * 64,
        "conv MACs",
    ),
    "conv3x3 weight_norm": (_wn_conv, 9 * 4 * 4 * 64, "conv MACs"),
    "conv3x3 subclass": (lambda: _SubclassConv(4, 4, 3, padding=1), 9 * 4 * 4 * 64, "conv MACs"),
    "convtranspose 2x2 s2": (
        lambda: nn.ConvTranspose2d(4, 4, 2, stride=2, bias=False),
        4 * 4 * 4 * 64,
        "true MACs (input positions)",
    ),
    "nn.ReLU": (nn.ReLU, _NUMEL, "output elements"),
    "nn.LeakyReLU": (lambda: nn.LeakyReLU(0.05), _NUMEL, "output elements"),
    "nn.LeakyReLU shared by 3 parents, 2 calls": (
        _SharedActivation,
        2 * _NUMEL,
        "output elements of both calls",
    ),
    "nn.GELU": (nn.GELU, _NUMEL, "output elements"),
    "nn.Sigmoid": (nn.Sigmoid, _NUMEL, "output elements"),
    "torch.sigmoid": (lambda: _Fn(lambda x: torch.sigmoid(x)), _NUMEL, "output elements"),
    "F.hardsigmoid": (lambda: _Fn(lambda x: F.hardsigmoid(x)), _NUMEL, "output elements"),
    "F.gelu": (lambda: _Fn(lambda x: F.gelu(x)), _NUMEL, "output elements"),
    "x + y": (lambda: _Fn(lambda x: x + x), _NUMEL, "output elements"),
    "x * y": (lambda: _Fn(lambda x: x * x), _NUMEL, "output elements"),
    "torch.add": (lambda: _Fn(lambda x: torch.add(x, x)), _NUMEL, "output elements"),
    "nn.PixelShuffle(2)": (lambda: nn.PixelShuffle(2), _NUMEL, "output elements"),
    "F.interpolate bilinear x2": (
        lambda: _Fn(lambda x: F.interpolate(x, scale_factor=2, mode="bilinear")),
        4 * _NUMEL,
        "output elements",
    ),
    "F.max_pool2d(3, 2)": (lambda: _Fn(lambda x: F.max_pool2d(x, 3, 2)), _NUMEL, "input elements"),
    "nn.MaxPool2d(3, 2)": (lambda: nn.MaxPool2d(3, 2), _NUMEL, "input elements"),
    "nn.GroupNorm(2, 4)": (lambda: nn.GroupNorm(2, 4), _NUMEL, "output elements"),
    "nn.BatchNorm2d": (lambda: nn.BatchNorm2d(4), _NUMEL, "output elements"),
    "mean over H, W": (
        lambda: _Fn(lambda x: x.mean(dim=(2, 3), keepdim=True)),
        _NUMEL,
        "input elements",
    ),
}

_PROBE_COUNTERS = ("ntire", "hooks", "ptflops-pytorch", "ptflops-aten", "thop", "flopcounter")


def _probe_value(counter: str, module: nn.Module) -> int:
    if counter == "ntire":
        with _counting_context():
            return count_model(module, PROBE_SHAPE[1:], in_channels=PROBE_SHAPE[0]).ntire_flops
    return run_counter(counter, module, PROBE_SHAPE).macs


def probe_counters(counters: Iterable[str] = _PROBE_COUNTERS) -> Any:
    """What each counter counts for each one-op probe on a 1x4x8x8 input (a DataFrame).

    Columns: probe, reference (the exact MACs of a conv, else the elements the op touches),
    reference_is, then one column per counter with its raw count; ``ntire`` is
    ``Counts.ntire_flops``, ``hooks`` is ``Counts.macs``.
    """
    import pandas as pd

    rows = []
    for name, (factory, ref, what) in PROBES.items():
        torch.manual_seed(0)
        module = factory().eval()
        row: dict[str, Any] = {"probe": name, "reference": ref, "reference_is": what}
        for counter in counters:
            row[counter] = _probe_value(counter, module)
        rows.append(row)
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class CounterBehaviour:
    """What one counter does with the probe ops, as measured by ``probe_counters()``.

    ``counted`` maps each probe the counter counts to its count / the probe's reference (1.0 =
    exactly the conv MACs, or the elements the op touches); every other probe is skipped (0).
    ``notes`` says why, from the counter's source and the zoo runs.
    """

    counted: dict[str, float]
    notes: str

    def skipped(self) -> list[str]:
        """The probes this counter counts as zero."""
        return [p for p in PROBES if p not in self.counted]


_CONVS_EXACT = {
    "conv3x3": 1.0,
    "conv3x3 no bias": 1.0,
    "conv3x3 weight_norm": 1.0,
    "conv3x3 subclass": 1.0,
    "convtranspose 2x2 s2": 1.0,
}
_BIAS = 1 + 256 / 9216  # a 4->4 3x3 conv with bias on 8x8: MACs + one add per output element

# Measured on torch 2.13, ptflops 0.7.5, thop 0.1.1; tests/profiles/test_crosscheck.py re-measures.
SKIPPED_OPS: dict[str, CounterBehaviour] = {
    "hooks": CounterBehaviour(
        dict(_CONVS_EXACT),
        "Conv MACs only, bias ignored, any nn.Conv* by isinstance (subclasses and "
        "weight_norm-parametrized convs too); a transposed conv over its input positions. "
        "Everything else is tallied (Counts.bias_adds, skipped_modules, uncounted_ops), not "
        "counted.",
    ),
    "ntire": CounterBehaviour(
        {
            "conv3x3": 1.0,
            "conv3x3 no bias": 1.0,
            "conv3x3 weight_norm": 1.0,
            "conv3x3 subclass": 1.0,
            "convtranspose 2x2 s2": 4.0,
            "nn.ReLU": 1.0,
            "nn.LeakyReLU": 1.0,
            "nn.LeakyReLU shared by 3 parents, 2 calls": 1.0,
            "nn.BatchNorm2d": 2.0,
        },
        "The challenge's FLOPs: conv MACs (a transposed conv over its OUTPUT positions, so "
        "stride^2 too many) + output numel of every call of ReLU/PReLU/ELU/LeakyReLU/ReLU6 modules "
        "+ BatchNorm2d 2 x numel. GELU, sigmoid and every functional op are free.",
    ),
    "ptflops-pytorch": CounterBehaviour(
        {
            "conv3x3": _BIAS,
            "conv3x3 no bias": 1.0,
            "convtranspose 2x2 s2": 1.0,
            "nn.ReLU": 2.0,
            "nn.LeakyReLU": 1.0,
            "nn.LeakyReLU shared by 3 parents, 2 calls": 3.0,
            "nn.GELU": 2.0,
            "F.gelu": 1.0,
            "torch.add": 1.0,
            "F.interpolate bilinear x2": 1.0,
            "F.max_pool2d(3, 2)": 1.0,
            "nn.MaxPool2d(3, 2)": 2.0,
            "nn.GroupNorm(2, 4)": 2.0,
            "nn.BatchNorm2d": 2.0,
        },
        "Module hooks looked up by EXACT type, so weight_norm-parametrized convs (class "
        "ParametrizedConv2d) and Conv2d subclasses (FDIWN's MeanShift) count 0. Adds bias. "
        "nn.ReLU, nn.GELU and nn.MaxPool2d count twice: the module hook plus the patched "
        "F.relu/F.gelu/F.max_pool2d their forward calls. A module registered under several "
        "parents (RFDB's one shared LeakyReLU) is summed once per parent over all its calls. "
        "torch.add/torch.mul are patched but the + and * operators are not; sigmoid, "
        "hardsigmoid, PixelShuffle and mean are free.",
    ),
    "ptflops-aten": CounterBehaviour(
        {
            "conv3x3": _BIAS,
            "conv3x3 no bias": 1.0,
            "conv3x3 weight_norm": _BIAS,
            "conv3x3 subclass": _BIAS,
            "convtranspose 2x2 s2": 1.0,
        },
        "A TorchDispatchMode counting aten.convolution (plus bias adds) and mm/addmm/bmm only, so "
        "every conv is found whatever its module class; nothing else counts. Returns 0 under "
        "torch.inference_mode() (use torch.no_grad()); leaves forward hooks on the model's "
        "top-level children.",
    ),
    "thop": CounterBehaviour(
        {
            "conv3x3": 1.0,
            "conv3x3 no bias": 1.0,
            "convtranspose 2x2 s2": 4.0,
            "nn.BatchNorm2d": 4.0,
        },
        "Module hooks by EXACT type: parametrized and subclassed convs count 0. Conv MACs without "
        "bias; a transposed conv over its output positions (stride^2 too many); BatchNorm "
        "2 x numel, doubled again when affine. ReLU/LeakyReLU/PixelShuffle/pooling are zero-op "
        "rules; GELU, sigmoid and GroupNorm have no rule; functional ops are unseen. Leaves "
        "total_ops/total_params buffers in the state_dict of modules without a rule.",
    ),
    "flopcounter": CounterBehaviour(
        dict(_CONVS_EXACT),
        "torch.utils.flop_counter.FlopCounterMode at the aten level: convolution (and "
        "mm/addmm/bmm/attention) FLOPs, which are 2 x MACs; halved here. Bias ignored; "
        "every conv found, transposed ones right. Nothing else counts.",
    ),
}
