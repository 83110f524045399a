"""Budgets as constraints: limits on params, MACs, latency and memory, and their violations."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

from blocks.errors import UserError

#: budget name -> the cost field it limits
BUDGET_COSTS = {
    "params": "params",
    "macs": "macs",
    "latency_ms": "latency_ms",
    "memory_mib": "peak_memory_mib",
}


@dataclass(frozen=True)
class Budgets:
    """Upper limits; None means unconstrained. Counts are raw ints, latency in ms, memory in MiB."""

    params: int | None = None
    macs: int | None = None
    latency_ms: float | None = None
    memory_mib: float | None = None

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if value is not None and (isinstance(value, bool) or not value > 0):
                raise UserError(f"budget {name} must be positive; got {value!r}")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Budgets:
        data = dict(data or {})
        unknown = sorted(set(data) - set(BUDGET_COSTS))
        if unknown:
            raise UserError(f"unknown budget(s) {unknown}; valid: {', '.join(BUDGET_COSTS)}")
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def override(self, **limits: Any) -> Budgets:
        """These budgets with the given (non-None) limits replacing the defaults."""
        return replace(self, **{k: v for k, v in limits.items() if v is not None})

    def active(self) -> dict[str, float]:
        return {k: v for k, v in asdict(self).items() if v is not None}

    def violations(self, costs: Mapping[str, Any]) -> dict[str, float]:
        """Budget name -> amount over the limit (in the budget's unit), for each limit exceeded.

        A cost that is unknown (None) for an active budget is not a violation here; the caller
        decides whether an unknown cost may be trained (it is recorded as such).
        """
        out: dict[str, float] = {}
        for name, limit in self.active().items():
            value = costs.get(BUDGET_COSTS[name])
            if value is not None and value > limit:
                out[name] = float(value - limit)
        return out

    def constraint_values(self, costs: Mapping[str, Any]) -> dict[str, float]:
        """Relative excess value/limit - 1 per active budget (<= 0 feasible), for Optuna."""
        out: dict[str, float] = {}
        for name, limit in self.active().items():
            value = costs.get(BUDGET_COSTS[name])
            out[name] = 0.0 if value is None else float(value) / float(limit) - 1.0
        return out

    def describe(self) -> str:
        parts = [f"{k} <= {v:g}" if isinstance(v, float) else f"{k} <= {v:,}"
                 for k, v in self.active().items()]
        return ", ".join(parts) if parts else "no budget"
