"""Latency table vs measured end-to-end latency on this host, over varied networks.

Builds a pool of block configurations (rfdb / drfdb / lrfdb; standard, DCB and MKDCB convs; kernel
sets; ESA, EFSA, CCA or no attention; widths 16-64), draws test networks from it (2-6 blocks, mixed
or repeated blocks, scales 2-4), measures a latency table of the pool with ``measure_table`` (its
calibration nets are drawn separately and never equal a test net) and compares predicted with
measured end-to-end latency twice: the test nets timed as held-out nets in the table's own
session, and timed again afterwards on their own. Reports the share of predictions within +-10%,
Spearman rank correlation of predicted vs measured, and the same correlation for MACs as a proxy.

    .venv/bin/python benchmarks/latency_table.py [--input 64x64] [--threads 1] [--clock wall|cpu]

Writes benchmarks/results/latency_table.json and .md. The load average and the CPU share are
recorded: on a host shared with other work the figures are noisier.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from blocks.build import build_network  # noqa: E402
from blocks.specs import BlockSpec, NetSpec, block_spec  # noqa: E402
from profiles.counting import count_model  # noqa: E402
from profiles.latency import host_context, measure_interleaved  # noqa: E402
from profiles.latency_table import measure_table, predict_latency_ms  # noqa: E402
from profiles.units import format_hw, parse_hw  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
WIDTHS = (16, 24, 32, 40, 48, 56, 64)
# (kind, conv, kernel sets, merges) the pool draws from
CONVS = (
    ("rfdb", "standard", ((3,), (5,)), (None,)),
    ("drfdb", "dcb", ((3,), (5,)), (None,)),
    ("drfdb", "mkdcb", ((3, 5), (3, 5, 7)), ("sum", "concat")),
    ("lrfdb", "standard", ((3,),), (None,)),
    ("lrfdb", "dcb", ((3,), (5,)), (None,)),
    ("lrfdb", "mkdcb", ((3, 5),), ("sum",)),
)
ATTENTIONS = ("esa", "efsa", "cca", "none")
CLOCK_TEXT = {
    "wall": "wall-clock latency",
    "cpu": "CPU time of the one compute thread: the latency on an idle core, without the time "
    "other processes held it",
}


def _pick(rng: np.random.Generator, seq: Any) -> Any:
    return seq[int(rng.integers(len(seq)))]


def block_pool(rng: np.random.Generator, per_width: int) -> dict[int, list[BlockSpec]]:
    """``per_width`` distinct random block configurations at each width."""
    pool: dict[int, list[BlockSpec]] = {}
    for c in WIDTHS:
        seen: dict[str, BlockSpec] = {}
        while len(seen) < per_width:
            kind, conv, ksets, merges = _pick(rng, CONVS)
            att = _pick(rng, ATTENTIONS)
            kw: dict[str, Any] = dict(
                conv=conv,
                kernels=_pick(rng, ksets),
                attention=att,
                activation=_pick(rng, ("lrelu", "gelu")),
                distill_ratio=_pick(rng, (0.25, 0.5)),
            )
            if conv == "mkdcb":
                kw["merge"] = _pick(rng, merges)
            if att == "cca":
                kw["reduction"] = _pick(rng, (4, 16))
            b = block_spec(kind, c, **kw)
            seen.setdefault(b.key(), b)
        pool[c] = list(seen.values())
    return pool


def draw_nets(
    rng: np.random.Generator,
    pool: dict[int, list[BlockSpec]],
    n: int,
    exclude: set[str] = frozenset(),
) -> list[NetSpec]:
    """``n`` distinct nets: half a repeated block, half mixed blocks of one width."""
    out: dict[str, NetSpec] = {}
    while len(out) < n:
        c = _pick(rng, WIDTHS)
        m = int(rng.integers(2, 7))
        if len(out) % 2 == 0:
            blocks = (_pick(rng, pool[c]),) * m
        else:
            blocks = tuple(_pick(rng, pool[c]) for _ in range(m))
        spec = NetSpec("distill", int(_pick(rng, (2, 3, 4))), blocks, _pick(rng, ("lrelu", "gelu")))
        if spec.key() not in exclude:
            out.setdefault(spec.key(), spec)
    return list(out.values())


def score(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The benchmark's figures over rows with measured_ms, predicted_ms and macs."""
    df = pd.DataFrame(rows)
    err = df["predicted_ms"] / df["measured_ms"] - 1
    return {
        "nets": len(df),
        "share_within_10pct": float((err.abs() <= 0.10).mean()),
        "spearman_predicted": float(df["predicted_ms"].corr(df["measured_ms"], "spearman")),
        "spearman_macs": float(df["macs"].corr(df["measured_ms"], "spearman")),
        "mean_abs_rel_error": float(err.abs().mean()),
        "max_abs_rel_error": float(err.abs().max()),
        "median_rel_error": float(err.median()),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--input", default="64x64", help="LR input HxW (default 64x64)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument(
        "--clock",
        default="wall",
        choices=("wall", "cpu"),
        help="wall (latency) or cpu (thread CPU time, one thread only; steadier when shared)",
    )
    ap.add_argument("--backend", default="eager")
    ap.add_argument("--runs", type=int, default=40)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--nets", type=int, default=36, help="test networks (default 36)")
    ap.add_argument("--per-width", type=int, default=4, help="block configurations per width")
    ap.add_argument("--calibration", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--out",
        default=str(RESULTS / "latency_table"),
        help="output path without suffix (.json and .md are written)",
    )
    args = ap.parse_args(argv)
    hw = parse_hw(args.input)
    load_before = os.getloadavg()
    t0 = time.perf_counter()

    rng = np.random.default_rng(args.seed)
    pool = block_pool(rng, args.per_width)
    nets = draw_nets(rng, pool, args.nets)
    test_keys = {n.key() for n in nets}
    cal = draw_nets(np.random.default_rng(args.seed + 1), pool, args.calibration, test_keys)
    blocks = [b for c in WIDTHS for b in pool[c]]

    # 1. the table, with the test nets timed as held-out validation in the same session (one
    #    chunk: every part, calibration net and test net interleaved round by round)
    table = measure_table(
        blocks,
        input_hw=hw,
        channels_list=WIDTHS,
        scales=(2, 3, 4),
        num_blocks_list=range(2, 7),
        fuse_activations=("lrelu", "gelu"),
        backend=args.backend,
        threads=args.threads,
        runs=args.runs,
        warmup=args.warmup,
        calibration=cal,
        validation=nets,
        clock=args.clock,
        chunk=10_000,
        progress=lambda m: print(f"table: {m}", file=sys.stderr, flush=True),
    )
    t_table = time.perf_counter() - t0
    print(f"table: {len(table.entries)} parts in {t_table:.0f} s", file=sys.stderr)
    macs = {n.key(): count_model(n, hw).macs for n in nets}
    same = [
        {**v, "macs": macs[v["key"]], "rel_error": v["predicted_ms"] / v["measured_ms"] - 1}
        for v in table.validation
    ]
    # 2. the test nets again, end to end, in a later session (as a table is used)
    measured = measure_interleaved(
        [build_network(n, seed=0) for n in nets],
        hw,
        backend=args.backend,
        threads=args.threads,
        runs=args.runs,
        warmup=args.warmup,
        batch=1,
        device="host-cpu",
        clock=args.clock,
        settle=1,
    )
    share_nets = measured[0].context["cpu_share"]
    later = []
    for n, m in zip(nets, measured, strict=True):
        pred = predict_latency_ms(n, table)
        later.append(
            {
                "key": n.key(),
                "measured_ms": m.latency_ms,
                "measured_iqr_ms": m.latency_iqr_ms,
                "predicted_ms": pred,
                "rel_error": pred / m.latency_ms - 1,
                "macs": macs[n.key()],
            }
        )
    summary = {
        "same_session": score(same),
        "later_session": score(later),
        "goals": {"share_within_10pct": 0.95, "spearman": 0.95},
    }
    load_after = os.getloadavg()
    context = {
        "backend": args.backend,
        "clock": args.clock,
        "threads": args.threads,
        "input_hw": list(hw),
        "runs": args.runs,
        "warmup": args.warmup,
        "device": "host-cpu",
        **host_context(),
        "table_parts": len(table.entries),
        "block_configurations": len(blocks),
        "cpu_share_table": table.cpu_share,
        "cpu_share_nets": share_nets,
        "fit": {
            "scale": table.fit.scale,
            "offset_ms": table.fit.offset_ms,
            "method": table.fit.method,
            "calibration_nets": len(table.fit.calibration),
        },
        "seconds_table": round(t_table, 1),
        "seconds_total": round(time.perf_counter() - t0, 1),
        "loadavg_1m_before": round(load_before[0], 2),
        "loadavg_1m_after": round(load_after[0], 2),
        "command": "benchmarks/latency_table.py "
        + " ".join(argv if argv is not None else sys.argv[1:]),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(
        json.dumps(
            {
                "summary": summary,
                "context": context,
                "calibration": list(table.fit.calibration),
                "same_session": same,
                "later_session": later,
            },
            indent=1,
        )
        + "\n"
    )
    out.with_suffix(".md").write_text(render_md(summary, context, same, later))
    print(json.dumps(summary, indent=1))
    return 0


def render_md(
    summary: dict[str, Any],
    context: dict[str, Any],
    same: list[dict[str, Any]],
    later: list[dict[str, Any]],
) -> str:
    a, b = summary["same_session"], summary["later_session"]
    lines = [
        "# Latency table: predicted vs measured end-to-end latency (this host)",
        "",
        f"Backend {context['backend']}, {context['threads']} thread(s), clock "
        f"{context['clock']} ({CLOCK_TEXT[context['clock']]}), LR input "
        f"{format_hw(tuple(context['input_hw']))}, batch 1, median of {context['runs']} runs "
        f"({context['warmup']} warm-up rounds; each timed call after one untimed call of the "
        f"same model); {context['cpu_model']} ({context['cpu_count']} CPUs), torch "
        f"{context['torch_version']}. Table: {context['table_parts']} parts "
        f"({context['block_configurations']} block configurations); fit "
        f"{context['fit']['scale']:.3f} x sum(parts) + {context['fit']['offset_ms']:.3f} ms "
        f"({context['fit']['method']}, chosen by leave-one-out on "
        f"{context['fit']['calibration_nets']} calibration nets, none of them a test net).",
        "",
        "Two comparisons over the same test nets: **same session** = the test nets timed as "
        "held-out nets inside the table's session (every part, calibration net and test net "
        "interleaved round by round), so a change of load on the machine falls on parts and "
        "nets alike; **later session** = the test nets timed again afterwards, on their own, "
        "as a table is used.",
        "",
        f"Load average (1 min) {context['loadavg_1m_before']} before, "
        f"{context['loadavg_1m_after']} after; CPU share (process CPU time / wall x threads; "
        f"about 1 = cores to ourselves) {context['cpu_share_table']} in the table session, "
        f"{context['cpu_share_nets']} in the later one; {context['seconds_total']} s in all.",
        "",
        "| figure | same session | later session | goal |",
        "|---|---|---|---|",
        f"| predictions within +-10% | {a['share_within_10pct']:.1%} | "
        f"{b['share_within_10pct']:.1%} | >= 95% |",
        f"| Spearman, predicted vs measured | {a['spearman_predicted']:.3f} | "
        f"{b['spearman_predicted']:.3f} | >= 0.95 |",
        f"| Spearman, MACs vs measured (proxy) | {a['spearman_macs']:.3f} | "
        f"{b['spearman_macs']:.3f} | - |",
        f"| mean / max abs relative error | {a['mean_abs_rel_error']:.1%} / "
        f"{a['max_abs_rel_error']:.1%} | {b['mean_abs_rel_error']:.1%} / "
        f"{b['max_abs_rel_error']:.1%} | - |",
        f"| median relative error (bias) | {a['median_rel_error']:+.1%} | "
        f"{b['median_rel_error']:+.1%} | - |",
        "",
        "| net | MACs | predicted ms | same session: measured ms (IQR), error | "
        "later: measured ms (IQR), error |",
        "|---|---|---|---|---|",
    ]
    later_by_key = {r["key"]: r for r in later}
    for r in sorted(same, key=lambda r: r["measured_ms"]):
        q = later_by_key[r["key"]]
        lines.append(
            f"| `{r['key']}` | {r['macs'] / 1e6:.1f} M | {r['predicted_ms']:.2f} | "
            f"{r['measured_ms']:.2f} ({r['measured_iqr_ms']:.2f}), {r['rel_error']:+.1%} | "
            f"{q['measured_ms']:.2f} ({q['measured_iqr_ms']:.2f}), {q['rel_error']:+.1%} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
