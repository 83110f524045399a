"""Benchmark: our counts, ptflops / thop / FlopCounterMode side by side, and each counter's time.

Writes ``benchmarks/results/counters.csv`` (one row per model and mode, every figure) and
``benchmarks/results/counters.md`` (the tables quoted in docs/COUNTING.md); ``--update-docs``
also rewrites the generated block of docs/COUNTING.md. Run from the repository root:

    .venv/bin/python benchmarks/profile_counters.py --threads 1

Times are wall seconds of one call on this host at the stated thread count (``hooks``: the
default meta-device pass on an already-warm process; ``hooks-cpu``: the same hooks on a real CPU
pass, the fair comparison with ptflops and thop, which always run the model).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pandas as pd  # noqa: E402
import torch  # noqa: E402

from blocks.build import build_network  # noqa: E402
from blocks.specs import SCALES  # noqa: E402
from blocks.zoo import ZOO, zoo_spec  # noqa: E402
from profiles.counting import count_in_mode, mode_input_hw, peak_memory_mib  # noqa: E402
from profiles.crosscheck import (  # noqa: E402
    MAIN_COUNTERS,
    PROBES,
    SKIPPED_OPS,
    crosscheck_model,
    probe_counters,
)
from profiles.latency import cpu_model  # noqa: E402
from profiles.units import format_hw  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
DOC = ROOT / "docs" / "COUNTING.md"
BEGIN, END = "<!-- BEGIN GENERATED: benchmarks/profile_counters.py -->", "<!-- END GENERATED -->"


def versions() -> dict[str, str]:
    from importlib.metadata import version

    out = {"torch": torch.__version__, "python": platform.python_version()}
    for pkg in ("ptflops", "thop", "pandas"):
        try:
            out[pkg] = version(pkg)
        except Exception:  # noqa: BLE001
            out[pkg] = "missing"
    return out


def measure(models: list[str], modes: list[str], scale: int, repeat: int) -> pd.DataFrame:
    counters = [*MAIN_COUNTERS, "hooks-cpu"]
    rows = []
    for mode in modes:
        for name in models:
            spec = zoo_spec(name, scale)
            hw = mode_input_hw(mode, scale=scale)
            t0 = time.perf_counter()
            counts = count_in_mode(spec, mode)
            row = {
                "model": name,
                "scale": scale,
                "mode": mode,
                "key": spec.key(),
                "activations": counts.activations,
                "convs": counts.convs,
            }
            row.update(crosscheck_model(spec, hw, counters=counters, decompose=True, repeat=repeat))
            module = build_network(spec, seed=0)
            times = []
            for _ in range(repeat):
                t = time.perf_counter()
                row["peak_memory_mib"] = peak_memory_mib(module, hw)
                times.append(time.perf_counter() - t)
            row["peak_memory_s"] = statistics.median(times)
            row["peak_memory_allocator_mib"] = peak_memory_mib(module, hw, method="allocator")
            rows.append(row)
            print(
                f"{mode:6s} {name:14s} {format_hw(hw):>8s} macs={counts.macs:,} "
                f"({time.perf_counter() - t0:.1f} s)",
                flush=True,
            )
    return pd.DataFrame(rows)


def _g(x: float) -> str:
    return f"{x / 1e9:.2f}"


def _m(x: float) -> str:
    return f"{x / 1e6:.2f}"


def _pct(x: float | None) -> str:
    return "" if x is None or pd.isna(x) else f"{100 * x:+.2f}%"


def _md(df: pd.DataFrame) -> str:
    cols = list(df.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for _, r in df.iterrows():
        lines.append("| " + " | ".join(str(r[c]) for c in cols) + " |")
    return "\n".join(lines)


def render(df: pd.DataFrame, probes: pd.DataFrame, context: dict[str, str]) -> str:
    parts = [
        "Context: " + ", ".join(f"{k} {v}" for k, v in context.items()) + ".",
        "",
    ]
    for mode in df["mode"].unique():
        sub = df[df["mode"] == mode]
        hw = sub["input_hw"].iloc[0]
        parts += [
            f"### Counts, x{sub['scale'].iloc[0]}, mode `{mode}` (LR input {hw})",
            "",
            _md(
                pd.DataFrame(
                    {
                        "model": sub["model"],
                        "params": sub["params"].map(lambda v: f"{v:,}"),
                        "MACs [G]": sub["macs"].map(_g),
                        "FLOPs [G]": (2 * sub["macs"]).map(_g),
                        "NTIRE FLOPs [G]": sub["ntire_flops"].map(_g),
                        "acts [M]": sub["activations"].map(_m),
                        "convs": sub["convs"],
                        "peak mem [MiB]": sub["peak_memory_mib"].map(lambda v: f"{v:.1f}"),
                        "peak mem, allocator [MiB]": sub["peak_memory_allocator_mib"].map(
                            lambda v: f"{v:.1f}"
                        ),
                    }
                )
            ),
            "",
            f"### Cross-check, mode `{mode}`: conv MACs [G] and difference from ours",
            "",
            _md(
                pd.DataFrame(
                    {
                        "model": sub["model"],
                        "ours (hooks)": sub["macs"].map(_g),
                        "ptflops pytorch": sub["ptflops_pytorch_macs"].map(_g),
                        "Δ": sub["ptflops_pytorch_rel"].map(_pct),
                        "ptflops aten": sub["ptflops_aten_macs"].map(_g),
                        "Δ ": sub["ptflops_aten_rel"].map(_pct),
                        "thop": sub["thop_macs"].map(_g),
                        "Δ  ": sub["thop_rel"].map(_pct),
                        "FlopCounterMode/2": sub["flopcounter_macs"].map(_g),
                        "Δ   ": sub["flopcounter_rel"].map(_pct),
                        "bias adds [G]": sub["bias_adds"].map(_g),
                        "ptflops params": sub["ptflops_pytorch_params"].map(lambda v: f"{v:,}"),
                        "thop params": sub["thop_params"].map(lambda v: f"{v:,}"),
                    }
                )
            ),
            "",
            f"### ptflops (pytorch backend) surplus over ours, mode `{mode}` [M]",
            "",
            "functional = full - (count_functional=False); activation-type modules = that - "
            "(activation/norm/pool modules ignored); the remainder minus our bias adds is what is "
            "left (negative: convs ptflops does not see).",
            "",
            _md(
                pd.DataFrame(
                    {
                        "model": sub["model"],
                        "surplus": (sub["ptflops_pytorch_macs"] - sub["macs"]).map(_m),
                        "functional ops": sub["ptflops_functional"].map(_m),
                        "activation/norm/pool modules": sub["ptflops_activation_modules"].map(_m),
                        "our NTIRE activation numel": (sub["ntire_flops"] - sub["macs"]).map(_m),
                        "bias adds": sub["bias_adds"].map(_m),
                        "conv-only minus bias minus ours": (
                            sub["ptflops_convonly_minus_bias"] - sub["macs"]
                        ).map(_m),
                    }
                )
            ),
            "",
            f"### Time per call [s], mode `{mode}`",
            "",
            _md(
                pd.DataFrame(
                    {
                        "model": sub["model"],
                        "hooks (meta)": sub["hooks_s"].map(lambda v: f"{v:.3f}"),
                        "hooks (cpu)": sub["hooks_cpu_s"].map(lambda v: f"{v:.2f}"),
                        "ptflops pytorch": sub["ptflops_pytorch_s"].map(lambda v: f"{v:.2f}"),
                        "ptflops aten": sub["ptflops_aten_s"].map(lambda v: f"{v:.2f}"),
                        "thop": sub["thop_s"].map(lambda v: f"{v:.2f}"),
                        "FlopCounterMode": sub["flopcounter_s"].map(lambda v: f"{v:.2f}"),
                        "peak memory (tensors)": sub["peak_memory_s"].map(lambda v: f"{v:.2f}"),
                    }
                )
            ),
            "",
        ]
    ratio = probes.copy()
    counter_cols = [c for c in probes.columns if c not in ("probe", "reference", "reference_is")]
    for c in counter_cols:
        ratio[c] = (probes[c] / probes["reference"]).map(lambda v: f"{v:g}")
    parts += [
        "### Probes: each counter's count / the reference, one op on a 1x4x8x8 input",
        "",
        "Reference: the exact conv MACs, or the elements the op outputs (pooling, mean: its "
        "input elements). `ntire` = Counts.ntire_flops, `hooks` = Counts.macs.",
        "",
        _md(ratio),
        "",
        "### What each counter skips (probes counted as 0)",
        "",
    ]
    for counter, beh in SKIPPED_OPS.items():
        parts.append(f"- **{counter}**: " + ", ".join(f"`{p}`" for p in beh.skipped()))
    return "\n".join(parts) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scale", type=int, default=4, choices=SCALES)
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    p.add_argument("--repeat", type=int, default=3, help="timed runs per counter; median kept")
    p.add_argument("--models", nargs="*", default=None, help="zoo names (default all)")
    p.add_argument("--modes", nargs="*", default=["ntire", "paper"])
    p.add_argument("--out", type=Path, default=RESULTS)
    p.add_argument("--update-docs", action="store_true", help=f"rewrite the block in {DOC.name}")
    p.add_argument(
        "--render-only",
        action="store_true",
        help="re-render the Markdown from the CSV files in --out; measure nothing",
    )
    args = p.parse_args(argv)
    if args.render_only:
        df = pd.read_csv(args.out / "counters.csv")
        probes = pd.read_csv(args.out / "counter_probes.csv")
        context = json.loads((args.out / "counters_context.json").read_text())
    else:
        torch.set_num_threads(args.threads)
        models = args.models or ZOO.names()
        context = {
            "host CPU": cpu_model(),
            "threads": str(args.threads),
            "time": f"median of {args.repeat} calls",
            **versions(),
            "date": dt.date.today().isoformat(),
            "load average at start": f"{os.getloadavg()[0]:.1f}",
        }
        df = measure(models, args.modes, args.scale, args.repeat)
        context["load average at end"] = f"{os.getloadavg()[0]:.1f}"
        probes = probe_counters()
        args.out.mkdir(parents=True, exist_ok=True)
        df.to_csv(args.out / "counters.csv", index=False)
        probes.to_csv(args.out / "counter_probes.csv", index=False)
        (args.out / "counters_context.json").write_text(json.dumps(context, indent=2) + "\n")
    md = render(df, probes, context)
    (args.out / "counters.md").write_text(md)
    print(f"wrote {args.out / 'counters.csv'}, {args.out / 'counters.md'}")
    if args.update_docs:
        text = DOC.read_text()
        block = f"{BEGIN}\n{md}{END}"
        if BEGIN not in text:
            raise SystemExit(f"{DOC}: no generated block to replace")
        DOC.write_text(
            re.sub(re.escape(BEGIN) + r".*?" + re.escape(END), lambda _: block, text, flags=re.S)
        )
        print(f"updated {DOC}")
    assert set(PROBES) == set(probes["probe"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
