"""Issue 5: the pruner replayed on long-training curves (issue 8's reference tables).

    .venv/bin/python benchmarks/pruner_reference_replay.py [--orders N] [--seed S] [--out STEM]

Every pruner setting replayed so far (search_quality.py part3, prescreen_replay.py) decides on
the cheap proxies a CPU search can afford (80-step ``demo``, 300-step ``quick``). There, the
finals themselves are mostly training noise: the same proposals retrained with another seed
keep 0.907-1.189 (demo) and 0.861-0.982 (quick) of the hypervolume, and their finals agree at
Kendall tau 0.07-0.63. A front drawn by noise that has not happened yet at a rung cannot be
kept by any rung rule. This asks whether the pruner's rule keeps the front where the training is
long enough for a curve to mean something: the 31 nets of the three reference tables (issue 8:
each trained until its curve flattened, 5000-10000 steps, scored on Set5 + Set14 + B100 pooled,
with milestones on the way). Each random order of the 31 nets is replayed as a one-worker
search: at each rung a net is decided against the nets before it (``search.pruner.replay``).

Pre-registered (in the commit that adds this file, before it ran on the reference tables):
- the primary setting is the default rule (``ParetoSuccessiveHalving.for_steps(8000, 1000)``:
  rungs at 1000, 2000 and 4000 steps, eta 3, one dominator, three peers); the score at a rung is
  the milestone's pooled Y-PSNR, the one cost is MACs at LR 180x320 (as search_quality.py);
- compute is training steps; a net trained to the end costs its own steps (the reference stopped
  each where its curve flattened), a net stopped at a rung costs the rung's steps;
- 1000 orders drawn by numpy's default_rng(0); for each, issue 5's bar: >= 40% of the steps
  saved at a hypervolume (PSNR vs MACs; reference point as search_quality.py's: the worst PSNR
  - 0.1 dB, 1.1 x the largest MACs) >= 0.98 of the unpruned order's (which is the same for every
  order: all 31 nets);
- verdict: the rule meets the bar on long-training curves if at least 95% of the orders do.
Secondaries, reported beside it: eta 2; rungs 2000 and 4000 only (eta 3); the primary with the
eight held-out nets' seed-2 reference curves in place of their seed-0 ones (the reference's own
training noise). Also reported: the recorded training CPU seconds saved (each milestone's
cumulative ``train_seconds``; evaluation excluded), each rung's Kendall tau with the finals, and
how often each net of the unpruned front is stopped.

Writes benchmarks/results/pruner_reference_replay.{json,md} (``--out STEM``: elsewhere).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from search_quality import DEVICE, front, reference_point, stops_outcome  # noqa: E402

from blocks.specs import NetSpec  # noqa: E402
from profiles.counting import count_model  # noqa: E402
from profiles.devices import load_device  # noqa: E402
from search.fidelity import kendall_tau  # noqa: E402
from search.pruner import GainModel, ParetoSuccessiveHalving, replay  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
TABLES = ("proxy_reference.json", "proxy_reference_heldout.json", "proxy_reference_confirm.json")
#: the held-out nets retrained with seed 2 (the secondary with the reference's own noise)
SWAP_TABLE = "proxy_reference_heldout_seed2.json"
PRIMARY = "rungs 1000/2000/4000, eta 3 (the default rule for 8000 steps)"
HV_KEPT = 0.98
SAVED = 0.40
ORDERS_MET = 0.95


def settings() -> dict[str, ParetoSuccessiveHalving]:
    primary = ParetoSuccessiveHalving.for_steps(8000, 1000)
    assert primary.rungs == (1000, 2000, 4000), primary.rungs
    return {PRIMARY: primary,
            "rungs 1000/2000/4000, eta 2": ParetoSuccessiveHalving(primary.rungs, eta=2.0),
            "rungs 2000/4000, eta 3": ParetoSuccessiveHalving((2000, 4000), eta=3.0)}


#: added after the primary's result was seen (not pre-registered, not evidence): the default rule
#: reading each rung score as a forecast of the final one (``search.pruner.GainModel``, fitted on
#: the finished nets earlier in the order)
EXPLORATORY_GAIN = "rungs 1000/2000/4000, eta 3, gain model (exploratory)"


def load_table(path: Path, required_steps: Sequence[int] | None = None) -> list[dict[str, Any]]:
    """The nets of one reference table: label, key, spec, params, final pooled Y-PSNR, own
    steps, the curve (step -> pooled Y-PSNR) and cumulative training seconds per milestone.
    Every net must have a milestone at each of ``required_steps`` (default: every rung of
    ``settings()``)."""
    if not path.is_file():
        raise FileNotFoundError(f"no reference table {path}; run proxy_fidelity.py reference")
    try:
        archs = json.loads(path.read_text())["archs"]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ValueError(f"{path.name} is not a reference table ({exc})") from None
    rungs = sorted(required_steps if required_steps is not None else
                   {r for p in settings().values() for r in p.rungs})
    nets = []
    for a in archs:
        ms = a.get("milestones") or []
        if not ms or a.get("psnr_y_db") is None:
            raise ValueError(f"{path.name}: {a.get('label')} has no finished reference score")
        try:
            net = {"label": a["label"], "key": a["spec_key"], "spec": a["spec"],
                   "params": int(a["params"]),
                   "psnr_y_db": float(a["psnr_y_db"]), "steps": int(a["steps"]),
                   "curve": {int(m["steps"]): float(m["psnr_y_db"]) for m in ms},
                   "seconds": {int(m["steps"]): float(m["train_seconds"]) for m in ms}}
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{path.name}: {a.get('label')} lacks a field ({exc})") from None
        # a net without a milestone at a rung would never be decided there (or a step would be
        # read without it): refuse, not skip
        missing = [r for r in rungs if r not in net["curve"]]
        if missing or net["steps"] not in net["curve"]:
            raise ValueError(f"{path.name}: {net['label']} has no milestone at step(s) "
                             f"{missing or [net['steps']]}")
        nets.append(net)
    return nets


def add_macs(nets: list[dict[str, Any]]) -> None:
    hw = tuple(load_device(DEVICE).input_hw)
    for n in nets:
        n["macs"] = float(count_model(NetSpec.from_dict(n["spec"]), hw).macs)


def replay_order(pruner: ParetoSuccessiveHalving, nets: list[dict[str, Any]], order: list[int],
                 ref: list[float], gain: GainModel | None = None) -> dict[str, Any]:
    """``nets`` trained in ``order`` under ``pruner`` (with ``gain``: rung scores read as
    forecasts): steps and seconds saved, HV ratio (kept / all, PSNR vs MACs), the labels
    stopped."""
    seq = [nets[i] for i in order]
    stops = replay(pruner, [(n["curve"], [n["macs"]]) for n in seq], gain=gain,
                   finals=[n["psnr_y_db"] for n in seq] if gain else None)
    outcome, _ = stops_outcome(seq, stops, [n["steps"] for n in seq], ref)
    secs_all = sum(n["seconds"][n["steps"]] for n in seq)
    secs = sum(n["seconds"][n["steps"] if s is None else s] for n, s in zip(seq, stops,
                                                                                 strict=True))
    return outcome | {"seconds_saved": 1 - secs / secs_all,
                      "stopped": sorted(n["label"] for n, s in zip(seq, stops, strict=True)
                                        if s is not None)}


def summarise(rows: list[dict[str, Any]], front_labels: list[str]) -> dict[str, Any]:
    saved = np.array([r["compute_saved"] for r in rows])
    ratio = np.array([r["hv_ratio_macs"] for r in rows])
    meet = (saved >= SAVED) & (ratio >= HV_KEPT)

    def pct(values: Any) -> dict[str, float]:
        return {str(q): float(np.percentile(values, q)) for q in (5, 50, 95)}

    return {"orders": len(rows), "share_meeting_bar": float(meet.mean()),
            "compute_saved_pct": pct(saved),
            "seconds_saved_pct": pct([r["seconds_saved"] for r in rows]),
            "hv_ratio_pct": pct(ratio),
            "hv_ratio_min": float(ratio.min()),
            "share_hv_kept": float((ratio >= HV_KEPT).mean()),
            "front_stopped_share": {lab: float(np.mean([lab in r["stopped"] for r in rows]))
                                    for lab in front_labels}}


def run_set(nets: list[dict[str, Any]], orders: list[list[int]],
            chosen: dict[str, ParetoSuccessiveHalving], *, exploratory: bool = False
            ) -> dict[str, Any]:
    ref = reference_point([nets], "macs")
    front_labels = [n["label"] for n in front(nets, "macs")]
    finals = [n["psnr_y_db"] for n in nets]
    rungs = sorted({r for p in chosen.values() for r in p.rungs})
    return {"reference_point": ref, "front": front_labels,
            "tau_vs_final": {f"step {r}": kendall_tau([n["curve"][r] for n in nets], finals)
                             for r in rungs} | {"macs": kendall_tau([n["macs"] for n in nets],
                                                                   finals)},
            "settings": {label: summarise([replay_order(p, nets, o, ref) for o in orders],
                                          front_labels)
                         for label, p in chosen.items()}
            | ({EXPLORATORY_GAIN: summarise(
                [replay_order(chosen[PRIMARY], nets, o, ref, GainModel()) for o in orders],
                front_labels)} if exploratory else {})}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="pruner_reference_replay.py")
    ap.add_argument("--orders", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--results", default=str(RESULTS), help="where the reference tables are")
    ap.add_argument("--out", default=str(RESULTS / "pruner_reference_replay"), help="path stem")
    argv = sys.argv[1:] if argv is None else argv
    args = ap.parse_args(argv)
    if args.orders < 1:
        print("pruner_reference_replay: --orders must be >= 1", file=sys.stderr)
        return 2
    try:
        nets = [n for t in TABLES for n in load_table(Path(args.results) / t)]
        swap = {n["key"]: n for n in load_table(Path(args.results) / SWAP_TABLE)}
    except (FileNotFoundError, ValueError) as exc:
        print(f"pruner_reference_replay: {exc}", file=sys.stderr)
        return 2
    add_macs(nets)
    for n in swap.values():
        n["macs"] = next(m["macs"] for m in nets if m["key"] == n["key"])
    rng = np.random.default_rng(args.seed)
    orders = [rng.permutation(len(nets)).tolist() for _ in range(args.orders)]
    swapped = [swap.get(n["key"], n) for n in nets]
    out: dict[str, Any] = {
        "primary": PRIMARY, "bar": {"compute_saved": SAVED, "hv": HV_KEPT,
                                    "share_of_orders": ORDERS_MET},
        "nets": [{k: n[k] for k in ("label", "key", "macs", "psnr_y_db", "steps")} for n in nets],
        "seed0": run_set(nets, orders, settings(), exploratory=True),
        "heldout_seed2": run_set(swapped, orders, {PRIMARY: settings()[PRIMARY]})}
    out["context"] = {"command": " ".join(["benchmarks/pruner_reference_replay.py", *argv]),
                      "orders_seed": args.seed, "tables": [*TABLES, SWAP_TABLE],
                      "when": time.strftime("%Y-%m-%d %H:%M")}
    stem = Path(args.out)
    stem.with_suffix(".json").write_text(json.dumps(out, indent=1) + "\n")
    stem.with_suffix(".md").write_text(render(out))
    print(f"wrote {stem.with_suffix('.md')}")
    return 0


def verdict(share: float) -> str:
    return "met" if share >= ORDERS_MET else "missed"


def render(out: dict[str, Any]) -> str:
    bar = out["bar"]
    lines = ["# Issue 5: the pruner on long-training curves (replayed)", "",
             f"{len(out['nets'])} nets of issue 8's reference tables, each trained until its "
             "curve flattened (5000-10000 steps; pooled Set5 + Set14 + B100 Y-PSNR), replayed in "
             f"{out['seed0']['settings'][out['primary']]['orders']} random orders as one-worker "
             f"searches. Bar per order: >= {bar['compute_saved']:.0%} of the training steps "
             f"saved at a hypervolume (PSNR vs MACs) >= {bar['hv']} of all nets'. Pre-registered "
             f"primary: {out['primary']}; met if >= {bar['share_of_orders']:.0%} of the orders "
             "meet the bar.", ""]
    for name, title in (("seed0", "the reference curves (seed 0)"),
                        ("heldout_seed2", "the eight held-out nets' seed-2 curves swapped in")):
        s = out[name]
        lines += [f"### {title}", "",
                  "| setting | orders meeting the bar | steps saved (5/50/95%) | CPU-s saved "
                  "(median) | HV ratio (5/50/95%, min) | verdict |", "|---|---|---|---|---|---|"]
        for label, r in s["settings"].items():
            c, h = r["compute_saved_pct"], r["hv_ratio_pct"]
            lines.append(
                f"| {label} | {r['share_meeting_bar']:.1%} | {c['5']:.0%} / {c['50']:.0%} / "
                f"{c['95']:.0%} | {r['seconds_saved_pct']['50']:.0%} | {h['5']:.3f} / "
                f"{h['50']:.3f} / {h['95']:.3f}, {r['hv_ratio_min']:.3f} | "
                f"{verdict(r['share_meeting_bar']) if label == out['primary'] else '-'} |")
        if EXPLORATORY_GAIN in s["settings"]:
            lines += ["", "The gain-model row was added after the primary's result was seen: "
                      "exploratory, not evidence."]
        taus = ", ".join(f"{k} {v:.2f}" for k, v in s["tau_vs_final"].items())
        prim = s["settings"][out["primary"]]["front_stopped_share"]
        lines += ["", f"Kendall tau with the finals: {taus}. The unpruned front (by MACs) and "
                  "how often the primary stops each: "
                  + ", ".join(f"{k} {v:.0%}" for k, v in prim.items()) + ".", ""]
    lines += [f"Command: `.venv/bin/python {out['context']['command']}`", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
