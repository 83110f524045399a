"""Issue 8: the supernet as the search's proxy (``search --proxy supernet``), measured.

    .venv/bin/python benchmarks/supernet_search.py [--trials 12] [--nets 3] [--out STEM]

Needs the seed-0 supernet of benchmarks/proxy_supernet.py in the git-ignored cache
(``proxy_supernet.py train --steps 15000 --seed 0``, about 1.7 CPU-hours); it loads it once
through the benchmark's plan, which adds the store's layout to the file so that the search can
read it.

1. **Same scores.** The search's evaluator (``search.objective.SupernetEvaluator``: inherit,
   fine-tune 200 steps at constant lr 5e-4, score full Set5) on the first ``--nets`` covered
   calibration nets, training seed 0 as ``proxy_supernet.py score`` uses, against the Set5
   scores that benchmark stored for the same supernet (proxy_supernet_sets.json): the largest
   difference in dB. Equal scores mean the search ranks as the benchmark measured.
2. **Ranks** (stored reports only, nothing trained): on the covered reference nets that also
   have a ``quick`` score (the 13 calibration and 8 held-out nets, of which 16 are covered),
   the Kendall tau with the long-training reference of one supernet's 200-step fine-tune scored
   on Set5 (what the search records; the seed-0 and seed-1 supernets each), of ``quick`` (the
   search's default) and of parameter count, with paired bootstrap intervals (10,000 draws) of
   supernet minus quick and supernet minus params-only; and how each score ranks the nets beyond
   their size (``search.fidelity.capacity_adjusted_tau``: the tau of residuals after a line on
   log10 params). Read after the fact, from reports that were written for other questions:
   descriptive.
3. **A real search**, as a user runs it: ``distillnas supernet train --space rfdb --scale 2
   --steps 5000 --out FILE`` (the shipped rfdb space, widths 24-64; 5000 steps, a third of the
   15000 of parts 1-2, to fit a session: this part measures the search's mechanics and cost,
   not its ranking), then ``distillnas search --space rfdb --proxy supernet --supernet FILE``
   in a subprocess, TPE, PSNR vs MACs, ``--trials`` trained candidates, 1 thread: its wall
   time, training+evaluation and overhead (the CLI's own accounting) and seconds per trial.

Writes benchmarks/results/supernet_search.{json,md} (``--out STEM``: elsewhere).
"""

from __future__ import annotations

import argparse
import json
import math
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from proxy_fidelity import RESULTS, ROOT, issue8_architectures  # noqa: E402
from proxy_supernet import COVERED, checkpoint_path, plan  # noqa: E402

from blocks.errors import UserError  # noqa: E402
from search.fidelity import (  # noqa: E402
    capacity_adjusted_tau,
    paired_tau_bootstrap,
    rank_report,
)
from search.objective import SupernetEvaluator  # noqa: E402
from search.proxies import TrainData  # noqa: E402
from search.supernet import FINETUNE_STEPS, load_store, train_supernet  # noqa: E402

STEPS = 15000
#: part 3's supernet: distillnas supernet train --space rfdb --scale 2 --steps 5000 --out <this>
SEARCH_SUPERNET = RESULTS / "cache" / "supernet" / "cli-rfdb-x2-s5000-seed0.pt"
SEARCH_SPACE = "rfdb"
#: the stored per-net supernet scores, one report per supernet seed (proxy_supernet.py score
#: --eval-sets Set5,Set14,B100 [--seed 1])
SUPERNET_REPORTS = {0: "proxy_supernet_sets.json", 1: "proxy_supernet_sets_seed1.json"}
WORK = RESULTS / "cache" / "supernet_search"


def store_for_search(seed: int = 0) -> Any:
    """The benchmark's supernet of ``seed`` as the search reads it (its layout added on first
    use)."""
    path = checkpoint_path(STEPS, seed)
    if not path.is_file():
        raise UserError(f"no supernet at {path}: run benchmarks/proxy_supernet.py train "
                        f"--steps {STEPS} --seed {seed} first (about 1.7 CPU-hours)")
    data = TrainData.for_protocol("quick")
    train_supernet(plan(STEPS, seed), data, checkpoint=path, hours=0)  # rewrites it with a layout
    return load_store(path)


def same_scores(trained: Any, n: int, threads: int) -> dict[str, Any]:
    """Part 1: the search's evaluator against the benchmark's stored Set5 scores."""
    stored = json.loads((RESULTS / SUPERNET_REPORTS[0]).read_text())["sets"]["calibration"]
    protocol = trained.finetune(FINETUNE_STEPS)
    ev = SupernetEvaluator(None, protocol, TrainData.for_protocol(protocol), WORK / "same",
                           threads=threads, store_path=trained.path, store_sha1=trained.sha1)
    archs = dict(issue8_architectures(2))
    labels = [lb for lb, sc in stored["scores"].items() if sc["coverage"] >= COVERED][:n]
    shutil.rmtree(WORK / "same", ignore_errors=True)  # no fine-tune resumes: honest CPU-s
    rows = []
    for lb in labels:
        c0 = time.process_time()
        out = ev.train(archs[lb], seed=0, report=lambda step, psnr: False)
        want = stored["scores"][lb][f"ft{FINETUNE_STEPS}"]["per_set"]["Set5"]
        rows.append({"net": lb, "search_db": out.psnr_y_db, "benchmark_db": want,
                     "diff_db": out.psnr_y_db - want, "cpu_seconds": time.process_time() - c0})
    return {"rows": rows, "max_abs_diff_db": max(abs(r["diff_db"]) for r in rows)}


def quick_scores() -> dict[str, float]:
    """``quick``'s per-net scores on the calibration and held-out nets."""
    cal = json.loads((RESULTS / "proxy_fidelity.json").read_text())
    out = dict(next(s for s in cal["strategies"] if s["name"] == "quick")["scores"])
    out |= json.loads((RESULTS / "proxy_fidelity_heldout.json").read_text())["scores"]["quick"]
    return out


def ranks() -> dict[str, Any]:
    """Part 2: one supernet's ft200 Set5 score vs quick and params-only, from stored reports."""
    quick = quick_scores()
    out: dict[str, Any] = {"supernets": {}}
    for seed, name in SUPERNET_REPORTS.items():
        rep = json.loads((RESULTS / name).read_text())
        ref, sn, params = {}, {}, {}
        for s in ("calibration", "heldout"):
            for lb, sc in rep["sets"][s]["scores"].items():
                if sc["coverage"] >= COVERED and lb in quick:
                    ref[lb] = rep["sets"][s]["ref"][lb]
                    sn[lb] = sc[f"ft{FINETUNE_STEPS}"]["per_set"]["Set5"]
                    params[lb] = float(sc["params"])
        labels = sorted(ref)
        truth = [ref[lb] for lb in labels]
        mine = [sn[lb] for lb in labels]
        vs_quick = paired_tau_bootstrap(mine, [quick[lb] for lb in labels], truth)
        vs_params = paired_tau_bootstrap(mine, [params[lb] for lb in labels], truth)
        logp = [math.log10(params[lb]) for lb in labels]
        out["supernets"][str(seed)] = {
            "beyond_size": {"supernet": capacity_adjusted_tau(mine, truth, logp),
                            "quick": capacity_adjusted_tau([quick[lb] for lb in labels], truth,
                                                           logp)},
            "report": name, "n": len(labels), "nets": labels,
            "supernet": rank_report(mine, truth),
            "quick": rank_report([quick[lb] for lb in labels], truth),
            "params_only": rank_report([params[lb] for lb in labels], truth),
            "vs_quick": {k: vs_quick[k] for k in ("diff", "diff_ci95", "p_a_better")},
            "vs_params": {k: vs_params[k] for k in ("diff", "diff_ci95", "p_a_better")},
        }
    return out


SUMMARY = re.compile(r"wall ([\d.]+) s: training\+evaluation ([\d.]+) s, profiling ([\d.]+) s, "
                     r"search overhead ([\d.]+) s")


def real_search(path: Path, trials: int, threads: int) -> dict[str, Any]:
    """Part 3: the CLI, as a user runs it."""
    from reports.records import load_records

    if not path.is_file():
        raise UserError(f"no supernet at {path}: run .venv/bin/distillnas supernet train "
                        f"--space {SEARCH_SPACE} --scale 2 --steps 5000 --threads 1 --out {path}")
    trained = load_store(path)
    shutil.rmtree(WORK / "search", ignore_errors=True)
    (WORK / "search").mkdir(parents=True)
    storage = f"journal:///{WORK / 'search' / 'study.log'}"
    args = ["search", "--space", SEARCH_SPACE, "--proxy", "supernet",
            "--supernet", str(trained.path.relative_to(ROOT)), "--finetune-schedule",
            "constant", "--trials", str(trials),  # the proxy this benchmark measured
            "--objectives", "psnr,macs", "--sampler", "tpe", "--seed", "0", "--threads",
            str(threads), "--study", "supernet-search", "--storage", storage, "--quiet"]
    t0 = time.perf_counter()
    proc = subprocess.run([str(ROOT / ".venv" / "bin" / "distillnas"), *args], cwd=ROOT,
                          capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise UserError(f"the search failed: {proc.stderr.strip().splitlines()[-1]}")
    m = SUMMARY.search(proc.stdout)
    if m is None:
        raise UserError(f"no summary line in the search's output: {proc.stdout[-300:]}")
    wall_s, trained_s, profile_s, overhead_s = (float(x) for x in m.groups())
    recs = load_records(storage, "supernet-search")
    done = recs[recs["status"] == "complete"]
    return {
        "supernet": trained.describe() + f", {trained.cpu_seconds:.0f} CPU-s, sha1 "
                    f"{trained.sha1[:8]}",
        "command": "distillnas " + " ".join(args).replace(storage, "journal:///STUDY.log"),
        "process_wall_s": wall, "wall_s": wall_s, "train_eval_s": trained_s,
        "profile_s": profile_s, "overhead_s": overhead_s,
        "overhead_share": overhead_s / wall_s, "statuses": recs["status"].value_counts().to_dict(),
        "proxy": sorted(set(recs["proxy"].dropna())),
        "train_seconds_per_trial": {"median": float(np.median(done["train_seconds"])),
                                    "max": float(np.max(done["train_seconds"]))},
        "psnr_y_db": {"min": float(done["psnr_y_db"].min()),
                      "max": float(done["psnr_y_db"].max())},
        "params": {"min": int(done["params"].min()), "max": int(done["params"].max())},
    }


def render(report: dict[str, Any]) -> str:
    same, rk, srch = report["same_scores"], report["ranks"], report["search"]
    lines = ["# Issue 8: the supernet as the search's proxy", "",
             f"Supernet: {report['supernet']}. Fine-tune {FINETUNE_STEPS} steps, scored on full "
             "Set5 (what `search --proxy supernet` records).", "",
             "## 1. The search scores as the benchmark measured", "",
             "| net | search dB | benchmark dB | difference dB | CPU-s |", "|---|---|---|---|---|"]
    lines += [f"| {r['net']} | {r['search_db']:.6f} | {r['benchmark_db']:.6f} | "
              f"{r['diff_db']:+.2e} | {r['cpu_seconds']:.0f} |" for r in same["rows"]]
    lines += ["", f"Largest difference: {same['max_abs_diff_db']:.2e} dB.", "",
              "## 2. One supernet against `quick` and parameter count (stored reports)", "",
              "Covered reference nets that also have a `quick` score; Kendall tau with the "
              "long-training reference; paired bootstrap, 95% intervals. Read after the fact: "
              "descriptive.", "",
              "| supernet | nets | supernet-ft200 (Set5) | quick | params-only | supernet - quick "
              "| supernet - params-only |", "|---|---|---|---|---|---|---|"]
    for seed, r in rk["supernets"].items():
        q, p = r["vs_quick"], r["vs_params"]
        lines.append(
            f"| seed {seed} | {r['n']} | {r['supernet']['kendall_tau']:.3f} | "
            f"{r['quick']['kendall_tau']:.3f} | {r['params_only']['kendall_tau']:.3f} | "
            f"{q['diff']:+.3f} [{q['diff_ci95'][0]:+.3f}, {q['diff_ci95'][1]:+.3f}] | "
            f"{p['diff']:+.3f} [{p['diff_ci95'][0]:+.3f}, {p['diff_ci95'][1]:+.3f}] |")
    lines += ["", "Beyond size (`search.fidelity.capacity_adjusted_tau`): Kendall tau of the "
              "score's and the reference's residuals after a line on log10 params, fitted on "
              "the same nets; parameter count scores 0 here, so this asks whether a score ranks "
              "nets of equal size. Descriptive, not issue 8's test.", "",
              "| supernet | supernet-ft200 (95% interval) | quick (95% interval) |",
              "|---|---|---|"]
    for seed, r in rk["supernets"].items():
        a, q = r["beyond_size"]["supernet"], r["beyond_size"]["quick"]
        lines.append(f"| seed {seed} | {a['tau']:+.3f} [{a['ci95'][0]:+.3f}, {a['ci95'][1]:+.3f}] "
                     f"| {q['tau']:+.3f} [{q['ci95'][0]:+.3f}, {q['ci95'][1]:+.3f}] |")
    st = srch["statuses"]
    lines += ["", "## 3. A real search", "", f"Supernet: {srch['supernet']}.", "",
              f"`{srch['command']}`", "",
              f"- trials: {', '.join(f'{v} {k}' for k, v in sorted(st.items()))}; proxy "
              f"{', '.join(srch['proxy'])}",
              f"- wall {srch['wall_s']:.0f} s: training+evaluation {srch['train_eval_s']:.0f} s, "
              f"profiling {srch['profile_s']:.0f} s, search overhead {srch['overhead_s']:.1f} s "
              f"({srch['overhead_share']:.2%} of the wall time)",
              f"- seconds per trained candidate (inherit + fine-tune + score): median "
              f"{srch['train_seconds_per_trial']['median']:.0f}, max "
              f"{srch['train_seconds_per_trial']['max']:.0f}",
              f"- scores {srch['psnr_y_db']['min']:.3f}-{srch['psnr_y_db']['max']:.3f} dB on "
              f"Set5, {srch['params']['min']:,}-{srch['params']['max']:,} params", "",
              f"Command: `.venv/bin/python {report['command']}`", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="supernet_search.py")
    ap.add_argument("--trials", type=int, default=12)
    ap.add_argument("--nets", type=int, default=3, help="part 1: covered calibration nets")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--search-supernet", default=str(SEARCH_SUPERNET),
                    help="part 3's supernet file (trained over the rfdb space)")
    ap.add_argument("--out", default=str(RESULTS / "supernet_search"), help="path stem")
    argv = sys.argv[1:] if argv is None else argv
    args = ap.parse_args(argv)
    try:
        torch.set_num_threads(args.threads)
        trained = store_for_search()
        report = {
            "supernet": trained.describe() + f", sha1 {trained.sha1[:8]}",
            "same_scores": same_scores(trained, args.nets, args.threads),
            "ranks": ranks(),
            "search": real_search(Path(args.search_supernet), args.trials, args.threads),
            "command": " ".join(["benchmarks/supernet_search.py", *argv]),
        }
    except UserError as exc:
        print(f"supernet_search: {exc}", file=sys.stderr)
        return 2
    stem = Path(args.out)
    stem.with_suffix(".json").write_text(json.dumps(report, indent=1, default=str) + "\n")
    stem.with_suffix(".md").write_text(render(report))
    print(f"wrote {stem.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
