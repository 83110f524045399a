"""Issue 5: the pruner with a rung at step 0 under the supernet proxy, replayed.

    .venv/bin/python benchmarks/pruner_supernet_replay.py [--orders N] [--seed S] [--out STEM]

Under ``search --proxy supernet`` a candidate starts from inherited weights that already score
within a fraction of a dB of where its 200-step fine-tune ends. A rung at step 0 (score the
inherited weights on Set5, before any fine-tune) could stop dominated candidates for the price
of one evaluation. Every earlier replay decided on nets trained from scratch, whose early scores
rank their finals poorly (rows 3-3k); this asks whether the inherited score ranks the fine-tuned
one well enough to keep the front.

Pre-registered (in the commit that adds this file, before it was run):
- nets: the 26 reference nets the seed-0 supernet covers (proxy_supernet_confirm.json: the
  calibration, held-out and confirmation sets; coverage >= 0.99); the one cost is MACs at LR
  180x320 (as search_quality.py), from the reference tables' specs;
- a net's final score is its stored 200-step fine-tune scored on Set5 (``ft200``, what the
  search records); its rung-0 score the stored inherited-weights score on Set5 (``ft0``);
- the rule: ``ParetoSuccessiveHalving((0,), eta=3)`` (one dominator, three peers: the defaults);
- compute is CPU seconds of the search's own path, measured here per net on 1 thread with the
  seed-0 supernet: ``c0`` = inherit + score full Set5, ``c200`` = ``SupernetEvaluator.train``
  (inherit + 200 steps + score full Set5). Unpruned, a net costs ``c200``; with the rung, a net
  stopped at step 0 costs ``c0`` and one that continues ``c0 + c200`` (it is scored twice);
- 1000 orders by numpy's default_rng(0), each a one-worker search (``search.pruner.replay``);
  issue 5's bar per order: >= 40% of the CPU seconds saved at a hypervolume (PSNR vs MACs,
  reference point as search_quality.py's) >= 0.98 of the unpruned order's;
- verdict: met if at least 95% of the orders meet the bar.
Secondaries, beside it: the seed-1 supernet's stored scores (proxy_supernet_confirm_seed1.json,
same measured costs); eta 2 (seed 0); the share of fine-tune steps saved. Also reported: the
Kendall tau of the rung-0 scores with the finals, and how often each front net is stopped.

Writes benchmarks/results/pruner_supernet_replay.{json,md} (``--out STEM``: elsewhere); the
measured costs are kept in the JSON and reused by a rerun (``--remeasure`` measures again).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from pruner_reference_replay import TABLES, add_macs, load_table, summarise  # noqa: E402
from search_quality import front, reference_point, stops_outcome  # noqa: E402

from blocks.build import build_network  # noqa: E402
from blocks.errors import UserError  # noqa: E402
from blocks.specs import NetSpec  # noqa: E402
from search.evaluate import evaluate_pairs  # noqa: E402
from search.fidelity import kendall_tau  # noqa: E402
from search.pruner import ParetoSuccessiveHalving, replay  # noqa: E402
from search.train import ProxyUpscaler  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
REPORTS = {"seed 0": "proxy_supernet_confirm.json", "seed 1": "proxy_supernet_confirm_seed1.json"}
COVERED = 0.99
FINAL = 200
PRIMARY = "seed 0, rung 0, eta 3"
HV_KEPT, SAVED, ORDERS_MET = 0.98, 0.40, 0.95


def settings() -> dict[str, tuple[str, ParetoSuccessiveHalving]]:
    """label -> (the supernet report it reads, the rule)."""
    return {PRIMARY: ("seed 0", ParetoSuccessiveHalving((0,), eta=3.0)),
            "seed 1, rung 0, eta 3": ("seed 1", ParetoSuccessiveHalving((0,), eta=3.0)),
            "seed 0, rung 0, eta 2": ("seed 0", ParetoSuccessiveHalving((0,), eta=2.0))}


def load_nets(report: str) -> list[dict[str, Any]]:
    """The covered nets of one supernet report with their specs (from the reference tables),
    MACs, rung-0 and final Set5 scores."""
    rep = json.loads((RESULTS / report).read_text())
    specs = {n["key"]: n["spec"] for t in TABLES for n in load_table(RESULTS / t, [])}
    nets = []
    for s in rep["sets"].values():
        for label, sc in s["scores"].items():
            if sc["coverage"] < COVERED:
                continue
            nets.append({"label": label, "key": sc["spec_key"], "spec": specs[sc["spec_key"]],
                         "curve": {0: sc["ft0"]["per_set"]["Set5"],
                                   FINAL: sc[f"ft{FINAL}"]["per_set"]["Set5"]},
                         "psnr_y_db": sc[f"ft{FINAL}"]["per_set"]["Set5"], "steps": FINAL})
    add_macs(nets)
    return nets


def measure_costs(nets: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """``c0`` and ``c200`` per net (CPU-s, 1 thread) on the search's path, seed-0 supernet."""
    from supernet_search import store_for_search

    from search.objective import SupernetEvaluator
    from search.proxies import TrainData

    torch.set_num_threads(1)
    trained = store_for_search()
    protocol = trained.finetune(FINAL)
    data = TrainData.for_protocol(protocol)
    work = RESULTS / "cache" / "pruner_supernet_replay"
    ev = SupernetEvaluator(None, protocol, data, work, threads=1, store_path=trained.path,
                           store_sha1=trained.sha1)
    costs = {}
    for n in nets:
        spec = NetSpec.from_dict(n["spec"])
        c0 = time.process_time()
        net = build_network(spec, seed=0)
        trained.store.inherit(net)
        up = ProxyUpscaler(net, 2, residual=trained.residual)
        evaluate_pairs(up, data.pairs("Set5", 2), 2)
        c0 = time.process_time() - c0
        t = time.process_time()
        ev.train(spec, seed=0, report=lambda step, psnr: False)
        costs[n["label"]] = {"c0": c0, "c200": time.process_time() - t}
        print(f"{n['label']}: c0 {c0:.1f} s, c200 {costs[n['label']]['c200']:.1f} s",
              file=sys.stderr)
    return costs


def with_costs(nets: list[dict[str, Any]], costs: dict[str, dict[str, float]]) -> None:
    """Attach each net's measured costs as ``replay_order`` reads them: stopped at step 0 it
    costs ``c0``, trained to the end ``c200``, and a net that passes the rung pays its
    step-0 score (``c0``) on top."""
    for n in nets:
        c = costs[n["label"]]
        n["cpu_s"] = {0: c["c0"], FINAL: c["c200"]}
        n["score_cpu_s"] = c["c0"]


def replay_order(pruner: ParetoSuccessiveHalving, nets: list[dict[str, Any]], order: list[int],
                 ref: list[float]) -> dict[str, Any]:
    """One order as a one-worker search: CPU-s saved (the primary compute), steps saved, HV
    ratio (kept / all, PSNR vs MACs), the labels stopped. A net costs ``cpu_s[k]`` when stopped
    at rung k, else ``cpu_s[FINAL]`` plus one rung score (``score_cpu_s``); unpruned,
    ``cpu_s[FINAL]``."""
    seq = [nets[i] for i in order]
    stops = replay(pruner, [(n["curve"], [n["macs"]]) for n in seq])
    outcome, _ = stops_outcome(seq, stops, FINAL, ref)
    unpruned = sum(n["cpu_s"][FINAL] for n in seq)
    pruned = sum(n["cpu_s"][s] if s is not None else n["cpu_s"][FINAL] + n["score_cpu_s"]
                 for n, s in zip(seq, stops, strict=True))
    return {"compute_saved": 1 - pruned / unpruned, "steps_saved": outcome["compute_saved"],
            "hv_ratio_macs": outcome["hv_ratio_macs"], "seconds_saved": 1 - pruned / unpruned,
            "stopped": sorted(n["label"] for n, s in zip(seq, stops, strict=True)
                              if s is not None)}


def replay_setting(pruner: ParetoSuccessiveHalving, nets: list[dict[str, Any]], orders: int,
                   rng: np.random.Generator, front_labels: list[str]) -> dict[str, Any]:
    """``orders`` random orders of ``nets`` under ``pruner``, summarised (issue 5's bar, the
    share of orders meeting it, how often each front net stops, the steps saved)."""
    ref = reference_point([nets], "macs")
    rows = [replay_order(pruner, nets, list(rng.permutation(len(nets))), ref)
            for _ in range(orders)]
    s = summarise(rows, front_labels)
    s["steps_saved_pct"] = {str(q): float(np.percentile([r["steps_saved"] for r in rows], q))
                            for q in (5, 50, 95)}
    return s


def run(orders: int, seed: int, costs: dict[str, dict[str, float]],
        rules: dict[str, tuple[str, ParetoSuccessiveHalving]] | None = None,
        load: Callable[[str], list[dict[str, Any]]] | None = None) -> dict[str, Any]:
    """Each rule (default ``settings()``) over ``orders`` random orders of its supernet's nets
    (``load(which)``; default the stored ft0 and ft200 Set5 scores of ``load_nets``)."""
    rng = np.random.default_rng(seed)
    out: dict[str, Any] = {"settings": {}, "sets": {}}
    for label, (which, pruner) in (rules or settings()).items():
        nets = load(which) if load is not None else load_nets(REPORTS[which])
        if which not in out["sets"]:
            finals = [n["psnr_y_db"] for n in nets]
            out["sets"][which] = {
                "report": REPORTS[which], "nets": len(nets),
                "front": [n["label"] for n in front(nets, "macs")],
                "tau_rung0_vs_final": kendall_tau([n["curve"][0] for n in nets], finals),
                "tau_macs_vs_final": kendall_tau([n["macs"] for n in nets], finals)}
        with_costs(nets, costs)
        out["settings"][label] = replay_setting(pruner, nets, orders, rng,
                                                out["sets"][which]["front"])
    return out


def verdict(share: float) -> str:
    return "**met**" if share >= ORDERS_MET else "**missed**"


def render(report: dict[str, Any],
           title: str = "a rung at step 0 under the supernet proxy (replayed)",
           finals: str = "the 200-step fine-tune") -> str:
    primary = report["primary"]
    lines = [f"# Issue 5: {title}", "",
             f"{report['orders']} random orders of each supernet's covered reference nets, each "
             "a one-worker search. Bar per order: >= 40% of the CPU seconds saved (the search's "
             "path, measured per net: a stopped net costs one Set5 score of its inherited "
             "weights, a continued one that plus its fine-tune) at a hypervolume (Set5 PSNR "
             f"after {finals} vs MACs) >= 0.98 of all nets'. Pre-registered "
             f"primary: {primary}; met if >= 95% of the orders meet the bar.", "",
             "| setting | orders meeting the bar | CPU-s saved (5/50/95%) | steps saved (median) "
             "| HV ratio (5/50/95%, min) | verdict |", "|---|---|---|---|---|---|"]
    for label, r in report["settings"].items():
        c, h = r["compute_saved_pct"], r["hv_ratio_pct"]
        lines.append(
            f"| {label} | {r['share_meeting_bar']:.1%} | {c['5']:.0%} / {c['50']:.0%} / "
            f"{c['95']:.0%} | {r['steps_saved_pct']['50']:.0%} | {h['5']:.3f} / {h['50']:.3f} "
            f"/ {h['95']:.3f}, {r['hv_ratio_min']:.3f} | "
            f"{verdict(r['share_meeting_bar']) if label == primary else '-'} |")
    lines += ["", "| supernet | nets | front nets | tau rung 0 vs final | tau MACs vs final |",
              "|---|---|---|---|---|"]
    for which, s in report["sets"].items():
        lines.append(f"| {which} | {s['nets']} | {len(s['front'])} | "
                     f"{s['tau_rung0_vs_final']:.3f} | {s['tau_macs_vs_final']:.3f} |")
    stopped = report["settings"][primary]["front_stopped_share"]
    lines += ["", "Front nets of the primary and the share of orders that stop them: "
              + ", ".join(f"{k} {v:.0%}" for k, v in sorted(stopped.items(), key=lambda x: -x[1])),
              "", f"Costs (CPU-s, 1 thread): c0 median "
              f"{np.median([c['c0'] for c in report['costs'].values()]):.1f}, c200 median "
              f"{np.median([c['c200'] for c in report['costs'].values()]):.1f}.", "",
              f"Command: `.venv/bin/python {report['command']}`", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="pruner_supernet_replay.py")
    ap.add_argument("--orders", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(RESULTS / "pruner_supernet_replay"), help="path stem")
    ap.add_argument("--remeasure", action="store_true", help="measure the costs again")
    argv = sys.argv[1:] if argv is None else argv
    args = ap.parse_args(argv)
    stem = Path(args.out)
    try:
        old = json.loads(stem.with_suffix(".json").read_text()) if stem.with_suffix(
            ".json").is_file() else {}
        costs = old.get("costs") if not args.remeasure else None
        if costs is None:
            costs = measure_costs(load_nets(REPORTS["seed 0"]))
        report = {"orders": args.orders, "seed": args.seed, "primary": PRIMARY,
                  "bar": {"compute_saved": SAVED, "hv": HV_KEPT, "share_of_orders": ORDERS_MET},
                  "costs": costs,
                  **run(args.orders, args.seed, costs),
                  "command": " ".join(["benchmarks/pruner_supernet_replay.py", *argv])}
    except (UserError, FileNotFoundError, ValueError, KeyError) as exc:
        print(f"pruner_supernet_replay: {exc}", file=sys.stderr)
        return 2
    stem.with_suffix(".json").write_text(json.dumps(report, indent=1) + "\n")
    stem.with_suffix(".md").write_text(render(report))
    print(f"wrote {stem.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
