"""Issue 8: what the reference recipe itself ranks like when it is cut short.

    .venv/bin/python benchmarks/reference_prefix.py [--out STEM]

Every proxy so far was a cheaper recipe or a supernet. This reads the reference tables' own
milestones: the pooled Set5 + Set14 + B100 Y-PSNR of each of the 31 reference nets after 1000,
2000 and 4000 steps of the reference recipe (the steps every net has), against its final score
once its curve flattened (5000-10000 steps). For each step: Kendall tau with the finals, a paired
bootstrap against params-only on the same nets (search.fidelity.paired_tau_bootstrap, 10,000
draws), and the recorded training seconds per net to get there (1 thread; evaluation excluded).
Descriptive: no step is picked. The prefix and the final come from the same run (same seed), so
the prefix shares that run's noise with its final; against an independently trained reference
its tau would be lower (the reference reproduces at tau 0.857 across seeds, row 4b3).

Out of sample: where benchmarks/results/proxy_reference_fresh.json is present (10 nets drawn at
random after this benchmark was written and read, ``proxy_fidelity.fresh_architectures``), the
same rows on those 10 alone and on all 41; the 31 stay the primary table. A fresh net whose curve
flattened by 4000 steps has its final at that step, so its 4000-step prefix is its final.

Writes benchmarks/results/reference_prefix.{json,md} (``--out STEM``: elsewhere).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from pruner_reference_replay import RESULTS, TABLES, load_table  # noqa: E402

from search.fidelity import paired_tau_bootstrap, spearman  # noqa: E402

STEPS = (1000, 2000, 4000)
#: the 10 nets drawn at random after this benchmark was written (optional)
FRESH = "proxy_reference_fresh.json"
#: issue 8's goal
TAU_GOAL = 0.8
SECONDS_BUDGET = 120.0


def prefix_rows(nets: list[dict[str, Any]]) -> list[dict[str, Any]]:
    finals = [n["psnr_y_db"] for n in nets]
    params = [float(n["params"]) for n in nets]
    rows = []
    for step in STEPS:
        scores = [n["curve"][step] for n in nets]
        boot = paired_tau_bootstrap(scores, params, finals)
        secs = [n["seconds"][step] for n in nets]
        rows.append({
            "steps": step, "n_architectures": len(nets), "kendall_tau": boot["tau_a"],
            "spearman": spearman(scores, finals), "params_only_tau": boot["tau_b"],
            "diff": boot["diff"], "diff_ci95": boot["diff_ci95"],
            "seconds_per_candidate": float(np.mean(secs)),
            "seconds_median": float(np.median(secs)), "seconds_max": float(np.max(secs)),
            "fidelity_met": boot["tau_a"] >= TAU_GOAL and boot["diff_ci95"][0] > 0,
            "budget_met": float(np.mean(secs)) <= SECONDS_BUDGET})
    return rows


def table_lines(rows: list[dict[str, Any]]) -> list[str]:
    lines = ["| steps | Kendall tau | Spearman | params-only tau | difference (95% interval) "
             "| s per net: mean / median / max | tau >= 0.8, clearly above params-only | "
             f"<= {SECONDS_BUDGET:.0f} s |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lo, hi = r["diff_ci95"]
        lines.append(
            f"| {r['steps']} | {r['kendall_tau']:.3f} | {r['spearman']:.3f} | "
            f"{r['params_only_tau']:.3f} | {r['diff']:+.3f} [{lo:+.3f}, {hi:+.3f}] | "
            f"{r['seconds_per_candidate']:.0f} / {r['seconds_median']:.0f} / "
            f"{r['seconds_max']:.0f} | {'yes' if r['fidelity_met'] else 'no'} | "
            f"{'yes' if r['budget_met'] else 'no'} |")
    return lines


def render(rows: list[dict[str, Any]], command: str,
           fresh_rows: list[dict[str, Any]] | None = None,
           all_rows: list[dict[str, Any]] | None = None) -> str:
    lines = ["# Issue 8: the reference recipe cut short", "",
             f"{rows[0]['n_architectures']} reference nets; each step's pooled Y-PSNR against the "
             "final one of the same run (same seed: optimistic against an independent "
             "reference). Seconds: recorded training time per net to that step, 1 thread.", "",
             *table_lines(rows)]
    if fresh_rows:
        lines += ["", f"## Out of sample: the {fresh_rows[0]['n_architectures']} fresh nets", "",
                  f"Drawn at random after the table above was written ({FRESH}); a net whose "
                  "curve flattened by 4000 steps has its final there.", "",
                  *table_lines(fresh_rows), "",
                  f"## All {all_rows[0]['n_architectures']} nets", "", *table_lines(all_rows)]
    lines += ["", f"Command: `.venv/bin/python {command}`", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="reference_prefix.py")
    ap.add_argument("--results", default=str(RESULTS), help="where the reference tables are")
    ap.add_argument("--out", default=str(RESULTS / "reference_prefix"), help="path stem")
    argv = sys.argv[1:] if argv is None else argv
    args = ap.parse_args(argv)
    fresh_path = Path(args.results) / FRESH
    try:
        nets = [n for t in TABLES for n in load_table(Path(args.results) / t, STEPS)]
        fresh = load_table(fresh_path, STEPS) if fresh_path.is_file() else []  # optional
    except (FileNotFoundError, ValueError) as exc:
        print(f"reference_prefix: {exc}", file=sys.stderr)
        return 2
    rows = prefix_rows(nets)
    fresh_rows = prefix_rows(fresh) if fresh else None
    all_rows = prefix_rows(nets + fresh) if fresh else None
    command = " ".join(["benchmarks/reference_prefix.py", *argv])
    stem = Path(args.out)
    stem.with_suffix(".json").write_text(json.dumps(
        {"rows": rows, "tables": list(TABLES), "fresh_rows": fresh_rows, "all_rows": all_rows,
         "fresh_table": FRESH if fresh else None, "command": command,
         "goal": {"kendall_tau": TAU_GOAL, "seconds_per_candidate": SECONDS_BUDGET}},
        indent=1) + "\n")
    stem.with_suffix(".md").write_text(render(rows, command, fresh_rows, all_rows))
    print(f"wrote {stem.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
