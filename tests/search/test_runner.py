"""The search loop with a stand-in trainer: budgets, duplicates, totals, pruning, stale trials.

The costs are real (parameters and MACs counted on the meta device); only training is replaced
by a deterministic function of the spec, so these tests check the loop's bookkeeping quickly.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys

import optuna
import pytest
from optuna.trial import TrialState

from blocks.errors import UserError
from profiles.counting import count_model
from search.budgets import Budgets
from search.feasibility import check_budget_reachable
from search.pruner import ParetoSuccessiveHalving
from search.runner import SearchRun, TrainOutcome, parse_objectives
from search.space import load_space
from search.study import (
    counted_trials,
    make_sampler,
    open_study,
    recover_stale_trials,
    status_of,
)

optuna.logging.set_verbosity(optuna.logging.WARNING)


class StandInEvaluator:
    """Real costs; 'training' returns a PSNR that grows with log(params) along a fake curve."""

    proxy_name = "stand-in"
    total_steps = 90
    checkpoint_every = 10

    def __init__(self) -> None:
        self.trained: list[str] = []

    def costs(self, spec, budgets):
        c = count_model(spec, (32, 32))
        return {
            "params": c.params,
            "macs": c.macs,
            "flops": c.flops,
            "latency_ms": None,
            "latency_source": "table",
            "peak_memory_mib": None,
            "profile_seconds": 0.0,
        }

    def train(self, spec, *, seed, report):
        self.trained.append(spec.key())
        final = 25 + math.log10(sum(b.channels for b in spec.blocks) * len(spec.blocks))
        steps = 0
        for step in range(self.checkpoint_every, self.total_steps + 1, self.checkpoint_every):
            steps = step
            if report(step, final * step / self.total_steps):
                return TrainOutcome("pruned", final * step / self.total_steps, steps=steps)
        return TrainOutcome("complete", final, ssim_y=0.8, steps=steps, train_seconds=0.01)


def make_run(
    tmp_path,
    *,
    trials,
    budgets=None,
    sampler="random",
    pruner=None,
    seed=0,
    study="s",
    evaluator=None,
):
    space = load_space("demo")
    objectives = parse_objectives("psnr,macs")
    study_obj = open_study(
        f"journal:///{tmp_path}/study.log",
        study,
        directions=[d for _, d in objectives],
        settings={"space": space.name, "objectives": [f for f, _ in objectives]},
        sampler=make_sampler(sampler, seed),
    )
    return SearchRun(
        study_obj,
        space,
        budgets or Budgets(),
        evaluator or StandInEvaluator(),
        objectives,
        trials=trials,
        seed=seed,
        pruner=pruner,
        progress=False,
    )


def test_infeasible_candidates_are_recorded_never_trained(tmp_path) -> None:
    run = make_run(tmp_path, trials=6, budgets=Budgets(params=9_000))
    run.run()
    trials = run.study.get_trials()
    infeasible = [t for t in trials if status_of(t) == "infeasible"]
    trained = set(run.evaluator.trained)
    assert infeasible, "the demo space has nets above 9k params"
    for t in infeasible:
        assert t.user_attrs["key"] not in trained
        assert t.user_attrs["violations"]["params"] == t.user_attrs["params"] - 9_000
        assert t.constraints["params"] > 0
    for t in trials:
        if status_of(t) == "complete":
            assert t.user_attrs["params"] <= 9_000 and t.constraints["params"] <= 0
    assert counted_trials(trials) == 6


def test_same_net_is_never_trained_twice(tmp_path) -> None:
    run = make_run(tmp_path, trials=12)
    run.run()
    assert len(run.evaluator.trained) == len(set(run.evaluator.trained)) == 12
    dups = [t for t in run.study.get_trials() if status_of(t) == "duplicate"]
    for t in dups:
        original = run.study.trials[t.user_attrs["duplicate_of"]]
        assert original.user_attrs["key"] == t.user_attrs["key"]


def test_trials_is_the_study_total_and_rerun_resumes(tmp_path) -> None:
    make_run(tmp_path, trials=3).run()
    again = make_run(tmp_path, trials=5)
    again.run()
    assert counted_trials(again.study.get_trials()) == 5
    assert len(again.evaluator.trained) == 2
    done = make_run(tmp_path, trials=5)
    done.run()
    assert done.evaluator.trained == []


def test_resume_with_other_settings_is_refused(tmp_path) -> None:
    make_run(tmp_path, trials=1).run()
    with pytest.raises(UserError, match="created with space"):
        open_study(
            f"journal:///{tmp_path}/study.log",
            "s",
            directions=["maximize", "minimize"],
            settings={"space": "rfdb"},
            sampler=make_sampler("random", 0),
        )


def test_pareto_pruner_stops_dominated_candidates_and_records_savings(tmp_path) -> None:
    pruner = ParetoSuccessiveHalving.for_steps(90, 10, eta=3, min_peers=2, rung_ratio=3)
    assert pruner.rungs == (10, 30)
    # default spacing halves: an 80-step proxy checkpointed every 20 steps gets two rungs
    assert ParetoSuccessiveHalving.for_steps(80, 20).rungs == (20, 40)
    with pytest.raises(ValueError, match="rung_ratio"):
        ParetoSuccessiveHalving.for_steps(80, 20, rung_ratio=1)
    run = make_run(tmp_path, trials=10, pruner=pruner)
    run.run()
    pruned = [t for t in run.study.get_trials() if status_of(t) == "pruned"]
    assert pruned
    for t in pruned:
        assert t.state == TrialState.PRUNED
        assert t.user_attrs["steps_saved"] > 0
        assert t.user_attrs["intermediate"][-1][0] in pruner.rungs


class CrossingCurvesEvaluator(StandInEvaluator):
    """Curves whose early order is not their final order: wide nets start slow."""

    def train(self, spec, *, seed, report):
        self.trained.append(spec.key())
        width = sum(b.channels for b in spec.blocks)
        final = 25 + math.log10(width * len(spec.blocks))
        lag = width / 8
        steps = 0
        for step in range(self.checkpoint_every, self.total_steps + 1, self.checkpoint_every):
            steps = step
            psnr = final - 3 * math.exp(-step / lag)
            if report(step, psnr):
                return TrainOutcome("pruned", psnr, steps=steps)
        return TrainOutcome("complete", final, ssim_y=0.8, steps=steps, train_seconds=0.01)


def test_pruner_replay_on_an_unpruned_run_gives_the_live_pruned_run(tmp_path) -> None:
    from search.pruner import replay

    pruner = ParetoSuccessiveHalving.for_steps(90, 10, eta=3, min_peers=2)
    runs = {}
    for name, p in (("full", None), ("pruned", pruner)):
        (tmp_path / name).mkdir()
        run = make_run(tmp_path / name, trials=14, pruner=p, evaluator=CrossingCurvesEvaluator())
        run.run()
        runs[name] = [t for t in run.study.get_trials() if status_of(t) in ("complete", "pruned")]
    full, live = runs["full"], runs["pruned"]
    assert [t.user_attrs["key"] for t in full] == [t.user_attrs["key"] for t in live]
    stops = replay(pruner, [(dict(t.user_attrs["intermediate"]), [t.user_attrs["macs"]])
                            for t in full])
    live_stops = [t.user_attrs["intermediate"][-1][0] if status_of(t) == "pruned" else None
                  for t in live]
    assert stops == live_stops
    assert any(s is not None for s in stops) and any(s is None for s in stops)


def test_impossible_budget_names_the_smallest_cost() -> None:
    space = load_space("demo")
    ev = StandInEvaluator()
    with pytest.raises(UserError) as exc:
        check_budget_reachable(space, Budgets(params=100), lambda s: ev.costs(s, None))
    msg = str(exc.value)
    assert "impossible budget" in msg and "params >=" in msg and "budget 100" in msg
    assert check_budget_reachable(space, Budgets(params=10**9), lambda s: ev.costs(s, None)) == {}


@pytest.mark.parametrize("sampler", ["tpe", "nsga2", "gp", "random"])
def test_samplers_run_with_constraints(tmp_path, sampler: str) -> None:
    run = make_run(tmp_path, trials=4, budgets=Budgets(params=12_000), sampler=sampler)
    run.run()
    assert counted_trials(run.study.get_trials()) == 4


def test_same_seed_gives_same_sequence_of_specs(tmp_path) -> None:
    keys = []
    for i in range(2):
        run = make_run(tmp_path / str(i), trials=5, sampler="tpe", seed=7)
        run.run()
        keys.append([t.user_attrs["key"] for t in run.study.get_trials()])
    assert keys[0] == keys[1]


def test_stale_running_trial_of_a_dead_worker_is_failed_and_retried(tmp_path) -> None:
    url = f"journal:///{tmp_path}/study.log"
    study = open_study(
        url, "s", directions=["maximize"], settings={}, sampler=make_sampler("random", 0)
    )
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    ).stdout.strip()
    t = study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})
    from search.study import _process_start  # the same start-time format

    host = os.uname().nodename
    t.set_user_attr("worker", f"{host}:{dead}:{_process_start(int(dead))}")
    alive = study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})
    from search.study import worker_id

    alive.set_user_attr("worker", worker_id())
    assert recover_stale_trials(study) == [t.number]
    trials = study.get_trials()
    assert trials[t.number].state == TrialState.FAIL
    assert trials[t.number].user_attrs["retried"] is True
    assert trials[alive.number].state == TrialState.RUNNING
    waiting = [x for x in trials if x.state == TrialState.WAITING]
    assert len(waiting) == 1
    assert waiting[0].system_attrs["fixed_params"] == trials[t.number].params
    assert waiting[0].user_attrs["retry_of"] == t.number


def test_a_proposal_asked_after_the_total_was_reached_is_surplus_not_failed(tmp_path) -> None:
    """Two workers ask for the last place at once: the later one must not count, and must not
    look like a failure in the trial records (a 1-in-10 flake of the PostgreSQL two-worker test
    counted such a trial as failed)."""
    from reports.records import load_records
    from search.study import worker_id

    evaluator = StandInEvaluator()
    run = make_run(tmp_path, trials=1, evaluator=evaluator)
    other = run.study.ask()  # another live worker's trial, still running: it takes the one place
    other.set_user_attr("worker", worker_id())
    assert run._one_trial() == "surplus"
    trials = run.study.get_trials()
    late = trials[-1]
    assert late.state == TrialState.FAIL
    assert status_of(late) == "surplus"
    assert evaluator.trained == [] and late.params == {}
    assert counted_trials(trials) == 0
    run.study.set_user_attr("objectives", ["psnr_y_db:maximize", "macs:minimize"])  # as the CLI
    records = load_records(f"journal:///{tmp_path}/study.log", "s")
    assert records.set_index("number").loc[late.number, "status"] == "surplus"
    assert "failed" not in set(records["status"])
    assert recover_stale_trials(run.study) == []  # the live worker's trial is left alone


def test_a_trial_killed_between_ask_and_claim_is_recovered_not_left_running(
        tmp_path, monkeypatch) -> None:
    """A run killed right after Optuna's ask, before it recorded its worker on the trial, left
    a RUNNING trial that nothing recovered: every later run of the study counted it as running
    and ended one trial short (a flake of test_fault_matrix's SIGKILL test: 1 failure in 12 runs
    here, and once in a clean-clone CI run)."""
    import time as time_mod

    from search import study as study_mod
    from search.study import is_stale

    run = make_run(tmp_path, trials=2)
    orphan = run.study.ask()  # what the killed run left: RUNNING, no worker, no heartbeat
    frozen = run.study.get_trials()[orphan.number]
    now = time_mod.time()
    assert not is_stale(frozen, 600.0, now=now)  # a live worker may be about to claim it
    assert is_stale(frozen, 600.0, now=now + study_mod.ORPHAN_GRACE_S + 1)
    claimed = run.study.ask()
    claimed.set_user_attr("worker", "elsewhere:1:?")  # another host's worker: never an orphan
    later = run.study.get_trials()[claimed.number]
    assert not is_stale(later, 600.0, now=now + study_mod.ORPHAN_GRACE_S + 1)
    run.study.tell(claimed, state=TrialState.FAIL)
    monkeypatch.setattr(study_mod, "ORPHAN_GRACE_S", 0.3)
    run.run()
    trials = run.study.get_trials()
    assert counted_trials(trials) == 2
    assert trials[orphan.number].state == TrialState.FAIL
    assert trials[orphan.number].user_attrs["retried"] is True
    assert not [t for t in trials if t.state == TrialState.RUNNING]
