"""``distillnas profile``: one NTIRE-style row (params, MACs, FLOPs, acts, convs, memory).

Latency is optional and imported only when asked for: ``--backend NAME`` times the model on this
host with ``profiles.latency.measure_latency`` at the counting input size; ``--device NAME`` loads
the device profile (``profiles.devices.load_device``) and takes its latency by the device's own
method (measured / table / roofline ESTIMATE, ``profiles.devices.device_latency``) at the device's
input size, which is then also the counting input (plain mode) unless ``--mode``/``--input`` say
the same size.
"""

from __future__ import annotations

import argparse
import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from blocks.errors import UserError

BACKENDS_HELP = "eager | channels_last | torchscript | onnxruntime"


def _positive_int(text: str | None, flag: str) -> int | None:
    if text is None:
        return None
    try:
        value = int(text)
    except ValueError:
        raise UserError(f"{flag} takes a positive integer; got {text!r}") from None
    if value <= 0:
        raise UserError(f"{flag} takes a positive integer; got {text!r}")
    return value


def _resolve_mode(mode: str | None, input_text: str | None) -> tuple[str, tuple[int, int] | None]:
    """(mode, explicit input size): ``--input`` alone means plain; ntire/paper fix their size."""
    from profiles.counting import MODES
    from profiles.units import parse_hw

    hw = parse_hw(input_text) if input_text is not None else None
    if mode is None:
        mode = "plain" if hw is not None else "ntire"
    if mode not in MODES:
        raise UserError(f"unknown mode {mode!r}; known: {', '.join(MODES)}")
    if mode == "plain" and hw is None:
        raise UserError("--mode plain needs --input HxW, e.g. --input 256x256")
    if mode != "plain" and hw is not None:
        raise UserError(f"--mode {mode} fixes the input size; --input needs --mode plain")
    return mode, hw


@contextlib.contextmanager
def _torch_threads(n: int | None) -> Iterator[int]:
    import torch

    before = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    try:
        yield torch.get_num_threads()
    finally:
        torch.set_num_threads(before)


def profile_row(args: argparse.Namespace) -> dict[str, Any]:
    """Everything ``distillnas profile`` reports, as one JSON-ready dict."""
    scale = _positive_int(args.scale, "--scale")
    threads_n = _positive_int(args.threads, "--threads")
    from profiles.devices import MAX_THREADS

    if threads_n is not None and threads_n > MAX_THREADS:
        raise UserError(f"--threads must be at most {MAX_THREADS}; got {threads_n}")
    runs = _positive_int(args.runs, "--runs")
    if args.backend is not None and args.device is not None:
        raise UserError(
            "give --backend (time here) or --device (the device's own latency method), not both"
        )
    if runs is not None and args.backend is None and args.device is None:
        raise UserError("--runs applies only to a latency measurement (--backend or --device)")
    device = None
    if args.device is not None:
        from profiles.devices import load_device

        device = load_device(args.device)
        if args.mode is None and args.input is None:
            args.mode, args.input = "plain", "{}x{}".format(*device.input_hw)
    mode, explicit_hw = _resolve_mode(args.mode, args.input)
    if args.backend is not None:
        from profiles.latency import backend_names

        if args.backend not in backend_names():
            raise UserError(
                f"unknown backend {args.backend!r}; known: {', '.join(backend_names())}"
            )

    from blocks.build import build_network
    from blocks.zoo import ZOO, resolve_spec
    from profiles.counting import count_in_mode, peak_memory_mib

    spec = resolve_spec(args.model, scale)
    with _torch_threads(threads_n) as threads:
        counts = count_in_mode(spec, mode, input_hw=explicit_hw)
        hw = counts.input_hw
        if device is not None and hw != tuple(device.input_hw):
            raise UserError(
                f"device {device.name!r} works at {device.input_hw[0]}x"
                f"{device.input_hw[1]}, mode {mode} at {hw[0]}x{hw[1]}; drop "
                "--mode/--input to count at the device's size"
            )
        model = build_network(spec, seed=0).eval()
        row: dict[str, Any] = {
            "model": args.model if args.model in ZOO else Path(args.model).stem,
            "key": spec.key(),
            "scale": spec.scale,
            "mode": mode,
            "input_hw": list(hw),
            "params": counts.params,
            "macs": counts.macs,
            "flops": counts.flops,
            "activations": counts.activations,
            "convs": counts.convs,
        }
        if mode == "ntire":
            row["ntire_flops"] = counts.ntire_flops
        row["peak_memory_mib"] = round(peak_memory_mib(model, hw), 3)
        row["peak_memory_method"] = "tensors"
        row["threads"] = threads
        if args.model in ZOO and ZOO.get(args.model).reconstruction:
            row["reconstruction"] = True
        if args.backend is not None:
            from profiles.latency import measure_latency

            kwargs = {} if runs is None else {"runs": runs}
            res = measure_latency(model, hw, backend=args.backend, threads=threads, **kwargs)
            row.update(
                {
                    "latency_ms": res.latency_ms,
                    "latency_iqr_ms": res.latency_iqr_ms,
                    "context": res.context,
                }
            )
        if device is not None:
            from profiles.devices import device_latency

            kwargs = {} if runs is None else {"runs": runs}
            lat = device_latency(spec, device, model=model, macs=counts.macs, **kwargs)
            row["device"] = device.name
            row.update(lat.to_dict())
        if args.crosscheck:
            from profiles.crosscheck import crosscheck_model

            cc = crosscheck_model(model, hw)
            row["crosscheck"] = {
                k: v for k, v in cc.items() if k.endswith(("_macs", "_rel", "_params", "_s"))
            }
    return row


def _format_row(row: dict[str, Any]) -> str:
    from profiles.units import format_count, format_hw

    cells = [
        ("model", row["model"]),
        ("scale", f"x{row['scale']}"),
        ("mode", row["mode"]),
        ("input", format_hw(tuple(row["input_hw"]))),
        ("params", f"{row['params']:,}"),
        ("MACs", format_count(row["macs"])),
        ("FLOPs", format_count(row["flops"])),
        ("NTIRE FLOPs", format_count(row["ntire_flops"]) if "ntire_flops" in row else "-"),
        ("acts", format_count(row["activations"])),
        ("convs", str(row["convs"])),
        ("peak mem", f"{row['peak_memory_mib']:.1f} MiB"),
    ]
    if "latency_ms" in row:
        lat, iqr = row["latency_ms"], row["latency_iqr_ms"]
        text = "-" if lat is None else f"{lat:.2f} ms" + ("" if iqr is None else f" ±{iqr:.2f}")
        if row.get("estimate"):
            text += " (ESTIMATE)"
        cells.append(("latency (IQR)", text))
    widths = [max(len(h), len(v)) for h, v in cells]
    head = "  ".join(h.ljust(w) for (h, _), w in zip(cells, widths, strict=True))
    body = "  ".join(v.ljust(w) for (_, v), w in zip(cells, widths, strict=True))
    lines = [head.rstrip(), body.rstrip()]
    if "crosscheck" in row:
        cc = row["crosscheck"]
        parts = []
        for key, label in (
            ("ptflops_pytorch", "ptflops[pytorch]"),
            ("ptflops_aten", "ptflops[aten]"),
            ("thop", "thop"),
            ("flopcounter", "FlopCounterMode/2"),
        ):
            if f"{key}_macs" in cc:
                parts.append(
                    f"{label} {format_count(cc[key + '_macs'])} ({100 * cc[key + '_rel']:+.2f}%)"
                )
        lines.append("cross-check, MACs vs ours: " + ", ".join(parts))
    return "\n".join(lines)


def _run_profile(args: argparse.Namespace) -> int:
    row = profile_row(args)
    if args.json:
        print(json.dumps(row, indent=2, default=str))
    else:
        print(_format_row(row))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "profile",
        help="count params, MACs, FLOPs, activations, convs and peak memory of a model",
        description="One NTIRE-style row for a zoo model or a spec file. Modes: ntire (1x3x256x256 "
        "LR input, the challenge's counting), paper (LR of a 1280x720 output: ceil(720/s) x "
        "ceil(1280/s)), plain (--input HxW). MACs and FLOPs (= 2 x MACs) are named apart.",
    )
    p.add_argument("model", metavar="NAME_OR_SPEC_FILE", help="a zoo name or a .json/.yaml spec")
    p.add_argument("--scale", default=None, metavar="S", help="2, 3 or 4 (default: 4 / the file's)")
    p.add_argument("--input", default=None, metavar="HxW", help="LR input size, e.g. 180x320")
    p.add_argument(
        "--mode",
        default=None,
        metavar="MODE",
        help="ntire | paper | plain (default ntire; plain when --input is given)",
    )
    p.add_argument(
        "--device",
        default=None,
        metavar="NAME",
        help="a device profile: its input size and latency method",
    )
    p.add_argument(
        "--backend",
        default=None,
        metavar="NAME",
        help=f"time on this host with a latency backend: {BACKENDS_HELP}",
    )
    p.add_argument("--threads", default=None, metavar="N", help="torch threads for every pass")
    p.add_argument("--runs", default=None, metavar="N", help="timed runs for the latency median")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument(
        "--crosscheck",
        action="store_true",
        help="also run ptflops (both backends), thop and FlopCounterMode",
    )
    p.set_defaults(func=_run_profile)
