"""The search loop: ask a candidate, cost it, reject it or train it, tell the study.

Every proposal becomes a trial record (reports.records' contract). An infeasible candidate is never
trained: it is recorded with its violations and told to Optuna with ``Trial.set_constraint``
values > 0 (Optuna 5's constraint API), so constraint-aware samplers learn to avoid it. A
candidate whose canonical key was already evaluated in this study is not trained again: it is
recorded as a ``duplicate`` with the earlier result. ``--trials N`` counts candidates that were
trained (complete, pruned or failed); infeasible and duplicate proposals are recorded but not
counted, since they cost no training.
"""

from __future__ import annotations

import hashlib
import json
import math
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import optuna
from optuna.trial import TrialState

from blocks.errors import UserError
from blocks.specs import NetSpec
from search.budgets import Budgets
from search.pruner import ParetoSuccessiveHalving, nondominated_ranks
from search.space import SearchSpace
from search.study import (
    counted_trials,
    recover_stale_trials,
    settle_unclaimed,
    status_of,
    worker_id,
)

#: objective name on the command line -> (record field, direction)
OBJECTIVES = {
    "psnr": ("psnr_y_db", "maximize"),
    "params": ("params", "minimize"),
    "macs": ("macs", "minimize"),
    "latency": ("latency_ms", "minimize"),
    "memory": ("peak_memory_mib", "minimize"),
}
#: give up after this many proposals in a row that trained nothing
MAX_IDLE_PROPOSALS = 200


def costs_profiled(costs: Mapping[str, Any] | None) -> float:
    """Seconds the costing of a candidate took (counting, latency, memory)."""
    return float((costs or {}).get("profile_seconds") or 0.0)


def key_seed(key: str, seed: int) -> int:
    """The training seed of a net in a search: a function of its key and the search seed."""
    digest = hashlib.sha256(f"{seed}:{key}".encode()).digest()
    return int.from_bytes(digest[:4], "little")


def parse_objectives(text: str) -> list[tuple[str, str]]:
    """``'psnr,latency'`` -> [(psnr_y_db, maximize), (latency_ms, minimize)]; psnr comes first."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in OBJECTIVES]
    if unknown or not names:
        raise UserError(f"unknown objective(s) {unknown or text!r}; known: "
                        f"{', '.join(OBJECTIVES)} (psnr is always one)")
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:  # before psnr is put first: 'psnr,psnr' is as wrong as 'psnr,macs,macs'
        raise UserError(f"objective {', '.join(twice)} listed twice in {text!r}")
    names = ["psnr"] + [n for n in names if n != "psnr"]
    return [OBJECTIVES[n] for n in names]


@dataclass(frozen=True)
class TrainOutcome:
    """What training a candidate gave (search.train's result, reduced to what a record needs)."""

    status: str  # complete | pruned | diverged | failed
    psnr_y_db: float | None
    ssim_y: float | None = None
    steps: int = 0
    train_seconds: float = 0.0
    eval_seconds: float = 0.0
    message: str = ""
    curve: tuple[tuple[int, float], ...] = ()


class Evaluator(Protocol):
    """Costs a spec on the target device and trains it under the proxy protocol."""

    proxy_name: str
    total_steps: int
    checkpoint_every: int

    def costs(self, spec: NetSpec, budgets: Budgets) -> dict[str, Any]: ...

    def train(self, spec: NetSpec, *, seed: int,
              report: Callable[[int, float], bool]) -> TrainOutcome: ...


@dataclass
class Progress:
    """What the progress line shows; written to stderr so stdout stays clean for --json."""

    total: int
    enabled: bool = True
    bar: Any = None
    counts: dict[str, int] = field(default_factory=dict)
    best_psnr_db: float | None = None

    def __post_init__(self) -> None:
        if self.enabled:
            from tqdm import tqdm

            self.bar = tqdm(total=self.total, desc="search", unit="trial", file=sys.stderr,
                            dynamic_ncols=True)

    def update(self, study: optuna.Study, objective_fields: list[str]) -> None:
        trials = study.get_trials(deepcopy=False)
        done = counted_trials(trials)
        self.counts = {}
        for t in trials:
            s = status_of(t)
            self.counts[s] = self.counts.get(s, 0) + 1
        feasible = [t for t in trials if status_of(t) == "complete"]
        psnrs = [t.user_attrs.get("psnr_y_db") for t in feasible]
        psnrs = [p for p in psnrs if isinstance(p, int | float)]
        self.best_psnr_db = max(psnrs) if psnrs else None
        front = _front_size(feasible, objective_fields)
        if self.bar is not None:
            self.bar.n = min(done, self.total)
            best = f"{self.best_psnr_db:.2f}dB" if self.best_psnr_db is not None else "-"
            self.bar.set_postfix_str(
                f"feasible={len(feasible)} infeasible={self.counts.get('infeasible', 0)} "
                f"front={front} best={best}", refresh=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _front_size(trials: list, fields: list[str]) -> int:
    pts = []
    for t in trials:
        v = [t.user_attrs.get(f) for f in fields]
        if all(isinstance(x, int | float) for x in v):
            pts.append([-v[0], *v[1:]])
    return int((nondominated_ranks(np.array(pts)) == 0).sum()) if pts else 0


@dataclass
class SearchRun:
    """One worker's search over a study; ``run()`` returns when the study has ``trials`` done."""

    study: optuna.Study
    space: SearchSpace
    budgets: Budgets
    evaluator: Evaluator
    objectives: list[tuple[str, str]]
    trials: int
    minutes: float | None = None
    seed: int = 0
    pruner: ParetoSuccessiveHalving | None = None
    progress: bool = True
    stale_grace_s: float = 600.0
    started: float = field(default_factory=time.monotonic)
    overhead_s: float = 0.0  # sampler, storage and bookkeeping: neither profiling nor training
    profile_s: float = 0.0  # counting, latency and memory measurement before training
    trained_s: float = 0.0

    @property
    def fields(self) -> list[str]:
        return [f for f, _ in self.objectives]

    def _deadline_passed(self) -> bool:
        return self.minutes is not None and time.monotonic() - self.started > 60 * self.minutes

    def run(self) -> None:
        recover_stale_trials(self.study, self.stale_grace_s)
        bar = Progress(self.trials, enabled=self.progress)
        idle = 0
        try:
            bar.update(self.study, self.fields)
            while not self._deadline_passed():
                trials = self.study.get_trials(deepcopy=False)
                running = [t for t in trials if t.state == TrialState.RUNNING]
                if counted_trials(trials) + len(running) >= self.trials:
                    if not settle_unclaimed(self.study, self.stale_grace_s, running):
                        break
                    continue
                outcome = self._one_trial()
                idle = 0 if outcome in ("complete", "pruned", "failed") else idle + 1
                bar.update(self.study, self.fields)
                if idle >= MAX_IDLE_PROPOSALS:
                    raise UserError(
                        f"{idle} proposals in a row were infeasible or already evaluated: the "
                        f"space is exhausted or the budget ({self.budgets.describe()}) is too "
                        "tight for it")
        finally:
            bar.close()

    # ---- one trial ------------------------------------------------------------------------
    def _one_trial(self) -> str:
        t0 = time.perf_counter()
        trial = self.study.ask()
        trial.set_user_attr("worker", worker_id())
        trial.set_user_attr("heartbeat", time.time())
        if self._total_reached_before(trial.number):
            return self._tell_surplus(trial)
        spec = self.space.suggest(trial)
        outcome, _, costs = self.screen(trial, spec)
        if outcome is not None:
            if outcome == "infeasible":
                self.overhead_s += time.perf_counter() - t0 - costs_profiled(costs)
            return outcome
        assert costs is not None
        profiled = costs_profiled(costs)
        cost_vector = [float(costs[f]) for f in self.fields[1:] if costs.get(f) is not None]
        curve: list[list[float]] = []
        pruned_at: list[int] = []

        def report(step: int, psnr_db: float) -> bool:
            curve.append([step, psnr_db])
            trial.set_user_attr("intermediate", curve)
            trial.set_user_attr("heartbeat", time.time())
            if self.pruner is None or not math.isfinite(psnr_db):
                return False
            decision = self.pruner.decide(step, psnr_db, cost_vector,
                                          self.peers_at(step, trial.number))
            if decision is not None and decision.prune:
                pruned_at.append(step)
                return True
            return False

        t_train = time.perf_counter()
        seed = key_seed(spec.key(), self.seed)  # per net, so a retried trial resumes its checkpoint
        outcome = self.evaluator.train(spec, seed=seed, report=report)
        t1 = time.perf_counter()
        trial.set_user_attr("train_seconds", outcome.train_seconds)
        trial.set_user_attr("eval_seconds", outcome.eval_seconds)
        trial.set_user_attr("steps", outcome.steps)
        trial.set_user_attr("ssim_y", outcome.ssim_y)
        trial.set_user_attr("psnr_y_db", outcome.psnr_y_db)
        if outcome.status == "pruned" or pruned_at:
            saved = max(0, self.evaluator.total_steps - outcome.steps)
            trial.set_user_attr("status", "pruned")
            trial.set_user_attr("steps_saved", saved)
            self.study.tell(trial, state=TrialState.PRUNED)
            status = "pruned"
        elif outcome.status == "complete" and outcome.psnr_y_db is not None:
            trial.set_user_attr("curve", [list(p) for p in outcome.curve])
            trial.set_user_attr("status", "complete")
            self.study.tell(trial, self.objective_values(outcome.psnr_y_db, costs))
            status = "complete"
        else:
            trial.set_user_attr("status", "failed")
            trial.set_user_attr("failure", outcome.message or outcome.status)
            self.study.tell(trial, state=TrialState.FAIL)
            status = "failed"
        trained = outcome.train_seconds + outcome.eval_seconds
        self.trained_s += trained
        # before training (less profiling), after it, and whatever the trainer did not count
        self.overhead_s += (t_train - t0 - profiled) + (time.perf_counter() - t1) + max(
            0.0, (t1 - t_train) - trained)
        return status

    def _total_reached_before(self, number: int) -> bool:
        """Another worker asked between our count and our ask: trials before ours already make
        the total (counted, or running and not stale)."""
        earlier = [t for t in self.study.get_trials(deepcopy=False) if t.number < number]
        running = sum(1 for t in earlier if t.state == TrialState.RUNNING)
        return counted_trials(earlier) + running >= self.trials

    def _tell_surplus(self, trial: optuna.Trial) -> str:
        """A proposal asked after other workers' trials already make the total: nothing was
        sampled or trained. Its status is ``surplus`` (not ``failed``: nothing went wrong), it is
        told FAIL so samplers ignore it, and it is neither counted nor retried."""
        trial.set_user_attr("status", "surplus")
        trial.set_user_attr("retried", True)  # never retried by stale recovery
        trial.set_user_attr("failure", "not needed: other workers reached the study's total")
        self.study.tell(trial, state=TrialState.FAIL)
        return "surplus"

    def screen(self, trial: optuna.Trial, spec: NetSpec
               ) -> tuple[str | None, dict[str, Any], dict[str, Any] | None]:
        """Record a proposal before any training: its identity, then (unless its key was
        already evaluated) its costs and constraints. Returns (outcome, attrs, costs): outcome
        ``duplicate`` or ``infeasible`` when the trial was told here, None when it is to be
        trained; costs is None for a duplicate. Both backends (Optuna, Ray) call this."""
        key = spec.key()
        attrs: dict[str, Any] = {"key": key, "spec": json.dumps(spec.to_dict()),
                                 "scale": spec.scale, "proxy": self.evaluator.proxy_name}
        for k, v in attrs.items():
            trial.set_user_attr(k, v)
        earlier = self._earlier_with_key(key, trial.number)
        if earlier is not None:
            return self._tell_duplicate(trial, earlier), attrs, None
        costs = self.evaluator.costs(spec, self.budgets)
        self.profile_s += costs_profiled(costs)
        violations = self.budgets.violations(costs)
        for name, value in self.budgets.constraint_values(costs).items():
            trial.set_constraint(name, value)
        for k, v in costs.items():
            trial.set_user_attr(k, v)
        trial.set_user_attr("violations", violations)
        if violations:
            trial.set_user_attr("status", "infeasible")
            trial.set_user_attr("psnr_y_db", None)
            self.study.tell(trial, self.objective_values(None, costs))
            return "infeasible", attrs, costs
        return None, attrs, costs

    def objective_values(self, psnr_db: float | None, costs: Mapping[str, Any]) -> list[float]:
        """The values told to Optuna, in objective order (an unknown cost is the worst value)."""
        out = []
        for f, direction in self.objectives:
            if f == "psnr_y_db":
                out.append(0.0 if psnr_db is None else float(psnr_db))
            else:
                v = costs.get(f)
                out.append(float(v) if v is not None else (math.inf if direction == "minimize"
                                                            else -math.inf))
        return out

    def _earlier_with_key(self, key: str, number: int) -> optuna.trial.FrozenTrial | None:
        for t in self.study.get_trials(deepcopy=False):
            if t.number != number and t.user_attrs.get("key") == key and status_of(t) in (
                    "complete", "pruned", "failed", "infeasible", "running"):
                if t.user_attrs.get("retried"):
                    continue
                return t
        return None

    def _tell_duplicate(self, trial: optuna.Trial, earlier: optuna.trial.FrozenTrial) -> str:
        trial.set_user_attr("status", "duplicate")
        trial.set_user_attr("duplicate_of", earlier.number)
        for k in ("params", "macs", "flops", "latency_ms", "latency_source", "peak_memory_mib",
                  "psnr_y_db", "ssim_y", "violations"):
            if k in earlier.user_attrs:
                trial.set_user_attr(k, earlier.user_attrs[k])
        if earlier.state == TrialState.COMPLETE and earlier.values is not None:
            for name, value in (earlier.constraints or {}).items():
                trial.set_constraint(name, value)
            self.study.tell(trial, list(earlier.values))
        else:
            self.study.tell(trial, state=TrialState.PRUNED)
        return "duplicate"

    def peers_at(self, step: int, number: int) -> list[tuple[float, list[float]]]:
        """(PSNR, costs) at ``step`` of every other trial that reached it (the pruner's peers)."""
        peers = []
        for t in self.study.get_trials(deepcopy=False):
            if t.number == number:
                continue
            curve = t.user_attrs.get("intermediate") or []
            at = [p for s, p in curve if s == step]
            if not at:
                continue
            costs = [t.user_attrs.get(f) for f in self.fields[1:]]
            if any(c is None for c in costs):
                continue
            peers.append((float(at[0]), [float(c) for c in costs]))
        return peers
