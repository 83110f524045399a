"""A Pareto-aware successive-halving pruner for (multi-objective) proxy training.

Optuna cannot prune multi-objective studies (optuna issue #3450): ``Trial.report`` raises there.
This pruner works on the intermediate Y-PSNR each trial records at fixed rungs (training steps).
At a rung, the candidate and every other trial that reached the same rung are ranked by
non-dominated sorting on (intermediate PSNR: maximise, each cost objective: minimise); ties in
rank are broken by PSNR. The best ceil(n / eta) continue. A candidate outside them stops there,
but only if at least ``min_dominators`` peers dominate it (higher-or-equal PSNR at no higher
cost), and only once ``min_peers`` peers reached the rung. With no cost objective this is plain
successive halving on PSNR.

Rungs (``for_steps``) are spaced geometrically by ``rung_ratio`` (default 2: 1/2, 1/4, ... of the
training), separately from ``eta``. Spacing them by eta = 3 left an 80-step proxy with a single
rung at step 20 and saved 19% of the training steps; rungs at 20 and 40 save 50-58% of the
steps on the same 40 proposals (random sampler, 8 seeds, benchmarks/search_quality.py part3),
but keep the hypervolume within 2% on only 3 of the 8 (0.863-0.992): front nets score low at a
rung (mostly step 20, sometimes 40) and are stopped there. Early checkpoint scores rank the final
scores poorly on the 80-step demo proxy (Kendall tau 0.04-0.31 at step 20 over 12 runs,
measured by the same benchmark), and scoring the checkpoints on full images instead of crops
does not change that. Under the 300-step ``quick`` proxy (rungs 50/100/150; three random
searches of 40, replayed) the default saves 57-62% of the steps at 0.78-0.89 of the hypervolume,
and without its first rung 43-46% at 0.90-1.00 (``part3 --proxy quick``); at eta 2 that setting
met the goal on the two searches it was chosen on and missed it on a third (37% at 0.899).
Reading each rung score as a forecast of the final one (``GainModel``: final PSNR fitted on the
rung score and log10 MACs over the search's finished trials) lifts the step-50 rank agreement
under ``quick`` from 0.19-0.27 to 0.45-0.53 but not the front: replayed with the default rungs
it meets the goal on 2 of 12 demo searches and 1 of 3 ``quick`` ones (without it: 4 of 12 and
0 of 3). It is a replay setting only; the search loop does not use it. Nor does a compute
budget rescue the default: replayed down each random search's continued proposal stream until it
has spent 60% of the unpruned search's steps (``part3 --extend``), it tries 48-67 nets instead
of 40 and keeps 0.86-1.00 of the hypervolume on the demo proxy (3 of 8 within 2%) and 0.78-0.92
under ``quick`` (0 of 3). A rung at step 0 scored by NASWOT at initialisation (eta 2; the
replay takes any rung list, step 0 included), fixed on the three ``quick`` searches and then
replayed on the 12 demo ones, meets the goal on 5 of 12 (benchmarks/prescreen_replay.py).
Nor is the cheap proxies' noise the whole reason: on the long-training curves of issue 8's 31
reference nets (each trained until flat; rungs 1000/2000/4000 of 8000, eta 3; 1000 random
orders, benchmarks/pruner_reference_replay.py) the default rule meets the goal in 16.9% of the
orders (median 55% saved at 0.957): front nets score below cheaper ones at the early rungs.
Under ``--proxy supernet`` (a 200-step fine-tune of inherited weights, which has no checkpoint
before its end, so the search runs it unpruned) a rung at step 0 on the inherited weights' score
meets the goal in 26.1% of 1000 orders of 26 covered nets (benchmarks/pruner_supernet_replay.py),
and a rung at fine-tune step 20 (eta 4) in 15.3% (benchmarks/pruner_supernet_rungs.py, which
scores every 10th step of the search's own fine-tune): the seed-0 supernet's ranking keeps
changing until the fine-tune's end (tau with the final 0.47 at step 20, 0.80 at step 150).
Against the finals of the cosine-ended fine-tune the search now ships, the step-0 rung meets the
goal in the same 26.1% of the orders (benchmarks/pruner_supernet_cosine.py; on 300 of them the
very orders that met it before): the orders that miss are those where the rung stops a front
net, whichever way the fine-tune ends.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from search.fidelity import LinearBlend


def dominates(a: Sequence[float], b: Sequence[float]) -> bool:
    """a dominates b when every entry is <= and one is < (all entries minimised)."""
    return all(x <= y for x, y in zip(a, b, strict=True)) and any(
        x < y for x, y in zip(a, b, strict=True)
    )


def nondominated_ranks(points: np.ndarray) -> np.ndarray:
    """Rank 0 for the non-dominated set, 1 for the next front, ... (all columns minimised)."""
    n = len(points)
    ranks = np.full(n, -1)
    remaining = set(range(n))
    rank = 0
    while remaining:
        front = [i for i in remaining
                 if not any(dominates(points[j], points[i]) for j in remaining if j != i)]
        for i in front:
            ranks[i] = rank
        remaining -= set(front)
        rank += 1
    return ranks


#: the share 1/eta of the trials at a rung that always continues (``search --prune-eta``)
DEFAULT_ETA = 3.0
#: peers that must dominate a candidate before it may stop (``search --prune-dominators``)
DEFAULT_MIN_DOMINATORS = 1


@dataclass(frozen=True)
class RungDecision:
    rung_step: int
    peers: int
    dominators: int
    keep: int
    prune: bool


@dataclass(frozen=True)
class ParetoSuccessiveHalving:
    """Decide at each rung step whether a candidate stops; see the module docstring."""

    rungs: tuple[int, ...]
    eta: float = DEFAULT_ETA
    min_peers: int = 3
    min_dominators: int = DEFAULT_MIN_DOMINATORS

    def __post_init__(self) -> None:
        if self.eta <= 1:
            raise ValueError("eta must be > 1")
        if self.min_dominators < 1:
            raise ValueError("min_dominators must be >= 1")
        if list(self.rungs) != sorted(set(self.rungs)):
            raise ValueError("rungs must be distinct ascending steps")

    @classmethod
    def for_steps(cls, total_steps: int, checkpoint_every: int, *, eta: float = DEFAULT_ETA,
                  min_peers: int = 3, rung_ratio: float = 2.0,
                  min_dominators: int = DEFAULT_MIN_DOMINATORS) -> ParetoSuccessiveHalving:
        """Rungs at total/rung_ratio^k, snapped to checkpoint steps (the last step is never a
        rung); ``eta`` is the share kept at each rung (the best 1/eta are never stopped)."""
        if rung_ratio <= 1:
            raise ValueError("rung_ratio must be > 1")
        rungs: set[int] = set()
        k = 1
        while True:
            step = int(round(total_steps / rung_ratio**k / checkpoint_every)) * checkpoint_every
            if step < checkpoint_every:
                break
            rungs.add(step)
            k += 1
        rungs.discard(total_steps)
        return cls(tuple(sorted(rungs)), eta=eta, min_peers=min_peers,
                   min_dominators=min_dominators)

    def decide(self, step: int, psnr_db: float, costs: Sequence[float],
               peers: Sequence[tuple[float, Sequence[float]]]) -> RungDecision | None:
        """None off-rung; else the decision for a candidate against peers at the same rung."""
        if step not in self.rungs:
            return None
        if len(peers) < self.min_peers:
            return RungDecision(step, len(peers), 0, len(peers) + 1, False)
        me = [-psnr_db, *costs]
        pts = np.array([me] + [[-p, *c] for p, c in peers], dtype=float)
        ranks = nondominated_ranks(pts)
        order = sorted(range(len(pts)), key=lambda i: (ranks[i], pts[i][0]))
        keep = max(1, math.ceil(len(pts) / self.eta))
        kept = set(order[:keep])
        dominators = sum(dominates(pts[j], pts[0]) for j in range(1, len(pts)))
        prune = 0 not in kept and dominators >= self.min_dominators
        return RungDecision(step, len(peers), dominators, keep, prune)


@dataclass(frozen=True)
class GainModel:
    """Reads a rung score as a forecast of the final one. Early scores rank final ones poorly
    partly by a bias: at a rung, small nets lead, and large ones gain more afterwards. The model
    is a least-squares fit of the final PSNR on the rung score and log10 of each cost, over the
    trials of the same search that trained to the end (their scores at that rung and finals);
    the pruner then compares forecasts instead of rung scores. Until ``min_trials`` finished
    trials have a score at the rung it leaves the scores as they are. Replayed only
    (``replay(..., gain=)``): the live search loop does not use it."""

    min_trials: int = 8

    def fit(self, rows: Sequence[tuple[float, Sequence[float], float]]
            ) -> Callable[[float, Sequence[float]], float] | None:
        """``rows``: (rung score, costs, final score) of finished trials; a forecaster or None."""
        if len(rows) < self.min_trials:
            return None
        blend = LinearBlend.fit([[score, *np.log10(costs)] for score, costs, _ in rows],
                                [final for _, _, final in rows])

        def forecast(score: float, costs: Sequence[float]) -> float:
            return blend.predict([[score, *np.log10(costs)]])[0]

        return forecast


def replay(pruner: ParetoSuccessiveHalving,
           trials: Sequence[tuple[Mapping[int, float], Sequence[float]]], *,
           gain: GainModel | None = None,
           finals: Sequence[float] | None = None) -> list[int | None]:
    """Where each trial of an unpruned, one-worker search would have stopped under ``pruner``.

    ``trials``: (step -> intermediate PSNR, costs) in the order they were trained. Each trial is
    decided against the earlier ones at each rung, with an earlier trial's scores known only up
    to where it would itself have stopped: what the search loop does with the same proposals and
    deterministic training (its training seed is a function of the net's key). Returns the rung
    step each trial stops at, or None for a trial trained to the end. Exact for a sampler whose
    proposals do not depend on the results (random); for TPE it keeps the proposals of the
    unpruned run, which a live pruned run would not.

    ``gain`` (with ``finals``, each trial's final score): every score at a rung is replaced by
    the ``GainModel`` forecast fitted on the earlier trials that trained to the end.
    """
    if gain is not None and (finals is None or len(finals) != len(trials)):
        raise ValueError("a gain model needs the final score of every trial")
    stops: list[int | None] = []
    for i, (curve, costs) in enumerate(trials):
        stop = None
        for step in pruner.rungs:
            if step not in curve:
                break
            earlier = list(zip(trials[:i], stops, strict=True))
            peers = [(float(c[step]), list(k)) for (c, k), s in earlier
                     if step in c and (s is None or step <= s)]
            score = float(curve[step])
            forecast = gain.fit([(float(c[step]), k, float(finals[j]))
                                 for j, ((c, k), s) in enumerate(earlier)
                                 if s is None and step in c]) if gain else None
            if forecast is not None:
                score = forecast(score, costs)
                peers = [(forecast(p, k), k) for p, k in peers]
            decision = pruner.decide(step, score, list(costs), peers)
            if decision is not None and decision.prune:
                stop = step
                break
        stops.append(stop)
    return stops
