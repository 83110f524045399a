"""Issue 5: a rung at step 0, scored by a zero-cost proxy, as the pruner's first decision.

    .venv/bin/python benchmarks/prescreen_replay.py [--data DIR] [--threads 1] [--out STEM]

Every checkpoint rung tried so far (search_quality.py part3) reads a score that ranks the final
ones poorly (Kendall tau 0.04-0.31 at the first rung of the demo proxy, 0.19-0.27 under
``quick``), so it stops front nets; a late rung ranks better but saves too little. This replays
one more decision point: before any training, the candidate's NASWOT score at initialisation
(search/zero_cost.py; one batch of 16 LR 32-px patches of the run's proxy data, network and
batch seed 0, as proxy_fidelity.py scores it) takes the place of the intermediate PSNR at a
rung at step 0, against the candidates proposed before it, with the same Pareto-aware rule
(non-dominated sorting on score and MACs; the best 1/eta continue; a candidate stops only if a
peer dominates it). A candidate stopped there is never trained: its compute is zero steps.

Pre-registered (in the commit that adds this file, before it ran on the demo searches): the
primary setting is a rung at step 0 alone, eta 2 (one dominator, three peers); it is judged by
issue 5's bar on each of the 12 unpruned demo-proxy searches of search_quality_rfdb.json
(8 random, 4 TPE; for TPE the replay keeps the unpruned run's proposals), which this setting
was not chosen on: at least 40% of the training steps saved at a hypervolume (PSNR vs MACs) of
at least 0.98 of the unpruned search's. Secondaries: eta 3; the step-0 rung followed by the
default's last checkpoint rung (eta 2). The three ``quick`` searches of
search_quality_rfdb_quick.json are where the setting was picked (step 0 alone at eta 2 saved
40-48% at 0.969-1.000 there): reported, marked exploratory, not evidence.

NASWOT's own CPU seconds per net are measured and reported beside the training steps it saves
(the goal counts steps). Writes benchmarks/results/prescreen_replay.{json,md} (``--out STEM``:
elsewhere).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from proxy_fidelity import _zero_cost_scores  # noqa: E402
from search_quality import hv, stops_outcome  # noqa: E402

from blocks.errors import UserError  # noqa: E402
from blocks.specs import NetSpec  # noqa: E402
from search.fidelity import kendall_tau  # noqa: E402
from search.proxies import TrainData, get_protocol  # noqa: E402
from search.pruner import ParetoSuccessiveHalving, replay  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
#: (file, whether the setting was picked on its runs)
SOURCES = (("search_quality_rfdb.json", False), ("search_quality_rfdb_quick.json", True))
PRIMARY = "step 0 (NASWOT), eta 2"
HV_KEPT = 0.98
SAVED = 0.40


def settings(default_rungs: tuple[int, ...]) -> dict[str, ParetoSuccessiveHalving]:
    """The primary and its secondaries; ``default_rungs``: the default pruner's checkpoint
    rungs for the proxy (the last follows step 0 in the third setting)."""
    last = default_rungs[-1]
    return {
        PRIMARY: ParetoSuccessiveHalving((0,), eta=2.0),
        "step 0 (NASWOT), eta 3": ParetoSuccessiveHalving((0,), eta=3.0),
        f"step 0 (NASWOT) + step {last}, eta 2": ParetoSuccessiveHalving((0, last), eta=2.0),
    }


def replay_run(
    pruner: ParetoSuccessiveHalving, points: list[dict[str, Any]], scores: list[float], total: int,
    ref: list[float],
) -> dict[str, Any]:
    """Where each trial stops with ``scores`` as its step-0 value; steps saved and HV kept."""
    trials = [
        ({0: s, **{int(a): b for a, b in p["intermediate"]}}, [p["macs"]])
        for p, s in zip(points, scores, strict=True)
    ]
    stops = replay(pruner, trials)
    outcome, kept = stops_outcome(points, stops, total, ref)
    return outcome | {
        "hv_ratio_log_macs": hv(kept, "macs", ref, log=True) / hv(points, "macs", ref, log=True),
        "stopped_at_0": sum(x == 0 for x in stops),
        "trained": len(points),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="prescreen_replay.py")
    ap.add_argument("--data", help="data root (default: $DISTILLNAS_DATA or ../shared/data)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=str(RESULTS / "prescreen_replay"), help="path stem")
    argv = sys.argv[1:] if argv is None else argv  # the command recorded is the one run
    args = ap.parse_args(argv)
    out: dict[str, Any] = {"primary": PRIMARY, "bar": {"compute_saved": SAVED, "hv": HV_KEPT},
                           "sources": {}}
    inputs = []  # every search file and its proxy's data, found before any scoring
    for name, exploratory in SOURCES:
        path = RESULTS / name
        if not path.is_file():
            print(f"prescreen_replay: no {path}; run search_quality.py first", file=sys.stderr)
            return 2
        sq = json.loads(path.read_text())
        try:
            data = TrainData.for_protocol(sq["settings"]["proxy"], args.data)
        except UserError as exc:
            print(f"prescreen_replay: {exc}", file=sys.stderr)
            return 2
        inputs.append((name, exploratory, sq, data))
    for name, exploratory, sq, data in inputs:
        proxy = sq["settings"]["proxy"]
        protocol = get_protocol(proxy)
        total = int(protocol.steps)
        rungs = ParetoSuccessiveHalving.for_steps(total, int(protocol.eval_every)).rungs
        ref = sq["reference_points"]["macs"]
        runs: dict[str, Any] = {}
        for run_name, run in sorted(sq["runs"].items()):
            if run["pruner"] or not run["points"]:
                continue
            pts = run["points"]
            archs = [(p["key"], NetSpec.from_json(p["spec"])) for p in pts]
            zc = _zero_cost_scores(archs, data, 0, args.threads)
            naswot = [zc[k]["scores"]["naswot"] for k, _ in archs]
            finals = [p["psnr_y_db"] for p in pts]
            runs[run_name] = {
                "naswot": naswot,
                "naswot_cpu_seconds": [zc[k]["cpu_seconds"] for k, _ in archs],
                "train_eval_seconds_per_net": run["train_eval_s"] / len(pts),
                "tau_vs_final": {
                    "naswot": kendall_tau(naswot, finals),
                    "macs": kendall_tau([p["macs"] for p in pts], finals),
                    **{f"step {s}": kendall_tau([dict(p["intermediate"])[s] for p in pts], finals)
                       for s in rungs},
                },
                "settings": {label: replay_run(pr, pts, naswot, total, ref)
                             for label, pr in settings(rungs).items()},
            }
            print(f"{name} {run_name}: {runs[run_name]['settings'][PRIMARY]}", file=sys.stderr,
                  flush=True)
        out["sources"][name] = {"proxy": proxy, "steps": total, "exploratory": exploratory,
                                "runs": runs}
    out["context"] = {"command": " ".join(["benchmarks/prescreen_replay.py", *argv]),
                      "threads": args.threads, "when": time.strftime("%Y-%m-%d %H:%M")}
    stem = Path(args.out)
    stem.with_suffix(".json").write_text(json.dumps(out, indent=1) + "\n")
    stem.with_suffix(".md").write_text(render(out))
    print(f"wrote {stem.with_suffix('.md')}")
    return 0


def render(out: dict[str, Any]) -> str:
    lines = ["# Issue 5: a zero-cost rung at step 0 (replayed)", "",
             f"Primary setting (pre-registered): {out['primary']}. Bar per search: >= "
             f"{out['bar']['compute_saved']:.0%} of the training steps saved at a hypervolume "
             f"(PSNR vs MACs) >= {out['bar']['hv']} of the unpruned search's.", ""]
    for name, src in out["sources"].items():
        runs = src["runs"]
        tag = " (exploratory: the setting was picked here)" if src["exploratory"] else ""
        lines += [f"### {name}: proxy `{src['proxy']}`, {src['steps']} steps{tag}", "",
                  "Each cell: compute saved / HV ratio (linear MACs); the last column counts the "
                  "searches meeting the bar.", ""]
        labels = list(next(iter(runs.values()))["settings"])
        lines += ["| setting | " + " | ".join(runs) + " | meet |",
                  "|---|" + "---|" * (len(runs) + 1)]
        for label in labels:
            cells = [runs[r]["settings"][label] for r in runs]
            meet = sum(c["compute_saved"] >= out["bar"]["compute_saved"]
                       and c["hv_ratio_macs"] >= out["bar"]["hv"] for c in cells)
            lines.append(f"| {label} | " + " | ".join(
                f"{c['compute_saved']:.0%} / {c['hv_ratio_macs']:.3f}" for c in cells)
                + f" | {meet} of {len(cells)} |")
        taus = list(next(iter(runs.values()))["tau_vs_final"])
        lines += ["", "Kendall tau of each pre-training or checkpoint score with the final "
                  "score, and NASWOT's CPU seconds per net against the run's train+eval seconds "
                  "per net:", "",
                  "| search | " + " | ".join(taus) + " | NASWOT CPU s per net | train+eval s "
                  "per net |", "|---|" + "---|" * (len(taus) + 2)]
        for r, run in runs.items():
            cpu = run["naswot_cpu_seconds"]
            lines.append(f"| {r} | " + " | ".join(f"{run['tau_vs_final'][t]:.2f}" for t in taus)
                         + f" | {sum(cpu) / len(cpu):.2f} | "
                         f"{run['train_eval_seconds_per_net']:.1f} |")
        lines.append("")
    lines += [f"Command: `.venv/bin/python {out['context']['command']}`", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
