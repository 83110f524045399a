"""Issue 8 out of sample: does the search's shipped supernet proxy rank 10 fresh nets?

    .venv/bin/python benchmarks/proxy_fidelity.py reference --set fresh [--shard K/2]
    .venv/bin/python benchmarks/proxy_supernet_fresh.py measure --seed {0,1}
    .venv/bin/python benchmarks/proxy_supernet_fresh.py rank

Every supernet figure so far (rows 4b4-4b7) is on the same 26 covered reference nets, and the
search's default ending (a cosine-decayed 200-step fine-tune, ``supernet-ft-200-cos``) was made
the default after it ranked them at tau 0.791. These 10 nets (``proxy_fidelity.
fresh_architectures``) are drawn at random the way the supernet samples candidates (rfdb or
lrfdb space, every per-block knob, widths 16-48; at most 150K params so that their long-training
reference fits a session), and were fixed before any of them was trained or scored.

Pre-registered (in the commit that adds this file, before any reference or proxy score of the
fresh nets was seen):
- reference: each fresh net trained under the issue-8 reference protocol until its curve
  flattens (``proxy_fidelity.py reference --set fresh``; benchmarks/results/
  proxy_reference_fresh.json), scored on full Set5 + Set14 + B100, compared at the table's
  common milestone as every other reference set;
- proxy: the search's own path (``TrainedStore.finetune(200, schedule)``, inherited weights,
  training seed 0, 1 thread), scored once on full Set5 at the end; ``cosine`` (the default) and
  ``constant`` (the previous default), on both benchmark supernets (seeds 0 and 1);
- primary: ``cosine`` with the seed-0 supernet (what ``search --proxy supernet`` ships), judged
  on issue 8's goal (Kendall tau >= 0.8 with the reference; the 95% paired-bootstrap interval of
  the difference to params-only above 0, ``paired_tau_bootstrap``, 10000 draws, seed 0; <= 120
  CPU-s per candidate, the fine-tune's median plus the supernet's CPU-s over 1000 candidates)
  twice: on the 10 fresh nets alone (out of sample) and pooled with the 26 covered nets of
  proxy_supernet_finish.py (36; their cosine scores from there). The goal counts as met only if
  both are;
- secondaries, each on fresh and pooled: ``constant``; the seed-1 supernet; the mean of both
  supernets' cosine scores (CPU-s: the sum); params-only; the two supernets' agreement on the
  fresh nets; the capacity-adjusted tau (``capacity_adjusted_tau`` on log10 params).
- A verdict taken while some fresh reference curve has not flattened is marked provisional.
The reference runs were started a few minutes before this commit (same code), and the logs of
their first 500-step milestones were read; no proxy score of a fresh net had been measured.

Writes benchmarks/results/proxy_supernet_fresh_seed{S}.json (``measure``, resumable) and
benchmarks/results/proxy_supernet_fresh.{json,md} (``rank``).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from proxy_fidelity import FRESH_TABLE, fresh_architectures, write_report  # noqa: E402
from proxy_supernet_finish import (  # noqa: E402
    CPU_GOAL,
    SEARCH_SIZE,
    TAU_GOAL,
    finetune_score,
    load_seed,
)
from pruner_supernet_replay import COVERED  # noqa: E402
from pruner_supernet_rungs import FINAL  # noqa: E402
from supernet_search import store_for_search  # noqa: E402

from blocks.errors import UserError  # noqa: E402
from profiles.counting import count_params  # noqa: E402
from search.fidelity import (  # noqa: E402
    ReferenceTable,
    capacity_adjusted_tau,
    kendall_tau,
    paired_tau_bootstrap,
    rank_report,
)

RESULTS = ROOT / "benchmarks" / "results"
SCHEDULES = ("cosine", "constant")
PRIMARY = ("cosine", 0)
SEEDS = (0, 1)
MEAN = "mean of both"


def path_of(seed: int) -> Path:
    return RESULTS / f"proxy_supernet_fresh_seed{seed}.json"


def measure_main(args: argparse.Namespace) -> int:
    from search.proxies import TrainData

    torch.set_num_threads(1)
    trained = store_for_search(args.seed)
    data = TrainData.for_protocol(trained.finetune(FINAL))
    path = path_of(args.seed)
    out = json.loads(path.read_text()) if path.is_file() else {
        "supernet": str(trained.path.relative_to(ROOT)), "sha1": trained.sha1, "threads": 1,
        "nets": {}}
    if out["sha1"] != trained.sha1:
        raise UserError(f"{path.name} was measured with supernet {out['sha1']}, not "
                        f"{trained.sha1}; move it away to measure again")
    for label, spec in fresh_architectures(2):
        row = out["nets"].setdefault(label, {"spec_key": spec.key()})
        for schedule in SCHEDULES:
            if schedule in row:
                continue  # resumable
            got = finetune_score(trained, data, spec, trained.finetune(FINAL, schedule),
                                 f"{label} ({schedule})")
            if got["coverage"] < COVERED:
                raise UserError(f"{label}: the supernet covers {got['coverage']:.1%} of it")
            row[schedule] = got
            path.write_text(json.dumps(out, indent=1) + "\n")
            print(f"{label} {schedule}: {row[schedule]['psnr_y_db']:.3f} dB, "
                  f"{row[schedule]['cpu_s']:.1f} CPU-s", file=sys.stderr)
    return 0


def load_fresh(table_path: Path = FRESH_TABLE) -> dict[str, Any]:
    """The fresh nets per supernet seed (label -> params, reference, each schedule's score and
    CPU-s) and the reference table's state."""
    archs = fresh_architectures(2)
    labels = [lb for lb, _ in archs]
    if not table_path.is_file():
        raise FileNotFoundError(f"no {table_path.name}: run proxy_fidelity.py reference "
                                "--set fresh first")
    table = ReferenceTable.load(table_path)
    ref = table.scores(labels)
    missing = [lb for lb in labels if lb not in ref]
    if missing:
        raise ValueError(f"{table_path.name}: no reference score yet for {', '.join(missing)}")
    seeds = {}
    for seed in SEEDS:
        if not path_of(seed).is_file():
            raise FileNotFoundError(f"no {path_of(seed).name}: run measure --seed {seed}")
        got = json.loads(path_of(seed).read_text())["nets"]
        nets = {}
        for lb, spec in archs:
            row = got.get(lb, {})
            if row.get("spec_key") != spec.key() or any(s not in row for s in SCHEDULES):
                raise ValueError(f"{path_of(seed).name}: {lb} not measured; rerun measure")
            nets[lb] = {"params": float(count_params(spec)), "reference": float(ref[lb]),
                        **{s: row[s] for s in SCHEDULES}}
        seeds[seed] = nets
    return {"seeds": seeds, "reference_state": table.state(),
            "reference_steps": table.steps_of(labels)}


def with_mean(nets: dict[int, dict[str, Any]]) -> dict[Any, dict[str, Any]]:
    """Adds the mean of both supernets' cosine scores as a third 'supernet' (CPU-s summed)."""
    a, b = (nets[s] for s in SEEDS)
    mean = {lb: {**a[lb], "cosine": {
        "psnr_y_db": (a[lb]["cosine"]["psnr_y_db"] + b[lb]["cosine"]["psnr_y_db"]) / 2,
        "cpu_s": a[lb]["cosine"]["cpu_s"] + b[lb]["cosine"]["cpu_s"]}} for lb in a}
    for lb in mean:
        del mean[lb]["constant"]
    return {**nets, MEAN: mean}


def judge(nets: dict[str, Any], supernet_cpu_s: float) -> list[dict[str, Any]]:
    """params-only and each measured schedule against the reference on these nets."""
    labels = list(nets)
    truth = [nets[lb]["reference"] for lb in labels]
    params = [nets[lb]["params"] for lb in labels]
    rows = [{"schedule": "params-only", **rank_report(params, truth)}]
    for s in SCHEDULES:
        if s not in nets[labels[0]]:
            continue
        mine = [nets[lb][s]["psnr_y_db"] for lb in labels]
        vs = paired_tau_bootstrap(mine, params, truth)
        row = {"schedule": s, **rank_report(mine, truth), "vs_params_diff": vs["diff"],
               "vs_params_ci95": vs["diff_ci95"], "clearly_above_params": vs["diff_ci95"][0] > 0,
               "capacity_adjusted": capacity_adjusted_tau(mine, truth,
                                                          [math.log10(p) for p in params]),
               "cpu_s_median": statistics.median(nets[lb][s]["cpu_s"] for lb in labels)}
        row["cpu_s_amortised"] = row["cpu_s_median"] + supernet_cpu_s / SEARCH_SIZE
        row["meets_goal"] = bool(row["kendall_tau"] >= TAU_GOAL and row["clearly_above_params"]
                                 and row["cpu_s_amortised"] <= CPU_GOAL)
        rows.append(row)
    return rows


def rank(fresh: dict[str, Any], covered: dict[int, dict[str, Any]]) -> dict[str, Any]:
    """``fresh``: as ``load_fresh``; ``covered``: seed -> ``proxy_supernet_finish.load_seed``."""
    overlap = set(fresh["seeds"][0]) & set(covered[0]["nets"])
    if overlap:
        raise ValueError(f"fresh nets among the covered ones: {', '.join(sorted(overlap))}")
    cpu = {s: covered[s]["supernet_cpu_s"] for s in SEEDS}
    cpu[MEAN] = cpu[0] + cpu[1]
    pooled = {s: {**{lb: {k: n[k] for k in ("params", "reference", *SCHEDULES)}
                      for lb, n in covered[s]["nets"].items()}, **fresh["seeds"][s]}
              for s in SEEDS}
    sets = {"fresh": with_mean(fresh["seeds"]), "pooled": with_mean(pooled)}
    state = fresh["reference_state"]
    report: dict[str, Any] = {
        "primary": {"schedule": PRIMARY[0], "supernet_seed": PRIMARY[1]},
        "goal": {"kendall_tau": TAU_GOAL, "cpu_s": CPU_GOAL},
        "n_fresh": len(fresh["seeds"][0]), "n_pooled": len(pooled[0]),
        "reference_state": state, "reference_steps": fresh["reference_steps"],
        "provisional": state["n_flattened"] < state["n_architectures"],
        "rows": [], "agreement_fresh": {}}
    for set_name, by_seed in sets.items():
        for seed, nets in by_seed.items():
            for row in judge(nets, cpu[seed]):
                report["rows"].append({"set": set_name, "supernet_seed": seed, **row})
    for s in SCHEDULES:
        f = fresh["seeds"]
        report["agreement_fresh"][s] = kendall_tau([f[0][lb][s]["psnr_y_db"] for lb in f[0]],
                                                   [f[1][lb][s]["psnr_y_db"] for lb in f[0]])
    prim = {r["set"]: r for r in report["rows"]
            if (r["schedule"], r["supernet_seed"]) == PRIMARY}
    report["verdict"] = {k: ("met" if r["meets_goal"] else "missed") for k, r in prim.items()}
    report["goal_met"] = all(r["meets_goal"] for r in prim.values())
    return report


def render(report: dict[str, Any]) -> str:
    st = report["reference_state"]
    p = report["primary"]
    flat = (f"{st['n_flattened']} of {st['n_architectures']} fresh reference curves flattened "
            f"({st['steps_min']}-{st['steps_max']} steps)")
    lines = ["# Issue 8: the shipped supernet proxy on 10 fresh nets", "",
             f"{report['n_fresh']} nets drawn at random from the supernet's spaces (fixed before "
             f"any was trained), alone and pooled with the 26 covered nets ({report['n_pooled']})."
             f" Reference: long training on pooled Set5+Set14+B100; {flat}"
             + (" - **provisional**" if report["provisional"] else "") + ". Proxy: the search's "
             "200-step fine-tune of inherited weights, scored once on full Set5. Pre-registered "
             f"primary: {p['schedule']}, seed-{p['supernet_seed']} supernet, on both the fresh "
             "and the pooled nets; goal tau >= 0.8, clearly above params-only (95% paired-"
             "bootstrap interval of the difference above 0), <= 120 CPU-s per candidate "
             "amortised over 1000.", "",
             "| nets | supernet | schedule | tau | Spearman | vs params-only [95%] | beyond size "
             "[95%] | CPU-s | goal |", "|---|---|---|---:|---:|---|---|---:|---|"]
    for r in report["rows"]:
        sup = r["supernet_seed"] if r["supernet_seed"] == MEAN else f"seed {r['supernet_seed']}"
        head = f"| {r['set']} | {sup} | {r['schedule']} | {r['kendall_tau']:.3f} | " \
               f"{r['spearman']:.3f} |"
        if r["schedule"] == "params-only":
            lines.append(f"{head} - | - | - | - |")
            continue
        ci, ca = r["vs_params_ci95"], r["capacity_adjusted"]
        primary = (r["schedule"], r["supernet_seed"]) == PRIMARY
        goal = (f"**{report['verdict'][r['set']]}**" if primary
                else ("yes" if r["meets_goal"] else "no"))
        lines.append(f"{head} {r['vs_params_diff']:+.2f} [{ci[0]:+.2f}, {ci[1]:+.2f}] | "
                     f"{ca['tau']:+.2f} [{ca['ci95'][0]:+.2f}, {ca['ci95'][1]:+.2f}] | "
                     f"{r['cpu_s_amortised']:.1f} | {goal} |")
    lines += ["", "The two supernets' agreement on the fresh nets (Kendall tau between their "
              "scores): " + ", ".join(f"{s} {t:.3f}" for s, t in report["agreement_fresh"].items())
              + ".", "", "Issue 8's goal on the primary: "
              + ("**met** on both the fresh and the pooled nets" if report["goal_met"]
                 else "**missed** (" + ", ".join(f"{k} {v}" for k, v in report["verdict"].items())
                 + ")") + ".", "",
              f"Command: `.venv/bin/python {report['command']}` (after the fresh reference and "
              "`measure --seed 0` and `--seed 1`)", ""]
    return "\n".join(lines)


def rank_main(args: argparse.Namespace, argv: list[str]) -> int:
    report = rank(load_fresh(), {s: load_seed(s) for s in SEEDS})
    report["command"] = " ".join(["benchmarks/proxy_supernet_fresh.py", *argv])
    print(f"wrote {write_report(Path(args.out), report, render)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    ap = argparse.ArgumentParser(prog="proxy_supernet_fresh.py")
    sub = ap.add_subparsers(dest="cmd", required=True)
    me = sub.add_parser("measure", help="fine-tune each fresh net from one supernet")
    me.add_argument("--seed", type=int, choices=SEEDS, default=0, help="the supernet's seed")
    rk = sub.add_parser("rank", help="rank the measured scores against the fresh reference")
    rk.add_argument("--out", default=str(RESULTS / "proxy_supernet_fresh"), help="path stem")
    args = ap.parse_args(argv)
    try:
        return measure_main(args) if args.cmd == "measure" else rank_main(args, argv)
    except (UserError, FileNotFoundError, ValueError, KeyError) as exc:
        print(f"proxy_supernet_fresh: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
