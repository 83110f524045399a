"""Search overheads on this host: rejection time per infeasible candidate, and the share of a
trial's time spent neither training, evaluating nor profiling.

    .venv/bin/python benchmarks/search_overheads.py [--trials 6] [--proxy demo]

Writes benchmarks/results/search_overheads.{json,md}. Two searches run in a temporary folder:
1. a budget (params) that most of the demo space breaks, with a stand-in trainer that never
   runs (every feasible candidate would train): the wall time of each infeasible trial, from
   ask to tell, is the rejection time (params and MACs counted on the meta device; nothing is
   timed or trained);
2. a real search (the demo space, the given proxy, host-cpu device with measured latency): per
   trial, training + evaluation, profiling (counting, latency, memory) and the rest (sampler,
   storage, bookkeeping) from the runner's own clocks.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import optuna
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from profiles.devices import load_device  # noqa: E402
from search.budgets import Budgets  # noqa: E402
from search.objective import DeviceEvaluator  # noqa: E402
from search.proxies import TrainData, get_protocol  # noqa: E402
from search.runner import SearchRun, TrainOutcome, parse_objectives  # noqa: E402
from search.space import load_space  # noqa: E402
from search.study import make_sampler, open_study, status_of  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"


class NeverTrains(DeviceEvaluator):
    """Real costs; training a feasible candidate returns at once (this part measures rejection)."""

    def train(self, spec, *, seed, report):  # noqa: ANN001, ANN201
        return TrainOutcome("complete", 30.0, steps=1)


def rejection(tmp: Path, n: int) -> dict:
    space = load_space("demo")
    device = load_device("host-cpu")
    protocol = get_protocol("demo")
    ev = NeverTrains(device, protocol, None, tmp / "rej")  # type: ignore[arg-type]
    objectives = parse_objectives("psnr,macs")
    study = open_study(f"journal:///{tmp}/rej.log", "rej", directions=["maximize", "minimize"],
                       settings={}, sampler=make_sampler("random", 0))
    ev.costs(space.sample(__import__("numpy").random.default_rng(0)), Budgets())  # warm start
    run = SearchRun(study, space, Budgets(params=9_000), ev, objectives, trials=n, seed=0,
                    progress=False)
    run.run()
    infeasible = [t for t in study.get_trials() if status_of(t) == "infeasible"]
    ms = [(t.datetime_complete - t.datetime_start).total_seconds() * 1e3 for t in infeasible]
    count_ms = [t.user_attrs["profile_seconds"] * 1e3 for t in infeasible]
    rest_ms = [a - b for a, b in zip(ms, count_ms, strict=True)]
    return {"infeasible_trials": len(ms), "rejection_ms_median": statistics.median(ms),
            "rejection_ms_p95": statistics.quantiles(ms, n=20)[-1] if len(ms) > 1 else ms[0],
            "rejection_ms_max": max(ms),
            "count_ms_median": statistics.median(count_ms), "count_ms_max": max(count_ms),
            "rest_ms_median": statistics.median(rest_ms), "rest_ms_max": max(rest_ms),
            "budget": "params <= 9,000 (demo space)",
            "note": "ask -> costs (meta-device count) -> constraint -> tell; first call per "
                    "process excluded (a one-off ~3 s import of meta kernels). A chain of blocks "
                    "is counted by parts, each block spec and frame once per process: a block "
                    "first seen in a trial is counted inside that trial's figure"}


def real_search(tmp: Path, trials: int, proxy: str) -> dict:
    space = load_space("demo")
    device = load_device("host-cpu")
    protocol = get_protocol(proxy)
    data = TrainData.for_protocol(protocol)
    ev = DeviceEvaluator(device, protocol, data, tmp / "real", latency_runs=15)
    objectives = parse_objectives("psnr,latency")
    study = open_study(f"journal:///{tmp}/real.log", "real",
                       directions=[d for _, d in objectives], settings={},
                       sampler=make_sampler("tpe", 0))
    t0 = time.perf_counter()
    run = SearchRun(study, space, Budgets(), ev, objectives, trials=trials, seed=0,
                    progress=False)
    run.run()
    wall = time.perf_counter() - t0
    return {"trials": trials, "proxy": proxy, "wall_s": wall, "train_eval_s": run.trained_s,
            "profile_s": run.profile_s, "overhead_s": run.overhead_s,
            "overhead_share": run.overhead_s / wall,
            "overhead_plus_profiling_share": (run.overhead_s + run.profile_s) / wall,
            "latency": f"measured on {device.name}: eager, {device.threads} threads, input "
                       f"{device.input_hw[0]}x{device.input_hw[1]}, 15 runs + 3 warm-up"}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=6)
    ap.add_argument("--proxy", default="demo")
    ap.add_argument("--rejections", type=int, default=8)
    args = ap.parse_args()
    load_before = [round(x, 2) for x in os.getloadavg()]
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        out = {"context": {"cpu": platform.processor() or platform.machine(),
                           "torch": torch.__version__, "optuna": optuna.__version__,
                           "threads": torch.get_num_threads(), "load_before": load_before,
                           "command": " ".join(["benchmarks/search_overheads.py", *sys.argv[1:]])},
               "rejection": rejection(tmp, args.rejections),
               "search": real_search(tmp, args.trials, args.proxy)}
    out["context"]["load_after"] = [round(x, 2) for x in os.getloadavg()]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "search_overheads.json").write_text(json.dumps(out, indent=2) + "\n")
    r, s = out["rejection"], out["search"]
    md = [
        "# Search overheads (this host)", "",
        f"Context: {out['context']}", "",
        "| figure | value | goal |", "|---|---|---|",
        f"| rejection time per infeasible candidate (median / p95 / max) | "
        f"{r['rejection_ms_median']:.1f} / {r['rejection_ms_p95']:.1f} / "
        f"{r['rejection_ms_max']:.1f} ms "
        f"({r['infeasible_trials']} trials) | < 50 ms |",
        f"| of which counting params and MACs (meta device), median / max | "
        f"{r['count_ms_median']:.1f} / {r['count_ms_max']:.1f} ms | - |",
        f"| of which the rest (sampler, journal writes, bookkeeping), median / max | "
        f"{r['rest_ms_median']:.1f} / {r['rest_ms_max']:.1f} ms | - |",
        f"| search overhead per trial (sampler, storage, bookkeeping) / trial time | "
        f"{100 * s['overhead_share']:.2f}% | < 3% |",
        f"| overhead + profiling (counting, {s['latency']}, memory) / trial time | "
        f"{100 * s['overhead_plus_profiling_share']:.2f}% | - |",
        f"| real search: {s['trials']} trials, proxy {s['proxy']} | wall {s['wall_s']:.1f} s, "
        f"train+eval {s['train_eval_s']:.1f} s, profiling {s['profile_s']:.1f} s, "
        f"overhead {s['overhead_s']:.2f} s | - |", "",
    ]
    (RESULTS / "search_overheads.md").write_text("\n".join(md))
    print("\n".join(md))


if __name__ == "__main__":
    main()
