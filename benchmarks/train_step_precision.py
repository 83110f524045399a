"""Issue 8: can bfloat16 on this CPU's AMX units make the 4000-step cut of the reference recipe fit
the budget?

    .venv/bin/python benchmarks/train_step_precision.py [--steps 8] [--nets LABEL,...]

Row 4b5 (benchmarks/reference_prefix.py): the reference recipe cut at 4000 steps ranks the finals
of all 41 reference nets at Kendall tau 0.82, clearly above parameter count, at about 670 s of
training per net on one thread, 5.6 times issue 8's 120 CPU-s. This host's Xeon has AMX-BF16 and
AVX512-BF16 (``lscpu``), which oneDNN uses for bf16 convolutions under ``torch.autocast``.

For each of the 41 reference nets (``proxy_small_batch.reference_nets``), one training step of
the reference recipe's shape (batch 16, LR patch 32, the architecture's own output, L1, Adam,
channels_last, 1 thread) is timed in float32 and under bf16 autocast (median of ``--steps``
steps after 3 warm-up steps). The input is random: this times the compute of a step, not data
sampling, EMA or scoring, so 4000 times it is a lower bound on the 4000-step cut's cost. Whether
bf16 keeps the ranking is not measured: that matters only if the time fits.

Writes benchmarks/results/train_step_precision.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

RESULTS = ROOT / "benchmarks" / "results"
CUT_STEPS = 4000
BUDGET_CPU_S = 120.0
PRECISIONS = ("fp32", "bf16")


def lscpu() -> dict[str, str]:
    try:
        text = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
    except OSError:
        return {}
    return {k.strip(): v.strip() for k, _, v in (ln.partition(":") for ln in text.splitlines())}


def cpu_flags(info: dict[str, str]) -> list[str]:
    return sorted(f for f in info.get("Flags", "").split() if f.startswith("amx") or "bf16" in f)


def step_seconds(spec: Any, precision: str, steps: int) -> float:
    """Median seconds of one reference-shaped training step of ``spec`` at ``precision``."""
    import torch
    import torch.nn.functional as F

    from blocks.build import build_network
    from search.fidelity import REFERENCE_PROTOCOL as P
    from search.train import ProxyUpscaler

    torch.manual_seed(0)
    net = build_network(spec).to(memory_format=torch.channels_last)
    model = ProxyUpscaler(net, spec.scale, residual=P.residual, channels_last=True)
    opt = torch.optim.Adam(net.parameters(), lr=P.lr, betas=P.betas)
    lr_b = torch.rand(P.batch, 3, P.lr_patch, P.lr_patch).contiguous(
        memory_format=torch.channels_last)
    hr_b = torch.rand(P.batch, 3, P.lr_patch * spec.scale, P.lr_patch * spec.scale)
    times = []
    for i in range(3 + steps):
        t0 = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
            out = model(lr_b)
        loss = F.l1_loss(out.float(), hr_b)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if i >= 3:
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """What 4000 steps cost per net (mean over nets) in each precision and at the faster one."""
    def mean_cut(key: Any) -> float:
        return CUT_STEPS * statistics.fmean(key(r) for r in rows)

    ratios = [r["fp32_s_per_step"] / r["bf16_s_per_step"] for r in rows]
    best = mean_cut(lambda r: min(r["fp32_s_per_step"], r["bf16_s_per_step"]))
    return {
        "n_nets": len(rows),
        "speedup_bf16_median": statistics.median(ratios),
        "speedup_bf16_min": min(ratios), "speedup_bf16_max": max(ratios),
        "nets_faster_in_bf16": sum(x > 1.0 for x in ratios),
        "cut_train_s_fp32": mean_cut(lambda r: r["fp32_s_per_step"]),
        "cut_train_s_bf16": mean_cut(lambda r: r["bf16_s_per_step"]),
        "cut_train_s_faster_of_two": best,
        "fits_budget": best <= BUDGET_CPU_S,
    }


def render(report: dict[str, Any]) -> str:
    s = report["summary"]
    lines = [
        "# Issue 8: a training step in float32 and in bfloat16 (AMX)", "",
        f"Host: {report['cpu']}; flags {', '.join(report['cpu_flags']) or 'none'}; torch "
        f"{report['torch']}, 1 thread, batch 16, LR patch 32, channels_last, median of "
        f"{report['steps']} steps (compute only: random input, no data sampling, EMA or scoring).",
        "",
        "| figure | value |", "|---|---|",
        f"| nets | {s['n_nets']} |",
        f"| bf16 speed-up, median (min-max) | {s['speedup_bf16_median']:.2f}x "
        f"({s['speedup_bf16_min']:.2f}-{s['speedup_bf16_max']:.2f}) |",
        f"| nets faster in bf16 | {s['nets_faster_in_bf16']} of {s['n_nets']} |",
        f"| {CUT_STEPS} steps per net, float32 (mean) | {s['cut_train_s_fp32']:.0f} s |",
        f"| {CUT_STEPS} steps per net, bfloat16 (mean) | {s['cut_train_s_bf16']:.0f} s |",
        f"| {CUT_STEPS} steps per net, the faster of the two per net (mean) | "
        f"{s['cut_train_s_faster_of_two']:.0f} s |",
        f"| fits issue 8's {BUDGET_CPU_S:.0f} CPU-s | {'yes' if s['fits_budget'] else 'no'} |",
        "", "| net | params | float32 s/step | bfloat16 s/step | speed-up |",
        "|---|---|---|---|---|",
    ]
    for r in report["nets"]:
        lines.append(f"| {r['label']} | {r['params']:,} | {r['fp32_s_per_step']:.4f} | "
                     f"{r['bf16_s_per_step']:.4f} | "
                     f"{r['fp32_s_per_step'] / r['bf16_s_per_step']:.2f}x |")
    lines += ["", f"Command: `.venv/bin/python {report['command']}`", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    import torch
    from proxy_small_batch import reference_nets

    from blocks.errors import UserError

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=8, help="timed steps per net and precision")
    ap.add_argument("--nets", default="", help="comma-separated labels (default: all 41)")
    ap.add_argument("--out", type=Path, default=RESULTS / "train_step_precision",
                    help="output stem (.json and .md)")
    args = ap.parse_args(argv)
    try:
        if args.steps < 1:
            raise UserError("--steps must be at least 1")
        nets = reference_nets(RESULTS)
        wanted = [x for x in args.nets.split(",") if x]
        unknown = sorted(set(wanted) - {n["label"] for n in nets})
        if unknown:
            raise UserError(f"unknown net(s) {', '.join(unknown)}")
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    torch.set_num_threads(1)
    rows = []
    for n in nets:
        if wanted and n["label"] not in wanted:
            continue
        row = {"label": n["label"], "params": n["params"]}
        for precision in PRECISIONS:
            row[f"{precision}_s_per_step"] = step_seconds(n["spec"], precision, args.steps)
        rows.append(row)
        print(f"{n['label']}: fp32 {row['fp32_s_per_step']:.4f} s, "
              f"bf16 {row['bf16_s_per_step']:.4f} s", flush=True)
    info = lscpu()
    report = {"cpu": info.get("Model name", platform.machine()), "cpu_flags": cpu_flags(info),
              "torch": torch.__version__, "steps": args.steps, "nets": rows,
              "summary": summarise(rows),
              "command": "benchmarks/train_step_precision.py"
              + (f" --steps {args.steps}" if args.steps != 8 else "")
              + (f" --nets {args.nets}" if wanted else "")}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(report, indent=1) + "\n")
    args.out.with_suffix(".md").write_text(render(report))
    print(render(report).split("\n\n")[2])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
