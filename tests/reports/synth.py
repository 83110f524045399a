"""Synthetic distillnas studies: real Optuna studies whose trials carry the record contract."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import optuna

from reports.records import validate_trial_attrs

BUDGETS = {"params": 300_000, "macs": 60_000_000_000, "latency_ms": 80.0, "memory_mib": None}
OBJECTIVES = ["psnr_y_db:maximize", "macs:minimize"]
LR_PIXELS = 640 * 360  # x2 to a 1280x720 output


def study_attrs(device: str = "cpu-2core", **extra: Any) -> dict[str, Any]:
    attrs = {
        "device": device,
        "budgets": dict(BUDGETS),
        "objectives": list(OBJECTIVES),
        "space": "rfdn-small",
        "sampler": "nsga2",
        "proxy": "quick",
        "seed": 0,
        "scale": [2],  # search/ stores the space's scales as a list
        "data": "T91 patches -> Set5 (synthetic test records)",
        "input_hw": [360, 640],  # LR height, width: a 1280x720 output at x2
        "latency_method": "table",
    }
    attrs.update(extra)
    return attrs


def trial_attrs(
    rng: np.random.Generator,
    i: int,
    *,
    status: str = "complete",
    latency_per_gmac_ms: float = 1.2,
    reference: str | None = None,
    params: int | None = None,
) -> dict[str, Any]:
    """One trial's user attributes; PSNR grows with log(params) plus noise."""
    if params is None:
        params = int(round(math.exp(rng.uniform(math.log(15_000), math.log(600_000)))))
    macs = params * LR_PIXELS
    latency_ms = macs / 1e9 * latency_per_gmac_ms * float(rng.uniform(0.8, 1.25))
    psnr = 31.0 + 1.6 * math.log10(params / 15_000) + float(rng.normal(0, 0.15))
    violations: dict[str, float] = {}
    for name, column_value in (("params", params), ("macs", macs), ("latency_ms", latency_ms)):
        limit = BUDGETS[name]
        if limit is not None and column_value > limit:
            violations[name] = float(column_value - limit)
    if status == "complete" and violations:
        status = "infeasible"
    # search/ never trains an infeasible candidate; older or Ray studies may have: keep both
    trained = status == "complete" or reference is not None or (status == "infeasible" and i % 2)
    attrs: dict[str, Any] = {
        "key": f"rfdb.c{16 + 8 * (i % 6)}.dcb.k3-5.esa.n{i}",
        "spec": json.dumps({"block": "rfdb", "channels": 16 + 8 * (i % 6), "n": i}),
        "status": status,
        "params": params,
        "macs": macs,
        "flops": 2 * macs,
        "latency_ms": latency_ms,
        "latency_source": "table",
        "peak_memory_mib": 50.0 + params / 10_000,
        "psnr_y_db": psnr if trained else None,
        "ssim_y": (0.90 + 0.02 * math.log10(params / 15_000)) if trained else None,
        "violations": violations,
        "proxy": "quick",
        "train_seconds": 30.0,
        "eval_seconds": 2.0,
        "profile_seconds": 1.0,
        "scale": 2,
        "intermediate": [[50, psnr - 1.0], [100, psnr - 0.3]] if trained else [],
    }
    if reference is not None:
        attrs["reference"] = reference
    validate_trial_attrs(attrs)
    return attrs


def make_study(
    storage: str | optuna.storages.BaseStorage,
    name: str = "demo",
    *,
    n_trials: int = 40,
    seed: int = 0,
    device: str = "cpu-2core",
    latency_per_gmac_ms: float = 1.2,
    references: bool = True,
) -> optuna.Study:
    """A finished two-objective study: n_trials search trials (complete, infeasible trained or
    not, pruned, failed), one duplicate of trial 0, then two zoo references."""
    rng = np.random.default_rng(seed)
    study = optuna.create_study(
        storage=storage, study_name=name, directions=["maximize", "minimize"]
    )
    for key, value in study_attrs(device).items():
        study.set_user_attr(key, value)
    dist = {"n": optuna.distributions.IntDistribution(0, 10_000)}
    for i in range(n_trials):
        status = "pruned" if i % 9 == 4 else "failed" if i == 7 else "complete"
        attrs = trial_attrs(rng, i, status=status, latency_per_gmac_ms=latency_per_gmac_ms)
        state = {
            "pruned": optuna.trial.TrialState.PRUNED,
            "failed": optuna.trial.TrialState.FAIL,
        }.get(attrs["status"], optuna.trial.TrialState.COMPLETE)
        values = None
        if state == optuna.trial.TrialState.COMPLETE:
            # like search/: an untrained trial gets a placeholder 0.0 and psnr_y_db None
            values = [attrs["psnr_y_db"] or 0.0, float(attrs["macs"])]
        study.add_trial(
            optuna.trial.create_trial(
                state=state, values=values, params={"n": i}, distributions=dist, user_attrs=attrs
            )
        )
    first = study.trials[0]  # search/ records a re-proposed key as a duplicate, not retrained
    study.add_trial(
        optuna.trial.create_trial(
            values=first.values,
            params={"n": 0},
            distributions=dist,
            user_attrs={**first.user_attrs, "status": "duplicate", "duplicate_of": 0},
        )
    )
    if references:
        for j, (ref, params) in enumerate((("fsrcnn", 12_000), ("rfdn-proxy", 140_000))):
            attrs = trial_attrs(rng, 1000 + j, reference=ref, params=params)
            attrs["key"] = f"zoo.{ref}"
            study.add_trial(
                optuna.trial.create_trial(
                    values=[attrs["psnr_y_db"], float(attrs["macs"])],
                    params={"n": 1000 + j},
                    distributions=dist,
                    user_attrs=attrs,
                )
            )
    return study
