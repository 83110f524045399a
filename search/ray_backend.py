"""``distillnas search --backend ray``: the same space, budgets and records, trained on Ray Tune.

The driver (this process) runs a ``ray.tune.Tuner`` whose searcher is Ray's ``OptunaSearch``,
pointed at the distillnas study itself (its storage, name and sampler) and sampling
define-by-run through the same ``SearchSpace.suggest``. What Ray's OptunaSearch cannot do is
done in the driver, before a candidate becomes a Ray trial:

- costs: params and MACs counted, latency from the device's table or roofline, peak memory;
  for a ``measured`` device, latency comes from a latency table measured ONCE, before Ray starts
  (the one exclusive measuring step; no trial ever times latency on cores other trials share);
- constraints: each budget is set on the Optuna trial with ``Trial.set_constraint`` (Optuna 5),
  and an infeasible candidate is recorded ``infeasible`` and told to the study without training:
  it never becomes a Ray trial;
- duplicates: a net already evaluated in the study is recorded ``duplicate``, never trained;
- pruning: ASHA (``ray.tune.schedulers.ASHAScheduler``) when PSNR is the only objective; with
  cost objectives, where Optuna cannot prune, the Pareto-aware successive halving of
  ``search.pruner`` runs as a Ray scheduler in the driver.

Every proposal is written into the study with the same trial attributes as ``SearchRun`` (the
reports.records contract), so ``distillnas report``/``select`` read a Ray run as any other study.
Each trained trial's result.json (under ``<run>/<study>-ray/tune/<study>/``) also carries the
record fields, for ``reports.records.load_ray_results``; infeasible and duplicate proposals are
only in the study, since they never ran on Ray.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from blocks.errors import UserError
from blocks.specs import NetSpec
from search.budgets import Budgets
from search.pruner import DEFAULT_ETA, DEFAULT_MIN_DOMINATORS, ParetoSuccessiveHalving
from search.runner import (
    MAX_IDLE_PROPOSALS,
    Progress,
    SearchRun,
    TrainOutcome,
    costs_profiled,
)
from search.space import SearchSpace
from search.study import counted_trials, recover_stale_trials, settle_unclaimed, worker_id

RAY_INSTALL = "pip install 'distillnas[ray]'"
#: AF_UNIX socket paths are limited to 107 bytes; Ray appends about 64 to its temp dir
#: ("/session_<date>_<time>_<usec>_<pid>/sockets/plasma_store"), so a longer one goes to /tmp
MAX_TEMP_DIR_CHARS = 40


def import_ray() -> Any:
    """The ``ray`` module with Tune, or a one-line UserError saying what to install."""
    try:
        import ray
        import ray.tune  # noqa: F401
        from ray.tune.search.optuna import OptunaSearch  # noqa: F401
    except ImportError as exc:
        missing = getattr(exc, "name", None) or "ray"
        raise UserError(
            f"--backend ray needs Ray Tune ({missing} is not importable): {RAY_INSTALL}"
        ) from None
    return ray


@dataclass(frozen=True)
class RayOptions:
    """Where trials run and what each one holds.

    ``address``: an existing cluster (``HOST:PORT`` of its head, or ``auto``); None starts a
    local Ray with ``num_cpus`` CPUs (None: all of this host's). ``cpus_per_trial`` is also the
    number of torch threads in a trial. ``connect_timeout_s`` bounds joining a cluster.
    """

    address: str | None = None
    num_cpus: int | None = None
    cpus_per_trial: float = 1.0
    gpus_per_trial: float = 0.0
    connect_timeout_s: float = 30.0

    def __post_init__(self) -> None:
        if not (isinstance(self.cpus_per_trial, int | float) and self.cpus_per_trial > 0):
            raise UserError(f"--cpus-per-trial must be > 0; got {self.cpus_per_trial!r}")
        if not (isinstance(self.gpus_per_trial, int | float) and self.gpus_per_trial >= 0):
            raise UserError(f"--gpus-per-trial must be >= 0; got {self.gpus_per_trial!r}")
        if self.num_cpus is not None and (isinstance(self.num_cpus, bool) or self.num_cpus < 1):
            raise UserError(f"--ray-cpus must be a positive integer; got {self.num_cpus!r}")
        if self.address is not None and self.num_cpus is not None:
            raise UserError(
                "--ray-cpus sizes a local Ray; a cluster joined with --ray-address has its own size"
            )
        if self.address is not None and self.address.startswith("ray://"):
            raise UserError(
                f"Ray Client addresses ({self.address}) are not supported: run "
                "distillnas on a cluster node with --ray-address HOST:PORT (the "
                "head's GCS port, 6379 by default) or auto"
            )
        if (
            self.address is None
            and self.num_cpus is not None
            and self.cpus_per_trial > self.num_cpus
        ):
            raise UserError(
                f"--cpus-per-trial {self.cpus_per_trial:g} cannot be placed on a "
                f"local Ray of --ray-cpus {self.num_cpus}"
            )

    @property
    def torch_threads(self) -> int:
        return max(1, int(self.cpus_per_trial))


RAY_ONLY_FLAGS = {
    "ray_address": "--ray-address",
    "ray_cpus": "--ray-cpus",
    "cpus_per_trial": "--cpus-per-trial",
    "gpus_per_trial": "--gpus-per-trial",
}


def options_from_args(args: Any) -> RayOptions | None:
    """RayOptions from ``distillnas search`` arguments (None for ``--backend optuna``).

    Checks, before anything slow happens: Ray is importable, Ray-only flags are not given to
    the Optuna backend, torch threads are the trial's CPUs, GPUs are reserved only to be used.
    """
    given = [flag for name, flag in RAY_ONLY_FLAGS.items() if getattr(args, name, None) is not None]
    if getattr(args, "backend", "optuna") != "ray":
        if given:
            raise UserError(f"{', '.join(given)} only apply with --backend ray")
        return None
    options = RayOptions(
        address=args.ray_address,
        num_cpus=args.ray_cpus,
        cpus_per_trial=1.0 if args.cpus_per_trial is None else args.cpus_per_trial,
        gpus_per_trial=0.0 if args.gpus_per_trial is None else args.gpus_per_trial,
    )
    if args.threads is not None and args.threads != options.torch_threads:
        raise UserError(
            "with --backend ray a trial's torch threads are its CPUs: set --cpus-per-trial "
            f"{args.threads} instead of --threads"
        )
    on_gpu = str(args.train_device).startswith("cuda")
    if on_gpu and options.gpus_per_trial <= 0:
        raise UserError(
            "--train-device cuda with --backend ray needs --gpus-per-trial > 0 "
            "(Ray hides GPUs from trials that reserved none)"
        )
    if options.gpus_per_trial > 0 and not on_gpu:
        raise UserError(
            f"--gpus-per-trial {options.gpus_per_trial:g} reserves GPUs that "
            f"--train-device {args.train_device} would not use"
        )
    import_ray()
    return options


# ---- the exclusive measuring step ---------------------------------------------------------------
def with_latency_table(
    evaluator: Any, space: SearchSpace, ray_dir: Path, *, quiet: bool = False
) -> Any:
    """For a ``measured`` device, an evaluator whose latency comes from a table of ``space``
    measured here once, now, before Ray starts (cached in ``ray_dir`` for reruns).

    Trials share cores, so no latency is timed while they run. Other devices pass through.
    """
    from profiles.devices import LatencyMethod
    from profiles.latency_table import load_table, measure_space_table

    device = evaluator.device
    if device.latency.method != "measured":
        return evaluator
    backend = device.latency.backend or "eager"
    path = Path(ray_dir).resolve() / f"latency-{device.name}-{space.name}.json"
    version = f"{space.name}:{space.version_hash()}"
    table = None
    if path.exists():
        try:
            table = load_table(
                path, device=device.name, space_version=version, input_hw=device.input_hw
            )
        except UserError:
            table = None  # another space version or input size: measure again
        if table is not None and (table.backend != backend or table.threads != device.threads):
            table = None
    if table is None:
        if not quiet:
            print(
                f"ray: measuring a latency table of space {space.name!r} on {device.name} "
                f"({backend}, {device.threads} threads) before Ray starts; cached in {path}",
                file=sys.stderr,
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        table = measure_space_table(
            space,
            input_hw=device.input_hw,
            backend=backend,
            threads=device.threads,
            runs=evaluator.latency_runs,
            device=device.name,
        )
        table.save(path)
    return replace(evaluator, device=replace(device, latency=LatencyMethod("table", table=path)))


# ---- what a trial runs ------------------------------------------------------------------------
@dataclass(frozen=True)
class WorkerTrainer:
    """Proxy training inside a Ray trial: a DeviceEvaluator rebuilt in the worker (picklable).

    Data is loaded in the worker from an absolute root (or the embedded photos), never shipped.
    """

    device: Any
    protocol: dict[str, Any]
    data_root: str | None
    embedded: bool
    run_dir: str
    train_device: str
    threads: int
    supernet: str | None = None  # --proxy supernet: the store's file (each worker loads it)
    supernet_sha1: str = ""

    @classmethod
    def from_evaluator(cls, evaluator: Any, threads: int) -> WorkerTrainer:
        data = evaluator.data
        store = getattr(evaluator, "store_path", None)
        return cls(
            device=evaluator.device,
            protocol=evaluator.protocol.to_dict(),
            data_root=str(Path(data.root).resolve()) if data.root else None,
            embedded=data.source == "embedded",
            run_dir=str(Path(evaluator.run_dir).resolve()),
            train_device=evaluator.train_device,
            threads=threads,
            supernet=str(Path(store).resolve()) if store is not None else None,
            supernet_sha1=getattr(evaluator, "store_sha1", ""),
        )

    def train(
        self, spec: NetSpec, *, seed: int, report: Callable[[int, float], bool]
    ) -> TrainOutcome:
        from search.objective import DeviceEvaluator, SupernetEvaluator

        protocol, data = _worker_data(
            json.dumps(self.protocol, sort_keys=True), self.data_root, self.embedded
        )
        evaluator = DeviceEvaluator(
            self.device,
            protocol,
            data,
            Path(self.run_dir),
            train_device=self.train_device,
            threads=self.threads,
        )
        if self.supernet is not None:
            evaluator = SupernetEvaluator(
                **{f.name: getattr(evaluator, f.name) for f in fields(evaluator)},
                store_path=Path(self.supernet),
                store_sha1=self.supernet_sha1,
            )
        return evaluator.train(spec, seed=seed, report=report)


@functools.lru_cache(maxsize=2)
def _worker_data(protocol_json: str, root: str | None, embedded: bool) -> tuple[Any, Any]:
    """Protocol and data, loaded once per worker process (a reused actor keeps them)."""
    from search.proxies import ProxyProtocol, TrainData, cache_root

    protocol = ProxyProtocol.from_dict(json.loads(protocol_json))
    if embedded:
        return protocol, TrainData.embedded(cache_dir=cache_root())
    return protocol, TrainData.for_protocol(protocol, root)


def _plain(value: Any) -> Any:
    """JSON-safe copy (Ray writes results as JSON lines)."""
    return json.loads(json.dumps(value, default=str))


def train_trial(config: dict[str, Any], trainer: Any) -> None:
    """The Ray Tune trainable: train one feasible candidate, report records as it goes.

    Every report carries the record fields (costs were computed in the driver), so each line of
    result.json is a trial record; intermediate lines have status ``running``. A training error
    is reported as status ``failed`` with its message rather than raised.
    """
    from ray import tune

    base = dict(config["record"])
    spec = NetSpec.from_dict(json.loads(config["spec"]))
    total = int(config.get("total_steps") or 0)

    def report(step: int, psnr_db: float) -> bool:
        # the last checkpoint is not reported: the final result follows, and a scheduler must
        # not stop the trial between the two
        if not total or step < total:
            tune.report(
                {**base, "status": "running", "step": int(step), "psnr_y_db": float(psnr_db)}
            )
        return False

    t0 = time.perf_counter()
    try:
        outcome = trainer.train(spec, seed=int(config["seed"]), report=report)
    except Exception as exc:  # noqa: BLE001 - the driver records it as a failed trial
        outcome = TrainOutcome(
            "failed",
            None,
            message=f"{type(exc).__name__}: {exc}".splitlines()[0],
            train_seconds=time.perf_counter() - t0,
        )
    tune.report(
        {
            **base,
            "status": outcome.status,
            "step": int(outcome.steps),
            "psnr_y_db": float("nan") if outcome.psnr_y_db is None else float(outcome.psnr_y_db),
            "ssim_y": outcome.ssim_y,
            "steps": int(outcome.steps),
            "train_seconds": float(outcome.train_seconds),
            "eval_seconds": float(outcome.eval_seconds),
            "failure": outcome.message,
            "curve": [list(p) for p in outcome.curve],
            "final": True,
        }
    )


# ---- the driver --------------------------------------------------------------------------------
@dataclass
class RaySearch:
    """One Ray Tune run over a study; ``run()`` returns when the study has ``trials`` counted.

    ``worker_trainer``: what trials call (``.train(spec, seed=, report=)``, picklable); default
    a ``WorkerTrainer`` built from ``evaluator``. ``ray_dir``: Tune results and Ray's temp dir.
    """

    study: optuna.Study
    space: SearchSpace
    budgets: Budgets
    evaluator: Any
    objectives: list[tuple[str, str]]
    trials: int
    ray_dir: Path
    options: RayOptions = field(default_factory=RayOptions)
    minutes: float | None = None
    seed: int = 0
    prune: bool = True
    #: the pruner's rungs (training steps); None: ParetoSuccessiveHalving.for_steps
    prune_rungs: tuple[int, ...] | None = None
    #: the share 1/eta kept at each rung (ASHA's reduction factor too)
    prune_eta: float = DEFAULT_ETA
    #: peers that must dominate a candidate before the Pareto scheduler stops it
    prune_dominators: int = DEFAULT_MIN_DOMINATORS
    progress: bool = True
    worker_trainer: Any = None
    stale_grace_s: float = 600.0
    # timings (the CLI's summary reads the first three, as for SearchRun)
    trained_s: float = 0.0
    profile_s: float = 0.0
    overhead_s: float = 0.0
    ray_start_s: float = 0.0
    trial_wall_s: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.ray_dir = Path(self.ray_dir).resolve()  # trials change directory: paths absolute
        self.records = SearchRun(
            self.study,
            self.space,
            self.budgets,
            self.evaluator,
            self.objectives,
            trials=self.trials,
            minutes=self.minutes,
            seed=self.seed,
            progress=False,
        )
        self.started = time.monotonic()
        self.exhausted = False
        self.completed = 0  # trials of this run that completed
        self._specs: dict[int, NetSpec] = {}
        self._costs: dict[int, dict[str, Any]] = {}
        self._curves: dict[int, list[list[float]]] = {}
        self._admitted_at: dict[int, float] = {}
        self._bar: Progress | None = None

    @property
    def fields(self) -> list[str]:
        return [f for f, _ in self.objectives]

    @property
    def multi_objective(self) -> bool:
        return len(self.objectives) > 1

    @property
    def tune_dir(self) -> Path:
        """Tune's storage path; the experiment (named after the study) is inside."""
        return self.ray_dir / "tune"

    def remaining(self) -> int:
        trials = self.study.get_trials(deepcopy=False)
        running = sum(1 for t in trials if t.state == TrialState.RUNNING)
        return self.trials - counted_trials(trials) - running

    # ---- run ----------------------------------------------------------------------------------
    def run(self) -> None:
        ray = import_ray()
        recover_stale_trials(self.study, self.stale_grace_s)
        if self.remaining() <= 0:
            return
        self._bar = Progress(self.trials, enabled=self.progress)
        try:
            self._bar.update(self.study, self.fields)
            with ray_session(ray, self.options, self.ray_dir) as start_s:
                self.ray_start_s = start_s
                self._fit()
        finally:
            self._bar.close()
        if self.errors and not self.completed:
            raise UserError(f"every Ray trial failed; first error: {self.errors[0]}")
        if self.exhausted:
            raise UserError(
                f"{MAX_IDLE_PROPOSALS} proposals in a row were infeasible or already evaluated: "
                f"the space is exhausted or the budget ({self.budgets.describe()}) is too tight "
                "for it"
            )

    def _fit(self) -> None:
        from ray import tune

        # the legacy reporter honours verbose=0; the new engine prints tables to stdout anyway
        os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")

        trainer = self.worker_trainer or WorkerTrainer.from_evaluator(
            self.evaluator, self.options.torch_threads
        )
        trainable = tune.with_resources(
            tune.with_parameters(train_trial, trainer=trainer),
            {"cpu": self.options.cpus_per_trial, "gpu": self.options.gpus_per_trial},
        )
        classes = _ray_classes()
        searcher = classes.StudySearcher(self)
        tuner = tune.Tuner(
            trainable,
            tune_config=tune.TuneConfig(
                search_alg=searcher,
                scheduler=self._scheduler(classes),
                num_samples=10**9,
                reuse_actors=True,
                trial_dirname_creator=_trial_dirname,
            ),
            run_config=tune.RunConfig(
                name=self.study.study_name,
                storage_path=str(self.tune_dir),
                verbose=0,
                failure_config=tune.FailureConfig(max_failures=0, fail_fast=False),
                callbacks=[classes.RayRecords(self)],
            ),
        )
        tuner.fit()

    def _scheduler(self, classes: Any) -> Any:
        from ray.tune.schedulers import ASHAScheduler, FIFOScheduler

        total = int(self.evaluator.total_steps or 0)
        every = int(self.evaluator.checkpoint_every or 0)
        if not self.prune or total <= 0 or every <= 0:
            return FIFOScheduler()
        rungs = self.prune_rungs or ParetoSuccessiveHalving.for_steps(
            total, every, eta=self.prune_eta).rungs
        if not rungs:
            return FIFOScheduler()
        if not self.multi_objective:
            return ASHAScheduler(
                time_attr="step",
                metric="psnr_y_db",
                mode="max",
                max_t=total,
                grace_period=rungs[0],
                reduction_factor=self.prune_eta,
            )
        return classes.ParetoScheduler(self, ParetoSuccessiveHalving(
            rungs, eta=self.prune_eta, min_dominators=self.prune_dominators))

    # ---- called by the searcher, in the driver ----------------------------------------------
    def should_stop_asking(self) -> bool:
        """The deadline passed or the study holds its total; a trial another run left unclaimed
        (killed between ask and claim) is recovered first instead of counting as running."""
        if self.minutes is not None and time.monotonic() - self.started > 60 * self.minutes:
            return True
        while self.remaining() <= 0:
            if not settle_unclaimed(self.study, self.stale_grace_s):
                return True
        return False

    def define_by_run(self, trial: Any) -> dict[str, Any]:
        """Ray's OptunaSearch calls this with the Optuna trial: the same space code."""
        spec = self.space.suggest(trial)
        self._specs[trial.number] = spec
        return {"spec": json.dumps(spec.to_dict())}

    def admit(self, trial: optuna.Trial) -> dict[str, Any] | None:
        """Record a proposal; the trial's config if it is to be trained, None if it was told
        (infeasible or duplicate). Mirrors ``SearchRun._one_trial`` up to training."""
        t0 = time.perf_counter()
        spec = self._specs.pop(trial.number)
        trial.set_user_attr("worker", worker_id())
        trial.set_user_attr("heartbeat", time.time())
        outcome, attrs, costs = self.records.screen(trial, spec)
        self.profile_s = self.records.profile_s
        if outcome is not None:
            self.overhead_s += time.perf_counter() - t0 - costs_profiled(costs)
            return None
        assert costs is not None
        profiled = costs_profiled(costs)
        violations: dict[str, float] = {}
        self._costs[trial.number] = costs
        self._admitted_at[trial.number] = time.perf_counter()
        record = {
            **attrs,
            **costs,
            "violations": violations,
            "number": trial.number,
            "device": costs.get("device"),
            "ssim_y": None,
            "train_seconds": 0.0,
            "eval_seconds": 0.0,
        }
        self.overhead_s += time.perf_counter() - t0 - profiled
        return {
            "number": trial.number,
            "key": attrs["key"],
            "spec": attrs["spec"],
            "seed": self.seed * 100_003 + trial.number,
            "total_steps": int(self.evaluator.total_steps or 0),
            "record": _plain(record),
        }

    def on_result(self, trial: optuna.Trial, result: dict[str, Any]) -> None:
        """An intermediate report: the learning curve goes into the study as it grows."""
        if result.get("status") != "running":
            return
        curve = self._curves.setdefault(trial.number, [])
        curve.append([int(result["step"]), float(result["psnr_y_db"])])
        trial.set_user_attr("intermediate", curve)
        trial.set_user_attr("heartbeat", time.time())

    def on_complete(self, trial: optuna.Trial, result: dict[str, Any] | None, error: bool) -> None:
        """Record the outcome as SearchRun does: complete, pruned (stopped by the scheduler at a
        rung) or failed."""
        costs = self._costs.pop(trial.number, {})
        admitted = self._admitted_at.pop(trial.number, None)
        curve = self._curves.pop(trial.number, [])
        status = (result or {}).get("status")
        psnr = (result or {}).get("psnr_y_db")
        psnr = float(psnr) if isinstance(psnr, int | float) and math.isfinite(psnr) else None
        for name in ("train_seconds", "eval_seconds", "steps", "ssim_y"):
            if result and name in result:
                trial.set_user_attr(name, result[name])
        if result and "step" in result:
            trial.set_user_attr("steps", int(result.get("steps", result["step"])))
        trial.set_user_attr("psnr_y_db", psnr)
        if error:
            message = "the Ray trial died (see its error.txt under the Tune folder)"
            trial.set_user_attr("status", "failed")
            trial.set_user_attr("failure", message)
            self.errors.append(message)
            self.study.tell(trial, state=TrialState.FAIL)
        elif result is None or status == "running":  # stopped, not by a scheduler: interrupted
            trial.set_user_attr("status", "failed")
            trial.set_user_attr("failure", "stopped before it finished (interrupted)")
            trial.set_user_attr("retried", True)  # not counted: a rerun samples again
            self.study.tell(trial, state=TrialState.FAIL)
        elif status == "pruned":  # stopped by ASHA / the Pareto scheduler after this report
            step = int(result.get("step", 0))
            if psnr is not None and (not curve or curve[-1][0] != step):
                curve.append([step, psnr])  # the report it was stopped at: peers rank on it
                trial.set_user_attr("intermediate", curve)
            trial.set_user_attr("steps", step)
            trial.set_user_attr("status", "pruned")
            trial.set_user_attr("steps_saved", max(0, int(self.evaluator.total_steps) - step))
            self.study.tell(trial, state=TrialState.PRUNED)
        elif status == "complete" and psnr is not None:
            trial.set_user_attr("curve", result.get("curve", []))
            trial.set_user_attr("status", "complete")
            self.study.tell(trial, self.records.objective_values(psnr, costs))
            self.completed += 1
        else:
            message = str(result.get("failure") or status or "failed")
            trial.set_user_attr("status", "failed")
            trial.set_user_attr("failure", message)
            self.errors.append(message)
            self.study.tell(trial, state=TrialState.FAIL)
        if result and result.get("final"):
            self.trained_s += float(result.get("train_seconds") or 0.0) + float(
                result.get("eval_seconds") or 0.0
            )
        elif result:  # stopped at a rung: the trial's wall time so far
            self.trained_s += float(result.get("time_total_s") or 0.0)
        if admitted is not None:
            self.trial_wall_s.append(time.perf_counter() - admitted)
        if self._bar is not None:
            self._bar.update(self.study, self.fields)

    def peers_at(self, step: int, number: int) -> list[tuple[float, list[float]]]:
        return self.records.peers_at(step, number)

    def describe(self) -> str:
        """One line on Ray's cost in this run (start-up, wall per trained trial)."""
        per = (
            (
                f"median wall per trained trial {statistics.median(self.trial_wall_s):.1f} s "
                f"over {len(self.trial_wall_s)}"
            )
            if self.trial_wall_s
            else "no trial trained"
        )
        return f"ray: start-up {self.ray_start_s:.1f} s, {per}; results in {self.tune_dir}"


def _trial_dirname(trial: Any) -> str:
    number = trial.config.get("number")
    return f"trial-{int(number):05d}-{trial.trial_id}" if number is not None else trial.trial_id


@functools.cache
def _ray_classes() -> Any:
    """The Ray-derived classes, defined once Ray is importable (Ray is an optional extra)."""
    from ray.tune import Callback
    from ray.tune.schedulers import FIFOScheduler, TrialScheduler
    from ray.tune.search import Searcher
    from ray.tune.search.optuna import OptunaSearch

    class StudySearcher(OptunaSearch):
        """OptunaSearch on the distillnas study; infeasible and duplicate proposals are told in
        the driver and never reach Ray; outcomes are recorded as SearchRun records them."""

        def __init__(self, driver: RaySearch) -> None:
            self.driver = driver
            modes = ["max" if d == "maximize" else "min" for _, d in driver.objectives]
            single = len(modes) == 1
            super().__init__(
                space=driver.define_by_run,
                metric=driver.fields[0] if single else driver.fields,
                mode=modes[0] if single else modes,
                sampler=driver.study.sampler,
                study_name=driver.study.study_name,
                storage=driver.study._storage,  # noqa: SLF001 - the same storage object
            )

        def suggest(self, trial_id: str) -> dict | str | None:
            for _ in range(MAX_IDLE_PROPOSALS):
                if self.driver.should_stop_asking():
                    return Searcher.FINISHED
                super().suggest(trial_id)  # asks Optuna; the space is sampled define-by-run
                admitted = self.driver.admit(self._ot_trials[trial_id])
                if admitted is not None:
                    return admitted
                del self._ot_trials[trial_id]  # told already: ask a fresh one
            self.driver.exhausted = True
            return Searcher.FINISHED

        def on_trial_result(self, trial_id: str, result: dict) -> None:
            trial = self._ot_trials.get(trial_id)
            if trial is not None and trial_id not in self._completed_trials:
                self.driver.on_result(trial, result)

        def on_trial_complete(
            self, trial_id: str, result: dict | None = None, error: bool = False
        ) -> None:
            trial = self._ot_trials.get(trial_id)
            if trial is None or trial_id in self._completed_trials:
                return
            self._completed_trials.add(trial_id)
            self.driver.on_complete(trial, result, error)

        # the study in the storage is the state: nothing of this searcher needs saving
        def save(self, checkpoint_path: str) -> None:
            Path(checkpoint_path).write_text("{}")

        def restore(self, checkpoint_path: str) -> None:
            pass

    class ParetoScheduler(FIFOScheduler):
        """search.pruner's Pareto-aware successive halving as a Ray scheduler (multi-objective
        runs, where neither Optuna nor ASHA can prune)."""

        def __init__(self, driver: RaySearch, pruner: ParetoSuccessiveHalving) -> None:
            super().__init__()
            self.driver = driver
            self.pruner = pruner

        def on_trial_result(self, tune_controller: Any, trial: Any, result: dict) -> str:
            if result.get("status") != "running":
                return TrialScheduler.CONTINUE
            costs = [result.get(f) for f in self.driver.fields[1:]]
            if any(not isinstance(c, int | float) for c in costs):
                return TrialScheduler.CONTINUE
            step, number = int(result["step"]), int(result["number"])
            decision = self.pruner.decide(
                step,
                float(result["psnr_y_db"]),
                [float(c) for c in costs],
                self.driver.peers_at(step, number),
            )
            return (
                TrialScheduler.STOP
                if decision is not None and decision.prune
                else TrialScheduler.CONTINUE
            )

    class RayRecords(Callback):
        """Keeps result.json a record: a trial stopped by the scheduler after a report has that
        report's status rewritten to ``pruned`` (before the logger writes it), and a dead
        trial's error line is kept for the one-line message."""

        def __init__(self, driver: RaySearch) -> None:
            self.driver = driver

        def on_trial_result(
            self, iteration: int, trials: list, trial: Any, result: dict, **info: Any
        ) -> None:
            if result.get("done") and result.get("status") == "running":
                result["status"] = "pruned"
                total = int(self.driver.evaluator.total_steps or 0)
                result["steps_saved"] = max(0, total - int(result.get("step", 0)))

        def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
            try:
                lines = [ln for ln in Path(trial.error_file).read_text().splitlines() if ln.strip()]
            except (OSError, TypeError):
                return
            if lines:
                self.driver.errors.insert(0, lines[-1])

    return _Namespace(
        StudySearcher=StudySearcher, ParetoScheduler=ParetoScheduler, RayRecords=RayRecords
    )


@dataclass(frozen=True)
class _Namespace:
    StudySearcher: Any
    ParetoScheduler: Any
    RayRecords: Any


# ---- starting and joining Ray -------------------------------------------------------------------
def local_temp_dir(ray_dir: Path) -> tuple[Path, bool]:
    """Ray's temp dir inside the run folder, or a short one under /tmp when that path is too long
    for unix sockets (the run folder then gets a ``tmp`` link to it). Returns (path, is_short)."""
    wanted = Path(ray_dir) / "tmp"
    if len(str(wanted)) <= MAX_TEMP_DIR_CHARS:
        wanted.mkdir(parents=True, exist_ok=True)
        return wanted, False
    short = Path(tempfile.mkdtemp(prefix="dnray-", dir="/tmp"))
    Path(ray_dir).mkdir(parents=True, exist_ok=True)
    if wanted.is_symlink() or wanted.exists():
        if wanted.is_symlink():
            wanted.unlink()
        else:
            shutil.rmtree(wanted, ignore_errors=True)
    try:
        wanted.symlink_to(short, target_is_directory=True)
    except OSError:
        pass
    return short, True


def check_address(address: str, timeout_s: float) -> None:
    """Raise a one-line UserError unless a Ray cluster answers at ``address`` within the time.

    ``ray.init`` itself retries a wrong address for minutes; this probes first: a TCP connect
    (unknown host, refused, unreachable), then a join in a subprocess that is killed at the
    deadline (a port that is open but is not a Ray head).
    """
    if address != "auto":
        host, sep, port = address.rpartition(":")
        if not sep or not host or not port.isdigit():
            raise UserError(
                f"bad --ray-address {address!r}: write HOST:PORT (the head's GCS "
                "port, 6379 by default) or auto"
            )
        try:
            with socket.create_connection(
                (host.strip("[]"), int(port)), timeout=min(5.0, timeout_s)
            ):
                pass
        except socket.gaierror:
            raise UserError(
                f"cannot reach Ray cluster at {address}: unknown host {host!r}"
            ) from None
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            if isinstance(exc, TimeoutError | socket.timeout):
                reason = "timed out"
            raise UserError(f"cannot reach Ray cluster at {address}: {reason}") from None
    probe = (
        "import logging, sys, ray; ray.init(address=sys.argv[1], log_to_driver=False, "
        "logging_level=logging.ERROR); print(ray.cluster_resources())"
    )
    env = {**os.environ, "RAY_NUM_REDIS_GET_RETRIES": "3"}
    try:
        proc = subprocess.run(
            [sys.executable, "-c", probe, address],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise UserError(
            f"no Ray cluster answered at {address} within {timeout_s:g} s (is it a "
            "Ray head's GCS port?)"
        ) from None
    if proc.returncode != 0:
        lines = [
            ln.strip()
            for ln in proc.stderr.splitlines()
            if ln.strip() and not ln.startswith(("[", " ", "\t", "Traceback"))
        ]
        reason = lines[-1] if lines else f"exit code {proc.returncode}"
        raise UserError(f"cannot join Ray cluster at {address}: {reason}")


class ray_session:  # noqa: N801 - used as a context manager, like a function
    """Start (or join) Ray, check a trial fits on a node, and shut down on exit.

    The value is the start-up time in seconds.
    """

    def __init__(self, ray: Any, options: RayOptions, ray_dir: Path) -> None:
        self.ray, self.options, self.ray_dir = ray, options, Path(ray_dir)
        self.short_tmp: Path | None = None

    def __enter__(self) -> float:
        ray, opts = self.ray, self.options
        t0 = time.perf_counter()
        if ray.is_initialized():
            ray.shutdown()
        quiet = {
            "log_to_driver": False,
            "logging_level": logging.WARNING,
            "include_dashboard": False,
        }
        if opts.address is not None:
            check_address(opts.address, opts.connect_timeout_s)
            quiet.pop("include_dashboard")
            try:
                ray.init(address=opts.address, **quiet)
            except Exception as exc:  # noqa: BLE001 - one line for the user
                raise UserError(
                    f"cannot join Ray cluster at {opts.address}: {_first_line(exc)}"
                ) from None
        else:
            # a local cluster: no token auth (it only listens locally), temp dir in the run folder
            os.environ.setdefault("RAY_AUTH_MODE", "disabled")
            os.environ.setdefault("RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO", "0")
            temp, short = local_temp_dir(self.ray_dir)
            self.short_tmp = temp if short else None
            try:
                ray.init(num_cpus=opts.num_cpus, _temp_dir=str(temp), **quiet)
            except Exception as exc:  # noqa: BLE001
                raise UserError(f"cannot start a local Ray in {temp}: {_first_line(exc)}") from None
        try:
            self._check_fits()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return time.perf_counter() - t0

    def _check_fits(self) -> None:
        opts = self.options
        nodes = [n for n in self.ray.nodes() if n.get("Alive")]
        sizes = [
            (float(n["Resources"].get("CPU", 0)), float(n["Resources"].get("GPU", 0)))
            for n in nodes
        ]
        if any(c >= opts.cpus_per_trial and g >= opts.gpus_per_trial for c, g in sizes):
            return
        cpus = max((c for c, _ in sizes), default=0.0)
        gpus = max((g for _, g in sizes), default=0.0)
        raise UserError(
            f"no Ray node can hold a trial of {opts.cpus_per_trial:g} CPUs and "
            f"{opts.gpus_per_trial:g} GPUs (largest node: {cpus:g} CPUs, {gpus:g} GPUs); "
            "lower --cpus-per-trial/--gpus-per-trial or add nodes"
        )

    def __exit__(self, *exc: Any) -> None:
        try:
            self.ray.shutdown()
        finally:
            if self.short_tmp is not None and exc[0] is None:  # kept, with logs, on failure
                shutil.rmtree(self.short_tmp, ignore_errors=True)
                link = self.ray_dir / "tmp"
                if link.is_symlink():
                    link.unlink()


def _first_line(exc: BaseException) -> str:
    for line in str(exc).splitlines():
        if line.strip():
            return line.strip()
    return type(exc).__name__


def ray_dir_for(run_dir: Path, study: str) -> Path:
    """Ray's folder beside the study's candidates: ``<...>/<study>-ray`` (absolute)."""
    return Path(run_dir).resolve().with_name(f"{study}-ray")


__all__ = [
    "options_from_args",
    "RayOptions",
    "RaySearch",
    "WorkerTrainer",
    "check_address",
    "import_ray",
    "local_temp_dir",
    "ray_dir_for",
    "train_trial",
    "with_latency_table",
]
