"""The trial-record contract and the records table: one row per trial, from Optuna or Ray Tune.

search/ writes every trial's figures as Optuna user attributes named in TRIAL_ATTRS and the
study's settings as study user attributes named in STUDY_ATTRS; this module reads them back into
a pandas table with RECORD_COLUMNS. Counts (params, MACs, FLOPs = 2 x MACs) are raw integers,
MACs are at the device's input size, PSNR/SSIM are on the Y channel.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from reports.errors import ReportError

__all__ = [
    "BUDGET_COLUMNS",
    "COST_COLUMNS",
    "DEFAULT_OBJECTIVES",
    "DIRECTIONS",
    "LATENCY_SOURCES",
    "METRIC_COLUMNS",
    "OPTIONAL_TRIAL_ATTRS",
    "RECORD_COLUMNS",
    "STATUSES",
    "STUDY_ATTRS",
    "TRIAL_ATTRS",
    "load_ray_results",
    "load_records",
    "load_study_attrs",
    "objectives_to_strings",
    "parse_objectives",
    "records_from_trials",
    "to_csv",
    "to_parquet",
    "validate_trial_attrs",
]

# --- the contract -------------------------------------------------------------------------------

STATUSES = ("complete", "pruned", "infeasible", "failed")
"""Values of the `status` trial attribute. search/ may add others (e.g. "duplicate", a candidate
evaluated before; "surplus", a proposal asked after other workers had made the study's total,
so nothing was trained); the table keeps them as they are, and adds "running" for unfinished
trials. Only "complete" rows can be feasible."""

#: search-side statuses of trials told FAIL to Optuna that are not failures
NOT_FAILURES = ("surplus",)

LATENCY_SOURCES = ("measured", "table", "roofline")

TRIAL_ATTRS: dict[str, str] = {
    "key": "str: canonical spec key, e.g. rfdb.c48.dcb.k3-5.esa",
    "spec": "str: JSON of the spec dict",
    "status": "str: one of STATUSES",
    "params": "int: parameter count",
    "macs": "int: multiply-accumulates at the device input size",
    "flops": "int: 2 * macs",
    "latency_ms": "float | None: median latency on the device",
    "latency_source": "str: one of LATENCY_SOURCES",
    "peak_memory_mib": "float | None: peak memory of one forward pass",
    "psnr_y_db": "float | None: Y-channel PSNR under the proxy protocol",
    "ssim_y": "float | None: Y-channel SSIM under the proxy protocol",
    "violations": "dict[str, float]: budget name -> amount over budget; empty if feasible",
    "proxy": "str: proxy training/evaluation protocol name, e.g. quick",
    "train_seconds": "float",
    "eval_seconds": "float",
    "profile_seconds": "float",
    "scale": "int: upscaling factor",
}
"""Trial user attributes written by search/ for every distillnas trial."""

OPTIONAL_TRIAL_ATTRS: dict[str, str] = {
    "intermediate": "list[[step, psnr_y_db]]: learning curve during proxy training",
    "reference": "str: zoo name when the trial is a reference net trained under the same proxy",
}

STUDY_ATTRS: dict[str, str] = {
    "device": "str: device profile name",
    "budgets": 'dict: e.g. {"params": 300000, "macs": 1e10, "latency_ms": 40, "memory_mib": null}',
    "objectives": 'list[str]: e.g. ["psnr_y_db:maximize", "macs:minimize"]',
    "space": "str: search-space name",
    "sampler": "str",
    "proxy": "str: protocol name",
    "seed": "int",
    "scale": "int",
    "data": "str: description of the training/evaluation data",
}
"""Study user attributes. Optional extra: "output_size" = [width, height] of the HR output at
which MACs and latency are measured (used to label axes and to decide whether published
Mult-Adds, counted at 1280x720 output, can share an axis)."""

BUDGET_COLUMNS: dict[str, str] = {
    "params": "params",
    "macs": "macs",
    "flops": "flops",
    "latency_ms": "latency_ms",
    "memory_mib": "peak_memory_mib",
}
"""Budget name (as in the study's `budgets` and a trial's `violations`) -> record column."""

METRIC_COLUMNS = ("psnr_y_db", "ssim_y", "params", "macs", "flops", "latency_ms", "peak_memory_mib")
COST_COLUMNS = ("params", "macs", "flops", "latency_ms", "peak_memory_mib")
DIRECTIONS = ("minimize", "maximize")
DEFAULT_OBJECTIVES: dict[str, str] = {"psnr_y_db": "maximize", "macs": "minimize"}

RECORD_COLUMNS = (
    "number",
    "key",
    "spec",
    "status",
    "params",
    "macs",
    "flops",
    "latency_ms",
    "latency_source",
    "peak_memory_mib",
    "psnr_y_db",
    "ssim_y",
    "violations",
    "proxy",
    "scale",
    "device",
    "study",
    "feasible",
    "reference",
    "train_seconds",
    "eval_seconds",
    "profile_seconds",
    "intermediate",
    "datetime_start",
    "datetime_complete",
    "duration_s",
)
"""Columns of the records table, in order. `feasible` = status complete and no violations."""

_INT_COLUMNS = ("number", "params", "macs", "flops", "scale")
_FLOAT_COLUMNS = (
    "latency_ms",
    "peak_memory_mib",
    "psnr_y_db",
    "ssim_y",
    "train_seconds",
    "eval_seconds",
    "profile_seconds",
    "duration_s",
)


def parse_objectives(objectives: Sequence[str] | Mapping[str, str] | None) -> dict[str, str]:
    """{"psnr_y_db": "maximize", ...} from a mapping or ["psnr_y_db:maximize", ...].

    None gives DEFAULT_OBJECTIVES; unknown names or directions raise ReportError.
    """
    if objectives is None:
        return dict(DEFAULT_OBJECTIVES)
    if isinstance(objectives, Mapping):
        pairs = list(objectives.items())
    else:
        pairs = []
        for item in objectives:
            name, sep, direction = str(item).partition(":")
            if not sep:
                raise ReportError(f"objective {item!r} must read NAME:minimize or NAME:maximize")
            pairs.append((name.strip(), direction.strip()))
    if not pairs:
        raise ReportError("no objectives given")
    out: dict[str, str] = {}
    for name, direction in pairs:
        if name not in METRIC_COLUMNS:
            raise ReportError(f"unknown objective {name!r}; known: {', '.join(METRIC_COLUMNS)}")
        if direction not in DIRECTIONS:
            raise ReportError(
                f"objective {name!r}: direction {direction!r} is not one of {DIRECTIONS}"
            )
        if name in out:
            raise ReportError(f"objective {name!r} given twice")
        out[name] = direction
    return out


def objectives_to_strings(objectives: Mapping[str, str]) -> list[str]:
    """["psnr_y_db:maximize", ...]: the form stored in the study's `objectives` attribute."""
    return [f"{name}:{direction}" for name, direction in parse_objectives(objectives).items()]


def validate_trial_attrs(attrs: Mapping[str, Any], *, strict: bool = False) -> None:
    """Raise ReportError if a trial's user attributes break the contract (missing or bad values);
    `strict` also rejects attributes outside TRIAL_ATTRS and OPTIONAL_TRIAL_ATTRS (typos)."""
    missing = [name for name in TRIAL_ATTRS if name not in attrs]
    if missing:
        raise ReportError(f"trial attributes missing: {', '.join(missing)}")
    unknown = [n for n in attrs if n not in TRIAL_ATTRS and n not in OPTIONAL_TRIAL_ATTRS]
    if strict and unknown:
        raise ReportError(f"unknown trial attributes: {', '.join(sorted(unknown))}")
    if attrs["status"] not in STATUSES:
        raise ReportError(f"status {attrs['status']!r} is not one of {', '.join(STATUSES)}")
    if attrs["latency_source"] not in LATENCY_SOURCES:
        raise ReportError(
            f"latency_source {attrs['latency_source']!r} is not one of {', '.join(LATENCY_SOURCES)}"
        )
    for name in ("params", "macs", "flops", "scale"):
        if isinstance(attrs[name], bool) or not isinstance(attrs[name], int):
            raise ReportError(f"{name} must be an int, got {attrs[name]!r}")
    if attrs["flops"] != 2 * attrs["macs"]:
        raise ReportError(f"flops must be 2 * macs ({2 * attrs['macs']}), got {attrs['flops']}")
    if not isinstance(attrs["violations"], Mapping):
        raise ReportError("violations must be a dict name -> amount over budget")
    unknown_budgets = [n for n in attrs["violations"] if n not in BUDGET_COLUMNS]
    if unknown_budgets:
        raise ReportError(
            f"unknown budget in violations: {', '.join(unknown_budgets)}; "
            f"known: {', '.join(BUDGET_COLUMNS)}"
        )
    try:
        json.loads(attrs["spec"])
    except (TypeError, json.JSONDecodeError) as exc:
        raise ReportError(f"spec must be a JSON string: {exc}") from None


# --- building the table -------------------------------------------------------------------------


def records_from_trials(
    trials: Iterable[Any],
    *,
    study_name: str = "",
    study_attrs: Mapping[str, Any] | None = None,
    objectives: Sequence[str] | Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """The records table from Optuna FrozenTrials; objective values fill missing metric attrs.

    `objectives` defaults to the study's `objectives` attribute; a trial without a `psnr_y_db`
    attribute but with `values` takes the value at that objective's position.
    """
    attrs = dict(study_attrs or {})
    names = list(parse_objectives(objectives or attrs.get("objectives")).keys())
    rows = []
    for trial in trials:
        user = dict(trial.user_attrs)
        values = trial.values if trial.values is not None else []
        if trial.state.name == "COMPLETE":
            for name, value in zip(names, values, strict=False):
                # only where the attribute is absent: search/ records an explicit None for a
                # trial it never trained and tells Optuna a placeholder value for it
                if name not in user and value is not None and math.isfinite(value):
                    user[name] = value
        row = _row(user, state=trial.state.name, study_attrs=attrs, study_name=study_name)
        row["number"] = trial.number
        row["datetime_start"] = trial.datetime_start
        row["datetime_complete"] = trial.datetime_complete
        if trial.datetime_start is not None and trial.datetime_complete is not None:
            row["duration_s"] = (trial.datetime_complete - trial.datetime_start).total_seconds()
        rows.append(row)
    return _frame(rows)


def load_records(url: str, study_name: str) -> pd.DataFrame:
    """The records table of study `study_name` in the storage at `url` (read-only)."""
    from reports.storage import load_study

    study = load_study(url, study_name)
    return records_from_trials(
        study.get_trials(deepcopy=False), study_name=study_name, study_attrs=study.user_attrs
    )


def load_study_attrs(url: str, study_name: str) -> dict[str, Any]:
    """The study's user attributes (device, budgets, objectives, ...), plus `study` = its name."""
    from reports.storage import load_study

    study = load_study(url, study_name)
    attrs = dict(study.user_attrs)
    attrs.setdefault("study", study_name)
    return attrs


def load_ray_results(path: str | Path, *, device: str | None = None) -> pd.DataFrame:
    """The records table from a Ray Tune experiment folder: the last line of each result.json.

    Each reported dict carries the TRIAL_ATTRS fields plus `config`; a trial whose result.json
    has no readable line (killed before its first report) is recorded with status "failed".
    """
    root = Path(path)
    if not root.exists():
        raise ReportError(f"no Ray Tune results at {root}")
    files = sorted(root.rglob("result.json")) if root.is_dir() else [root]
    if not files:
        raise ReportError(f"no result.json under {root}: not a Ray Tune experiment folder")
    study = root.name if root.is_dir() else root.parent.parent.name
    rows = []
    for number, file in enumerate(files):
        last = _last_json_line(file)
        state = "COMPLETE" if last is not None else "FAIL"
        last = last or {}
        if device is not None:
            last.setdefault("device", device)
        row = _row(last, state=state, study_attrs={"device": last.get("device")}, study_name=study)
        row["number"] = number
        row["trial_id"] = last.get("trial_id", file.parent.name)
        if "timestamp" in last:
            end = pd.Timestamp(float(last["timestamp"]), unit="s")
            total = float(last.get("time_total_s", math.nan))
            row["datetime_complete"] = end
            if math.isfinite(total):
                row["datetime_start"] = end - pd.Timedelta(seconds=total)
                row["duration_s"] = total
        rows.append(row)
    return _frame(rows)


def _last_json_line(file: Path) -> dict[str, Any] | None:
    try:
        lines = file.read_bytes().splitlines()
    except OSError as exc:
        raise ReportError(f"cannot read {file}: {exc.strerror or exc}") from exc
    for line in reversed(lines):
        try:
            value = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError):
            continue  # a partial last line from a trial killed mid-write
        if isinstance(value, dict):
            return value
    return None


def _row(
    user: Mapping[str, Any], *, state: str, study_attrs: Mapping[str, Any], study_name: str
) -> dict[str, Any]:
    """One record from a trial's attributes and Optuna state (COMPLETE, PRUNED, FAIL, ...)."""
    violations = user.get("violations") or {}
    if isinstance(violations, str):
        violations = json.loads(violations) if violations.strip() else {}
    status = _status(user.get("status"), state)
    row: dict[str, Any] = {name: user.get(name) for name in RECORD_COLUMNS}
    row.update({k: v for k, v in user.items() if k not in row})  # search-side extras, as they are
    spec = row["spec"]
    if spec is not None and not isinstance(spec, str):
        row["spec"] = json.dumps(spec, sort_keys=True)
    row["status"] = status
    row["violations"] = dict(violations)
    row["feasible"] = status == "complete" and not violations
    row["scale"] = user.get("scale", study_attrs.get("scale"))
    row["proxy"] = user.get("proxy", study_attrs.get("proxy"))
    row["device"] = user.get("device") or study_attrs.get("device")
    row["study"] = study_name
    if row["flops"] is None and row["macs"] is not None:
        row["flops"] = 2 * int(row["macs"])
    return row


def _status(attr: Any, state: str) -> str:
    """Optuna's state wins where the trial failed or is unfinished; otherwise the attribute."""
    if state == "FAIL":
        return str(attr) if attr in NOT_FAILURES else "failed"
    if state in ("RUNNING", "WAITING"):
        return "running"
    if state == "PRUNED":
        return str(attr) if attr in ("infeasible", "duplicate") else "pruned"
    if attr is None:
        return "complete"
    return str(attr)  # STATUSES, or a search-side one such as "duplicate": never feasible


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    df = pd.DataFrame(rows)
    for name in RECORD_COLUMNS:
        if name not in df.columns:
            df[name] = None
    extra = [c for c in df.columns if c not in RECORD_COLUMNS]
    df = df[list(RECORD_COLUMNS) + extra]
    for name in _INT_COLUMNS:
        df[name] = pd.to_numeric(df[name], errors="coerce").astype("Int64")
    for name in _FLOAT_COLUMNS:
        df[name] = pd.to_numeric(df[name], errors="coerce").astype("float64")
    for name in ("datetime_start", "datetime_complete"):
        df[name] = pd.to_datetime(df[name])
    df["feasible"] = df["feasible"].astype(bool)
    if len(df):
        df = df.sort_values("number", kind="stable").reset_index(drop=True)
    return df


# --- export -------------------------------------------------------------------------------------


def _flat(df: pd.DataFrame) -> pd.DataFrame:
    """A copy with dict/list columns as JSON strings, so CSV and Parquet hold plain values."""
    out = df.copy()
    for name in out.columns:
        if out[name].dtype == object and any(isinstance(v, (dict, list)) for v in out[name]):
            out[name] = [
                json.dumps(_plain(v)) if isinstance(v, (dict, list)) else v for v in out[name]
            ]
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def to_csv(df: pd.DataFrame, path: str | Path) -> Path:
    """Write the records table as CSV (dict/list cells as JSON strings); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _flat(df).to_csv(path, index=False)
    return path


def to_parquet(df: pd.DataFrame, path: str | Path) -> Path:
    """Write the records table as Parquet (needs pyarrow: pip install distillnas[parquet])."""
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        raise ReportError("Parquet export needs pyarrow: pip install distillnas[parquet]") from None
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _flat(df).to_parquet(path, index=False)
    return path
