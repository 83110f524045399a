"""Issue 8 out of sample: do the strategies picked on the 13 calibration nets rank 8 new ones?

    .venv/bin/python benchmarks/proxy_fidelity.py reference --set heldout --shard 0/2 ...
    .venv/bin/python benchmarks/proxy_fidelity.py reference --set heldout --shard 1/2 ...
    .venv/bin/python benchmarks/proxy_heldout.py [--no-train] [--threads 1]

``proxy_fidelity.py issue8`` picks its best strategy among about 30 on the same 13 architectures
it measures them on, so its tau is optimistic. This benchmark fixes the questions in advance from
the committed calibration report (benchmarks/results/proxy_fidelity.json): its pick, params-only,
MACs-only, the search default ``quick`` and the best trained strategy. It scores each on
``heldout_architectures`` (8 nets chosen after that pick) against their own long-training reference
(benchmarks/results/proxy_reference_heldout.json, same protocol and seed as the calibration
table), and on all 21 nets pooled. Paired bootstrap intervals (search.fidelity.
paired_tau_bootstrap) answer "is the pick clearly above params-only" out of sample and pooled.
Writes benchmarks/results/proxy_fidelity_heldout.{json,md}. Trained strategies are cached as in
issue 8 (same key), so a rerun only trains what is missing.
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

sys.path.insert(0, str(Path(__file__).resolve().parent))

from proxy_fidelity import (  # noqa: E402
    HELDOUT_TABLE,
    ISSUE8_REVISION_FILES,
    REFERENCE_TABLE,
    RESULTS,
    ROOT,
    _cached_record,
    _cpu_model,
    _fmt,
    _zero_cost_scores,
    code_revision,
    context_lines,
    git_head,
    heldout_architectures,
    issue8_architectures,
    write_report,
)

from blocks.errors import UserError  # noqa: E402
from blocks.specs import NetSpec  # noqa: E402
from search.fidelity import (  # noqa: E402
    ReferenceTable,
    paired_tau_bootstrap,
    rank_report,
    strategy_protocols,
)
from search.proxies import TrainData  # noqa: E402

CALIBRATION_REPORT = RESULTS / "proxy_fidelity.json"


def questions(calibration: dict[str, Any]) -> list[str]:
    """The strategies the calibration report names, in a fixed order: its pick, the capacity
    bars, then every strategy its paired comparisons name (the search default, the best trained)."""
    names = [calibration["strategy"], "params-only", "macs-only"]
    for c in calibration.get("comparisons") or []:
        names += [c["a"], c["b"]]
    return list(dict.fromkeys(n for n in names if n))


def strategy_scores(
    name: str,
    archs: list[tuple[str, NetSpec]],
    *,
    train_runs: bool,
    common: dict[str, Any],
) -> tuple[dict[str, float], dict[str, float]]:
    """(label -> score, label -> CPU-s) of one strategy on new architectures, computed the way
    issue 8 computed it on the calibration set. Leave-one-out blends and same-run prefixes have no
    out-of-sample counterpart here: a UserError says so."""
    from profiles.counting import count_in_mode, count_params

    if name == "params-only":
        return {lb: float(np.log10(count_params(sp))) for lb, sp in archs}, {}
    if name == "macs-only":
        return {lb: float(np.log10(count_in_mode(sp, "ntire").macs)) for lb, sp in archs}, {}
    if name.startswith("zero-cost:"):
        zc = _zero_cost_scores(archs, common["data"], common["seed"], common["threads"])
        z = name.split(":", 1)[1]
        return (
            {lb: float(zc[lb]["scores"][z]) for lb, _ in archs},
            {lb: zc[lb]["cpu_seconds"] for lb, _ in archs},
        )
    protocols = strategy_protocols()
    if name not in protocols:
        raise UserError(f"strategy {name!r} cannot be scored out of sample by this benchmark")
    scores, cpu = {}, {}
    for lb, sp in archs:
        rec = _cached_record(lb, sp, protocols[name], train_runs=train_runs, **common)
        if rec is None or rec["result"]["psnr_y_db"] is None:
            continue
        scores[lb], cpu[lb] = float(rec["result"]["psnr_y_db"]), float(rec["cpu_seconds"])
        print(f"[{name}] {lb}: {scores[lb]:.3f} dB, {cpu[lb]:.0f} CPU-s", flush=True)
    return scores, cpu


def evaluate(
    names: list[str],
    held: dict[str, dict[str, float]],
    held_ref: dict[str, float],
    cal: dict[str, dict[str, float]],
    cal_ref: dict[str, float],
    *,
    n_boot: int = 10000,
) -> dict[str, Any]:
    """Every strategy's rank agreement on the held-out nets and on both sets pooled, and the
    paired bootstrap of each named strategy against params-only on both (computed only over the
    nets every compared strategy scored)."""
    rows = []
    for n in names:
        h = [lb for lb in held_ref if lb in held.get(n, {})]
        c = [lb for lb in cal_ref if lb in cal.get(n, {})]
        row: dict[str, Any] = {"name": n, "n_heldout": len(h), "n_pooled": len(h) + len(c)}
        if len(h) >= 3:
            row["heldout"] = rank_report([held[n][lb] for lb in h], [held_ref[lb] for lb in h])
        if len(h) + len(c) >= 3 and c:
            row["pooled"] = rank_report(
                [held[n][lb] for lb in h] + [cal[n][lb] for lb in c],
                [held_ref[lb] for lb in h] + [cal_ref[lb] for lb in c],
            )
        rows.append(row)
    comparisons = []
    base = "params-only"
    for n in names:
        if n == base:
            continue
        h = [lb for lb in held_ref if lb in held.get(n, {}) and lb in held.get(base, {})]
        both = [lb for lb in cal_ref if lb in cal.get(n, {}) and lb in cal.get(base, {})]
        for where, c in (("heldout", []), ("pooled", both)):
            if len(h) + len(c) < 4:
                continue
            a = [held[n][lb] for lb in h] + [cal[n][lb] for lb in c]
            b = [held[base][lb] for lb in h] + [cal[base][lb] for lb in c]
            ref = [held_ref[lb] for lb in h] + [cal_ref[lb] for lb in c]
            res = paired_tau_bootstrap(a, b, ref, n_boot=n_boot)
            comparisons.append(
                {
                    "a": n,
                    "b": base,
                    "on": where,
                    **res,
                    "clearly_above": bool(res["diff_ci95"][0] > 0),
                }
            )
    return {"strategies": rows, "comparisons": comparisons}


def render(report: dict[str, Any]) -> str:
    ctx, st = report["context"], report["reference_state"]
    lines = [
        "# Proxy fidelity out of sample (issue 8, held-out architectures)",
        "",
        f"The calibration report picked **{report['pick']}** among "
        f"{report['calibration_n_strategies']} strategies on its "
        f"{report['calibration_n_architectures']} nets. Here the same strategies score "
        f"{report['n_heldout']} held-out nets (chosen after that pick) against their own "
        f"reference ({st['n_flattened']} of {st['n_architectures']} curves flattened; compared "
        f"at {st['steps_compared']} steps), and all {report['n_pooled']} nets pooled.",
        "",
        "| strategy | held-out tau | held-out Spearman | pooled tau | pooled Spearman | n |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in report["strategies"]:
        h, p = r.get("heldout") or {}, r.get("pooled") or {}
        lines.append(
            f"| {r['name']} | {_fmt(h.get('kendall_tau'))} | {_fmt(h.get('spearman'))} | "
            f"{_fmt(p.get('kendall_tau'))} | {_fmt(p.get('spearman'))} | "
            f"{r['n_heldout']} + {r['n_pooled'] - r['n_heldout']} |"
        )
    lines += [
        "",
        "Paired bootstrap against params-only (10,000 draws over the nets; tau-a over distinct "
        "pairs):",
        "",
        "| strategy | on | tau | params-only tau | difference | 95% interval | P(better) | "
        "clearly above |",
        "|---|---|---:|---:|---:|---|---:|---|",
    ]
    for c in report["comparisons"]:
        lo, hi = c["diff_ci95"]
        lines.append(
            f"| {c['a']} | {c['on']} ({c['n_items']}) | {_fmt(c['tau_a'])} | {_fmt(c['tau_b'])} | "
            f"{c['diff']:+.3f} | [{lo:+.3f}, {hi:+.3f}] | {c['p_a_better']:.2f} | "
            f"{'yes' if c['clearly_above'] else 'no'} |"
        )
    lines += [
        "",
        "| held-out arch | params | reference dB | steps | flat |",
        "|---|---:|---:|---:|---|",
    ]
    for r in sorted(report["rows"], key=lambda r: -r["reference_psnr_y_db"]):
        lines.append(
            f"| {r['label']} | {r['params']:,} | {_fmt(r['reference_psnr_y_db'])} | "
            f"{r['reference_steps']} | {r['reference_flattened']} |"
        )
    return "\n".join(lines + context_lines(ctx))


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--table", default=str(HELDOUT_TABLE), help="the held-out reference")
    ap.add_argument("--calibration-table", default=str(REFERENCE_TABLE))
    ap.add_argument("--calibration", default=str(CALIBRATION_REPORT))
    ap.add_argument("--no-train", action="store_true", help="only use cached strategy runs")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--data", help="data root (default: $DISTILLNAS_DATA or ../shared/data)")
    ap.add_argument("--cache", default=str(RESULTS / "cache"))
    ap.add_argument("--out", default=str(RESULTS / "proxy_fidelity_heldout"))
    args = ap.parse_args(argv)
    try:
        return run(args, argv)
    except UserError as exc:
        print(f"proxy_heldout: {exc}", file=sys.stderr)
        return 2


def run(args: argparse.Namespace, argv: list[str]) -> int:
    for p in (args.calibration, args.table, args.calibration_table):
        if not Path(p).is_file():
            raise UserError(f"no {p}; see this script's docstring for the commands that make it")
    calibration = json.loads(Path(args.calibration).read_text())
    names = questions(calibration)
    table = ReferenceTable.load(args.table)
    cal_table = ReferenceTable.load(args.calibration_table)
    if table.data["protocol"] != cal_table.data["protocol"] or table.data["seed"] != (
        cal_table.data["seed"]
    ):
        raise UserError(f"{args.table}: not the calibration reference's protocol and seed")
    scale = int(table.data["scale"])
    archs = heldout_architectures(scale)
    held_ref = table.scores([lb for lb, _ in archs])
    cal_ref = cal_table.scores([lb for lb, _ in issue8_architectures(scale)])
    seed = int(calibration["context"]["seed"])
    load_before = [round(x, 2) for x in os.getloadavg()]
    common = {
        "data": TrainData.for_protocol("quick", args.data),
        "seed": seed,
        "threads": args.threads,
        "cache": Path(args.cache),
        "revision": code_revision(ISSUE8_REVISION_FILES),
        "progress": False,
    }
    t0 = time.perf_counter()
    held, cpu = {}, {}
    for n in names:  # train every held-out arch, scored or not yet: the reference may follow
        held[n], cpu[n] = strategy_scores(n, archs, train_runs=not args.no_train, common=common)
    by_name = {s["name"]: s for s in calibration["strategies"]}
    cal = {n: by_name[n]["scores"] for n in names if n in by_name}
    result = evaluate(names, held, held_ref, cal, cal_ref)
    report = {
        "pick": calibration["strategy"],
        "calibration_n_strategies": calibration["n_strategies_compared"],
        "calibration_n_architectures": calibration["n_architectures"],
        "n_heldout": len(held_ref),
        "n_pooled": len(held_ref) + len(cal_ref),
        "reference_file": str(Path(args.table).resolve().relative_to(ROOT))
        if Path(args.table).resolve().is_relative_to(ROOT)
        else args.table,
        "reference_state": table.state(),
        **result,
        "scores": held,
        "cpu_seconds": cpu,
        "reference_scores": held_ref,
        "rows": [
            {
                "label": lb,
                "spec_key": sp.key(),
                "params": int(table.arch(lb)["params"]),
                "reference_psnr_y_db": held_ref[lb],
                "reference_steps": int(table.arch(lb)["steps"]),
                "reference_flattened": bool(table.arch(lb)["flattened"]),
            }
            for lb, sp in archs
            if lb in held_ref
        ],
        "context": {
            "threads": args.threads,
            "seed": seed,
            "cpu": _cpu_model(),
            "load_before": load_before,
            "load_after": [round(x, 2) for x in os.getloadavg()],
            "wall_seconds": time.perf_counter() - t0,
            "revision": common["revision"],
            "git": git_head(),
            "command": " ".join(["benchmarks/proxy_heldout.py", *argv]),
        },
    }
    wrote = write_report(Path(args.out), report, render)
    for c in result["comparisons"]:
        print(f"{c['a']} vs params-only on {c['on']}: {c['diff']:+.3f} {c['diff_ci95']}")
    print(f"wrote {wrote}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
