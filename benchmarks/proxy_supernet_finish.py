"""Issue 8: how the supernet proxy's fine-tune ends, measured against the converged reference.

    .venv/bin/python benchmarks/proxy_supernet_finish.py measure --seed {0,1}
    .venv/bin/python benchmarks/proxy_supernet_finish.py rank

The search scores a candidate by the Set5 PSNR at the last step of a 200-step fine-tune at a
constant lr of 5e-4. Scored every 10 steps (benchmarks/pruner_supernet_rungs.py), the ranking
of the 26 covered reference nets against the converged reference swings from one checkpoint to
the next (Kendall tau 0.61-0.79 between steps 10 and 200 with the seed-0 supernet, 0.59-0.81
with the seed-1 one; 0.63 and 0.72 at step 200), and the mean of the scores at steps 10-200
ranks at 0.79 and 0.72: the single last score looks like a noisy draw. Those figures were read
after the fact, on the same nets; they motivated this, nothing here is fitted on them.

Pre-registered (in the commit that adds this file, before any of its scores was measured):
- nets: the 26 reference nets the seed-0 supernet covers (as pruner_supernet_rungs.py); the
  reference is each net's converged pooled Set5+Set14+B100 score stored in the supernet reports
  (proxy_supernet_confirm*.json); params from the same reports;
- two ways to end the same 200-step fine-tune of inherited weights (``finetune_protocol`` on the
  supernet's recipe, seed 0, 1 thread, the search's path), each scored once on full Set5 at the
  end at no extra cost:
  - ``cosine``: lr 5e-4 decayed by a cosine to 0 over the 200 steps (the primary);
  - ``ema``: constant lr 5e-4, the exponential moving average of the weights (decay 0.95)
    scored instead of the last weights;
  against ``constant`` (today's proxy: its step-200 score, from pruner_supernet_rungs's
  measurement, equal to the stored ft200);
- primary: ``cosine`` with the seed-0 supernet on the 26 nets, judged on issue 8's goal: Kendall
  tau >= 0.8 with the reference, clearly above params-only (the 95% paired-bootstrap interval of
  the difference above 0, ``paired_tau_bootstrap``, 10000 draws, seed 0) and <= 120 CPU-s per
  candidate (the fine-tune's median CPU-s plus the supernet's training CPU-s over 1000
  candidates);
- secondaries: ``ema``; the seed-1 supernet; each against ``constant`` (paired bootstrap); the
  two supernets' agreement (Kendall tau between their scores of the 26 nets) per ending, which
  a less noisy score should raise; the capacity-adjusted tau (``capacity_adjusted_tau`` on log10
  params).

Added after that result was seen (pre-registered in the commit that adds it, before it was
measured): ``cosine400``, the same cosine ending over a 400-step fine-tune (about twice the
CPU-s), both supernets, judged on the same goal as a secondary; it does not change the
primary's verdict.

Writes benchmarks/results/proxy_supernet_finish_seed{S}.json (``measure``, resumable) and
benchmarks/results/proxy_supernet_finish.{json,md} (``rank``).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from proxy_fidelity import write_report  # noqa: E402
from pruner_supernet_replay import REPORTS, load_nets  # noqa: E402
from pruner_supernet_rungs import FINAL, measurement_path  # noqa: E402
from supernet_search import store_for_search  # noqa: E402

from blocks.build import build_network  # noqa: E402
from blocks.errors import UserError  # noqa: E402
from blocks.specs import NetSpec  # noqa: E402
from search.fidelity import (  # noqa: E402
    capacity_adjusted_tau,
    kendall_tau,
    paired_tau_bootstrap,
    rank_report,
)
from search.train import train  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
ENDINGS = ("cosine", "ema", "cosine400")
PRIMARY = ("cosine", 0)
TAU_GOAL, CPU_GOAL, SEARCH_SIZE = 0.8, 120.0, 1000


def ending(protocol: Any, name: str) -> Any:
    """The fine-tune protocol with the named ending."""
    if name == "cosine":
        return replace(protocol, schedule="cosine", min_lr_ratio=0.0, name=f"{protocol.name}-cos")
    if name == "cosine400":
        return replace(ending(protocol, "cosine"), steps=400, eval_every=400,
                       name="supernet-ft-400-cos")
    if name == "ema":
        return replace(protocol, ema_decay=0.95, name=f"{protocol.name}-ema")
    raise UserError(f"unknown ending {name!r}; known: {', '.join(ENDINGS)}")


def path_of(seed: int) -> Path:
    return RESULTS / f"proxy_supernet_finish_seed{seed}.json"


def finetune_score(trained: Any, data: Any, spec: NetSpec, protocol: Any,
                   what: str) -> dict[str, float]:
    """The search's path for one net: inherit, fine-tune (seed 0), score on Set5 at the end;
    its Set5 PSNR, CPU-s (inheriting included) and the share of its weights inherited."""
    t0 = time.process_time()
    net = build_network(spec, seed=0)
    coverage = trained.store.inherit(net)
    res = train(net, data=data, protocol=protocol, seed=0, progress=False, scale=2)
    if res.status != "complete":
        raise UserError(f"{what}: fine-tune ended {res.status}")
    return {"psnr_y_db": float(res.sets["Set5"]["psnr_y_db"]),
            "cpu_s": time.process_time() - t0, "coverage": coverage}


def measure_main(args: argparse.Namespace) -> int:
    from search.proxies import TrainData

    torch.set_num_threads(1)
    trained = store_for_search(args.seed)
    base = trained.finetune(FINAL)
    data = TrainData.for_protocol(base)
    path = path_of(args.seed)
    out = json.loads(path.read_text()) if path.is_file() else {
        "supernet": str(trained.path.relative_to(ROOT)), "sha1": trained.sha1, "threads": 1,
        "nets": {}}
    for n in load_nets(REPORTS[f"seed {args.seed}"]):
        row = out["nets"].setdefault(n["label"], {})
        for name in ENDINGS:
            if name in row:
                continue  # resumable
            row[name] = finetune_score(trained, data, NetSpec.from_dict(n["spec"]),
                                       ending(base, name), f"{n['label']} ({name})")
            path.write_text(json.dumps(out, indent=1) + "\n")
            print(f"{n['label']} {name}: {row[name]['psnr_y_db']:.3f} dB, "
                  f"{row[name]['cpu_s']:.1f} CPU-s", file=sys.stderr)
    return 0


def load_seed(seed: int) -> dict[str, Any]:
    """label -> params, reference, and the score (and CPU-s) of each ending, ``constant`` too."""
    rep = json.loads((RESULTS / REPORTS[f"seed {seed}"]).read_text())
    stored = {lb: sc for s in rep["sets"].values() for lb, sc in s["scores"].items()}
    labels = [n["label"] for n in load_nets(REPORTS[f"seed {seed}"])]
    for p in (path_of(seed), measurement_path(seed)):
        if not p.is_file():
            raise FileNotFoundError(f"no {p.name}: run its benchmark's measure --seed {seed}")
    mine = json.loads(path_of(seed).read_text())["nets"]
    rungs = json.loads(measurement_path(seed).read_text())["nets"]
    out = {}
    for lb in labels:
        if any(e not in mine.get(lb, {}) for e in ENDINGS):
            raise ValueError(f"{path_of(seed).name}: {lb} not measured; rerun measure")
        out[lb] = {"params": float(stored[lb]["params"]),
                   "reference": float(stored[lb]["reference_psnr_y_db"]),
                   "constant": {"psnr_y_db": float(rungs[lb]["curve"][str(FINAL)]),
                                "cpu_s": float(rungs[lb]["cpu_s"][str(FINAL)])},
                   **{e: mine[lb][e] for e in ENDINGS}}
    return {"nets": out, "supernet_cpu_s": float(rep["supernet_cpu_seconds"])}


def rank_main(args: argparse.Namespace, argv: list[str]) -> int:
    report = rank({s: load_seed(s) for s in (0, 1)})
    report["command"] = " ".join(["benchmarks/proxy_supernet_finish.py", *argv])
    print(f"wrote {write_report(Path(args.out), report, render)}")
    return 0


def rank(seeds: dict[int, dict[str, Any]]) -> dict[str, Any]:
    """Each supernet's endings (and params-only) against the reference, the goal's verdict on
    the primary, and the supernets' agreement per ending (``seeds``: as ``load_seed``)."""
    labels = list(seeds[0]["nets"])
    if sorted(labels) != sorted(seeds[1]["nets"]):
        raise ValueError("the two supernets cover different nets")
    report: dict[str, Any] = {"primary": {"ending": PRIMARY[0], "supernet_seed": PRIMARY[1]},
                              "goal": {"kendall_tau": TAU_GOAL, "cpu_s": CPU_GOAL},
                              "n_architectures": len(labels), "rows": [], "agreement": {}}
    for seed, d in seeds.items():
        nets = d["nets"]
        truth = [nets[lb]["reference"] for lb in labels]
        params = [nets[lb]["params"] for lb in labels]
        log_params = [math.log10(p) for p in params]
        report["rows"].append({"supernet_seed": seed, "ending": "params-only",
                               **rank_report(params, truth)})
        for e in ("constant", *ENDINGS):
            mine = [nets[lb][e]["psnr_y_db"] for lb in labels]
            vs_params = paired_tau_bootstrap(mine, params, truth)
            row = {"supernet_seed": seed, "ending": e, **rank_report(mine, truth),
                   "vs_params_diff": vs_params["diff"], "vs_params_ci95": vs_params["diff_ci95"],
                   "clearly_above_params": vs_params["diff_ci95"][0] > 0,
                   "capacity_adjusted": capacity_adjusted_tau(mine, truth, log_params),
                   "cpu_s_median": statistics.median(nets[lb][e]["cpu_s"] for lb in labels)}
            row["cpu_s_amortised"] = row["cpu_s_median"] + d["supernet_cpu_s"] / SEARCH_SIZE
            if e != "constant":
                vs_c = paired_tau_bootstrap(mine, [nets[lb]["constant"]["psnr_y_db"]
                                                   for lb in labels], truth)
                row["vs_constant_diff"] = vs_c["diff"]
                row["vs_constant_ci95"] = vs_c["diff_ci95"]
            row["meets_goal"] = bool(row["kendall_tau"] >= TAU_GOAL
                                     and row["clearly_above_params"]
                                     and row["cpu_s_amortised"] <= CPU_GOAL)
            report["rows"].append(row)
    for e in ("constant", *ENDINGS):
        report["agreement"][e] = kendall_tau(
            [seeds[0]["nets"][lb][e]["psnr_y_db"] for lb in labels],
            [seeds[1]["nets"][lb][e]["psnr_y_db"] for lb in labels])
    prim = next(r for r in report["rows"]
                if (r["ending"], r["supernet_seed"]) == PRIMARY)
    report["verdict"] = "met" if prim["meets_goal"] else "missed"
    return report


def render(report: dict[str, Any]) -> str:
    p = report["primary"]
    lines = ["# Issue 8: how the supernet proxy's fine-tune ends", "",
             f"{report['n_architectures']} covered reference nets; Kendall tau of each score "
             "with the converged reference (pooled Set5+Set14+B100). Every ending is the same "
             "200-step fine-tune of inherited weights, scored once on full Set5 at its end. "
             f"Pre-registered primary: {p['ending']}, seed-{p['supernet_seed']} supernet; goal "
             "tau >= 0.8, clearly above params-only (95% paired-bootstrap interval of the "
             "difference above 0), <= 120 CPU-s per candidate amortised over 1000.", "",
             "| supernet | ending | tau | vs params-only [95%] | vs constant [95%] | beyond size "
             "[95%] | CPU-s (median + amortised supernet) | goal |",
             "|---|---|---|---|---|---|---|---|"]
    for r in report["rows"]:
        if r["ending"] == "params-only":
            lines.append(f"| seed {r['supernet_seed']} | params-only | {r['kendall_tau']:.3f} "
                         "| - | - | 0 | - | - |")
            continue
        ci = r["vs_params_ci95"]
        vc = (f"{r['vs_constant_diff']:+.2f} [{r['vs_constant_ci95'][0]:+.2f}, "
              f"{r['vs_constant_ci95'][1]:+.2f}]" if "vs_constant_diff" in r else "-")
        ca = r["capacity_adjusted"]
        primary = (r["ending"], r["supernet_seed"]) == (p["ending"], p["supernet_seed"])
        goal = f"**{report['verdict']}**" if primary else ("yes" if r["meets_goal"] else "no")
        lines.append(
            f"| seed {r['supernet_seed']} | {r['ending']} | {r['kendall_tau']:.3f} | "
            f"{r['vs_params_diff']:+.2f} [{ci[0]:+.2f}, {ci[1]:+.2f}] | {vc} | "
            f"{ca['tau']:+.2f} [{ca['ci95'][0]:+.2f}, {ca['ci95'][1]:+.2f}] | "
            f"{r['cpu_s_amortised']:.1f} | {goal} |")
    lines += ["", "The two supernets' agreement (Kendall tau between their scores of the same "
              "nets): " + ", ".join(f"{e} {t:.3f}" for e, t in report["agreement"].items()) + ".",
              "", f"Command: `.venv/bin/python {report['command']}` (after `measure --seed 0` "
              "and `measure --seed 1`, and pruner_supernet_rungs.py's measurements)", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    ap = argparse.ArgumentParser(prog="proxy_supernet_finish.py")
    sub = ap.add_subparsers(dest="cmd", required=True)
    me = sub.add_parser("measure", help="fine-tune each covered net with each ending")
    me.add_argument("--seed", type=int, choices=(0, 1), default=0, help="the supernet's seed")
    rk = sub.add_parser("rank", help="rank the measured scores against the reference")
    rk.add_argument("--out", default=str(RESULTS / "proxy_supernet_finish"), help="path stem")
    args = ap.parse_args(argv)
    try:
        return measure_main(args) if args.cmd == "measure" else rank_main(args, argv)
    except (UserError, FileNotFoundError, ValueError, KeyError) as exc:
        print(f"proxy_supernet_finish: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
