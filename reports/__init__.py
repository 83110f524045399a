"""Trial records, Pareto fronts, hypervolume, plots, reports and model selection.

A leaf package: it needs pandas, numpy, matplotlib and optuna, never torch and never another
distillnas package. Submodules are imported on demand (`from reports.pareto import pareto_front`).
"""

from __future__ import annotations

from reports.errors import ReportError

__all__ = ["ReportError"]
