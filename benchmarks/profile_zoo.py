"""Latency of every zoo network on every backend of this host: CSV (pandas) and Markdown.

    .venv/bin/python benchmarks/profile_zoo.py [--input 64x64] [--scale 4] [--threads 1] [--runs 20]

Writes benchmarks/results/profile_zoo.csv and .md. Each row: network, scale, params, MACs (conv
MACs, profiles.counting), backend, median and IQR latency in ms, the ONNX check (max abs diff),
and the context (threads, input size, CPU, torch / ORT versions). A backend that cannot export a
network is a row with its reason; the other backends still run. The load average before and after
is recorded: on a host shared with other work, the figures are noisier and larger.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from blocks.build import build_network  # noqa: E402
from blocks.zoo import ZOO, zoo_spec  # noqa: E402
from profiles.counting import count_model  # noqa: E402
from profiles.latency import (  # noqa: E402
    BackendFailure,
    backend_names,
    host_context,
    measure_backends,
)
from profiles.units import format_count, format_hw, parse_hw  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--input", default="64x64", help="LR input HxW (default 64x64)")
    ap.add_argument("--scale", type=int, action="append", help="scale(s); default 4")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument(
        "--clock",
        default="wall",
        choices=("wall", "cpu"),
        help="wall (latency) or cpu (thread CPU time, one thread only; steadier when shared)",
    )
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--backend", action="append", help="backend(s); default all")
    ap.add_argument(
        "--out",
        default=str(RESULTS / "profile_zoo"),
        help="output path without suffix (.csv and .md are written)",
    )
    args = ap.parse_args(argv)
    hw = parse_hw(args.input)
    scales = args.scale or [4]
    backends = args.backend or backend_names()
    load_before = os.getloadavg()
    t0 = time.perf_counter()
    ctx = host_context()
    rows = []
    for name in ZOO.names():
        for s in scales:
            spec = zoo_spec(name, s)
            model = build_network(spec, seed=0)
            counts = count_model(model, hw)
            results = measure_backends(
                model,
                hw,
                backends=backends,
                threads=args.threads,
                warmup=args.warmup,
                runs=args.runs,
                clock=args.clock,
            )
            for backend, r in results.items():
                row = {
                    "name": name,
                    "scale": s,
                    "params": counts.params,
                    "macs": counts.macs,
                    "backend": backend,
                }
                if isinstance(r, BackendFailure):
                    row.update(latency_ms=None, latency_iqr_ms=None, status=r.kind, note=r.reason)
                else:
                    row.update(
                        latency_ms=r.latency_ms,
                        latency_iqr_ms=r.latency_iqr_ms,
                        status="ok",
                        note="",
                        cpu_share=r.context.get("cpu_share"),
                        onnx_max_abs_diff=r.context.get("onnx_max_abs_diff"),
                    )
                row.update(
                    threads=args.threads,
                    clock=args.clock,
                    input_hw=format_hw(hw),
                    runs=args.runs,
                    warmup=args.warmup,
                    cpu_model=ctx["cpu_model"],
                    torch_version=ctx["torch_version"],
                    onnxruntime_version=ctx["onnxruntime_version"],
                    device="host-cpu",
                )
                rows.append(row)
                print(
                    f"{name} x{s} {backend}: "
                    f"{row['latency_ms'] if row['latency_ms'] is not None else row['status']}",
                    file=sys.stderr,
                    flush=True,
                )
    df = pd.DataFrame(rows)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(out.with_suffix(".csv"), index=False)
    load_after = os.getloadavg()
    out.with_suffix(".md").write_text(
        render_md(df, hw, args, ctx, load_before[0], load_after[0], time.perf_counter() - t0)
    )
    return 0


def render_md(
    df: pd.DataFrame,
    hw: tuple[int, int],
    args: argparse.Namespace,
    ctx: dict,
    load_before: float,
    load_after: float,
    seconds: float,
) -> str:
    ok = df[df["status"] == "ok"]
    wide = ok.pivot_table(index=["name", "scale"], columns="backend", values="latency_ms")
    iqr = ok.pivot_table(index=["name", "scale"], columns="backend", values="latency_iqr_ms")
    first = df.drop_duplicates(["name", "scale"]).set_index(["name", "scale"])
    backends = sorted(df["backend"].unique())
    clock = "wall-clock latency" if args.clock == "wall" else "CPU time of the one compute thread"
    lines = [
        "# Zoo latency on this host, all backends",
        "",
        f"LR input {format_hw(hw)}, batch 1, {args.threads} thread(s) (torch intra-op / ORT "
        f"intra_op_num_threads), clock {args.clock} ({clock}), median (IQR) of {args.runs} runs "
        f"after {args.warmup} warm-up, ms. CPU share (process CPU / wall x threads; about 1 = "
        f"cores to ourselves) {ok['cpu_share'].min():.2f}-{ok['cpu_share'].max():.2f}. "
        f"{ctx['cpu_model']} ({ctx['cpu_count']} CPUs), torch {ctx['torch_version']}, "
        f"onnxruntime {ctx['onnxruntime_version']}. ONNX output checked against torch before "
        f"timing. Load average (1 min) {load_before:.2f} before, {load_after:.2f} after; "
        f"{seconds:.0f} s in all. MACs: conv MACs at this input (profiles.counting).",
        "",
        "| network | scale | params | MACs | " + " | ".join(backends) + " |",
        "|---|---|---|---|" + "---|" * len(backends),
    ]
    for (name, scale), r in first.iterrows():
        cells = []
        for b in backends:
            if (
                (name, scale) in wide.index
                and b in wide.columns
                and pd.notna(wide.loc[(name, scale), b])
            ):
                cells.append(f"{wide.loc[(name, scale), b]:.2f} ({iqr.loc[(name, scale), b]:.2f})")
            else:
                cells.append("failed")
        lines.append(
            f"| {name} | x{scale} | {r['params']:,} | {format_count(r['macs'])} | "
            + " | ".join(cells)
            + " |"
        )
    failed = df[df["status"] != "ok"]
    if len(failed):
        lines += ["", "Backends that could not run a network:", ""]
        for r in failed.itertuples():
            lines.append(f"- {r.name} x{r.scale}, {r.backend} ({r.status}): {r.note}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
