"""Is a budget reachable at all? The smallest costs a search space can reach, found up front."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from blocks.errors import UserError
from blocks.specs import NetSpec
from profiles.counting import count_params
from search.budgets import BUDGET_COSTS, Budgets
from search.space import SearchSpace


def cheapest_specs(space: SearchSpace) -> list[NetSpec]:
    """Candidates for the cheapest net: the fewest blocks, the narrowest width, the smallest scale,
    each with the block configuration of fewest parameters (blocks counted on the meta device)."""
    width = min(space.channels)
    blocks = list(space.block_choices(width))
    n = space.num_blocks[0]
    scale = min(space.scale)
    fuse = space.fuse_activation[0]
    sized = sorted(blocks, key=lambda b: count_params(NetSpec("distill", scale, (b,), fuse)))
    return [NetSpec("distill", scale, (b,) * n, fuse) for b in sized[:3]]


def check_budget_reachable(
    space: SearchSpace, budgets: Budgets, costs_of: Callable[[NetSpec], dict[str, Any]]
) -> dict[str, float]:
    """Raise a one-line UserError if even the cheapest net of the space breaks a budget.

    Returns the smallest cost found per budgeted quantity.
    """
    active = budgets.active()
    if not active:
        return {}
    smallest: dict[str, float] = {}
    for spec in cheapest_specs(space):
        costs = costs_of(spec)
        if not budgets.violations(costs):
            return {}
        for name in active:
            value = costs.get(BUDGET_COSTS[name])
            if value is not None:
                smallest[name] = min(smallest.get(name, float("inf")), float(value))
    missed = [f"{name} >= {_fmt(smallest[name])} (budget {_fmt(active[name])})"
              for name in active if name in smallest and smallest[name] > active[name]]
    raise UserError(f"impossible budget for space {space.name!r}: its smallest net needs "
                    + ("; ".join(missed) or "more than the budget allows"))


def _fmt(value: float) -> str:
    if value >= 1e9:
        return f"{value / 1e9:.3g}G"
    if value >= 1e6:
        return f"{value / 1e6:.3g}M"
    if value >= 1e4:
        return f"{value / 1e3:.4g}k"
    return f"{value:.4g}"
