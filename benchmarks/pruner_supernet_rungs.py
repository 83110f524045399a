"""Issue 5: the pruner with a rung inside the supernet proxy's fine-tune, measured and replayed.

    .venv/bin/python benchmarks/pruner_supernet_rungs.py measure --seed {0,1} [--threads 1]
    .venv/bin/python benchmarks/pruner_supernet_rungs.py replay [--orders N] [--seed S]

A rung at step 0 (the inherited weights' score) ranks the 200-step fine-tune's score poorly
(Kendall tau 0.286, benchmarks/pruner_supernet_replay.py) and lost front nets. A rung a few
fine-tune steps in costs a little more, and may rank the finals better: the fine-tune starts
from weights that are already trained, so it may settle early.

Pre-registered (in the commit that adds this file, before any score at an intermediate
fine-tune step was measured or read; the stored ``ft50`` scores of the supernet reports were not
looked at):
- nets: the 26 reference nets the seed-0 supernet covers (as pruner_supernet_replay.py), the one
  cost MACs at LR 180x320;
- ``measure`` runs the search's own path for each net on 1 thread (inherit from the benchmark's
  15000-step supernet, fine-tune 200 steps at constant lr 5e-4, seed 0), with a full-Set5 score
  at every 10th step (``eval_every=10``, no crop), and records each score, the CPU seconds at
  each, and one full-Set5 score's CPU seconds ``e`` (the median of 3, after training). The
  replay uses these scores only (finals included); it checks them against the stored reports'
  ``ft200`` (and step 50 against ``ft50``) and reports the largest difference;
- compute of a net (CPU-s): unpruned ``c200`` = the run's total less the 19 scores at steps 10
  to 190 that an unpruned search does not make (19 e); stopped at rung k: ``c_k`` = the CPU-s
  at the end of step k's score less the (k/10 - 1) earlier scores; continued past a rung:
  ``c200 + e`` (one extra score);
- primary: seed-0 supernet, ``ParetoSuccessiveHalving((20,), eta=4)``. Chosen by arithmetic,
  not by scores: a stopped net at step k saves about 1 - k/200 of its compute; the step-0 replay
  stopped about 46% of the nets at eta 3 (36% in its worst 5% of orders), so no rung after step
  0 can reach 40% saved in 95% of orders at eta 3; eta 4 stops more and a rung at 20 keeps 90% of
  a stopped net's compute;
- 1000 orders by numpy's default_rng(0); bar per order: >= 40% of the CPU-s saved at a
  hypervolume (PSNR vs MACs, reference point as search_quality.py) >= 0.98 of the unpruned
  order's; verdict: met if >= 95% of orders meet the bar.
Secondaries: the seed-1 supernet (same rule; its own measurement); rung 10 eta 4; rung 50 eta 3
(the search's default eta); rung 20 eta 3. Reported beside them: Kendall tau of the score at each
measured step with the final, per supernet, and how often each front net is stopped.

Writes benchmarks/results/pruner_supernet_rungs.{json,md}; ``measure`` writes
benchmarks/results/pruner_supernet_rungs_seed{S}.json, reused by ``replay``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from proxy_fidelity import write_report  # noqa: E402
from pruner_supernet_replay import (  # noqa: E402 - the same bar as the step-0 replay
    HV_KEPT,
    ORDERS_MET,
    REPORTS,
    SAVED,
    load_nets,
    replay_setting,
    verdict,
)
from search_quality import front  # noqa: E402

from blocks.build import build_network  # noqa: E402
from blocks.errors import UserError  # noqa: E402
from blocks.specs import NetSpec  # noqa: E402
from search.evaluate import evaluate_pairs  # noqa: E402
from search.fidelity import kendall_tau  # noqa: E402
from search.pruner import ParetoSuccessiveHalving  # noqa: E402
from search.train import ProxyUpscaler, train  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
FINAL, EVERY = 200, 10
PRIMARY = "seed 0, rung 20, eta 4"


def settings() -> dict[str, tuple[int, ParetoSuccessiveHalving]]:
    """label -> (the supernet seed whose measurement it reads, the rule)."""
    return {PRIMARY: (0, ParetoSuccessiveHalving((20,), eta=4.0)),
            "seed 1, rung 20, eta 4": (1, ParetoSuccessiveHalving((20,), eta=4.0)),
            "seed 0, rung 10, eta 4": (0, ParetoSuccessiveHalving((10,), eta=4.0)),
            "seed 0, rung 50, eta 3": (0, ParetoSuccessiveHalving((50,), eta=3.0)),
            "seed 0, rung 20, eta 3": (0, ParetoSuccessiveHalving((20,), eta=3.0))}


def measurement_path(seed: int) -> Path:
    return RESULTS / f"pruner_supernet_rungs_seed{seed}.json"


def measure_net(spec: NetSpec, trained: Any, protocol: Any, data: Any) -> dict[str, Any]:
    """One net on the search's path with a full-Set5 score every ``EVERY`` steps."""
    t0 = time.process_time()
    net = build_network(spec, seed=0)
    coverage = trained.store.inherit(net)
    marks: dict[int, tuple[float, float]] = {}

    def report(step: int, psnr: float) -> bool:
        marks[step] = (time.process_time() - t0, float(psnr))
        return False

    res = train(net, data=data, protocol=protocol, seed=0, progress=False, report=report,
                scale=spec.scale)
    total = time.process_time() - t0
    if res.status != "complete":
        raise UserError(f"{spec.key()}: fine-tune ended {res.status}: {res.message}")
    up = ProxyUpscaler(net, spec.scale, residual=trained.residual)
    evals = []
    for _ in range(3):
        t = time.process_time()
        evaluate_pairs(up, data.pairs("Set5", spec.scale), spec.scale)
        evals.append(time.process_time() - t)
    e = statistics.median(evals)
    curve = {s: p for s, (_, p) in marks.items()}
    curve[FINAL] = float(res.sets["Set5"]["psnr_y_db"])
    cost = {s: c - (s // EVERY - 1) * e for s, (c, _) in marks.items() if s < FINAL}
    cost[FINAL] = total - (FINAL // EVERY - 1) * e
    return {"coverage": coverage, "curve": curve, "cpu_s": cost, "score_cpu_s": e,
            "total_cpu_s": total}


def measure_main(args: argparse.Namespace) -> int:
    from search.proxies import TrainData

    torch.set_num_threads(args.threads)
    from supernet_search import store_for_search

    trained = store_for_search(args.seed)
    protocol = replace(trained.finetune(FINAL), eval_every=EVERY, eval_crop=None)
    data = TrainData.for_protocol(protocol)
    nets = load_nets(REPORTS[f"seed {args.seed}"])
    path = measurement_path(args.seed)
    out = json.loads(path.read_text()) if path.is_file() else {
        "supernet": str(trained.path.relative_to(ROOT)), "sha1": trained.sha1,
        "protocol": protocol.name, "eval_every": EVERY, "threads": args.threads, "nets": {}}
    for n in nets:
        if n["label"] in out["nets"]:
            continue  # resumable: a net measured before is kept
        row = measure_net(NetSpec.from_dict(n["spec"]), trained, protocol, data)
        row["stored_ft200"] = n["curve"][FINAL]
        out["nets"][n["label"]] = row
        path.write_text(json.dumps(out, indent=1) + "\n")
        print(f"{n['label']}: {row['curve'][FINAL]:.3f} dB (stored {n['curve'][FINAL]:.3f}), "
              f"c200 {row['cpu_s'][FINAL]:.1f} s, e {row['score_cpu_s']:.2f} s", file=sys.stderr)
    return 0


def load_measured(seed: int) -> list[dict[str, Any]]:
    """The covered nets with MACs, and the measured curves and costs (int steps)."""
    path = measurement_path(seed)
    if not path.is_file():
        raise FileNotFoundError(f"no {path.name}: run `pruner_supernet_rungs.py measure "
                                f"--seed {seed}` first")
    measured = json.loads(path.read_text())["nets"]
    nets = load_nets(REPORTS[f"seed {seed}"])
    missing = [n["label"] for n in nets if n["label"] not in measured]
    if missing:
        raise ValueError(f"{path.name} lacks {len(missing)} nets ({missing[0]}, ...): rerun "
                         f"measure --seed {seed}")
    for n in nets:
        m = measured[n["label"]]
        n["curve"] = {int(s): float(p) for s, p in m["curve"].items()}
        n["cpu_s"] = {int(s): float(c) for s, c in m["cpu_s"].items()}
        n["score_cpu_s"] = float(m["score_cpu_s"])
        n["psnr_y_db"] = n["curve"][FINAL]
    return nets


def stored_differences(seed: int, nets: list[dict[str, Any]]) -> dict[str, float]:
    """Largest |measured - stored| Set5 score at step 50 and 200 (the determinism check)."""
    rep = json.loads((RESULTS / REPORTS[f"seed {seed}"]).read_text())
    stored = {lb: sc for s in rep["sets"].values() for lb, sc in s["scores"].items()}
    out = {}
    for f in (50, FINAL):
        out[f"ft{f}"] = max(abs(n["curve"][f] - stored[n["label"]][f"ft{f}"]["per_set"]["Set5"])
                            for n in nets)
    return out


def replay_main(args: argparse.Namespace, argv: list[str]) -> int:
    rng = np.random.default_rng(args.seed)
    report: dict[str, Any] = {"orders": args.orders, "seed": args.seed, "primary": PRIMARY,
                              "bar": {"compute_saved": SAVED, "hv": HV_KEPT,
                                      "share_of_orders": ORDERS_MET},
                              "settings": {}, "sets": {}}
    loaded: dict[int, list[dict[str, Any]]] = {}
    for label, (which, pruner) in settings().items():
        if which not in loaded:
            nets = loaded[which] = load_measured(which)
            finals = [n["psnr_y_db"] for n in nets]
            steps = sorted(nets[0]["curve"])
            report["sets"][f"seed {which}"] = {
                "nets": len(nets), "front": [n["label"] for n in front(nets, "macs")],
                "tau_step_vs_final": {str(s): kendall_tau([n["curve"][s] for n in nets], finals)
                                      for s in steps if s < FINAL},
                "tau_macs_vs_final": kendall_tau([n["macs"] for n in nets], finals),
                "stored_max_abs_diff_db": stored_differences(which, nets),
                "c200_median_cpu_s": float(np.median([n["cpu_s"][FINAL] for n in nets])),
                "score_median_cpu_s": float(np.median([n["score_cpu_s"] for n in nets]))}
        report["settings"][label] = replay_setting(pruner, loaded[which], args.orders, rng,
                                                   report["sets"][f"seed {which}"]["front"])
    report["command"] = " ".join(["benchmarks/pruner_supernet_rungs.py", *argv])
    print(f"wrote {write_report(Path(args.out), report, render)}")
    return 0


def render(report: dict[str, Any]) -> str:
    lines = ["# Issue 5: a rung inside the supernet proxy's fine-tune (measured, replayed)", "",
             f"{report['orders']} random orders of each supernet's 26 covered reference nets, "
             "each a one-worker search. Bar per order: >= 40% of the CPU seconds saved (the "
             "search's path, measured per net on 1 thread: a net stopped at step k costs its "
             "inherit, k fine-tune steps and one full-Set5 score; one that continues pays one "
             "extra score) at a hypervolume (Set5 PSNR after the 200-step fine-tune vs MACs) "
             f">= 0.98 of all nets'. Pre-registered primary: {report['primary']}; met if >= 95% "
             "of the orders meet the bar.", "",
             "| setting | orders meeting the bar | CPU-s saved (5/50/95%) | HV ratio (5/50/95%, "
             "min) | verdict |", "|---|---|---|---|---|"]
    for label, r in report["settings"].items():
        c, h = r["compute_saved_pct"], r["hv_ratio_pct"]
        lines.append(
            f"| {label} | {r['share_meeting_bar']:.1%} | {c['5']:.0%} / {c['50']:.0%} / "
            f"{c['95']:.0%} | {h['5']:.3f} / {h['50']:.3f} / {h['95']:.3f}, "
            f"{r['hv_ratio_min']:.3f} | "
            f"{verdict(r['share_meeting_bar']) if label == report['primary'] else '-'} |")
    shown = ("10", "20", "50", "100", "150")
    lines += ["", "Kendall tau of the Set5 score at fine-tune step k with the step-200 score:", "",
              "| supernet | " + " | ".join(f"k={k}" for k in shown) + " | MACs | c200 median "
              "CPU-s | one score CPU-s | max diff from stored ft50 / ft200 (dB) |",
              "|---|" + "---|" * (len(shown) + 4)]
    for which, s in report["sets"].items():
        t, d = s["tau_step_vs_final"], s["stored_max_abs_diff_db"]
        lines.append(f"| {which} | " + " | ".join(f"{t[k]:.3f}" for k in shown)
                     + f" | {s['tau_macs_vs_final']:.3f} | {s['c200_median_cpu_s']:.1f} | "
                     f"{s['score_median_cpu_s']:.2f} | {d['ft50']:.3f} / {d['ft200']:.3f} |")
    stopped = report["settings"][report["primary"]]["front_stopped_share"]
    lines += ["", "Front nets of the primary and the share of orders that stop them: "
              + ", ".join(f"{k} {v:.0%}" for k, v in sorted(stopped.items(), key=lambda x: -x[1])),
              "", f"Command: `.venv/bin/python {report['command']}` (after `measure --seed 0` and "
              "`measure --seed 1`)", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    ap = argparse.ArgumentParser(prog="pruner_supernet_rungs.py")
    sub = ap.add_subparsers(dest="cmd", required=True)
    me = sub.add_parser("measure", help="score each covered net every 10 fine-tune steps")
    me.add_argument("--seed", type=int, choices=(0, 1), default=0, help="the supernet's seed")
    me.add_argument("--threads", type=int, default=1)
    rp = sub.add_parser("replay", help="replay the rules on the measurements")
    rp.add_argument("--orders", type=int, default=1000)
    rp.add_argument("--seed", type=int, default=0, help="the orders' seed")
    rp.add_argument("--out", default=str(RESULTS / "pruner_supernet_rungs"), help="path stem")
    args = ap.parse_args(argv)
    try:
        return measure_main(args) if args.cmd == "measure" else replay_main(args, argv)
    except (UserError, FileNotFoundError, ValueError, KeyError) as exc:
        print(f"pruner_supernet_rungs: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
