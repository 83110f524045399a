"""``distillnas search``: a budget-constrained architecture search on one device, in a study."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from blocks.errors import UserError
from profiles.devices_cli import threads_arg
from search.train_cli import _positive_float, check_data_arg, torch_device_arg

DEFAULT_RUNS = Path("runs")


def _add_budget_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("budgets (override the device profile's defaults)")
    g.add_argument("--max-params", metavar="N", help="e.g. 300k, 1.2M")
    g.add_argument("--max-macs", metavar="N", help="MACs at the device input size, e.g. 10G")
    g.add_argument("--max-latency-ms", type=float, metavar="MS")
    g.add_argument("--max-memory-mib", type=float, metavar="MIB")


def budgets_from_args(device: Any, args: argparse.Namespace):  # noqa: ANN201
    """The device's default budgets with the command line's limits on top."""
    from profiles.units import parse_count
    from search.budgets import Budgets

    base = Budgets.from_dict(device.budgets.to_dict())
    return base.override(
        params=parse_count(args.max_params) if args.max_params is not None else None,
        macs=parse_count(args.max_macs) if args.max_macs is not None else None,
        latency_ms=args.max_latency_ms, memory_mib=args.max_memory_mib,
    )


def proxy_with_steps(protocol: Any, steps: int | None) -> Any:
    """The protocol with its step budget replaced (renamed ``NAME@Nsteps``, so a record says
    which budget scored it); checkpoints and warm-up shrink with it."""
    if steps is None:
        return protocol
    if steps <= 0:
        raise UserError(f"--steps-per-trial must be a positive integer; got {steps}")
    from dataclasses import replace

    return replace(protocol.with_budget(steps=steps), name=f"{protocol.name}@{steps}steps",
                   eval_every=max(1, min(protocol.eval_every, steps // 4)),
                   warmup_steps=min(protocol.warmup_steps, steps // 5))


def pruner_rungs(text: str | None, total_steps: int | None,
                 checkpoint_every: int | None) -> tuple[int, ...] | None:
    """``--prune-rungs 100,150`` -> (100, 150): training steps where the pruner decides. Each
    must be a checkpoint step of the proxy below its last step (elsewhere no score is recorded,
    and the pruner would silently never decide there)."""
    if text is None:
        return None
    if not total_steps or not checkpoint_every:
        raise UserError("--prune-rungs needs a proxy with a step budget (checkpoints at fixed "
                        "steps)")
    try:
        steps = sorted({int(x) for x in text.split(",") if x.strip()})
    except ValueError:
        raise UserError(f"--prune-rungs takes training steps like 100,150; got {text!r}") from None
    bad = [x for x in steps if x <= 0 or x >= total_steps or x % checkpoint_every]
    if not steps or bad:
        raise UserError(f"--prune-rungs {text!r}: rungs must be multiples of {checkpoint_every} "
                        f"(the proxy's checkpoint interval) below its {total_steps} steps")
    return tuple(steps)


def pruner_eta(value: float | None, prune: bool) -> float:
    """``--prune-eta``: the share 1/eta kept at each rung; > 1, and only with pruning on."""
    from search.pruner import DEFAULT_ETA

    if value is None:
        return DEFAULT_ETA
    if not prune:
        raise UserError("--prune-eta sets the pruner's eta: drop --no-prune")
    if not value > 1 or value == float("inf"):
        raise UserError(f"--prune-eta must be a number above 1 (keep the best 1/ETA); got "
                        f"{value:g}")
    return float(value)


def pruner_dominators(value: int | None, prune: bool) -> int:
    """``--prune-dominators``: how many peers at a rung must dominate a candidate (higher-or-
    equal PSNR at no higher cost) before it may stop; a positive integer, with pruning on."""
    from search.pruner import DEFAULT_MIN_DOMINATORS

    if value is None:
        return DEFAULT_MIN_DOMINATORS
    if not prune:
        raise UserError("--prune-dominators sets the pruner's dominator count: drop --no-prune")
    if value < 1:
        raise UserError(f"--prune-dominators must be a positive integer; got {value}")
    return int(value)


def default_storage(study: str) -> str:
    return f"journal:///{DEFAULT_RUNS / study / 'study.log'}"


def run_dir_for(storage: str, study: str) -> Path:
    """Where a study's checkpoints live: beside a journal/sqlite file, else under ./runs/.

    In the default layout (``runs/STUDY/study.log``) that is ``STUDY-candidates``. Beside any
    other file it is ``STEM-STUDY-candidates``, so that two storages in one folder with the same
    study name (say a second proxy tried) do not share checkpoints; a study whose storage
    already existed with only the older ``STUDY-candidates`` beside it keeps that folder, so it
    resumes and ``select`` finds its weights."""
    from reports.storage import storage_path

    path = storage_path(storage)
    if path is None:
        return (DEFAULT_RUNS / f"{study}-candidates").resolve()
    legacy = path.parent / f"{study}-candidates"
    if path.name == "study.log":
        return legacy.resolve()
    mine = path.parent / f"{path.stem}-{study}-candidates"
    if not mine.exists() and legacy.is_dir() and path.is_file():
        return legacy.resolve()
    return mine.resolve()


def _run_search(args: argparse.Namespace) -> int:
    from profiles.devices import load_device
    from search.feasibility import check_budget_reachable
    from search.objective import DeviceEvaluator
    from search.proxies import TrainData, get_protocol
    from search.pruner import ParetoSuccessiveHalving
    from search.runner import SearchRun, parse_objectives
    from search.space import load_space
    from search.study import check_resume, make_sampler, open_study

    if args.trials is not None and args.trials <= 0:
        raise UserError(f"--trials must be a positive integer; got {args.trials}")
    from search.ray_backend import options_from_args, ray_dir_for

    ray_options = options_from_args(args)  # None for --backend optuna; checks Ray is installed
    space = load_space(args.space)
    device = load_device(args.device)
    budgets = budgets_from_args(device, args)
    objectives = parse_objectives(args.objectives)
    sampler = make_sampler(args.sampler, args.seed)
    study_name = args.study or f"{space.name}-{device.name}"
    storage = args.storage or default_storage(study_name)
    run_dir = run_dir_for(storage, study_name)
    if args.finetune_schedule and args.proxy != "supernet":
        raise UserError("--finetune-schedule sets the supernet proxy's fine-tune: it goes with "
                        "--proxy supernet")
    if args.proxy == "supernet" or args.supernet:
        space, evaluator = _supernet_evaluator(args, space, device, run_dir)
        protocol, data = evaluator.protocol, evaluator.data
    else:
        protocol = proxy_with_steps(get_protocol(args.proxy), args.steps_per_trial)
        check_data_arg(args.data, protocol)
        data = TrainData.for_protocol(protocol, args.data)
        evaluator = DeviceEvaluator(device, protocol, data, run_dir,
                                    train_device=args.train_device, threads=args.threads)
    rungs = pruner_rungs(args.prune_rungs, evaluator.total_steps, evaluator.checkpoint_every)
    if rungs and not args.prune:
        raise UserError("--prune-rungs sets the pruner's rungs: drop --no-prune")
    eta = pruner_eta(args.prune_eta, args.prune)
    dominators = pruner_dominators(args.prune_dominators, args.prune)
    if ray_options is not None and args.prune_dominators is not None and len(objectives) == 1:
        raise UserError("--prune-dominators applies to the Pareto pruner; with one objective Ray "
                        "uses ASHA, which has no dominator count: drop it or add an objective")
    if ray_options is not None:  # a measured device: one latency table, measured before Ray
        from search.ray_backend import with_latency_table

        evaluator = with_latency_table(evaluator, space, ray_dir_for(run_dir, study_name),
                                       quiet=args.quiet)
    pruner = None
    if args.prune and evaluator.total_steps:
        pruner = (ParetoSuccessiveHalving(rungs, eta=eta, min_dominators=dominators) if rungs
                  else ParetoSuccessiveHalving.for_steps(evaluator.total_steps,
                                                         evaluator.checkpoint_every, eta=eta,
                                                         min_dominators=dominators))
    # a proxy scored only at its last step (the supernet's fine-tune) has no rung to stop at
    no_rungs = pruner is not None and not pruner.rungs
    prune = args.prune and not no_rungs
    pruner = None if no_rungs else pruner
    settings = {
        "device": device.name, "budgets": budgets.to_dict(),
        "objectives": [f"{f}:{d}" for f, d in objectives], "space": space.name,
        "space_version": space.version_hash(), "sampler": args.sampler,
        "proxy": evaluator.proxy_name,
        "seed": args.seed, "scale": list(space.scale), "data": data.source,
        "input_hw": list(device.input_hw), "latency_method": evaluator.device.latency.method,
        "pruner": ("pareto-sh" + (f" rungs {'/'.join(map(str, rungs))}" if rungs else "")
                   + (f" eta {eta:g}" if args.prune_eta is not None else "")
                   + (f" dominators {dominators}" if args.prune_dominators is not None else "")
                   if prune else "none: the proxy has no checkpoint before its last step"
                   if no_rungs else "none"),
    }
    check_resume(storage, study_name, settings)  # before the budget check, which profiles nets
    t0 = time.perf_counter()
    check_budget_reachable(space, budgets, lambda s: evaluator.costs(s, budgets))
    study = open_study(storage, study_name, directions=[d for _, d in objectives],
                       settings=settings, sampler=sampler)
    if args.seed_zoo and not study.get_trials(deepcopy=False):
        _enqueue_zoo(study, space, budgets, evaluator)
    trials = args.trials if args.trials is not None else (10**9 if args.minutes else 20)
    if ray_options is None:
        run = SearchRun(study, space, budgets, evaluator, objectives, trials=trials,
                        minutes=args.minutes, seed=args.seed, pruner=pruner,
                        progress=not args.quiet)
    else:
        from search.ray_backend import RaySearch

        run = RaySearch(study, space, budgets, evaluator, objectives, trials=trials,
                        ray_dir=ray_dir_for(run_dir, study_name), options=ray_options,
                        minutes=args.minutes, seed=args.seed, prune=prune,
                        prune_rungs=rungs, prune_eta=eta, prune_dominators=dominators,
                        progress=not args.quiet)
    run.run()
    if ray_options is not None and not args.quiet:
        print(run.describe(), file=sys.stderr)
    wall = time.perf_counter() - t0
    rows = trial_rows(study)
    if args.json:
        print(json.dumps(rows, indent=2, default=str))
    else:
        _print_summary(rows, study_name, storage, wall, run)
    return 0


def _supernet_evaluator(args: argparse.Namespace, space: Any, device: Any,
                        run_dir: Path) -> tuple[Any, Any]:
    """``--proxy supernet --supernet FILE``: the space restricted to the store's scale (once the
    store is checked to cover it) and the evaluator that inherits, fine-tunes and scores."""
    from search.objective import SupernetEvaluator
    from search.proxies import TrainData
    from search.supernet import (
        DEFAULT_FINETUNE_SCHEDULE,
        FINETUNE_STEPS,
        check_covers,
        load_store,
    )

    if args.proxy != "supernet":
        raise UserError(f"--supernet FILE goes with --proxy supernet, not --proxy {args.proxy}")
    if not args.supernet:
        raise UserError("--proxy supernet needs --supernet FILE (train one with `distillnas "
                        "supernet train --space NAME --out FILE`)")
    steps = args.steps_per_trial if args.steps_per_trial is not None else FINETUNE_STEPS
    if steps <= 0:
        raise UserError(f"--steps-per-trial must be a positive integer; got {steps}")
    trained = load_store(args.supernet)
    restricted = check_covers(trained, space)
    if restricted.scale != space.scale and not args.quiet:
        print(f"--proxy supernet: the supernet is x{trained.scale}, so the search samples "
              f"x{trained.scale} only (space {space.name!r} has x"
              f"{', x'.join(map(str, space.scale))})", file=sys.stderr)
    protocol = trained.finetune(steps, args.finetune_schedule or DEFAULT_FINETUNE_SCHEDULE)
    check_data_arg(args.data, protocol)
    data = TrainData.for_protocol(protocol, args.data)
    evaluator = SupernetEvaluator(device, protocol, data, run_dir,
                                  train_device=args.train_device, threads=args.threads,
                                  store_path=trained.path.resolve(), store_sha1=trained.sha1)
    return restricted, evaluator


def _enqueue_zoo(study: Any, space: Any, budgets: Any, evaluator: Any) -> None:
    from blocks.zoo import ZOO

    for name in ZOO.names():
        for scale in space.scale:
            spec = ZOO.get(name).spec(scale)
            params = space.params_for(spec)
            if params is None or budgets.violations(evaluator.costs(spec, budgets)):
                continue
            study.enqueue_trial(params, user_attrs={"reference": name})


def trial_rows(study: Any) -> list[dict[str, Any]]:
    """The --json contract: one object per trial."""
    from search.study import status_of

    rows = []
    for t in study.get_trials(deepcopy=False):
        a = t.user_attrs
        rows.append({
            "number": t.number, "key": a.get("key"), "state": status_of(t),
            "params": a.get("params"), "macs": a.get("macs"), "flops": a.get("flops"),
            "latency_ms": a.get("latency_ms"), "latency_source": a.get("latency_source"),
            "peak_memory_mib": a.get("peak_memory_mib"), "psnr_y_db": a.get("psnr_y_db"),
            "ssim_y": a.get("ssim_y"), "violations": a.get("violations", {}),
            "proxy": a.get("proxy"), "reference": a.get("reference"),
            "duplicate_of": a.get("duplicate_of"), "train_seconds": a.get("train_seconds"),
        })
    return rows


def _print_summary(rows: list[dict], study: str, storage: str, wall_s: float, run: Any) -> None:
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["state"]] = counts.get(r["state"], 0) + 1
    done = [r for r in rows if r["state"] == "complete" and r["psnr_y_db"] is not None]
    print(f"study {study!r} in {storage}: " + ", ".join(f"{v} {k}" for k, v in
                                                        sorted(counts.items())))
    print(f"wall {wall_s:.1f} s: training+evaluation {run.trained_s:.1f} s, profiling "
          f"{run.profile_s:.1f} s, search overhead {run.overhead_s:.2f} s")
    if done:
        print(f"{'#':>4} {'psnr_y_db':>9} {'params':>9} {'MACs':>9} {'lat_ms':>8}  key")
        for r in sorted(done, key=lambda r: -r["psnr_y_db"])[:10]:
            lat = f"{r['latency_ms']:.1f}" if r["latency_ms"] is not None else "-"
            print(f"{r['number']:>4} {r['psnr_y_db']:>9.3f} {r['params']:>9,} "
                  f"{r['macs'] / 1e9:>8.2f}G {lat:>8}  {r['key']}")
    print(f"report: distillnas report --study {study} --storage {storage} --out report/",
          file=sys.stderr)


def register(sub: argparse._SubParsersAction) -> None:
    from profiles.devices import MAX_THREADS
    from profiles.devices_cli import set_space_loader
    from search.pruner import DEFAULT_ETA
    from search.space import load_space

    set_space_loader(load_space)  # `profile-device --space` (profiles may not import search)
    p = sub.add_parser("search", help="budget-constrained architecture search (Optuna study)")
    p.add_argument("--space", required=True, help="a shipped space (demo, rfdb, lrfdb) or YAML")
    p.add_argument("--device", default="host-cpu", help="device profile (see `distillnas devices`)")
    _add_budget_args(p)
    p.add_argument("--objectives", default="psnr,macs",
                   help="psnr plus any of params, macs, latency, memory (default psnr,macs); "
                        "'psnr' alone is single-objective under the budgets")
    p.add_argument("--sampler", default="tpe", help="tpe (multivariate), nsga2, gp or random")
    budget = p.add_mutually_exclusive_group()
    budget.add_argument("--trials", type=int, help="the study's total of trained candidates "
                        "(default 20); rerunning resumes to it")
    budget.add_argument("--minutes", type=_positive_float,
                        help="stop this worker after M minutes (a positive number)")
    p.add_argument("--proxy", default="quick", help="proxy protocol: quick, medium, demo, "
                   "paper, or supernet (with --supernet FILE)")
    p.add_argument("--supernet", metavar="FILE",
                   help="with --proxy supernet: a store from `distillnas supernet train`; each "
                   "candidate inherits its weights and is fine-tuned --steps-per-trial steps "
                   "(default 200)")
    p.add_argument("--finetune-schedule", choices=("cosine", "constant"),
                   help="with --proxy supernet: the fine-tune's lr, 5e-4 decayed to 0 by a "
                   "cosine (default) or held constant (the proxy of studies made before the "
                   "cosine became the default: resume those with it)")
    p.add_argument("--steps-per-trial", type=int, metavar="N",
                   help="override the proxy's training steps per candidate")
    p.add_argument("--storage", help="journal:///PATH (default runs/STUDY/study.log), "
                   "sqlite:///PATH or postgresql://USER:PASS@HOST/DB")
    p.add_argument("--study", help="study name (default SPACE-DEVICE)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data", help="folder with T91/BSD200/Set5 (DIV2K for paper) for the "
                   "quick, medium and paper proxies (default ../shared/data, else the embedded "
                   "photos); the demo proxy always trains on the embedded photos")
    p.add_argument("--train-device", default="cpu", type=torch_device_arg,
                   help="torch device for training: cpu, cuda")
    p.add_argument("--threads", type=threads_arg,
                   help=f"torch threads for training (1 to {MAX_THREADS})")
    p.add_argument("--prune", action=argparse.BooleanOptionalAction, default=True,
                   help="Pareto-aware successive halving (default on)")
    p.add_argument("--prune-rungs", metavar="STEPS",
                   help="training steps where the pruner decides, e.g. 100,150 (default: 1/2, "
                   "1/4, ... of the proxy's steps, on its checkpoints; fewer or later rungs "
                   "save less and keep more of the front)")
    p.add_argument("--prune-eta", type=float, metavar="ETA",
                   help=f"the pruner keeps the best 1/ETA of the trials at each rung (default "
                   f"{DEFAULT_ETA:g}; 2 stops fewer candidates and saves less compute)")
    p.add_argument("--prune-dominators", type=int, metavar="K",
                   help="a candidate outside the kept share stops only if at least K peers at "
                   "the rung dominate it (default 1; larger stops fewer)")
    p.add_argument("--seed-zoo", action="store_true",
                   help="enqueue the zoo's reference nets that the space can express and that "
                   "fit the budget")
    p.add_argument("--backend", choices=("optuna", "ray"), default="optuna",
                   help="optuna: this process trains (start several on one --storage to share "
                   "a study); ray: trials run on Ray Tune (pip install 'distillnas[ray]')")
    ray = p.add_argument_group("Ray Tune (--backend ray)")
    ray.add_argument("--ray-address", metavar="HOST:PORT",
                     help="join this cluster (its head's GCS address, or auto); default: start "
                     "a local Ray")
    ray.add_argument("--ray-cpus", type=int, metavar="N",
                     help="CPUs of the local Ray (default: all of this host's)")
    ray.add_argument("--cpus-per-trial", type=float, metavar="N",
                     help="CPUs per trial, also its torch threads (default 1)")
    ray.add_argument("--gpus-per-trial", type=float, metavar="N",
                     help="GPUs per trial (default 0; with --train-device cuda)")
    p.add_argument("--json", action="store_true", help="print the trials as JSON on stdout")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_run_search)
