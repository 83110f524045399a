"""``distillnas supernet``: train a weight-sharing supernet over search spaces (``train``) and
describe a trained one (``info``); ``distillnas search --proxy supernet --supernet FILE`` then
scores each candidate with the weights it inherits plus a short fine-tune."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from blocks.errors import UserError
from blocks.specs import MAX_CHANNELS
from profiles.devices import MAX_THREADS
from profiles.devices_cli import threads_arg
from search.train_cli import (
    _positive_float,
    _positive_int,
    check_data_arg,
    torch_device_arg,
)

DEFAULT_STEPS = 15000  # what benchmarks/proxy_supernet.py trained (row 4b4): about an hour, 1 core


def _channels(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected widths like 16,24,32; got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive widths like 16,24,32; got {text!r}")
    if max(values) > MAX_CHANNELS:  # a store this wide fills the memory before any message
        raise argparse.ArgumentTypeError(f"widths go up to {MAX_CHANNELS}; got {text!r}")
    return values


def _check_out(text: str) -> Path:
    """``--out``, checked before any training: a file name in a writable folder (created if
    missing); an existing file must be a supernet checkpoint, which training then resumes."""
    from profiles.outputs import output_file

    return output_file(text, what="supernet checkpoint", is_ours=_is_supernet_checkpoint,
                       create_parent=True)


def _is_supernet_checkpoint(path: Path) -> bool:
    import torch

    from search.supernet import STORE_FORMAT

    try:
        ck = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # noqa: BLE001 - anything torch cannot read is not ours
        return False
    return isinstance(ck, dict) and ck.get("format") == STORE_FORMAT


def _train(args: argparse.Namespace) -> int:
    import torch

    from search.proxies import TrainData, get_protocol
    from search.space import load_space
    from search.supernet import SupernetPlan, supernet_recipe, train_supernet

    spaces = tuple(load_space(s) for s in args.space)
    common = sorted(set.intersection(*(set(s.scale) for s in spaces)))
    if not common:
        raise UserError("the spaces share no scale: train one supernet per scale")
    scale = args.scale if args.scale is not None else common[0]
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    recipe = supernet_recipe(args.steps, args.recipe, None if args.residual == "none" else
                             "bicubic")
    check_data_arg(args.data, get_protocol(args.recipe))
    out = _check_out(args.out)
    plan = SupernetPlan(spaces, recipe, scale=scale, channels=args.channels, seed=args.seed,
                        cover_space=True)
    data = TrainData.for_protocol(recipe, args.data)
    res = train_supernet(plan, data, checkpoint=out, hours=args.hours,
                         device=args.train_device, log=None if args.quiet else sys.stderr)
    state = "done" if res["done"] else "stopped (rerun the same command to resume)"
    print(f"supernet {state} at step {res['step']}/{args.steps}: {res['cpu_seconds']:.0f} CPU-s "
          f"in all, last loss {res['loss'][-1][1]:.4f}; {args.out}" if res["loss"] else
          f"supernet {state} at step {res['step']}/{args.steps}; {args.out}")
    return 0


def _info(args: argparse.Namespace) -> int:
    from search.supernet import load_store

    t = load_store(args.file)
    info: dict[str, Any] = {
        "file": str(t.path), "sha1": t.sha1, "step": t.step, "steps": t.steps, "done": t.done,
        "cpu_seconds": t.cpu_seconds, "scale": t.scale, "spaces": t.meta["spaces"],
        "channels": t.meta["channels"], "seed": t.meta["seed"], "data": t.meta.get("data"),
        "residual": t.residual, "store_values": sum(p.numel() for p in t.store.parameters()),
    }
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        print(f"{t.path}: {t.describe()}, {info['store_values']:,} shared values, "
              f"{t.cpu_seconds:.0f} CPU-s, data {info['data']}, sha1 {t.sha1[:8]}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("supernet", help="train or describe a weight-sharing supernet proxy")
    cmds = p.add_subparsers(dest="supernet_command", metavar="{train,info}",
                            parser_class=type(p))
    cmds.required = True
    t = cmds.add_parser(
        "train", help="train a supernet over search spaces (resumable: rerun to continue)",
        description="Train one store of shared weights over the spaces: each step samples a "
        "candidate, inherits its slices, takes one L1 step and writes the gradients back. "
        "The file is a checkpoint: running the same command again continues it.")
    t.add_argument("--space", action="append", required=True,
                   help="a shipped space or YAML (repeat for several)")
    t.add_argument("--out", required=True, help="the supernet file (checkpoint) to write")
    t.add_argument("--scale", type=int, help="default: the smallest scale the spaces share")
    t.add_argument("--steps", type=_positive_int, default=DEFAULT_STEPS,
                   help=f"training steps in all (default {DEFAULT_STEPS})")
    t.add_argument("--channels", type=_channels,
                   help="widths to train, e.g. 16,24,32 (default: each space's own)")
    t.add_argument("--recipe", default="quick",
                   help="proxy protocol whose data, patch and batch it trains on (quick, demo)")
    t.add_argument("--residual", choices=("bicubic", "none"), default="bicubic",
                   help="learn a residual over bicubic (default) or the nets' own output")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--hours", type=_positive_float,
                   help="stop after H hours of wall time (resumable)")
    t.add_argument("--data", help="data root (default ../shared/data or the embedded photos)")
    t.add_argument("--threads", type=threads_arg, help=f"torch threads (1..{MAX_THREADS})")
    t.add_argument("--train-device", default="cpu", type=torch_device_arg,
                   help="torch device: cpu, cuda")
    t.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    t.set_defaults(func=_train)
    i = cmds.add_parser("info", help="describe a supernet file")
    i.add_argument("file")
    i.add_argument("--json", action="store_true")
    i.set_defaults(func=_info)
