"""Choosing a model for a device: budgets, a quality floor and a preference, as data.

`select_model` returns a Selection (the chosen record, the runners-up and every qualifying
candidate, each with its margin to every budget and to the quality floor). Training further and
exporting the chosen spec is the `select` command's job (search/ and profiles/), not this one's.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from reports.errors import ReportError
from reports.pareto import knee_point, pareto_front
from reports.records import BUDGET_COLUMNS
from reports.report import json_ready

__all__ = ["PREFERENCES", "Selection", "format_selection", "reference_psnr_db", "select_model"]

PREFERENCES = ("psnr", "latency", "knee")
SHOWN = ("number", "key", "psnr_y_db", "params", "macs", "latency_ms", "peak_memory_mib")


@dataclass(frozen=True)
class Selection:
    """The chosen record, runners-up and all qualifying candidates (ranked), with margins.

    Margin columns: `margin_<budget>` = budget - value (>= 0 means within budget, in the budget's
    unit) and `margin_psnr_db` = psnr_y_db - floor (>= 0 means above the floor).
    """

    chosen: pd.Series
    runners_up: pd.DataFrame
    candidates: pd.DataFrame
    budgets: dict[str, float | None]
    floor_psnr_db: float | None
    prefer: str
    reason: str
    margin_columns: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the chosen row's key, PSNR and costs, margins, runners-up, settings."""
        cols = [*SHOWN, "ssim_y", "flops", "latency_source", "spec", *self.margin_columns]

        def row(r: pd.Series) -> dict[str, Any]:
            return {c: json_ready(r.get(c)) for c in cols if c in r.index}

        return json_ready(
            {
                **row(self.chosen),
                "prefer": self.prefer,
                "reason": self.reason,
                "budgets": self.budgets,
                "floor_psnr_db": self.floor_psnr_db,
                "runners_up": [row(r) for _, r in self.runners_up.iterrows()],
            }
        )


def reference_psnr_db(df: pd.DataFrame, name: str) -> float:
    """Mean Y-PSNR of the zoo reference `name` trained under the study's proxy (rows whose
    `reference` column is `name`); unknown names list the known ones."""
    refs = df[df["reference"].notna()] if "reference" in df.columns else df.iloc[0:0]
    rows = refs[(refs["reference"] == name) & refs["psnr_y_db"].notna()]
    if rows.empty:
        known = sorted(set(refs.loc[refs["psnr_y_db"].notna(), "reference"].astype(str)))
        raise ReportError(
            f"no zoo reference {name!r} with a PSNR in this study; known: "
            + (", ".join(known) if known else "none (train the reference under the same proxy)")
        )
    return float(rows["psnr_y_db"].mean())


def _check_budgets(budgets: Mapping[str, Any]) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for name, value in budgets.items():
        if name not in BUDGET_COLUMNS:
            raise ReportError(f"unknown budget {name!r}; known: {', '.join(BUDGET_COLUMNS)}")
        if value is None:
            out[name] = None
            continue
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ReportError(f"budget {name} must be a number, got {value!r}") from None
        if not math.isfinite(number) or number <= 0:
            raise ReportError(f"budget {name} must be a positive number, got {value!r}")
        out[name] = number
    return out


def _floor(
    min_psnr_db: float | None, min_psnr_ratio: float | None, reference_psnr_db: float | None
) -> float | None:
    floors = []
    if min_psnr_db is not None:
        floors.append(float(min_psnr_db))
    if min_psnr_ratio is not None:
        if not 0 < float(min_psnr_ratio) <= 2:
            raise ReportError(f"min_psnr_ratio must be in (0, 2], got {min_psnr_ratio}")
        if reference_psnr_db is None:
            raise ReportError("min_psnr_ratio needs the reference's PSNR (reference_psnr_db)")
        floors.append(float(min_psnr_ratio) * float(reference_psnr_db))
    return max(floors) if floors else None


def _status_counts(df: pd.DataFrame) -> str:
    counts = df["status"].value_counts()
    return ", ".join(f"{int(v)} {k}" for k, v in counts.items())


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"


def select_model(
    df: pd.DataFrame,
    budgets: Mapping[str, float | None],
    *,
    min_psnr_db: float | None = None,
    min_psnr_ratio: float | None = None,
    reference_psnr_db: float | None = None,
    prefer: Literal["psnr", "latency", "knee"] = "psnr",
    n_runners_up: int = 5,
) -> Selection:
    """The best trained trial within `budgets` (name -> limit, None = unbounded) and above the
    quality floor: max(`min_psnr_db`, `min_psnr_ratio` x `reference_psnr_db`) when given.

    prefer: "psnr" (highest PSNR; ties by lower latency, then MACs), "latency" (lowest latency
    above the floor), "knee" (knee of the PSNR/cost front of qualifying trials, cost = latency
    where every candidate has one, else MACs). Zoo reference rows are never chosen. Candidates
    are trials with a PSNR whose status is complete or infeasible (the study's own budgets do not
    apply; `budgets` does). When nothing qualifies, the ReportError names the closest trials and
    how far each misses.
    """
    if prefer not in PREFERENCES:
        raise ReportError(f"unknown preference {prefer!r}; known: {', '.join(PREFERENCES)}")
    if df.empty:
        raise ReportError("the study has no trials: nothing to select from")
    limits = _check_budgets(budgets)
    floor = _floor(min_psnr_db, min_psnr_ratio, reference_psnr_db)
    pool = df[df["status"].isin(["complete", "infeasible"]) & df["psnr_y_db"].notna()]
    if "reference" in pool.columns:
        pool = pool[pool["reference"].isna()]
    if pool.empty:
        raise ReportError(
            f"no trained trial with a PSNR to select from ({len(df)} trials: {_status_counts(df)})"
        )
    pool = pool.copy()
    meets = pd.Series(True, index=pool.index)
    misses: dict[Any, list[tuple[float, str]]] = {i: [] for i in pool.index}
    margin_columns: list[str] = []
    for name, limit in limits.items():
        if limit is None:
            continue
        values = pd.to_numeric(pool[BUDGET_COLUMNS[name]], errors="coerce").astype(float)
        column = f"margin_{name}"
        pool[column] = limit - values
        margin_columns.append(column)
        ok = values <= limit
        meets &= ok
        for i in pool.index[~ok]:
            value = values[i]
            if np.isnan(value):
                misses[i].append((math.inf, f"{name} unknown"))
            else:
                over = value - limit
                misses[i].append((over / limit, f"{name} by {_fmt(over)} ({over / limit:.0%})"))
    if floor is not None:
        pool["margin_psnr_db"] = pool["psnr_y_db"].astype(float) - floor
        margin_columns.append("margin_psnr_db")
        ok = pool["margin_psnr_db"] >= 0
        meets &= ok
        for i in pool.index[~ok]:
            short = -float(pool.at[i, "margin_psnr_db"])
            misses[i].append(
                (short / floor, f"the PSNR floor by {short:.3f} dB ({short / floor:.1%})")
            )
    qualifying = pool[meets]
    if qualifying.empty:
        raise ReportError(_nothing_meets(pool, misses, limits, floor))
    ranked, reason = _rank(qualifying, prefer)
    return Selection(
        chosen=ranked.iloc[0],
        runners_up=ranked.iloc[1 : 1 + n_runners_up],
        candidates=ranked,
        budgets=limits,
        floor_psnr_db=floor,
        prefer=prefer,
        reason=reason,
        margin_columns=tuple(margin_columns),
    )


def _nothing_meets(
    pool: pd.DataFrame,
    misses: Mapping[Any, list[tuple[float, str]]],
    limits: Mapping[str, float | None],
    floor: float | None,
) -> str:
    wanted = [f"{n} <= {_fmt(v)}" for n, v in limits.items() if v is not None]
    if floor is not None:
        wanted.append(f"psnr_y_db >= {floor:.3f}")
    closest = sorted(
        pool.index, key=lambda i: (sum(m[0] for m in misses[i]), str(pool.at[i, "key"]))
    )
    parts = []
    for i in closest[:3]:
        what = " and ".join(m[1] for m in misses[i])
        parts.append(f"{pool.at[i, 'key']} (trial {pool.at[i, 'number']}) misses {what}")
    return f"no trial meets the budget ({', '.join(wanted)}); closest: " + "; ".join(parts)


def _rank(q: pd.DataFrame, prefer: str) -> tuple[pd.DataFrame, str]:
    latency = pd.to_numeric(q["latency_ms"], errors="coerce")
    if prefer == "psnr":
        ranked = q.assign(_lat=latency.fillna(np.inf)).sort_values(
            ["psnr_y_db", "_lat", "macs", "number"],
            ascending=[False, True, True, True],
            kind="stable",
        )
        return ranked.drop(columns="_lat"), "highest Y-PSNR within the budget"
    if prefer == "latency":
        if latency.isna().all():
            raise ReportError("prefer latency needs latency_ms; no qualifying trial has one")
        ranked = q.assign(_lat=latency.fillna(np.inf)).sort_values(
            ["_lat", "psnr_y_db", "number"], ascending=[True, False, True], kind="stable"
        )
        return ranked.drop(columns="_lat"), "lowest latency within the budget and above the floor"
    cost = "latency_ms" if latency.notna().all() else "macs"
    objectives = {"psnr_y_db": "maximize", cost: "minimize"}
    eligible = q.assign(feasible=True, status="complete")
    if "reference" in eligible.columns:
        eligible = eligible.assign(reference=None)
    front = pareto_front(eligible, objectives)
    knee = knee_point(front, objectives)
    rest = q.drop(index=knee.name).sort_values(
        ["psnr_y_db", "number"], ascending=[False, True], kind="stable"
    )
    on_front = rest.index.isin(front.index)
    ranked = pd.concat([q.loc[[knee.name]], rest[on_front], rest[~on_front]])
    return ranked, f"knee of the Y-PSNR / {cost} front of qualifying trials"


def format_selection(selection: Selection) -> str:
    """A plain-text table: the chosen row then the runners-up, with costs and margins."""
    rows = [selection.chosen.to_frame().T, selection.runners_up]
    table = pd.concat(rows)
    cols = [c for c in SHOWN if c in table.columns] + list(selection.margin_columns)
    shown = table[cols].copy()
    shown.insert(0, "rank", ["chosen"] + [str(i) for i in range(2, len(shown) + 1)])
    for c in shown.columns:
        if c in ("macs", "margin_macs", "margin_flops"):
            shown[c] = ["-" if pd.isna(v) else f"{float(v) / 1e9:.2f}G" for v in shown[c]]
        elif c in ("params", "margin_params"):
            shown[c] = ["-" if pd.isna(v) else f"{float(v):,.0f}" for v in shown[c]]
        elif c in ("psnr_y_db", "margin_psnr_db"):
            shown[c] = ["-" if pd.isna(v) else f"{float(v):.3f}" for v in shown[c]]
        elif c.startswith("margin_") or c in ("latency_ms", "peak_memory_mib"):
            shown[c] = ["-" if pd.isna(v) else f"{float(v):.2f}" for v in shown[c]]
    head = f"prefer {selection.prefer}: {selection.reason}"
    if selection.floor_psnr_db is not None:
        head += f"; PSNR floor {selection.floor_psnr_db:.3f} dB"
    return head + "\n" + shown.to_string(index=False)
