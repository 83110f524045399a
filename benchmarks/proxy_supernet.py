"""Issue 8: a weight-sharing supernet as the proxy, measured against the long-training reference.

    .venv/bin/python benchmarks/proxy_supernet.py train [--steps 15000] [--hours H] [--threads 1]
    .venv/bin/python benchmarks/proxy_supernet.py score [--finetune 0,50,200] [--threads 1]
        [--eval-sets Set5,Set14,B100] [--sets calibration,heldout] [--extend REPORT]
    .venv/bin/python benchmarks/proxy_supernet.py rerank [--refresh-refs]
    .venv/bin/python benchmarks/proxy_supernet.py ensemble --reports A,B [--out C]
    (each with --residual none: the variant trained and fine-tuned on the nets' own output)

``train`` trains one supernet (search.supernet) over the shipped ``rfdb`` and ``lrfdb`` spaces at
x2, their widths replaced by 16-48 (the reference nets' range), with the ``quick`` recipe (bicubic
residual, batch 16, LR patch 32, cosine to 5 %) at lr 1e-3 with a 100-step warm-up and the
store's gradient norm clipped to 1 (at lr 2e-3 unclipped the first run diverged by step 1600)
for ``--steps`` steps, one sampled candidate per step. It checkpoints to the git-ignored cache
and resumes there.

``score`` gives each of the 21 reference nets (the 13 calibration and 8 held-out nets of
proxy_fidelity.py) its inherited weights, fine-tunes them for each ``--finetune`` step count (0:
none; else constant lr 5e-4, bicubic residual), scores full Set5 (``--eval-sets``: the mean of the
named sets' means, as the reference is scored) and ranks the nets against the reference tables
(Set5 + Set14 + B100 after the steps each table records). Nets the supernet does not cover (IMDB,
RDB: coverage < 0.99) are reported but ranked separately. Per candidate it records the fine-tune
and evaluation CPU seconds; the supernet's own CPU seconds are amortised over the nets scored here
and, as a stated assumption, over a 1000-candidate search. Beside each fine-tune length it ranks a
capacity-prior blend (``supernet-ftN+logparams(cal-fit)``: the fine-tuned PSNR and log10 params,
fitted on the covered calibration nets; leave-one-out there, fitted on all of them for the held-out
nets).
``--sets confirm --extend REPORT`` scores the 10 covered nets of the confirmation set
(proxy_fidelity.py ``confirm_architectures``, reference proxy_reference_confirm.json) with the
supernet that wrote REPORT (it must log the same loss at every step: a retrained supernet qualifies
only if it reproduces bit for bit) and writes REPORT's nets plus these, pooled; their blend is the
calibration fit, as for the held-out nets.
``rerank`` recomputes every rank row of a stored report from its per-net scores, without scoring
anything (``--refresh-refs``: after re-reading the reference tables). ``ensemble`` averages the
per-net scores of several stored reports whose supernets were trained with different ``--seed``
(same nets, fine-tunes, sets and recipe) and ranks the means: whether the supernet's run-to-run
noise, as large as the strategies' differences, averages out. Its CPU-s add up: every supernet is
trained, and every one fine-tunes every net.
Writes benchmarks/results/proxy_supernet.{json,md} (``--residual none``: proxy_supernet_own; other
``--eval-sets``: a ``_sets`` suffix; a ``--seed`` other than 0: a ``_seedN`` suffix; ``ensemble``:
proxy_supernet_ensemble).
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from proxy_fidelity import (  # noqa: E402
    CONFIRM_TABLE,
    HELDOUT_TABLE,
    REFERENCE_TABLE,
    RESULTS,
    ROOT,
    _cpu_model,
    _fmt,
    confirm_architectures,
    context_lines,
    git_head,
    heldout_architectures,
    issue8_architectures,
    write_report,
)

from blocks.build import build_network  # noqa: E402
from blocks.errors import UserError  # noqa: E402
from search.datasets import EVAL_SET_NAMES  # noqa: E402
from search.evaluate import evaluate_pairs  # noqa: E402
from search.fidelity import (  # noqa: E402
    LinearBlend,
    ReferenceTable,
    file_sha1,
    kendall_tau,
    loo_blend,
    paired_tau_bootstrap,
    rank_report,
)
from search.proxies import TrainData  # noqa: E402
from search.space import load_space  # noqa: E402
from search.supernet import (  # noqa: E402
    SupernetPlan,
    WeightStore,
    finetune_protocol,
    supernet_recipe,
    train_supernet,
)
from search.train import ProxyUpscaler, count_params, train  # noqa: E402

CACHE = RESULTS / "cache" / "supernet"
CHANNELS = (16, 24, 32, 40, 48)
COVERED = 0.99  # a net with at least this share of inherited values is "covered"
SEARCH_SIZE = 1000  # the candidates a search would amortise the supernet over (an assumption)
#: the reference sets ``score --sets`` names: (reference table, architectures)
REFERENCE_SETS = {
    "calibration": (REFERENCE_TABLE, issue8_architectures),
    "heldout": (HELDOUT_TABLE, heldout_architectures),
    "confirm": (CONFIRM_TABLE, confirm_architectures),
}


RESIDUALS = {"bicubic": "bicubic", "none": None}  # --residual: what the supernet learns


def plan(steps: int, seed: int = 0, residual: str | None = "bicubic") -> SupernetPlan:
    """The benchmark's supernet: rfdb + lrfdb spaces, widths 16-48, x2, the quick recipe
    (``residual=None``: the nets' own output instead of a residual on bicubic)."""
    spaces = (load_space("rfdb"), load_space("lrfdb"))
    return SupernetPlan(spaces, supernet_recipe(steps, "quick", residual), scale=2,
                        channels=CHANNELS, seed=seed)


def parse_eval_sets(text: str) -> tuple[str, ...]:
    """``--eval-sets``: comma-separated names of the standard evaluation sets."""
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    unknown = [n for n in names if n not in EVAL_SET_NAMES]
    if not names or unknown:
        raise UserError(
            f"--eval-sets takes names from {', '.join(EVAL_SET_NAMES)}, comma-separated; "
            f"got {text!r}"
        )
    return names


def checkpoint_path(steps: int, seed: int, residual: str | None = "bicubic") -> Path:
    own = "" if residual else "-own"
    return CACHE / f"supernet-s{steps}-seed{seed}{own}.pt"


def train_main(args: argparse.Namespace) -> int:
    torch.set_num_threads(args.threads)
    data = TrainData.for_protocol("quick", args.data)
    residual = RESIDUALS[args.residual]
    res = train_supernet(
        plan(args.steps, args.seed, residual),
        data,
        checkpoint=checkpoint_path(args.steps, args.seed, residual),
        hours=args.hours,
        log=sys.stderr,
    )
    state = "done" if res["done"] else "stopped (rerun to resume)"
    print(
        f"supernet {state} at step {res['step']}/{args.steps}: "
        f"{res['cpu_seconds']:.0f} CPU-s, last loss {res['loss'][-1][1]:.4f}"
    )
    return 0


def _evaluate(
    net: torch.nn.Module, data: TrainData, residual: str | None, eval_sets: tuple[str, ...]
) -> dict[str, float]:
    """Y-PSNR (dB) of ``net`` on each full set of ``eval_sets`` as the proxy scores it (with its
    residual, if any)."""
    up = ProxyUpscaler(net, 2, residual=residual)
    return {n: float(evaluate_pairs(up, data.pairs(n, 2), 2)["psnr_y_db"]) for n in eval_sets}


def score_net(
    spec: Any,
    store: WeightStore,
    data: TrainData,
    finetunes: list[int],
    seed: int,
    residual: str | None = "bicubic",
    eval_sets: tuple[str, ...] = ("Set5",),
) -> dict[str, Any]:
    """One reference net's supernet scores: coverage, then per fine-tune length the score on
    ``eval_sets`` and the CPU seconds of inheriting, fine-tuning and scoring."""
    base = build_network(spec, seed=seed)
    c0 = time.process_time()
    coverage = store.inherit(base)
    inherit_s = time.process_time() - c0
    out: dict[str, Any] = {
        "coverage": coverage,
        "params": count_params(base),
    }
    for f in finetunes:
        net = copy.deepcopy(base)
        c0 = time.process_time()
        if f == 0:
            per_set = _evaluate(net, data, residual, eval_sets)
        else:
            protocol = finetune_protocol(f, residual, eval_sets)
            res = train(net, data=data, protocol=protocol, scale=2, progress=False)
            if res.status != "complete":
                raise UserError(f"{spec.key()}: fine-tune ended {res.status}: {res.message}")
            per_set = {n: float(res.sets[n]["psnr_y_db"]) for n in eval_sets}
        out[f"ft{f}"] = {
            "psnr_y_db": sum(per_set.values()) / len(per_set),  # the mean of the set means
            "cpu_seconds": inherit_s + time.process_time() - c0,
        }
        if len(per_set) > 1:
            out[f"ft{f}"]["per_set"] = per_set
    return out


def rank_rows(
    scores: dict[str, dict[str, Any]], ref: dict[str, float], finetunes: list[int]
) -> list[dict[str, Any]]:
    """Rank agreement of each fine-tune length and of params-only with the reference, on every
    scored net and on the covered ones, with the paired bootstrap against params-only."""
    rows = []
    covered = [lb for lb in ref if scores[lb]["coverage"] >= COVERED]
    for where, labels in (("all", list(ref)), ("covered", covered)):
        truth = [ref[lb] for lb in labels]
        params = [float(scores[lb]["params"]) for lb in labels]
        rows.append(
            {"strategy": "params-only", "on": where, "n": len(labels), **rank_report(params, truth)}
        )
        for f in finetunes:
            mine = [scores[lb][f"ft{f}"]["psnr_y_db"] for lb in labels]
            rows.append(strategy_row(f"supernet-ft{f}", where, labels, mine, scores, truth, f))
    return rows


def strategy_row(
    name: str,
    where: str,
    labels: list[str],
    mine: list[float],
    scores: dict[str, dict[str, Any]],
    truth: list[float],
    ft: int,
) -> dict[str, Any]:
    """One strategy's rank agreement on ``labels``, with the paired bootstrap against
    params-only; its CPU-s are those of the ``ft``-step fine-tune it uses."""
    vs = paired_tau_bootstrap(mine, [float(scores[lb]["params"]) for lb in labels], truth)
    return {
        "strategy": name,
        "on": where,
        "n": len(labels),
        **rank_report(mine, truth),
        "vs_params_diff": vs["diff"],
        "vs_params_ci95": vs["diff_ci95"],
        "clearly_above": bool(vs["diff_ci95"][0] > 0),
        "cpu_seconds_mean": sum(scores[lb][f"ft{ft}"]["cpu_seconds"] for lb in labels)
        / len(labels),
    }


def blend_scores(
    sets: dict[str, dict[str, Any]], finetunes: list[int]
) -> dict[str, tuple[int, dict[str, float]]]:
    """The capacity-prior blend, per fine-tune length: a ``LinearBlend`` of the fine-tuned PSNR
    and log10 params fitted on the covered calibration nets. A calibration net's score is its
    leave-one-out prediction; a net of any other set (held-out, confirmation) gets the
    prediction of the fit on all calibration nets, which never saw it. Strategy name -> (its
    fine-tune steps, net label -> predicted reference dB)."""
    cal = sets["calibration"]
    others = [s for name, s in sets.items() if name != "calibration"]

    def covered(s: dict[str, Any]) -> list[str]:
        return [lb for lb, sc in s["scores"].items() if sc["coverage"] >= COVERED]

    def features(s: dict[str, Any], labels: list[str], f: int) -> list[list[float]]:
        return [
            [s["scores"][lb][f"ft{f}"]["psnr_y_db"], math.log10(s["scores"][lb]["params"])]
            for lb in labels
        ]

    c = covered(cal)
    out = {}
    for f in finetunes:
        x, y = features(cal, c, f), [cal["ref"][lb] for lb in c]
        preds = dict(zip(c, loo_blend(x, y), strict=True))
        fit = LinearBlend.fit(x, y)
        for other in others:
            h = covered(other)
            preds |= dict(zip(h, fit.predict(features(other, h, f)) if h else [], strict=True))
        out[f"supernet-ft{f}+logparams(cal-fit)"] = (f, preds)
    return out


def blend_rows(
    scores: dict[str, dict[str, Any]],
    ref: dict[str, float],
    blends: dict[str, tuple[int, dict[str, float]]],
) -> list[dict[str, Any]]:
    """Each blend's rank agreement on the covered nets of ``ref`` (one set or both pooled), with
    the paired bootstrap against params-only; its CPU-s are those of the fine-tune it uses."""
    rows = []
    for name, (ft, preds) in blends.items():
        labels = [lb for lb in ref if lb in preds]
        if len(labels) < 3:
            continue
        truth = [ref[lb] for lb in labels]
        mine = [preds[lb] for lb in labels]
        rows.append(strategy_row(name, "covered", labels, mine, scores, truth, ft))
    return rows


def all_rows(sets: dict[str, dict[str, Any]], finetunes: list[int]) -> dict[str, list]:
    """Per set and pooled: params-only, each fine-tune length, each blend."""
    pooled = {
        "ref": {lb: v for s in sets.values() for lb, v in s["ref"].items()},
        "scores": {lb: v for s in sets.values() for lb, v in s["scores"].items()},
    }
    blends = blend_scores(sets, finetunes)
    return {
        where: rank_rows(s["scores"], s["ref"], finetunes)
        + blend_rows(s["scores"], s["ref"], blends)
        for where, s in (*sets.items(), ("pooled", pooled))
    }


def one_set(sets: dict[str, dict[str, Any]], name: str) -> dict[str, dict[str, Any]]:
    """``sets`` with each fine-tuned score replaced by its score on set ``name`` alone."""
    out = copy.deepcopy(sets)
    for s in out.values():
        for sc in s["scores"].values():
            for key, ft in sc.items():
                if key.startswith("ft") and isinstance(ft, dict):
                    ft["psnr_y_db"] = ft["per_set"][name]
    return out


def rows_of(report: dict[str, Any]) -> dict[str, Any]:
    """A report's rank rows: on its scores, and where it scored several sets, on Set5 alone
    from the same fine-tunes (``rows_set5``: what the scoring sets change, nothing else)."""
    out = {"rows": all_rows(report["sets"], report["finetune_steps"])}
    if len(report.get("eval_sets", ["Set5"])) > 1 and "Set5" in report["eval_sets"]:
        out["rows_set5"] = all_rows(one_set(report["sets"], "Set5"), report["finetune_steps"])
    return out


def rerank_main(args: argparse.Namespace) -> int:
    """Recompute the rank rows of a stored report from its per-net scores (no scoring)."""
    path = Path(args.out).with_suffix(".json")
    if not path.is_file():
        raise UserError(f"no report at {path}; run proxy_supernet.py score first")
    report = json.loads(path.read_text())
    if args.refresh_refs:
        refresh_refs(report)
    report |= rows_of(report)
    print(f"wrote {write_report(Path(args.out), report, render)}")
    return 0


def refresh_refs(report: dict[str, Any]) -> None:
    """Re-read every set's reference scores from its reference table (``rerank
    --refresh-refs``): nets scored while their long-training reference was still running get
    its final figures without being scored again."""
    for name, s in report["sets"].items():
        path = Path(s["reference_file"])
        table = ReferenceTable.load(path if path.is_absolute() else ROOT / path)
        ref = table.scores(list(s["scores"]))
        missing = [lb for lb in s["scores"] if lb not in ref]
        if missing:
            raise UserError(f"{path}: no reference score yet for {', '.join(missing)} ({name})")
        s["ref"] = ref
        s["reference_steps"] = table.steps_of(list(s["scores"]))
        for lb, sc in s["scores"].items():
            sc["reference_psnr_y_db"] = ref[lb]


def ensemble(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """The per-net mean of several supernets' reports, each supernet trained with its own seed.

    They must score the same nets (label and spec) against the same references, with the same
    fine-tunes, scoring sets and supernet recipe; otherwise a UserError names what differs. A
    net's score at each fine-tune length (and on each set) is the mean over the supernets, its
    CPU-s the sum (each supernet fine-tunes it), its coverage the least; the supernets' CPU-s add
    up. The rank rows are left to ``rows_of``."""
    if len(reports) < 2:
        raise UserError("ensemble takes at least two reports")
    first = reports[0]
    seeds = [r["plan"]["seed"] for r in reports]
    if len(set(seeds)) != len(seeds):
        raise UserError(
            f"ensemble: the reports' supernets share a seed ({seeds}): "
            "the same supernet would be counted twice"
        )

    def recipe(r: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in r["plan"].items() if k != "seed"}

    for r in reports[1:]:
        for what, a, b in (
            ("supernet recipe", recipe(first), recipe(r)),
            ("supernet steps", first["supernet_steps"], r["supernet_steps"]),
            ("fine-tune steps", first["finetune_steps"], r["finetune_steps"]),
            ("scoring sets", first.get("eval_sets", ["Set5"]), r.get("eval_sets", ["Set5"])),
            ("coverage threshold", first["covered_threshold"], r["covered_threshold"]),
            (
                "nets",
                {
                    n: {lb: sc["spec_key"] for lb, sc in s["scores"].items()}
                    for n, s in first["sets"].items()
                },
                {
                    n: {lb: sc["spec_key"] for lb, sc in s["scores"].items()}
                    for n, s in r["sets"].items()
                },
            ),
            (
                "references",
                {n: s["ref"] for n, s in first["sets"].items()},
                {n: s["ref"] for n, s in r["sets"].items()},
            ),
        ):
            if a != b:
                raise UserError(f"ensemble: the reports differ in their {what}")
    k = len(reports)
    sets = copy.deepcopy(first["sets"])
    for name, s in sets.items():
        for lb, sc in s["scores"].items():
            members = [r["sets"][name]["scores"][lb] for r in reports]
            sc["coverage"] = min(m["coverage"] for m in members)
            for f in first["finetune_steps"]:
                entries = [m[f"ft{f}"] for m in members]
                sc[f"ft{f}"]["psnr_y_db"] = sum(e["psnr_y_db"] for e in entries) / k
                sc[f"ft{f}"]["cpu_seconds"] = sum(e["cpu_seconds"] for e in entries)
                if "per_set" in sc[f"ft{f}"]:
                    sc[f"ft{f}"]["per_set"] = {
                        n: sum(e["per_set"][n] for e in entries) / k
                        for n in sc[f"ft{f}"]["per_set"]
                    }
    supernet_cpu = sum(r["supernet_cpu_seconds"] for r in reports)
    over = first["amortised_over"]
    labels = [(n, lb) for n, s in sets.items() for lb in s["scores"]]
    agreement = {}  # per fine-tune: each pair of supernets' Kendall tau over every scored net
    for f in first["finetune_steps"]:
        by = [
            [r["sets"][n]["scores"][lb][f"ft{f}"]["psnr_y_db"] for n, lb in labels] for r in reports
        ]
        agreement[f"ft{f}"] = [
            {"seeds": [seeds[i], seeds[j]], "kendall_tau": kendall_tau(by[i], by[j])}
            for i in range(k)
            for j in range(i + 1, k)
        ]
    return {
        **{
            key: first[key]
            for key in (
                "plan",
                "supernet_steps",
                "supernet_store_values",
                "finetune_steps",
                "covered_threshold",
                "amortised_over",
            )
        },
        "strategy": f"supernet ensemble of {k}",
        "eval_sets": first.get("eval_sets", ["Set5"]),
        "ensemble_seeds": seeds,
        "supernet_cpu_seconds": supernet_cpu,
        "amortised_cpu_seconds": {
            "scored": supernet_cpu / over["scored"],
            "search": supernet_cpu / over["search"],
        },
        "sets": sets,
        "member_agreement": agreement,
        "members": [
            {
                "seed": r["plan"]["seed"],
                "supernet_cpu_seconds": r["supernet_cpu_seconds"],
                "supernet_loss_last": r["supernet_loss"][-1][1],
                "git": r["context"]["git"],
                "command": r["context"]["command"],
            }
            for r in reports
        ],
    }


def ensemble_main(args: argparse.Namespace, argv: list[str]) -> int:
    """Average the per-net scores of stored reports (``--reports``) and rank the means."""
    paths = [Path(p.strip()).with_suffix(".json") for p in args.reports.split(",") if p.strip()]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise UserError(f"no report at {', '.join(missing)}; run proxy_supernet.py score first")
    reports = []
    for p in paths:
        try:
            reports.append(json.loads(p.read_text()))
        except json.JSONDecodeError as exc:
            raise UserError(f"{p}: not a JSON report ({exc.msg})") from None
    report = ensemble(reports)
    report["context"] = {
        "threads": 1,
        "cpu": _cpu_model(),
        "revision": "search/supernet.py sha1 " + file_sha1(ROOT / "search" / "supernet.py")[:12],
        "git": git_head(),
        "command": " ".join(["benchmarks/proxy_supernet.py", *argv]),
        "reports": [
            str(p.relative_to(ROOT)) if p.is_relative_to(ROOT) else str(p)
            for p in (q.resolve() for q in paths)
        ],
    }
    report |= rows_of(report)
    print(f"wrote {write_report(Path(args.out), report, render)}")
    for r in report["rows"]["pooled"]:
        print(f"pooled {r['on']:8s} {r['strategy']:16s} tau {r['kendall_tau']:.3f} n={r['n']}")
    return 0


def parse_sets(text: str) -> list[str]:
    """``--sets``: comma-separated names of reference sets, in the order given."""
    names = list(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    unknown = [n for n in names if n not in REFERENCE_SETS]
    if not names or unknown:
        raise UserError(
            f"--sets takes names from {', '.join(REFERENCE_SETS)}, comma-separated; got {text!r}"
        )
    return names


def load_report(path: Path) -> dict[str, Any]:
    """A stored score report (``path`` with or without .json), or a UserError."""
    path = path.with_suffix(".json")
    if not path.is_file():
        raise UserError(f"no report at {path}; run proxy_supernet.py score first")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}: not a JSON report ({exc.msg})") from None


def check_extends(
    base: dict[str, Any],
    plan_now: dict[str, Any],
    loss_now: list,
    finetunes: list[int],
    eval_sets: tuple[str, ...],
) -> None:
    """``score --extend``: the stored report must come from this very supernet (same recipe and
    the same loss at every logged step, which a retrained one reproduces only bit for bit) and
    the same fine-tunes and scoring sets, or a UserError names what differs."""
    for what, a, b in (
        ("supernet recipe", base["plan"], json.loads(json.dumps(plan_now))),
        ("supernet loss curve", base["supernet_loss"], json.loads(json.dumps(loss_now))),
        ("fine-tune steps", base["finetune_steps"], finetunes),
        ("scoring sets", base.get("eval_sets", ["Set5"]), list(eval_sets)),
    ):
        if a != b:
            raise UserError(f"--extend: the stored report differs from this run in its {what}")


def score_main(args: argparse.Namespace, argv: list[str]) -> int:
    torch.set_num_threads(args.threads)
    try:
        finetunes = sorted({int(x) for x in args.finetune.split(",")})
    except ValueError:
        raise UserError(
            f"--finetune takes comma-separated step counts; got {args.finetune!r}"
        ) from None
    if any(f < 0 for f in finetunes):
        raise UserError("--finetune step counts must be >= 0")
    residual = RESIDUALS[args.residual]
    eval_sets = parse_eval_sets(args.eval_sets)
    names = parse_sets(args.sets)
    absent = [str(REFERENCE_SETS[n][0]) for n in names if not Path(REFERENCE_SETS[n][0]).is_file()]
    if absent:
        raise UserError(
            f"no reference table {', '.join(absent)}; run proxy_fidelity.py reference --set ..."
        )
    base = None
    if args.extend:
        base = load_report(Path(args.extend))
        again = [n for n in names if n in base["sets"]]
        if again:
            raise UserError(f"--extend: {args.extend} already scores {', '.join(again)}")
    path = checkpoint_path(args.steps, args.seed, residual)
    if not path.is_file():
        raise UserError(
            f"no supernet at {path}; run: proxy_supernet.py train --steps {args.steps} "
            f"--residual {args.residual}"
        )
    data = TrainData.for_protocol("quick", args.data)
    missing = [n for n in eval_sets if n not in data.eval_sources]
    if missing:
        raise UserError(f"--eval-sets: {', '.join(missing)} not found under {data.root}")
    the_plan = plan(args.steps, args.seed, residual)
    trained = train_supernet(the_plan, data, checkpoint=path, hours=0.0)
    if not trained["done"]:
        raise UserError(f"{path}: supernet at step {trained['step']}/{args.steps}; train it on")
    if base is not None:
        check_extends(base, the_plan.describe(), trained["loss"], finetunes, eval_sets)
    store = trained["store"]
    load_before = [round(x, 2) for x in os.getloadavg()]
    t0 = time.perf_counter()
    sets = copy.deepcopy(base["sets"]) if base else {}
    for name in names:
        table, arch_fn = REFERENCE_SETS[name]
        archs = arch_fn(2)
        ref_table = ReferenceTable.load(table)
        state = ref_table.state()
        if state["n_flattened"] < len(archs):
            print(
                f"warning: {Path(table).name}: {state['n_flattened']} of {len(archs)} "
                "reference runs have flattened",
                file=sys.stderr,
            )
        ref = ref_table.scores([lb for lb, _ in archs])
        scores = {}
        for lb, sp in archs:
            scores[lb] = score_net(sp, store, data, finetunes, args.seed + 1, residual, eval_sets)
            last = scores[lb][f"ft{finetunes[-1]}"]
            print(
                f"{name} {lb}: ft{finetunes[-1]} {last['psnr_y_db']:.3f} dB, "
                f"{last['cpu_seconds']:.0f} CPU-s",
                file=sys.stderr,
                flush=True,
            )
        for lb, sp in archs:
            scores[lb] |= {"spec_key": sp.key(), "reference_psnr_y_db": ref.get(lb)}
        sets[name] = {
            "reference_file": str(
                Path(table).relative_to(ROOT) if Path(table).is_relative_to(ROOT) else table
            ),
            "ref": ref,
            "reference_steps": ref_table.steps_of(list(ref)),
            "scores": scores,
        }
    pooled_ref = {lb: v for s in sets.values() for lb, v in s["ref"].items()}
    supernet_cpu = trained["cpu_seconds"]
    report = {
        "strategy": "supernet",
        "plan": the_plan.describe(),
        "supernet_steps": trained["step"],
        "supernet_cpu_seconds": supernet_cpu,
        "supernet_loss": trained["loss"],
        "supernet_store_values": count_params(store),
        "finetune_steps": finetunes,
        "eval_sets": list(eval_sets),
        "covered_threshold": COVERED,
        "amortised_over": {"scored": len(pooled_ref), "search": SEARCH_SIZE},
        "amortised_cpu_seconds": {
            "scored": supernet_cpu / len(pooled_ref),
            "search": supernet_cpu / SEARCH_SIZE,
        },
        "sets": sets,
        "context": {
            "threads": args.threads,
            "cpu": _cpu_model(),
            "load_before": load_before,
            "load_after": [round(x, 2) for x in os.getloadavg()],
            "wall_seconds": time.perf_counter() - t0,
            "revision": "search/supernet.py sha1 "
            + file_sha1(ROOT / "search" / "supernet.py")[:12],
            "git": git_head(),
            "command": " ".join(["benchmarks/proxy_supernet.py", *argv]),
            "scored_sets": names,
        },
    }
    if base is not None:  # the nets scored before, by the same supernet: their run's context
        report["context"]["extends"] = {
            "report": str(Path(args.extend).with_suffix(".json")),
            "scored_sets": list(base["sets"]),
            "context": base["context"],
        }
    report |= rows_of(report)
    print(f"wrote {write_report(Path(args.out), report, render)}")
    for r in report["rows"]["pooled"]:
        print(f"pooled {r['on']:8s} {r['strategy']:16s} tau {r['kendall_tau']:.3f} n={r['n']}")
    return 0


def _reference_steps(report: dict[str, Any]) -> str:
    """The range of training steps behind the reference scores, from the report's sets (reports
    written before sets recorded it: 6000-10000, the calibration and heldout tables' range)."""
    steps = [n for s in report["sets"].values() for n in s.get("reference_steps", {}).values()]
    if not steps or any("reference_steps" not in s for s in report["sets"].values()):
        return "6000-10000"
    lo, hi = min(steps), max(steps)
    return f"{lo}" if lo == hi else f"{lo}-{hi}"


def _rank_table(rows_by_set: dict[str, list[dict[str, Any]]]) -> list[str]:
    lines = [
        "| set | nets | strategy | Kendall tau | Spearman | top-3 | vs params-only (95% CI) | "
        "CPU-s per net |",
        "|---|---|---|---:|---:|---:|---|---:|",
    ]
    for where, rows in rows_by_set.items():
        for r in rows:
            ci = r.get("vs_params_ci95")
            vs = f"{r['vs_params_diff']:+.3f} [{ci[0]:+.3f}, {ci[1]:+.3f}]" if ci else "-"
            lines.append(
                f"| {where} | {r['on']} ({r['n']}) | {r['strategy']} | {_fmt(r['kendall_tau'])} "
                f"| {_fmt(r['spearman'])} | {_fmt(r['top3_overlap'], 2)} | {vs} | "
                f"{_fmt(r.get('cpu_seconds_mean'), 1)} |"
            )
    return lines


def render(report: dict[str, Any]) -> str:
    """The Markdown report: per set, each strategy's rank agreement; then the per-net scores."""
    amort = report["amortised_cpu_seconds"]
    seeds = report.get("ensemble_seeds")
    lines = [
        "# Issue 8: a weight-sharing supernet as the proxy"
        + (f" (the mean of {len(seeds)} supernets)" if seeds else ""),
        "",
        *(
            [
                f"Each net's score is the mean of {len(seeds)} supernets' scores, the supernets "
                f"trained with seeds {', '.join(map(str, seeds))} and otherwise alike; its CPU-s "
                "are the sum (each supernet fine-tunes it), and so are the supernets' CPU-s "
                "below.",
                "",
            ]
            if seeds
            else []
        ),
        f"Supernet: {', '.join(report['plan']['spaces'])}, widths "
        f"{report['plan']['channels']}, x{report['plan']['scale']}, trained on "
        + ("a residual over bicubic" if report["plan"]["protocol"]["residual"] else "own output")
        + f", {report['supernet_steps']} steps (one sampled candidate per step), "
        f"{report['supernet_cpu_seconds']:.0f} CPU-s; {report['supernet_store_values']:,} shared "
        "values. Each net inherits its slices, is fine-tuned for the given steps (0: none) and "
        f"scored on full {' + '.join(report.get('eval_sets', ['Set5']))}; the reference is "
        f"Set5 + Set14 + B100 after {_reference_steps(report)} steps of "
        "its own training. Supernet CPU-s amortised per candidate: "
        f"{amort['scored']:.0f} over the {report['amortised_over']['scored']} nets scored here, "
        f"{amort['search']:.1f} over a {report['amortised_over']['search']}-candidate search "
        "(an assumption).",
        "",
        *_rank_table(report["rows"]),
    ]
    if "rows_set5" in report:
        lines += [
            "",
            "The same fine-tunes scored on Set5 alone (what scoring on "
            f"{' + '.join(report['eval_sets'])} changes, nothing else):",
            "",
            *_rank_table(report["rows_set5"]),
        ]
    lines += [
        "",
        "| net | set | params | coverage | reference dB | "
        + " | ".join(f"ft{f} dB" for f in report["finetune_steps"])
        + " |",
        "|---|---|---:|---:|---:|" + "---:|" * len(report["finetune_steps"]),
    ]
    for name, s in report["sets"].items():
        for lb, sc in s["scores"].items():
            cells = " | ".join(_fmt(sc[f"ft{f}"]["psnr_y_db"]) for f in report["finetune_steps"])
            lines.append(
                f"| {lb} | {name} | {sc['params']:,} | {sc['coverage']:.3f} | "
                f"{_fmt(sc['reference_psnr_y_db'])} | {cells} |"
            )
    if seeds:
        ctx = report["context"]
        lines += [
            "",
            "| supernet seed | its CPU-s | its last loss | scored at git | command |",
            "|---:|---:|---:|---|---|",
        ]
        lines += [
            f"| {m['seed']} | {m['supernet_cpu_seconds']:.0f} | "
            f"{m['supernet_loss_last']:.4f} | {m['git']} | `{m['command']}` |"
            for m in report["members"]
        ]
        n_nets = sum(len(s["scores"]) for s in report["sets"].values())
        lines += [
            "",
            f"How the supernets rank the {n_nets} nets against each other (Kendall tau): "
            + "; ".join(
                f"{ft}: "
                + ", ".join(
                    f"seeds {p['seeds'][0]}/{p['seeds'][1]} {p['kendall_tau']:.3f}" for p in pairs
                )
                for ft, pairs in report["member_agreement"].items()
            )
            + ".",
        ]
        lines += [
            "",
            f"Averaged from {', '.join(ctx['reports'])} (cache revision "
            f"{ctx['revision']}, git {ctx['git']}).",
            "",
            f"Command: `{ctx['command']}`",
            "",
        ]
    else:
        ext = report["context"].get("extends")
        if ext:
            old = ext["context"]
            lines += [
                "",
                f"The {', '.join(ext['scored_sets'])} nets were scored earlier by this same "
                f"supernet (the same loss at every logged step), {old['threads']} thread(s), "
                f"{old['wall_seconds']:.0f} wall-s, git {old['git']}: `{old['command']}` "
                f"({ext['report']}). This run scored {', '.join(report['context']['scored_sets'])}"
                f" in {report['context']['wall_seconds']:.0f} wall-s.",
            ]
        lines += ["", *context_lines(report["context"]), ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("train", "score", "rerank", "ensemble"):
        p = sub.add_parser(name)
        p.add_argument("--steps", type=int, default=15000, help="the supernet's training steps")
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--threads", type=int, default=1)
        p.add_argument("--data", help="data root (default: $DISTILLNAS_DATA or ../shared/data)")
        p.add_argument(
            "--residual",
            choices=sorted(RESIDUALS),
            default="bicubic",
            help="what the supernet and fine-tune learn: a residual on bicubic, or own output",
        )
    sub.choices["train"].add_argument("--hours", type=float, help="stop (resumably) after this")
    sc = sub.choices["score"]
    sc.add_argument("--finetune", default="0,50,200", help="fine-tune step counts, comma-separated")
    sc.add_argument(
        "--eval-sets",
        default="Set5",
        help="the sets a fine-tuned net is scored on, comma-separated (the mean of their means)",
    )
    sc.add_argument(
        "--sets",
        default="calibration,heldout",
        help=f"reference sets to score, comma-separated, from {', '.join(REFERENCE_SETS)}",
    )
    sc.add_argument(
        "--extend",
        metavar="REPORT",
        help="a stored report of this same supernet: keep its scored sets, add --sets to them",
    )
    sc.add_argument("--out", help="default benchmarks/results/proxy_supernet[_own][_sets]")
    rr = sub.choices["rerank"]
    rr.add_argument("--out", help="the report to recompute (as score's)")
    rr.add_argument(
        "--refresh-refs",
        action="store_true",
        help="re-read the reference scores from the reference tables first",
    )
    en = sub.choices["ensemble"]
    en.add_argument("--reports", required=True, help="stored score reports, comma-separated")
    en.add_argument("--out", help="default benchmarks/results/proxy_supernet_ensemble")
    args = ap.parse_args(argv)
    if args.cmd == "ensemble" and args.out is None:
        args.out = str(RESULTS / "proxy_supernet_ensemble")
    if args.cmd in ("score", "rerank") and args.out is None:
        sets = "" if getattr(args, "eval_sets", "Set5") == "Set5" else "_sets"
        own = "" if args.residual == "bicubic" else "_own"
        seed = f"_seed{args.seed}" if args.seed else ""
        args.out = str(RESULTS / f"proxy_supernet{own}{sets}{seed}")
    try:
        if args.cmd == "rerank":
            return rerank_main(args)
        if args.cmd == "ensemble":
            return ensemble_main(args, argv)
        return train_main(args) if args.cmd == "train" else score_main(args, argv)
    except UserError as exc:
        print(f"proxy_supernet: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
