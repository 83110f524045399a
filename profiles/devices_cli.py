"""``distillnas devices`` (list the device profiles) and ``distillnas profile-device`` (build a
latency table on the machine it runs on).

``profile-device`` takes its block configurations from a search space (``--space``) or from a
file (``--blocks``: a JSON/YAML list of block specs, or a mapping with ``blocks`` and optional
``channels``, ``scales``, ``num_blocks``, ``fuse_activations``, ``space_version``). Search spaces
live above profiles (search/space.py), so profiles never imports them: the search package hands
its loader over with ``set_space_loader(load_space)``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from blocks.errors import UserError
from profiles.devices import MAX_THREADS, budget_rows, list_devices, load_device
from profiles.units import format_count, format_hw, parse_hw

_SPACE_LOADER: Callable[[str], Any] | None = None
_BLOCK_FILE_KEYS = (
    "blocks",
    "channels",
    "scales",
    "num_blocks",
    "fuse_activations",
    "space_version",
)


def set_space_loader(loader: Callable[[str], Any]) -> None:
    """Connect ``--space NAME_OR_FILE`` to a loader returning a space with ``block_specs()``,
    ``channels``, ``scale``, ``num_blocks`` (low, high), ``fuse_activation``, ``name`` and
    ``version_hash()`` (``search.space.load_space`` does)."""
    global _SPACE_LOADER
    _SPACE_LOADER = loader


def threads_arg(text: str) -> int:
    """An argparse type for ``--threads``: an integer 1..MAX_THREADS (torch crashes above)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_THREADS:
        raise argparse.ArgumentTypeError(
            f"expected a thread count from 1 to {MAX_THREADS}, got {text!r}"
        )
    return value


def _count_arg(text: str) -> int:
    """An argparse type for a count that may be zero: an integer >= 0."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return value


# ---- devices --------------------------------------------------------------------------------


def _fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and unit:
        return f"{value:g}{unit}"
    return format_count(value)


def _run_devices(args: argparse.Namespace) -> int:
    rows = budget_rows(list_devices())
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    head = (
        f"{'name':<17}{'input':>9}{'threads':>8}{'params':>9}{'macs':>9}{'latency':>9}"
        f"{'memory':>9}  latency method"
    )
    print(head)
    for r in rows:
        print(
            f"{r['name']:<17}{r['input']:>9}{r['threads']:>8}{_fmt(r['params']):>9}"
            f"{_fmt(r['macs']):>9}{_fmt(r['latency_ms'], 'ms'):>9}"
            f"{_fmt(r['memory_mib'], 'MiB'):>9}  {r['latency']}"
        )
    print()
    for r in rows:
        print(f"{r['name']}: {r['description']}")
    print(
        "input is LR height x width; budgets are defaults ('-': none); roofline figures are "
        "ESTIMATES from data-sheet peaks, never measurements"
    )
    return 0


# ---- profile-device -------------------------------------------------------------------------


def _int_list(value: Any, name: str, where: str) -> list[int]:
    vals = value if isinstance(value, list) else [value]
    if not vals or any(isinstance(v, bool) or not isinstance(v, int) or v <= 0 for v in vals):
        raise UserError(f"{where}: {name} must be a positive integer or a list of them")
    return vals


def load_block_file(path: str | Path) -> dict[str, Any]:
    """Read ``--blocks FILE``: block specs and optional table options (see the module doc)."""
    from blocks.specs import BlockSpec

    p = Path(path)
    try:
        text = p.read_text()
    except FileNotFoundError:
        raise UserError(f"blocks file not found: {p}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read blocks file {p}: {exc}") from None
    try:
        data = json.loads(text) if p.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise UserError(f"{p}: cannot parse: {' '.join(str(exc).split())[:160]}") from None
    if isinstance(data, list):
        data = {"blocks": data}
    if not isinstance(data, dict) or "blocks" not in data:
        raise UserError(f"{p}: expected a list of block specs or a mapping with 'blocks'")
    unknown = sorted(set(data) - set(_BLOCK_FILE_KEYS))
    if unknown:
        raise UserError(f"{p}: unknown key(s) {unknown}; valid: {', '.join(_BLOCK_FILE_KEYS)}")
    if not isinstance(data["blocks"], list) or not data["blocks"]:
        raise UserError(f"{p}: 'blocks' must be a non-empty list of block specs")
    try:
        blocks = [BlockSpec.from_dict(b) for b in data["blocks"]]
    except (UserError, TypeError) as exc:
        raise UserError(f"{p}: {exc}") from None
    out: dict[str, Any] = {"block_specs": blocks}
    if "channels" in data:
        out["channels_list"] = _int_list(data["channels"], "channels", str(p))
        missing = sorted({b.channels for b in blocks} - set(out["channels_list"]))
        if missing:  # the calibration nets need stem/upsampler parts at every block width
            raise UserError(f"{p}: channels {out['channels_list']} lack the block width(s) "
                            f"{missing}: list every width the blocks use")
    if "scales" in data:
        out["scales"] = _int_list(data["scales"], "scales", str(p))
    if "num_blocks" in data:
        out["num_blocks_list"] = _int_list(data["num_blocks"], "num_blocks", str(p))
    if "fuse_activations" in data:
        acts = data["fuse_activations"]
        out["fuse_activations"] = acts if isinstance(acts, list) else [acts]
    if "space_version" in data:
        out["space_version"] = str(data["space_version"])
    return out


def _check_table_out(text: str) -> Path:
    """``--out``, checked before any timing: a file (not a folder) in a writable folder; an
    existing file is replaced only when it is a latency table (what this command writes)."""
    from profiles.outputs import output_file

    return output_file(text, what="latency table", is_ours=_is_latency_table,
                       create_parent=False)


def _is_latency_table(path: Path) -> bool:
    from profiles.latency_table import load_table

    try:
        load_table(path)
    except UserError:
        return False
    return True


def _run_profile_device(args: argparse.Namespace) -> int:
    from profiles.latency_table import measure_space_table, measure_table, validation_summary

    device = load_device(args.device)
    hw = parse_hw(args.input) if args.input else device.input_hw
    threads = args.threads if args.threads is not None else device.threads
    if (args.space is None) == (args.blocks is None):
        raise UserError("profile-device needs exactly one of --space NAME_OR_FILE or --blocks FILE")
    out = _check_table_out(args.out)

    def progress(msg: str) -> None:
        if not args.quiet:
            print(f"profile-device: {msg}", file=sys.stderr, flush=True)

    common = dict(
        input_hw=hw,
        backend=args.backend,
        threads=threads,
        runs=args.runs,
        warmup=args.warmup,
        device=device.name,
        calibration=args.calibration,
        validation=args.validation,
        clock=args.clock,
        seed=args.seed,
        progress=progress,
    )
    if args.space is not None:
        if _SPACE_LOADER is None:
            raise UserError(
                "--space is not connected to a search-space loader in this build; "
                "pass --blocks FILE (a JSON list of block specs)"
            )
        space = _SPACE_LOADER(args.space)
        progress(
            f"space {space.name}: {len(space.block_specs())} block configurations at "
            f"{format_hw(hw)}, backend {args.backend}, {threads} threads"
        )
        table = measure_space_table(space, **common)
    else:
        opts = load_block_file(args.blocks)
        progress(
            f"{len(opts['block_specs'])} block configurations at {format_hw(hw)}, "
            f"backend {args.backend}, {threads} threads"
        )
        table = measure_table(opts.pop("block_specs"), **opts, **common)
    table.save(out)
    fit = table.fit
    print(
        f"wrote {out}: {len(table.entries)} parts on {table.host_cpu} for device "
        f"{table.device!r} ({table.backend}, {table.threads} threads, "
        f"{format_hw(table.input_hw)}), space {table.space_version}; fit: "
        f"{fit.scale:.3f} x parts + {fit.offset_ms:.3f} ms ({fit.method}, "
        f"{len(fit.calibration)} nets)"
    )
    check = validation_summary(table.validation)
    if check["nets"]:
        rho = check["spearman"]
        print(
            f"held-out check, {check['nets']} nets timed in the same session: "
            f"{check['share_within_10pct']:.0%} within +-10%, mean |error| "
            f"{check['mean_abs_rel_error']:.1%}, Spearman "
            f"{'n/a' if rho is None else format(rho, '.3f')}"
        )
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``devices`` and ``profile-device`` to the CLI."""
    from profiles.latency import backend_names

    p = sub.add_parser(
        "devices", help="list the device profiles (input size, budgets, latency method)"
    )
    p.add_argument("--json", action="store_true", help="print a JSON list of objects")
    p.set_defaults(func=_run_devices)

    q = sub.add_parser(
        "profile-device",
        help="measure a latency table of every block configuration on THIS machine",
        description="Times every block configuration of a search space (and the skeleton's "
        "stem, fuse, lr_conv and upsamplers) on the machine it runs on, at the "
        "device's input size, and fits the whole-net correction. Run it on the "
        "target device with the cores to itself.",
    )
    q.add_argument("--out", required=True, help="the table JSON file to write")
    q.add_argument(
        "--device",
        default="host-cpu",
        help="device profile the table is for (input size, threads); default host-cpu",
    )
    q.add_argument("--space", help="search space name or YAML file")
    q.add_argument("--blocks", help="JSON/YAML list of block specs (instead of --space)")
    q.add_argument(
        "--backend",
        default="eager",
        choices=backend_names(),
        help="latency backend (default eager: needs torch only)",
    )
    q.add_argument(
        "--threads",
        type=threads_arg,
        help=f"threads, 1..{MAX_THREADS} (default: the device profile's)",
    )
    q.add_argument("--input", help="LR input HxW (default: the device profile's)")
    q.add_argument("--runs", type=int, default=30, help="timed runs per part (default 30)")
    q.add_argument("--warmup", type=int, default=5, help="warm-up runs per part (default 5)")
    q.add_argument(
        "--calibration",
        type=_count_arg,
        default=8,
        help="random whole nets timed for the fitted correction (default 8)",
    )
    q.add_argument(
        "--validation",
        type=_count_arg,
        default=8,
        help="held-out random nets timed alongside to check the table (default 8; 0: none)",
    )
    q.add_argument(
        "--clock",
        default="wall",
        choices=("wall", "cpu"),
        help="wall (default) or cpu: the calling thread's CPU time, threads=1 only (shared hosts)",
    )
    q.add_argument("--seed", type=int, default=0, help="seed for the calibration nets")
    q.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    q.set_defaults(func=_run_profile_device)
