"""Issue 5: the step-0 rung under the search's shipped supernet proxy (cosine ending), replayed.

    .venv/bin/python benchmarks/pruner_supernet_cosine.py [--orders N] [--seed S] [--out STEM]

Row 3l (pruner_supernet_replay.py) replayed a rung at step 0 (the inherited weights' Set5 score)
against the finals of the constant-lr fine-tune, the search's proxy then. The search now ends
its fine-tune with a cosine decay (row 4b7), whose finals agree far better between two supernets
(Kendall tau 0.840 against 0.557): a less noisy final might be easier for the step-0 score to
predict. This replays the same rule against the shipped proxy's finals. No new training: every
score and cost was measured before.

Pre-registered (in the commit that adds this file, before it was run or any of its figures,
the rung-0 tau with the cosine finals included, was computed):
- nets and rung-0 scores: as pruner_supernet_replay.py (the 26 covered reference nets, their
  stored inherited-weights Set5 scores ``ft0``, MACs at LR 180x320);
- finals: each net's cosine-ended 200-step fine-tune scored on full Set5
  (proxy_supernet_finish_seed{S}.json: ``search --proxy supernet``'s default);
- costs: row 3l's CPU-s (``c0``, ``c200`` in pruner_supernet_replay.json): the cosine ending
  costs what the constant one does (medians 25.4 and 25.5 CPU-s in proxy_supernet_finish.json);
- primary: seed-0 supernet, ``ParetoSuccessiveHalving((0,), eta=3)``; 1000 orders of
  numpy's default_rng(0); row 3l's bar (>= 40% of the CPU-s saved at a hypervolume >= 0.98 of
  the order's unpruned one) and verdict (met if >= 95% of the orders meet it);
- secondaries: the seed-1 supernet; eta 2 and eta 4 (seed 0); the Kendall tau of the rung-0
  scores with the cosine finals.

Writes benchmarks/results/pruner_supernet_cosine.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from proxy_supernet_finish import path_of  # noqa: E402
from pruner_supernet_replay import (  # noqa: E402
    FINAL,
    HV_KEPT,
    ORDERS_MET,
    REPORTS,
    SAVED,
    load_nets,
    render,
    run,
)

from blocks.errors import UserError  # noqa: E402
from search.pruner import ParetoSuccessiveHalving  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
PRIMARY = "seed 0, rung 0, eta 3, cosine finals"
COSTS = RESULTS / "pruner_supernet_replay.json"


def settings() -> dict[str, tuple[str, ParetoSuccessiveHalving]]:
    """label -> (the supernet it reads, the rule)."""
    return {PRIMARY: ("seed 0", ParetoSuccessiveHalving((0,), eta=3.0)),
            "seed 1, rung 0, eta 3, cosine finals": ("seed 1",
                                                     ParetoSuccessiveHalving((0,), eta=3.0)),
            "seed 0, rung 0, eta 2, cosine finals": ("seed 0",
                                                     ParetoSuccessiveHalving((0,), eta=2.0)),
            "seed 0, rung 0, eta 4, cosine finals": ("seed 0",
                                                     ParetoSuccessiveHalving((0,), eta=4.0))}


def with_cosine_finals(nets: list[dict[str, Any]],
                       finals: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The nets with their final score replaced by the cosine ending's (``finals``: label ->
    the finish benchmark's row); the rung-0 score is kept."""
    missing = [n["label"] for n in nets if "cosine" not in finals.get(n["label"], {})]
    if missing:
        raise ValueError(f"no cosine final for {', '.join(missing)}")
    for n in nets:
        score = float(finals[n["label"]]["cosine"]["psnr_y_db"])
        n["curve"] = {0: n["curve"][0], FINAL: score}
        n["psnr_y_db"] = score
    return nets


def load_cosine(which: str) -> list[dict[str, Any]]:
    seed = int(which.split()[-1])
    path = path_of(seed)
    if not path.is_file():
        raise FileNotFoundError(f"no {path.name}: run proxy_supernet_finish.py measure "
                                f"--seed {seed}")
    return with_cosine_finals(load_nets(REPORTS[which]), json.loads(path.read_text())["nets"])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="pruner_supernet_cosine.py")
    ap.add_argument("--orders", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(RESULTS / "pruner_supernet_cosine"), help="path stem")
    argv = sys.argv[1:] if argv is None else argv
    args = ap.parse_args(argv)
    stem = Path(args.out)
    try:
        if not COSTS.is_file():
            raise FileNotFoundError(f"no {COSTS.name}: run pruner_supernet_replay.py first")
        costs = json.loads(COSTS.read_text())["costs"]
        report = {"orders": args.orders, "seed": args.seed, "primary": PRIMARY,
                  "bar": {"compute_saved": SAVED, "hv": HV_KEPT, "share_of_orders": ORDERS_MET},
                  "costs": costs, "finals": "cosine (proxy_supernet_finish_seed{S}.json)",
                  **run(args.orders, args.seed, costs, settings(), load_cosine),
                  "command": " ".join(["benchmarks/pruner_supernet_cosine.py", *argv])}
    except (UserError, FileNotFoundError, ValueError, KeyError) as exc:
        print(f"pruner_supernet_cosine: {exc}", file=sys.stderr)
        return 2
    stem.with_suffix(".json").write_text(json.dumps(report, indent=1) + "\n")
    stem.with_suffix(".md").write_text(render(
        report, "a rung at step 0 under the shipped cosine supernet proxy (replayed)",
        "the cosine-ended 200-step fine-tune"))
    print(f"wrote {stem.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
