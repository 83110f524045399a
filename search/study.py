"""Resumable Optuna studies: storage, samplers, study settings, trial accounting, stale trials.

Storage URLs: ``journal:///path/study.log`` (the default; safe with several processes),
``sqlite:///path/study.db`` or ``postgresql://user:pass@host/db`` (three slashes then the path, as
in SQLAlchemy URLs, so an absolute path has four). Opening goes through ``reports.storage``,
which reports a corrupt file and never overwrites it.
"""

from __future__ import annotations

import json
import os
import socket
import time
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from blocks.errors import UserError
from blocks.registry import Registry
from reports.errors import ReportError
from reports.storage import open_storage

SAMPLERS: Registry[Callable[[int | None], optuna.samplers.BaseSampler]] = Registry("sampler")


def _tpe(seed: int | None) -> optuna.samplers.BaseSampler:
    with warnings.catch_warnings():  # `group` is experimental; it is what conditional spaces need
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.samplers.TPESampler(seed=seed, multivariate=True, group=True,
                                          constant_liar=True, n_startup_trials=5)


SAMPLERS.add("tpe", _tpe)
SAMPLERS.add("nsga2", lambda seed: optuna.samplers.NSGAIISampler(seed=seed, population_size=8))
SAMPLERS.add("gp", lambda seed: optuna.samplers.GPSampler(seed=seed, n_startup_trials=5))
SAMPLERS.add("random", lambda seed: optuna.samplers.RandomSampler(seed=seed))

#: statuses that count towards ``--trials`` (a candidate that was trained, or tried to be)
COUNTED = ("complete", "pruned", "failed")
#: study settings that must match when a study is resumed: they say what its results mean (what
#: was searched, how a candidate was costed and scored, which ones are feasible). The others
#: (sampler, seed, pruner; --trials, --minutes, --threads are not stored) may differ: several
#: workers of one study run with different --seed on purpose, and a resumed study may switch its
#: sampler; the stored values are the creating run's.
FIXED_SETTINGS = ("objectives", "space", "space_version", "device", "proxy", "scale", "budgets",
                  "data", "input_hw", "latency_method")
#: latency methods that measure the same thing: the Ray backend times a table of the space on
#: the device before Ray starts instead of each candidate as it comes (search.ray_backend)
_SAME_LATENCY = ({"measured", "table"},)


def make_sampler(name: str, seed: int | None) -> optuna.samplers.BaseSampler:
    """A sampler by name: tpe (multivariate), nsga2, gp or random."""
    return SAMPLERS.get(name)(seed)


def worker_id() -> str:
    """host:pid:start-time of this process, so a dead worker on this host can be recognised."""
    return f"{socket.gethostname()}:{os.getpid()}:{_process_start(os.getpid())}"


def _process_start(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return "?"


def _worker_alive(worker: str) -> bool | None:
    """True/False for a worker on this host; None where it cannot be told (another host)."""
    try:
        host, pid_text, start = worker.rsplit(":", 2)
        pid = int(pid_text)
    except ValueError:
        return None
    if host != socket.gethostname():
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return start == "?" or _process_start(pid) == start


def open_study(
    url: str, name: str, *, directions: list[str], settings: Mapping[str, Any],
    sampler: optuna.samplers.BaseSampler,
) -> optuna.Study:
    """Create the study or load it to resume; a resumed study must have the same settings."""
    try:
        storage = open_storage(url, read_only=False)
        study = optuna.create_study(
            study_name=name, storage=storage, directions=directions, sampler=sampler,
            load_if_exists=True,
        )
    except ReportError:
        raise
    except Exception as exc:  # noqa: BLE001 - a storage error becomes one line
        raise UserError(f"cannot open study {name!r} in {_mask(url)}: "
                        f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from exc
    attrs = study.user_attrs
    if not attrs:
        for key, value in settings.items():
            study.set_user_attr(key, value)
        return study
    _check_same_settings(name, attrs, settings)
    if list(study.directions) and [d.name.lower() for d in study.directions] != directions:
        raise UserError(f"study {name!r} has directions {study.directions}, not {directions}")
    return study


def check_resume(url: str, name: str, settings: Mapping[str, Any]) -> None:
    """Before any up-front work (the budget check profiles nets): an existing study ``name`` in
    ``url`` must have the same settings. Read-only: a storage or study that does not exist yet,
    or one that cannot be read, is left to ``open_study``."""
    try:
        storage = open_storage(url)
        study = next((s for s in storage.get_all_studies() if s.study_name == name), None)
        attrs = study.user_attrs if study is not None else {}
    except Exception:  # noqa: BLE001 - open_study reports a storage error in one line
        return
    if attrs:
        _check_same_settings(name, attrs, settings)


def _check_same_settings(name: str, attrs: Mapping[str, Any],
                         settings: Mapping[str, Any]) -> None:
    differ = [key for key in FIXED_SETTINGS
              if key in settings and key in attrs and not _same(key, attrs[key], settings[key])]
    if differ:
        raise UserError(
            f"study {name!r} was created with "
            + ", ".join(f"{key}={_shown(attrs[key])} (now {_shown(settings[key])})"
                        for key in differ)
            + "; resume it with the same settings, or use another --study (or --storage)")


def _same(key: str, stored: Any, now: Any) -> bool:
    if key == "latency_method" and isinstance(stored, str) and isinstance(now, str) and any(
            {stored, now} <= same for same in _SAME_LATENCY):
        return True
    return _norm(stored) == _norm(now)


def _norm(value: Any) -> str:
    """A setting as canonical JSON; numbers as floats, so a budget of 8000 is one of 8000.0."""
    return json.dumps(_numbers_as_float(value), sort_keys=True, default=str)


def _numbers_as_float(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, Mapping):
        return {str(k): _numbers_as_float(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_numbers_as_float(v) for v in value]
    return value


def _shown(value: Any) -> str:
    """A setting in an error line: budgets as their active limits (``params=8000``)."""
    if isinstance(value, Mapping):
        active = {k: v for k, v in value.items() if v is not None}
        return "{" + ", ".join(f"{k}={v}" for k, v in active.items()) + "}" if active else "none"
    return repr(value)


def _mask(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
    return url


def status_of(trial: FrozenTrial) -> str:
    """The distillnas status of a trial (``running`` while unfinished)."""
    if trial.state == TrialState.RUNNING:
        return "running"
    if trial.state == TrialState.WAITING:
        return "waiting"
    return str(trial.user_attrs.get("status", "failed" if trial.state == TrialState.FAIL
                                    else trial.state.name.lower()))


def is_counted(trial: FrozenTrial) -> bool:
    """A finished trial that counts towards the total (a stale trial that was retried does not)."""
    return status_of(trial) in COUNTED and not trial.user_attrs.get("retried", False)


def counted_trials(trials: list[FrozenTrial]) -> int:
    """Finished trials that count towards the total (``is_counted``)."""
    return sum(1 for t in trials if is_counted(t))


#: Optuna's ask writes a RUNNING trial, and the worker records itself on it right after
#: (``worker``): a kill in between (milliseconds; seen in CI) leaves a trial that names no worker.
#: Once it is this old it is an orphan. The Ray driver records its worker as soon as the space
#: has been sampled, well within this.
ORPHAN_GRACE_S = 60.0


def unclaimed_age_s(trial: FrozenTrial, now: float | None = None) -> float | None:
    """Seconds since a RUNNING trial that names no worker started; None for any other."""
    if trial.state != TrialState.RUNNING or "worker" in trial.user_attrs:
        return None
    if trial.datetime_start is None:
        return None
    return (now or time.time()) - trial.datetime_start.timestamp()


def is_stale(trial: FrozenTrial, grace_s: float, now: float | None = None) -> bool:
    """A RUNNING trial whose worker is dead (same host), whose heartbeat is older than grace, or
    that names no worker and is older than ``ORPHAN_GRACE_S`` (killed between ask and claim)."""
    if trial.state != TrialState.RUNNING:
        return False
    if "worker" not in trial.user_attrs:
        age = unclaimed_age_s(trial, now)
        return age is not None and age > ORPHAN_GRACE_S
    alive = _worker_alive(str(trial.user_attrs.get("worker", "")))
    if alive is False:
        return True
    beat = trial.user_attrs.get("heartbeat")
    if alive is None and isinstance(beat, int | float):
        return (now or time.time()) - beat > grace_s
    return False


def settle_unclaimed(study: optuna.Study, grace_s: float = 600.0,
                     running: list[FrozenTrial] | None = None) -> bool:
    """Running trials that name no worker: a run killed between Optuna's ask and its claim
    leaves such a trial, which never finishes and keeps the study one trial short. Recover
    those old enough to tell (``ORPHAN_GRACE_S``), else wait a little (a live worker claims its
    trial within milliseconds). True when some trial was unclaimed (count again), False when
    every running trial names its worker. ``running``: the running trials if the caller has
    just read them (saves a storage read)."""
    if running is None:
        running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    ages = [a for t in running if (a := unclaimed_age_s(t)) is not None]
    if not ages:
        return False
    if max(ages) > ORPHAN_GRACE_S:
        recover_stale_trials(study, grace_s)
    else:
        time.sleep(min(1.0, ORPHAN_GRACE_S - max(ages) + 0.1))
    return True


def recover_stale_trials(study: optuna.Study, grace_s: float = 600.0) -> list[int]:
    """Mark stale RUNNING trials failed and enqueue their parameters again; returns numbers."""
    recovered = []
    storage = study._storage  # noqa: SLF001 - Optuna has no public API to fail another's trial
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if not is_stale(t, grace_s):
            continue
        try:
            storage.set_trial_user_attr(t._trial_id, "status", "failed")  # noqa: SLF001
            storage.set_trial_user_attr(t._trial_id, "failure", "worker died; retried")  # noqa: SLF001
            storage.set_trial_user_attr(t._trial_id, "retried", True)  # noqa: SLF001
            storage.set_trial_state_values(t._trial_id, TrialState.FAIL)  # noqa: SLF001
        except (RuntimeError, optuna.exceptions.UpdateFinishedTrialError):
            continue  # another worker got there first
        study.enqueue_trial(dict(t.params), user_attrs={"retry_of": t.number},
                            skip_if_exists=False)
        recovered.append(t.number)
    return recovered
