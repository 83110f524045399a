"""``distillnas select``: choose a model for a device from a study, train it further, export it;
``distillnas upscale``: run an exported model on an image file."""

from __future__ import annotations

import argparse
import json
import os
import time
import warnings
from pathlib import Path
from typing import Any

from blocks.errors import UserError
from search.search_cli import _add_budget_args, budgets_from_args, run_dir_for
from search.train_cli import _positive_float, _positive_int, torch_device_arg

CARD = """# Model card: {key}

Chosen by `distillnas select` from study `{study}` ({storage}) for device **{device}**.

## Why this model
{reason}

| figure | value |
|---|---|
| PSNR (Y, dB, proxy `{proxy}`) | {psnr} |
| SSIM (Y) | {ssim} |
| parameters | {params:,} |
| MACs at {input_hw} LR (FLOPs = 2 x MACs) | {macs:,} |
| latency on {device} ({latency_label}) | {latency} |
| peak activation memory (MiB, CPU, measured) | {memory} |
| budgets | {budgets} |
| quality floor (dB) | {floor} |

PSNR is the proxy protocol's score ({proxy}{further}); it is comparable with the other
candidates of the study, never with published paper numbers trained for days on DIV2K.
{residual_note}

## Files
- `spec.json` — the architecture (`distillnas profile spec.json`, `build_network(spec)`).
- `weights.pt` — a plain state_dict; load with `torch.load(path, weights_only=True)`.
- `model.onnx` — ONNX, dynamic height and width; max |ORT - torch| on a real image: {onnx_diff}.
- `model.ts` — TorchScript (traced).

## Run it
```sh
distillnas upscale --model {out} photo.png --out photo_x{scale}.png
```
"""


def _read_json_object(path: Path) -> dict[str, Any]:
    """A JSON file that must hold an object; anything else is a one-line UserError naming it."""
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"{path}: not readable JSON ({first})") from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a JSON object, got {type(data).__name__}")
    return data


def _model_residual(model_dir: Path) -> str | None:
    """The residual ``weights.pt`` was trained with: ``export.json`` (written by ``select``) or
    ``protocol.residual`` in ``train.json`` (written by ``train``); neither is a UserError."""
    from search.proxies import RESIDUALS

    export, record = model_dir / "export.json", model_dir / "train.json"
    if export.is_file():
        meta, where = _read_json_object(export), str(export)
        if "residual" not in meta:
            raise UserError(f"{export}: no \"residual\" entry (null or \"bicubic\")")
        residual = meta["residual"]
    elif record.is_file():
        protocol, where = _read_json_object(record).get("protocol"), f"{record} protocol"
        if not isinstance(protocol, dict) or "residual" not in protocol:
            raise UserError(f"{record}: no protocol.residual; cannot tell whether weights.pt "
                            "needs a bicubic residual")
        residual = protocol["residual"]
    else:
        raise UserError(f"{model_dir}: no export.json (from `select`) or train.json (from "
                        "`train`); cannot tell whether weights.pt needs a bicubic residual")
    if residual is not None and residual not in RESIDUALS:
        raise UserError(f"{where}: unknown residual {residual!r}; known: null, "
                        + ", ".join(RESIDUALS))
    return residual


def _load_spec_and_module(model_dir: Path):  # noqa: ANN202
    import torch

    from blocks.build import build_network
    from blocks.specs import load_spec_file
    from search.train import ProxyUpscaler

    spec = load_spec_file(model_dir / "spec.json")
    residual = _model_residual(model_dir)
    net = build_network(spec)
    weights = model_dir / "weights.pt"
    # torch warns (several lines) before refusing a TorchScript archive: the error says it once
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            state = torch.load(weights, map_location="cpu", weights_only=True)
            net.load_state_dict(state)
        except FileNotFoundError:
            raise UserError(f"{weights}: weights not found") from None
        except Exception as exc:  # noqa: BLE001 - refused (weights_only), corrupt or mismatched
            said = [str(exc), *(str(w.message) for w in caught)]
            if any("TorchScript" in text for text in said):
                raise UserError(f"{weights}: a TorchScript archive, not a state_dict (run "
                                "model.ts with torch.jit.load)") from None
            if isinstance(exc, RuntimeError | KeyError | TypeError):
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise UserError(f"{weights}: does not fit {spec.key()}: {first}") from None
            raise UserError(f"{weights}: not a readable state_dict "
                            f"({type(exc).__name__})") from None
    return spec, ProxyUpscaler(net, spec.scale, residual=residual).eval()


def _candidate_residual(run_dir: Path, key: str, default: str | None) -> str | None:
    """The residual the candidate was trained with, from its train.json (else the proxy's)."""
    from search.objective import candidate_dir

    record = candidate_dir(run_dir, key) / "train.json"
    if record.exists():
        protocol = _read_json_object(record).get("protocol")
        return protocol.get("residual", default) if isinstance(protocol, dict) else default
    return default


def _candidate_weights(run_dir: Path, key: str) -> Path | None:
    from search.objective import candidate_dir

    path = candidate_dir(run_dir, key) / "weights.pt"
    return path if path.exists() else None


def _example_image(scale: int):  # noqa: ANN202
    """A real photo (scikit-image's bundled 'coffee'), MATLAB-bicubic downscaled, NCHW [0, 1]."""
    from search.datasets import EMBEDDED_VAL
    from search.images import to_rgb, uint8_to_tensor
    from search.imresize import imresize

    img = to_rgb(EMBEDDED_VAL["coffee"]())
    h, w = img.shape[:2]
    crop = img[: min(h, 96 * scale), : min(w, 128 * scale)]
    return uint8_to_tensor(imresize(crop, 1 / scale))


def _check_select_out(out: str, force: bool) -> None:
    """``--out`` is a new or empty folder, or ``--force`` was given: checked before any work, so
    a user's own files (weights.pt, spec.json, ...) are never silently overwritten."""
    if not out.strip():
        raise UserError("--out is empty; give a folder for the exported model")
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise UserError(f"--out {path} is a file, not a folder")
    if path.is_dir() and any(path.iterdir()) and not force:
        raise UserError(f"output folder {path} is not empty; pass --force to overwrite its files")


def _check_upscale_out(image: str, out: str, force: bool) -> None:
    """``--out`` names a new image file (a format Pillow writes), never the input; an existing
    file only with ``force``."""
    from PIL import Image

    if not out.strip():
        raise UserError("--out is empty; give an image file name such as out.png")
    path = Path(out)
    if path.is_dir() or out.endswith(("/", os.sep)):
        raise UserError(f"--out {out} is a folder; give an image file name such as "
                        f"{path / 'out.png'}")
    if not path.suffix:
        raise UserError(f"--out {out} has no file extension; give e.g. {out}.png")
    Image.init()
    if Image.registered_extensions().get(path.suffix.lower()) not in Image.SAVE:
        raise UserError(f"--out {out}: cannot write {path.suffix!r} images; use e.g. .png")
    src = Path(image)
    same = (os.path.samefile(src, path) if src.exists() and path.exists()
            else src.resolve() == path.resolve())
    if same:
        raise UserError(f"--out {out} is the input image; give another file name")
    if path.exists() and not force:
        raise UserError(f"{out} exists; pass --force to overwrite it")


def _run_select(args: argparse.Namespace) -> int:
    import torch

    from blocks.build import build_network
    from blocks.specs import NetSpec, save_spec_file
    from profiles.devices import load_device
    from profiles.export import check_onnx, export_onnx, export_torchscript
    from reports.records import load_records, load_study_attrs
    from reports.select import format_selection, reference_psnr_db, select_model
    from search.paths import ensure_output_dir
    from search.proxies import get_protocol
    from search.train import ProxyUpscaler, save_outputs, train

    _check_select_out(args.out, args.force)
    device = load_device(args.device)
    budgets = budgets_from_args(device, args)
    df = load_records(args.storage, args.study)
    attrs = load_study_attrs(args.storage, args.study)
    if attrs.get("device") not in (None, device.name):
        df = _recost(df, device, budgets)
    ref_psnr = reference_psnr_db(df, args.reference) if args.reference else None
    if args.min_psnr_ratio is not None and ref_psnr is None:
        raise UserError("--min-psnr-ratio needs --reference ZOO_NAME (trained in the study, "
                        "e.g. with `search --seed-zoo`)")
    sel = select_model(df, budgets.to_dict(), min_psnr_db=args.min_psnr,
                       min_psnr_ratio=args.min_psnr_ratio, reference_psnr_db=ref_psnr,
                       prefer=args.prefer)
    chosen = sel.chosen
    spec = NetSpec.from_json(chosen["spec"] if isinstance(chosen["spec"], str)
                             else json.dumps(chosen["spec"]))
    out = ensure_output_dir(args.out)
    # a study's proxy may carry its budget ("demo@3steps"); the base protocol trains further.
    # A supernet study's ("supernet-ft-200-cos@SHA1") candidates were fine-tuned from inherited
    # weights: further training starts from scratch under quick, the supernet's default recipe
    study_proxy = str(attrs.get("proxy") or "quick")
    supernet = study_proxy.startswith("supernet-ft")
    proxy = get_protocol("quick" if supernet else study_proxy.split("@")[0])
    residual = _candidate_residual(run_dir_for(args.storage, args.study), spec.key(),
                                   proxy.residual)
    psnr, ssim, further = chosen.get("psnr_y_db"), chosen.get("ssim_y"), ""
    if args.train_steps is not None or args.minutes is not None:
        protocol = proxy.with_budget(steps=args.train_steps,
                                     seconds=args.minutes * 60 if args.minutes else None)
        result = train(spec, protocol=protocol, seed=args.seed, device=args.train_device,
                       out_dir=out / "train", progress=not args.quiet,
                       resume=False)  # a fresh folder, or --force: nothing of before is kept
        if result.status != "complete":
            raise UserError(f"further training of {spec.key()} ended {result.status}: "
                            f"{result.message}")
        save_outputs(out / "train", result, spec=spec, protocol=protocol)
        state = result.weights
        psnr, ssim = result.psnr_y_db, result.ssim_y
        residual = protocol.residual  # the exported model is what was trained here
        further = (f", then trained from scratch for {result.steps} steps under {protocol.name}"
                   if supernet else f", then trained further for {result.steps} steps")
    else:
        src = _candidate_weights(run_dir_for(args.storage, args.study), spec.key())
        if src is None:
            raise UserError(f"the study's weights for {spec.key()} are not on this machine "
                            f"(looked under {run_dir_for(args.storage, args.study)}); pass "
                            "--train-steps N to train it here")
        state = torch.load(src, map_location="cpu", weights_only=True)
    net = build_network(spec)
    net.load_state_dict(state)
    model = ProxyUpscaler(net, spec.scale, residual=residual).eval()
    files: dict[str, str] = {}
    files["spec"] = str(save_spec_file(spec, out / "spec.json"))
    torch.save(net.state_dict(), out / "weights.pt")
    torch.load(out / "weights.pt", weights_only=True)  # what users will do: prove it loads
    files["weights"] = str(out / "weights.pt")
    (out / "export.json").write_text(json.dumps({"residual": residual, "key": spec.key()}))
    example = _example_image(spec.scale)
    onnx_diff: Any = "not exported"
    try:
        files["onnx"] = str(export_onnx(model, out / "model.onnx",
                                        example_hw=tuple(example.shape[-2:])))
        onnx_diff = check_onnx(out / "model.onnx", model, example)
    except (UserError, ImportError) as exc:
        onnx_diff = f"export failed: {exc}"
    files["torchscript"] = str(export_torchscript(model, out / "model.ts", example=example))
    lat = chosen.get("latency_ms")
    card = CARD.format(
        key=spec.key(), study=args.study, storage=args.storage, device=device.name,
        reason=sel.reason, proxy=study_proxy if supernet else proxy.name, further=further,
        psnr=_fmt(psnr, ".3f"), ssim=_fmt(ssim, ".4f"), params=int(chosen["params"]),
        macs=int(chosen["macs"]), input_hw="x".join(map(str, device.input_hw)),
        latency_label=chosen.get("latency_source") or device.latency.method,
        latency=_fmt(lat, ".2f", " ms"), memory=_fmt(chosen.get("peak_memory_mib"), ".1f"),
        budgets=budgets.describe(), floor=_fmt(sel.floor_psnr_db, ".3f"),
        onnx_diff=onnx_diff if isinstance(onnx_diff, str) else f"{onnx_diff:.2e}",
        residual_note=("The proxy trained this net as a residual over a bicubic upsample of its "
                       "input: the exported model is net(x) + bicubic(x)." if residual else ""),
        out=out, scale=spec.scale,
    )
    (out / "MODEL_CARD.md").write_text(card)
    files["model_card"] = str(out / "MODEL_CARD.md")
    summary = {**sel.to_dict(), "psnr_y_db": psnr, "files": files,
               "onnx_max_abs_diff": onnx_diff, "device": device.name}
    if args.json:
        print(json.dumps(summary, indent=2, default=str))
    else:
        print(format_selection(sel))
        print(f"exported to {out}: " + ", ".join(Path(f).name for f in files.values()))
        if not isinstance(onnx_diff, str):
            print(f"ONNX vs torch on a real image: max abs diff {onnx_diff:.2e}")
    return 0


def _fmt(value: Any, spec: str, unit: str = "") -> str:
    try:
        return format(float(value), spec) + unit if value is not None else "-"
    except (TypeError, ValueError):
        return "-"


def _recost(df: Any, device: Any, budgets: Any) -> Any:
    """Re-profile complete candidates for another device than the study's (its input size and
    latency method), so the choice never mixes one device's costs with another's budgets."""
    from blocks.specs import NetSpec
    from search.budgets import Budgets
    from search.objective import device_costs

    df = df.copy()
    for i, row in df[df["status"] == "complete"].iterrows():
        spec = NetSpec.from_json(row["spec"] if isinstance(row["spec"], str)
                                 else json.dumps(row["spec"]))
        costs = device_costs(spec, device, Budgets())
        for k in ("params", "macs", "flops", "latency_ms", "peak_memory_mib"):
            df.at[i, k] = costs[k]
        df.at[i, "latency_source"] = costs["latency_source"]
        df.at[i, "device"] = device.name
    return df


def _run_upscale(args: argparse.Namespace) -> int:
    import torch

    from search.images import load_image, save_image, tensor_to_uint8, to_rgb, uint8_to_tensor

    _check_upscale_out(args.image, args.out, args.force)
    spec, model = _load_spec_and_module(Path(args.model))
    img = to_rgb(load_image(args.image))
    x = uint8_to_tensor(img)
    t0 = time.perf_counter()
    with torch.no_grad():
        y = model(x)
    save_image(tensor_to_uint8(y), args.out)
    print(f"{args.image} {img.shape[1]}x{img.shape[0]} -> {args.out} "
          f"{y.shape[-1]}x{y.shape[-2]} (x{spec.scale}, {time.perf_counter() - t0:.2f} s)")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("select", help="choose, train further and export a model for a device")
    p.add_argument("--study", required=True)
    p.add_argument("--storage", required=True)
    p.add_argument("--device", required=True, help="device profile (see `distillnas devices`)")
    _add_budget_args(p)
    floor = p.add_mutually_exclusive_group()
    floor.add_argument("--min-psnr", type=float, metavar="DB", help="absolute quality floor")
    floor.add_argument("--min-psnr-ratio", type=float, metavar="R",
                       help="floor = R x the PSNR of --reference under the same proxy")
    p.add_argument("--reference", metavar="ZOO_NAME", help="zoo net trained in the study")
    p.add_argument("--prefer", default="psnr", choices=("psnr", "latency", "knee"))
    more = p.add_mutually_exclusive_group()
    more.add_argument("--train-steps", type=_positive_int, metavar="N",
                      help="train the choice N steps")
    more.add_argument("--minutes", type=_positive_float, metavar="M",
                      help="train the choice for M minutes")
    p.add_argument("--train-device", default="cpu", type=torch_device_arg)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="folder for spec, weights, ONNX, TorchScript "
                   "(new or empty, unless --force)")
    p.add_argument("--force", action="store_true", help="overwrite files in a non-empty --out")
    p.add_argument("--json", action="store_true")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=_run_select)

    u = sub.add_parser("upscale", help="run an exported model on an image")
    u.add_argument("--model", required=True,
                   help="a folder written by `select` (or by `train`: its train.json)")
    u.add_argument("image")
    u.add_argument("--out", required=True, help="image file to write (e.g. out.png)")
    u.add_argument("--force", action="store_true", help="overwrite an existing --out file")
    u.set_defaults(func=_run_upscale)
