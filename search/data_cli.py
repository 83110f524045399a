"""Commands ``distillnas data fetch|list`` and ``distillnas evaluate``."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

from blocks.errors import UserError
from search.fetch import MIRROR_ENV, fetch, source_rows
from search.train_cli import torch_device_arg

# numpy/scipy/torch-heavy modules (search.evaluate, search.datasets) are imported inside the
# commands, so that building the CLI parser for any other command stays fast.
SCALES_HELP = "2, 3 or 4"


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``data`` (``fetch``, ``list``) and ``evaluate`` commands."""
    data = subparsers.add_parser("data", help="standard SR data sets: fetch, list")
    data_sub = data.add_subparsers(dest="data_command", metavar="ACTION")
    data_sub.required = True

    p = data_sub.add_parser(
        "fetch", help="download Set5/Set14/B100/Urban100/DIV2K from the official sources"
    )
    p.add_argument(
        "names", nargs="+", metavar="NAME", help="set5, set14, b100, urban100, div2k, ..."
    )
    p.add_argument("--to", required=True, type=Path, metavar="DIR", help="destination folder")
    p.add_argument(
        "--mirror",
        default=None,
        metavar="URL",
        help=f"base URL to fetch the archives from instead (also ${MIRROR_ENV})",
    )
    p.add_argument("--force", action="store_true", help="replace existing set folders")
    p.set_defaults(func=cmd_data_fetch)

    p = data_sub.add_parser("list", help="known data sets, their sources and checksum status")
    p.set_defaults(func=cmd_data_list)

    p = subparsers.add_parser(
        "evaluate", help="Y-PSNR and SSIM of a model (or bicubic) on standard test sets"
    )
    p.add_argument(
        "model",
        metavar="MODEL_OR_SPEC|bicubic",
        help="zoo name, spec file (.json/.yaml) or 'bicubic'",
    )
    p.add_argument(
        "--data",
        action="append",
        type=Path,
        metavar="DIR",
        help="test-set folder (HR/ + LR_bicubic/X{s}/); repeat for several; "
        "default: Set5, Set14, B100 of ../shared/data when present",
    )
    p.add_argument(
        "--scale",
        type=int,
        required=True,
        metavar="S",
        help=f"upscaling factor: {SCALES_HELP}",
    )
    p.add_argument("--weights", type=Path, default=None, metavar="FILE", help="state_dict file")
    p.add_argument("--device", default="cpu", type=torch_device_arg,
                   help="torch device for the model (default cpu)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.set_defaults(func=cmd_evaluate)


def cmd_data_fetch(args: argparse.Namespace) -> int:
    fetch(args.names, args.to, mirror=args.mirror, force=args.force)
    return 0


def cmd_data_list(args: argparse.Namespace) -> int:
    from search.datasets import default_eval_dirs, shared_data_root

    rows = source_rows()
    width = max(len(r["name"]) for r in rows)
    for r in rows:
        print(f"{r['name']:<{width}}  -> {r['folder']}/  {r['note']}")
        print(f"{'':<{width}}     {r['urls']}  [{r['checksum']}]")
    root = shared_data_root()
    if root is not None:
        print(f"local standard data: {root} ({', '.join(p.name for p in default_eval_dirs(root))})")
    return 0


def _build_model(name: str, scale: int, weights: Path | None, device: str) -> Any:
    import torch

    from blocks.build import build_network
    from blocks.zoo import resolve_spec
    from search.evaluate import load_weights

    try:
        torch.device(device)
    except (RuntimeError, ValueError):
        raise UserError(
            f"--device {device!r} is not a torch device (e.g. cpu, cuda, cuda:0)"
        ) from None
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"--device {device}: CUDA is not available here; use --device cpu")
    spec = resolve_spec(name, scale)
    model = build_network(spec)
    if weights is not None:
        load_weights(model, weights)
    return model, spec.key()


def cmd_evaluate(args: argparse.Namespace) -> int:
    from search.datasets import check_scale, default_eval_dirs, shared_data_root
    from search.evaluate import BICUBIC, evaluate_sets

    dirs = args.data
    if not dirs:
        root = shared_data_root()
        dirs = default_eval_dirs(root) if root is not None else []
        if not dirs:
            raise UserError("no test data: pass --data DIR (a folder with HR/ and LR_bicubic/)")
    check_scale(args.scale, f"--scale for {dirs[0]}")
    if args.model == BICUBIC:
        if args.weights is not None:
            raise UserError(f"{args.weights}: --weights does not apply to 'bicubic'")
        upscaler, label = BICUBIC, BICUBIC
    else:
        upscaler, label = _build_model(args.model, args.scale, args.weights, args.device)
    result = evaluate_sets(upscaler, dirs, args.scale, device=args.device)
    result["model"] = label
    result["weights"] = str(args.weights) if args.weights is not None else None
    result["device"] = args.device
    if args.json:
        json.dump(result, sys.stdout, indent=2, allow_nan=True)
        print()
        return 0
    print(format_table(result))
    return 0


def format_table(result: dict[str, Any]) -> str:
    """Per-set rows (images, Y-PSNR in dB, SSIM on Y) and the image-weighted overall row."""
    head = (
        f"model {result.get('model', result['upscaler'])}  x{result['scale']}  "
        f"device {result.get('device', 'cpu')}  (Y-PSNR dB / SSIM on BT.601 Y, shave = scale)"
    )
    names = list(result["sets"]) + ["overall"]
    width = max(8, *(len(n) for n in names))
    lines = [head, f"{'set':<{width}}  {'images':>6}  {'psnr_y_db':>9}  {'ssim_y':>7}"]

    def row(name: str, r: dict[str, Any]) -> str:
        psnr = f"{r['psnr_y_db']:9.3f}" if math.isfinite(r["psnr_y_db"]) else f"{'inf':>9}"
        return f"{name:<{width}}  {r['images']:>6}  {psnr}  {r['ssim_y']:7.4f}"

    lines += [row(n, r) for n, r in result["sets"].items()]
    if len(result["sets"]) > 1:
        lines.append(row("overall", result["overall"]))
    return "\n".join(lines)
