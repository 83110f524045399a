"""``distillnas train``: train a zoo model or spec file under a named proxy protocol and save it.

Writes into ``--out``: ``weights.pt`` (plain state_dict of the architecture; EMA weights when the
protocol uses EMA), ``spec.json``, ``train.json`` (result, protocol, data, curve) and
``checkpoint.pt`` (for resuming: running the same command again continues where it stopped).
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from blocks.errors import UserError
from profiles.devices_cli import threads_arg

if TYPE_CHECKING:
    from search.proxies import ProxyProtocol

DEFAULT_PROXY = "medium"
# what ``select`` exports into its folder: train's outputs beside them would be another model
EXPORT_FILES = ("export.json", "model.onnx", "model.ts")
# what ``save_outputs`` writes beside the run's checkpoint
OUTPUT_FILES = ("weights.pt", "spec.json", "train.json")


#: the torch device types a command can train or score on (availability is checked when used)
_TORCH_DEVICE = re.compile(r"^(cpu|cuda|mps|xpu)(:\d+)?$")


def torch_device_arg(text: str) -> str:
    """``--device`` / ``--train-device``: cpu, cuda, cuda:1, mps or xpu. torch itself would take
    'meta' and others, which then fail deep inside training as an internal error."""
    if not _TORCH_DEVICE.match(text):
        raise argparse.ArgumentTypeError(
            f"expected a torch device such as cpu, cuda or cuda:1, got {text!r}")
    return text


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def register(subparsers: Any) -> None:
    """Add the ``train`` command."""
    from search.proxies import protocol_names

    p = subparsers.add_parser(
        "train",
        help="train a model or spec under a proxy protocol; saves weights.pt + spec.json",
        description="Train MODEL_OR_SPEC (a zoo name or a .json/.yaml spec) with L1 + Adam "
        "under a named proxy protocol, scoring validation Y-PSNR at checkpoints. "
        "Running the same command again resumes from OUT/checkpoint.pt.",
    )
    p.add_argument("model", metavar="MODEL_OR_SPEC", help="zoo name or spec file")
    budget = p.add_mutually_exclusive_group()
    budget.add_argument(
        "--steps",
        type=_positive_int,
        metavar="N",
        help="optimizer steps (overrides the protocol's budget)",
    )
    budget.add_argument(
        "--minutes",
        type=_positive_float,
        metavar="M",
        help="training wall time in minutes, evaluation excluded (not "
        "reproducible across machines; overrides the protocol's budget)",
    )
    p.add_argument(
        "--scale",
        type=int,
        choices=(2, 3, 4),
        help="upscaling factor (default: the spec's, or 4 for a zoo name)",
    )
    p.add_argument(
        "--proxy",
        default=DEFAULT_PROXY,
        metavar="NAME",
        help=f"proxy protocol: {', '.join(protocol_names())} (default {DEFAULT_PROXY})",
    )
    p.add_argument(
        "--residual",
        choices=("bicubic", "none"),
        help="override the protocol's bicubic-residual proxy device ('none' trains "
        "the architecture's own output, so weights.pt is a standalone model)",
    )
    p.add_argument(
        "--data",
        metavar="DIR",
        help="data root with T91/, BSD200/, Set5/ ... "
        "(default: $DISTILLNAS_DATA, then ../shared/data, then the embedded photos)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed for weights and patches (default 0)")
    p.add_argument(
        "--threads", type=threads_arg, metavar="N", help="torch threads (default: torch's)"
    )
    p.add_argument("--device", default="cpu", type=torch_device_arg,
                   help="torch device (default cpu)")
    p.add_argument(
        "--out", metavar="DIR", help="output folder (default runs/train/NAME-PROXY-xS-seedN)"
    )
    p.add_argument(
        "--no-resume", action="store_true", help="start afresh even if OUT/checkpoint.pt exists"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.add_argument("--json", action="store_true", help="print train.json's result as JSON")
    p.set_defaults(func=run_train)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "model"


def check_data_arg(data: str | None, protocol: ProxyProtocol) -> None:
    """``--data``, checked before any work: an existing folder, and only for a protocol (or
    supernet recipe) that reads a data root (``demo`` trains on the embedded photos)."""
    if data is None:
        return
    if not Path(data).is_dir():
        what = "is a file, not a folder" if Path(data).exists() else "no such folder"
        raise UserError(f"--data {data}: {what}; give the data folder that holds T91/, "
                        "BSD200/ and Set5/ (or DIV2K/)")
    if protocol.train_data == "embedded":
        from search.proxies import PROTOCOLS

        readers = [n for n in PROTOCOLS.names() if PROTOCOLS.get(n).train_data != "embedded"]
        name = protocol.name.split("@", 1)[0]  # 'demo', not 'demo@4steps'
        raise UserError(f"--data is not used by proxy {name!r}: it trains and scores on the "
                        f"embedded images; --data applies to the proxies {', '.join(readers)} "
                        "(drop --data, or pick one of those)")


def _check_out_dir(out: Path) -> None:
    """Refuse an ``--out`` that train would leave describing two models: an export folder
    (``select``'s), or one holding weights/spec/train.json without a training checkpoint. A
    folder with ``checkpoint.pt`` of a train run is this command's own: it resumes (or, with
    --no-resume, starts afresh) there."""
    from search.train import CHECKPOINT_NAME, load_checkpoint

    if not out.is_dir():
        return  # missing: created; not a folder: ensure_output_dir says so
    export = [n for n in EXPORT_FILES if (out / n).exists()]
    if export:
        raise UserError(
            f"--out {out} holds an exported model ({', '.join(export)}); train would replace "
            "its weights.pt and spec.json and leave the rest: use another --out"
        )
    ckpt = out / CHECKPOINT_NAME
    if ckpt.exists():
        load_checkpoint(ckpt)  # one-line UserError unless it is a training checkpoint
        return
    clash = [n for n in OUTPUT_FILES if (out / n).exists()]
    if clash:
        raise UserError(
            f"--out {out} already holds {', '.join(clash)} but no {CHECKPOINT_NAME} of a "
            "train run; not overwriting them: use another --out"
        )


def run_train(args: argparse.Namespace) -> int:
    """Resolve model, protocol and data, train, write the outputs; 0 when complete."""
    from blocks.zoo import ZOO, resolve_spec
    from search.paths import ensure_output_dir
    from search.proxies import TrainData, get_protocol
    from search.train import save_outputs, train

    spec = resolve_spec(args.model, args.scale)
    protocol = get_protocol(args.proxy)
    if args.steps is not None:
        protocol = protocol.with_budget(steps=args.steps)
    elif args.minutes is not None:
        protocol = protocol.with_budget(seconds=args.minutes * 60.0)
    if args.residual is not None:
        protocol = replace(protocol, residual=None if args.residual == "none" else "bicubic")
    name = args.model if args.model in ZOO else Path(args.model).stem
    out = (
        Path(args.out)
        if args.out
        else (
            Path("runs") / "train" / _slug(f"{name}-{protocol.name}-x{spec.scale}-seed{args.seed}")
        )
    )
    check_data_arg(args.data, protocol)
    _check_out_dir(out)
    ensure_output_dir(out)
    data = TrainData.for_protocol(protocol, args.data)
    result = train(
        spec,
        data=data,
        protocol=protocol,
        seed=args.seed,
        device=args.device,
        threads=args.threads,
        out_dir=out,
        resume=not args.no_resume,
        progress=not args.no_progress,
    )
    paths = save_outputs(
        out,
        result,
        spec=spec,
        protocol=protocol,
        data=data,
        extra={"command": "train", "model": args.model},
    )
    if args.json:
        print(
            json.dumps(
                {
                    **result.to_dict(),
                    "out": str(out),
                    "files": {k: str(v) for k, v in paths.items()},
                },
                indent=2,
            )
        )
    else:
        _print_summary(result, out, protocol.residual)
    if result.status != "complete":
        print(f"distillnas: error: training {result.status}: {result.message}", file=sys.stderr)
        return 1
    return 0


def _print_summary(result: Any, out: Path, residual: str | None) -> None:
    sets = ", ".join(
        f"{n} {s['psnr_y_db']:.3f} dB / {s['ssim_y']:.4f}" for n, s in result.sets.items()
    )
    print(f"{result.spec_key}  x{result.scale}  {result.params:,} params")
    print(
        f"proxy {result.protocol}: {result.status} after {result.steps} steps "
        f"({result.train_seconds:.1f} s training, {result.seconds_per_step:.3f} s/step, "
        f"{result.eval_seconds:.1f} s evaluation, {result.threads} threads)"
    )
    if sets:
        print(f"Y-PSNR / SSIM: {sets}")
    if residual == "bicubic":
        print(
            "note: trained as a residual over bicubic (proxy device); weights.pt is not a "
            "standalone SR model (use --residual none for one)"
        )
    print(f"saved to {out}/ (weights.pt, spec.json, train.json, checkpoint.pt)")
