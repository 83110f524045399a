"""Issue 8: the reference recipe itself, made cheap by training on fewer pixels per step.

    .venv/bin/python benchmarks/proxy_small_batch.py measure --strategy NAME
    .venv/bin/python benchmarks/proxy_small_batch.py rank

Row 4b5 (benchmarks/reference_prefix.py) found that the reference recipe cut at 4000 steps, one
learning-rate halving in, ranks the finals at tau 0.82-0.85 (31 nets; out of sample on the 10
fresh ones too), but at 650-720 s of training per net, five times issue 8's budget; at 1000 or
2000 steps, before any decay, it ranks below parameter count. Training cost is about linear in
the pixels of a step (batch x patch^2). So the question here: does the same recipe keep that
ranking with a quarter to a seventh of the pixels per step, and so fit the budget? Each strategy
is ``search.fidelity.REFERENCE_PROTOCOL`` (T91 + BSD200, lr 2e-3 with 100 warm-up steps, halved
every ``step_size`` steps, Adam, EMA 0.995, no residual) with only batch, LR patch, steps and
step size changed, trained from scratch with seed 1 (the reference used seed 0, so this is an
independent run, not a prefix of it), 1 thread, scored once on full Set5 at the end.

Timing pilot before this file (fresh10, the heaviest fresh net, 200 steps, 1 thread): batch 16
patch 32 0.456 s/step; batch 4 patch 32 0.117; batch 4 patch 24 0.077; batch 8 patch 24 0.139.
No ranking of any net under these strategies had been seen.

Pre-registered (in the commit that adds this file, before any net was trained under them):
- nets: all 41 reference nets (proxy_reference.json, _heldout, _confirm: 31; _fresh: 10), each
  against its own long-training reference on Set5 + Set14 + B100 (``ReferenceTable.scores``);
- primary: ``b4p24-4000`` (batch 4, patch 24, 4000 steps, halved at 2000: the 4000-step cut of
  row 4b5 at a seventh of the pixels), judged on issue 8's goal on all 41: Kendall tau >= 0.8,
  the 95% paired-bootstrap interval (``paired_tau_bootstrap``, 10000 draws, seed 0) of its
  difference to params-only above 0, and mean CPU-s per net (training and scoring) <= 120; the
  same figures on the 10 fresh nets and on the 31 are reported beside it;
- secondary: ``b8p24-2000`` (batch 8, patch 24, 2000 steps, halved at 1000: the schedule
  compressed instead), the same figures; measured after the primary, reported if finished.
Nothing else is picked; every strategy measured is reported.

Writes benchmarks/results/proxy_small_batch_{strategy}.json (``measure``, resumable per net;
several ``measure`` processes side by side split the nets through claims in that file) and
benchmarks/results/proxy_small_batch.{json,md} (``rank``).
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any, NamedTuple

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from blocks.errors import UserError  # noqa: E402
from blocks.specs import NetSpec  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
#: the reference tables, the first three the 31 nets of rows 4b-4b5, the last the 10 fresh ones
TABLES = ("proxy_reference.json", "proxy_reference_heldout.json", "proxy_reference_confirm.json")
FRESH = "proxy_reference_fresh.json"
#: name -> (batch, LR patch px, steps, step size)
STRATEGIES = {
    "b4p24-4000": (4, 24, 4000, 2000),
    "b8p24-2000": (8, 24, 2000, 1000),
}
PRIMARY = "b4p24-4000"
SEED = 1
TAU_GOAL = 0.8
CPU_GOAL = 120.0


class Row(NamedTuple):  # not a dataclass: the tests load this file outside sys.modules
    """One pre-registered question on the reference recipe: its strategies (name -> batch, LR
    patch px, steps, step size; a step size of None decays the learning rate along a cosine to
    0 at the last step instead of halving it), its primary, its files
    (``results/STEM_STRATEGY.json``, ``results/STEM.{json,md}``) and its report's title."""

    stem: str
    title: str
    strategies: dict[str, tuple[int, int, int, int | None]]
    primary: str


ROW = Row("proxy_small_batch", "the reference recipe on fewer pixels per step", STRATEGIES,
          PRIMARY)


def schedule_text(step_size: int | None) -> str:
    return f"halved every {step_size}" if step_size else "cosine to 0"


def protocol(name: str, row: Row = ROW) -> Any:
    """The reference protocol with the strategy's batch, patch, steps and schedule."""
    from search.fidelity import REFERENCE_PROTOCOL

    if name not in row.strategies:
        raise UserError(f"unknown strategy {name!r}; known: {', '.join(row.strategies)}")
    batch, patch, steps, step_size = row.strategies[name]
    decay = {"step_size": step_size} if step_size else {"schedule": "cosine", "step_size": None}
    return dataclasses.replace(
        REFERENCE_PROTOCOL, name=f"refrecipe-{name}",
        description=f"issue 8 reference recipe at batch {batch}, patch {patch}, {steps} steps",
        batch=batch, lr_patch=patch, steps=steps, eval_every=steps, **decay,
        eval_sets=("Set5",), final_sets=("Set5",))


def reference_nets(results: Path = RESULTS) -> list[dict[str, Any]]:
    """Every reference net: label, which set (``31`` or ``fresh``), spec, params, its
    reference score as the tables compare it and, from the same milestone, its Set5 part."""
    from profiles.counting import count_params
    from search.fidelity import ReferenceTable

    nets = []
    for name in (*TABLES, FRESH):
        path = results / name
        if not path.is_file():
            raise UserError(f"no reference table {path}; run proxy_fidelity.py reference")
        table = ReferenceTable.load(path)
        archs = table.data["archs"]
        scores = table.scores([a["label"] for a in archs])
        steps = table.steps_of([a["label"] for a in archs])
        for a in archs:
            if a["label"] not in scores:
                raise UserError(f"{name}: {a['label']} has no reference score")
            spec = NetSpec.from_dict(a["spec"])
            (at,) = [m for m in a["milestones"] if int(m["steps"]) == steps[a["label"]]]
            nets.append({"label": a["label"], "set": "fresh" if name == FRESH else "31",
                         "spec": spec, "params": count_params(spec),
                         "reference": float(scores[a["label"]]),
                         "reference_set5": float(at["sets"]["Set5"])})
    return nets


def path_of(name: str, results: Path = RESULTS, row: Row = ROW) -> Path:
    return results / f"{row.stem}_{name}.json"


def _update(path: Path, change: Any) -> Any:
    """Read, change and rewrite the measurement file under an exclusive lock, so that several
    ``measure`` processes (one core each) share one file without losing each other's nets;
    returns what ``change(out)`` returns."""
    import fcntl

    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        out = json.loads(path.read_text())
        result = change(out)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(out, indent=1) + "\n")
        tmp.replace(path)
        return result


def _claim(out: dict[str, Any], label: str, key: str, me: str) -> bool:
    """Claim a net for process ``me`` unless it is measured (same spec) or another's."""
    row, owner = out["nets"].get(label), out.setdefault("claims", {}).get(label)
    if (row is None or row["spec_key"] != key) and owner in (None, me):
        out["claims"][label] = me
        return True
    return False


def _record(out: dict[str, Any], label: str, row: dict[str, Any]) -> None:
    out["nets"][label] = row
    out.setdefault("claims", {}).pop(label, None)


def measure_main(args: argparse.Namespace, row: Row = ROW) -> int:
    """Train every reference net not yet measured or claimed by another process; rerunning
    resumes, and N processes started side by side split the nets between them."""
    import os

    from search.proxies import TrainData
    from search.train import train

    proto = protocol(args.strategy, row)
    nets = reference_nets(RESULTS)  # read at call time (a test points it elsewhere)
    data = TrainData.for_protocol(proto, args.data)
    path = path_of(args.strategy, RESULTS, row)
    if not path.is_file():
        path.write_text(json.dumps({
            "strategy": args.strategy, "protocol": proto.to_dict(), "seed": SEED, "threads": 1,
            "nets": {}}, indent=1) + "\n")
    if json.loads(path.read_text())["protocol"] != json.loads(json.dumps(proto.to_dict())):
        raise UserError(f"{path.name} was measured under another protocol; move it away")
    me = f"{os.uname().nodename}:{os.getpid()}"
    for n in nets:
        label, key = n["label"], n["spec"].key()
        if not _update(path, functools.partial(_claim, label=label, key=key, me=me)):
            continue  # measured, or another process has it (a killed one's claim: delete it)
        c0, t0 = time.process_time(), time.perf_counter()
        res = train(n["spec"], data=data, protocol=proto, seed=SEED, threads=1, progress=False)
        row = {"spec_key": key, "status": res.status, "psnr_y_db": res.psnr_y_db,
               "steps": res.steps, "cpu_s": time.process_time() - c0,
               "wall_s": time.perf_counter() - t0, "train_seconds": res.train_seconds,
               "eval_seconds": res.eval_seconds}
        _update(path, functools.partial(_record, label=label, row=row))
        print(f"[{args.strategy}] {label}: {res.status} {res.psnr_y_db} dB, "
              f"{row['cpu_s']:.0f} CPU-s", flush=True)
    return 0


def judge(nets: list[dict[str, Any]], got: dict[str, Any]) -> dict[str, Any] | None:
    """Tau of one strategy's scores and of params-only against the reference on these nets,
    the paired interval of the difference, mean CPU-s and the goal; None below 4 nets. Beside
    them, what scoring on Set5 alone can reach: the reference's own Set5 part against it."""
    from search.fidelity import kendall_tau, paired_tau_bootstrap, spearman

    done = [n for n in nets if (r := got.get(n["label"])) and r["status"] == "complete"
            and r["spec_key"] == n["spec"].key()]
    if len(done) < 4:
        return None
    score = [got[n["label"]]["psnr_y_db"] for n in done]
    ref = [n["reference"] for n in done]
    boot = paired_tau_bootstrap(score, [float(n["params"]) for n in done], ref)
    cpu = statistics.fmean(got[n["label"]]["cpu_s"] for n in done)
    return {"n": len(done), "of": len(nets), "kendall_tau": boot["tau_a"],
            "spearman": spearman(score, ref), "params_only_tau": boot["tau_b"],
            "diff": boot["diff"], "diff_ci95": boot["diff_ci95"], "cpu_s_mean": cpu,
            "reference_set5_tau": kendall_tau([n["reference_set5"] for n in done], ref),
            "goal_met": bool(len(done) == len(nets) and boot["tau_a"] >= TAU_GOAL
                             and boot["diff_ci95"][0] > 0 and cpu <= CPU_GOAL)}


def rank(results: Path = RESULTS, row: Row = ROW) -> dict[str, Any]:
    nets = reference_nets(results)
    groups = {"all": nets, "31": [n for n in nets if n["set"] == "31"],
              "fresh": [n for n in nets if n["set"] == "fresh"]}
    out: dict[str, Any] = {"title": row.title, "stem": row.stem, "primary": row.primary,
                           "strategies": {}, "seed": SEED,
                           "goal": {"kendall_tau": TAU_GOAL, "cpu_s_mean": CPU_GOAL}}
    for name in row.strategies:
        if not path_of(name, results, row).is_file():
            continue
        got = json.loads(path_of(name, results, row).read_text())["nets"]
        out["strategies"][name] = {
            "protocol": list(row.strategies[name]),
            "failed": sorted(lb for lb, r in got.items() if r["status"] != "complete"),
            **{g: judge(ns, got) for g, ns in groups.items()}}
    return out


def render(report: dict[str, Any]) -> str:
    lines = [f"# Issue 8: {report['title']}", "",
             "Each strategy is the reference recipe with batch, LR patch, steps and schedule "
             f"changed, trained from scratch with seed {report['seed']} (the reference: seed 0), "
             "1 thread, scored on full Set5; against the long-training reference (Set5 + Set14 "
             f"+ B100). Pre-registered primary: `{report['primary']}` on all nets; goal tau >= "
             f"{TAU_GOAL}, clearly above params-only (95% paired interval above 0), <= "
             f"{CPU_GOAL:.0f} CPU-s per net.", "",
             "| strategy (batch, patch, steps, schedule) | nets | tau | Spearman | "
             "params-only tau | difference [95%] | CPU-s per net | goal |",
             "|---|---|---:|---:|---:|---|---:|---|"]
    for name, s in report["strategies"].items():
        b, p, st, ss = s["protocol"]
        what = f"`{name}` ({b}, {p}, {st}, {schedule_text(ss)})"
        for g in ("all", "31", "fresh"):
            r = s[g]
            if r is None:
                lines.append(f"| {what} | {g}: fewer than 4 | - | - | - | - | - | - |")
                continue
            lo, hi = r["diff_ci95"]
            verdict = ("**met**" if r["goal_met"] else "**missed**") if (
                name == report["primary"] and g == "all") else ("yes" if r["goal_met"] else "no")
            lines.append(
                f"| {what} | {g} ({r['n']} of {r['of']}) | "
                f"{r['kendall_tau']:.3f} | {r['spearman']:.3f} | {r['params_only_tau']:.3f} | "
                f"{r['diff']:+.3f} [{lo:+.3f}, {hi:+.3f}] | {r['cpu_s_mean']:.0f} | {verdict} |")
        if s["failed"]:
            lines.append(f"| `{name}` failed on | {', '.join(s['failed'])} | | | | | | |")
    ceiling = [f"{g} {r['reference_set5_tau']:.3f}" for g in ("all", "31", "fresh")
               if (r := next((x[g] for x in report["strategies"].values() if x[g]), None))]
    if ceiling:
        lines += ["", "Scoring on Set5 alone is not what limits these: the reference's own Set5 "
                  "part, at the milestone of its final, ranks the finals at Kendall tau "
                  f"{', '.join(ceiling)} (on the first strategy's measured nets)."]
    lines += ["", f"Command: `.venv/bin/python benchmarks/{report['stem']}.py measure --strategy "
              "NAME`, then `... rank`", ""]
    return "\n".join(lines)


def rank_main(args: argparse.Namespace, row: Row = ROW) -> int:
    report = rank(RESULTS, row)  # read at call time (a test points it elsewhere)
    if not report["strategies"]:
        raise UserError("nothing measured yet: run measure --strategy NAME first")
    stem = RESULTS / row.stem
    stem.with_suffix(".json").write_text(json.dumps(report, indent=1) + "\n")
    stem.with_suffix(".md").write_text(render(report))
    print(f"wrote {stem.with_suffix('.md')}")
    return 0


def main(argv: list[str] | None = None, row: Row = ROW) -> int:
    ap = argparse.ArgumentParser(prog=f"{row.stem}.py")
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("measure", help="train every reference net under one strategy")
    m.add_argument("--strategy", default=row.primary, choices=sorted(row.strategies))
    m.add_argument("--data", help="data root (default: $DISTILLNAS_DATA or ../shared/data)")
    sub.add_parser("rank", help="judge every measured strategy")
    args = ap.parse_args(sys.argv[1:] if argv is None else argv)
    try:
        return measure_main(args, row) if args.cmd == "measure" else rank_main(args, row)
    except UserError as exc:
        print(f"{row.stem}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
