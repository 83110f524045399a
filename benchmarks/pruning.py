"""The Pareto-aware successive-halving pruner: compute saved and the front it leaves.

    .venv/bin/python benchmarks/pruning.py [--space demo] [--proxy demo] [--trials 12]
        [--seeds 0 1] [--device rpi4]

The same search (space, proxy, sampler, seed, trial count, objectives PSNR vs MACs) runs with and
without the pruner. Compute = training steps actually run (deterministic; wall seconds are
reported beside it). The hypervolume of each front (complete trials only) is taken against ONE
reference point shared by all runs: (PSNR = the lowest complete PSNR of any run minus 0.1 dB,
MACs = the largest MACs of any run times 1.1). Writes benchmarks/results/pruning.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import optuna
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from profiles.devices import load_device  # noqa: E402
from reports.hypervolume import hypervolume  # noqa: E402
from search.budgets import Budgets  # noqa: E402
from search.objective import DeviceEvaluator  # noqa: E402
from search.proxies import TrainData, get_protocol  # noqa: E402
from search.pruner import ParetoSuccessiveHalving  # noqa: E402
from search.runner import SearchRun, parse_objectives  # noqa: E402
from search.space import load_space  # noqa: E402
from search.study import make_sampler, open_study, status_of  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"


def run_record(study: optuna.Study, seed: int, prune: bool, wall: float, rungs: list) -> dict:
    """Compute used and the complete trials' (PSNR, MACs) of one finished search."""
    trials = study.get_trials()
    steps = sum(int(t.user_attrs.get("steps") or 0) for t in trials)
    points = [(t.user_attrs["psnr_y_db"], t.user_attrs["macs"]) for t in trials
              if status_of(t) == "complete"]
    return {"seed": seed, "pruner": prune, "steps": steps, "wall_s": wall,
            "complete": len(points), "pruned": sum(status_of(t) == "pruned" for t in trials),
            "points": points, "rungs": rungs}


def collect(folder: Path) -> list[dict]:
    """Records of searches already run into ``folder`` (journals named SEED-PRUNE.log), e.g.
    the temporary folder of an interrupted run; wall time is taken from the trials' clocks."""
    runs = []
    for log in sorted(folder.glob("*-*.log")):
        seed_text, prune_text = log.stem.split("-")
        study = optuna.load_study(study_name="p", storage=JournalStorage(
            JournalFileBackend(str(log))))
        done = [t for t in study.get_trials() if t.datetime_complete is not None]
        if not done:
            continue
        wall = (max(t.datetime_complete for t in done)
                - min(t.datetime_start for t in done)).total_seconds()
        runs.append(run_record(study, int(seed_text), prune_text == "True", wall, []))
    return runs


def one_run(tmp: Path, args: argparse.Namespace, seed: int, prune: bool, data: TrainData) -> dict:
    space = load_space(args.space)
    device = load_device(args.device)
    protocol = get_protocol(args.proxy)
    ev = DeviceEvaluator(device, protocol, data, tmp / f"{seed}-{prune}", threads=args.threads)
    objectives = parse_objectives("psnr,macs")
    study = open_study(f"journal:///{tmp}/{seed}-{prune}.log", "p",
                       directions=[d for _, d in objectives], settings={},
                       sampler=make_sampler(args.sampler, seed))
    pruner = (ParetoSuccessiveHalving.for_steps(ev.total_steps, ev.checkpoint_every)
              if prune else None)
    t0 = time.perf_counter()
    SearchRun(study, space, Budgets(), ev, objectives, trials=args.trials, seed=seed,
              pruner=pruner, progress=False).run()
    return run_record(study, seed, prune, time.perf_counter() - t0,
                      list(pruner.rungs) if pruner else [])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--space", default="demo")
    ap.add_argument("--proxy", default="demo")
    ap.add_argument("--device", default="rpi4")
    ap.add_argument("--sampler", default="tpe")
    ap.add_argument("--trials", type=int, default=12)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--collect", type=Path, metavar="DIR",
                    help="summarise searches already run into DIR instead of running them")
    args = ap.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    runs = []
    if args.collect:
        runs = collect(args.collect)
        args.seeds = sorted({r["seed"] for r in runs
                             if sum(x["seed"] == r["seed"] for x in runs) == 2})
    else:
        data = TrainData.for_protocol(get_protocol(args.proxy))
        with tempfile.TemporaryDirectory() as d:
            for seed in args.seeds:
                for prune in (False, True):
                    runs.append(one_run(Path(d), args, seed, prune, data))
                    print(json.dumps({k: v for k, v in runs[-1].items() if k != "points"}),
                          flush=True)
    all_pts = np.array([p for r in runs for p in r["points"]], dtype=float)
    ref = [float(all_pts[:, 0].min() - 0.1), float(all_pts[:, 1].max() * 1.1)]
    for r in runs:
        pts = np.array(r["points"], dtype=float).reshape(-1, 2)
        r["hypervolume"] = hypervolume(pts, ["maximize", "minimize"], ref) if len(pts) else 0.0
    rows = []
    for seed in args.seeds:
        off = next(r for r in runs if r["seed"] == seed and not r["pruner"])
        on = next(r for r in runs if r["seed"] == seed and r["pruner"])
        rows.append({"seed": seed, "steps_off": off["steps"], "steps_on": on["steps"],
                     "compute_saved": 1 - on["steps"] / off["steps"],
                     "hv_off": off["hypervolume"], "hv_on": on["hypervolume"],
                     "hv_ratio": on["hypervolume"] / off["hypervolume"] if off["hypervolume"]
                     else float("nan"), "wall_off_s": off["wall_s"], "wall_on_s": on["wall_s"],
                     "pruned": on["pruned"]})
    out = {"settings": {k: str(v) for k, v in vars(args).items()},
           "reference_point": {"psnr_y_db": ref[0], "macs": ref[1]},
           "runs": runs, "summary": rows,
           "goal": "hypervolume within 2% (ratio >= 0.98) at >= 40% less compute"}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "pruning.json").write_text(json.dumps(out, indent=2) + "\n")
    md = ["# Pareto-aware successive halving: compute saved and hypervolume", "",
          f"Settings: {out['settings']}. Reference point (PSNR dB, MACs): ({ref[0]:.3f}, "
          f"{ref[1]:.4g}). Compute = training steps run.", "",
          "| seed | steps without / with pruner | compute saved | HV without | HV with | "
          "HV ratio | pruned trials | wall s without / with |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        md.append(f"| {r['seed']} | {r['steps_off']} / {r['steps_on']} | "
                  f"{100 * r['compute_saved']:.0f}% | {r['hv_off']:.4g} | {r['hv_on']:.4g} | "
                  f"{r['hv_ratio']:.3f} | {r['pruned']} | {r['wall_off_s']:.0f} / "
                  f"{r['wall_on_s']:.0f} |")
    md += ["", f"Goal: {out['goal']}.", ""]
    (RESULTS / "pruning.md").write_text("\n".join(md))
    print("\n".join(md))


if __name__ == "__main__":
    main()
