"""Budget constraints and scenarios: frozen dataclasses that validate themselves, plus the feasibility check.

Bounds are per channel (or per region-channel), either absolute (currency) or multipliers of the current
spend. A region may also get bounds on its total. Every check that can fail raises ``InfeasibleBudgetError``
naming what cannot be met, before any optimiser runs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from collections.abc import Mapping

import numpy as np

BoundKind = str
MULTIPLIER = "multiplier"
ABSOLUTE = "absolute"


class InfeasibleBudgetError(ValueError):
    """The budget cannot be allocated within the bounds (the message says which bound)."""


@dataclass(frozen=True)
class SpendBounds:
    """Lower/upper spend of one channel (or one region's total): ``kind`` 'multiplier' (× current spend)
    or 'absolute' (currency). ``upper`` None means unbounded."""

    lower: float = 0.0
    upper: float | None = None
    kind: BoundKind = MULTIPLIER

    def __post_init__(self) -> None:
        if self.kind not in (MULTIPLIER, ABSOLUTE):
            raise ValueError(f"bounds kind must be {MULTIPLIER!r} or {ABSOLUTE!r}, got {self.kind!r}")
        if not (math.isfinite(self.lower) and self.lower >= 0):
            raise ValueError(f"lower bound must be a finite number >= 0, got {self.lower}")
        if self.upper is not None and not (self.upper >= self.lower):
            raise ValueError(f"upper bound {self.upper} is below lower bound {self.lower}")

    def resolve(self, current_spend: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(lower, upper)`` arrays in currency for ``current_spend`` (any shape)."""
        current = np.asarray(current_spend, dtype=np.float64)
        if self.kind == MULTIPLIER:
            lower = self.lower * current
            upper = np.full_like(current, np.inf) if self.upper is None else self.upper * current
        else:
            lower = np.full_like(current, self.lower)
            upper = np.full_like(current, np.inf if self.upper is None else self.upper)
        return lower, upper


BoundsSpec = SpendBounds | Mapping[str, SpendBounds] | None
"""One ``SpendBounds`` for every channel, a mapping channel -> bounds (missing channels: unbounded above,
lower 0), or None (0 .. unbounded)."""


def resolve_channel_bounds(channels: tuple[str, ...] | list[str], current_spend: np.ndarray,
                           bounds: BoundsSpec) -> tuple[np.ndarray, np.ndarray]:
    """``(lower, upper)`` ``[N]`` for variables named by ``channels`` ``[N]`` with ``current_spend`` ``[N]``."""
    current = np.asarray(current_spend, dtype=np.float64)
    lower, upper = np.zeros_like(current), np.full_like(current, np.inf)
    if bounds is None:
        return lower, upper
    if isinstance(bounds, SpendBounds):
        return bounds.resolve(current)
    unknown = set(bounds) - set(channels)
    if unknown:
        raise ValueError(f"bounds name unknown channels {sorted(unknown)}; channels are {sorted(set(channels))}")
    for i, channel in enumerate(channels):
        if channel in bounds:
            lo, hi = bounds[channel].resolve(current[i:i + 1])
            lower[i], upper[i] = lo[0], hi[0]
    return lower, upper


def check_feasible(budget_total: float, lower: np.ndarray, upper: np.ndarray, labels: list[str],
                   group_index: np.ndarray | None = None, group_lower: np.ndarray | None = None,
                   group_upper: np.ndarray | None = None, group_names: list[str] | None = None) -> None:
    """Raise ``InfeasibleBudgetError`` unless some allocation meets the budget, the variable bounds
    ``[N]`` and (optionally) the group totals ``[G]`` (variables grouped by ``group_index`` ``[N]``).

    With box bounds per variable and bounds on disjoint group sums these conditions are also sufficient:
    each group total can take any value in ``[max(group_lower, sum lower), min(group_upper, sum upper)]``.
    """
    if not (math.isfinite(budget_total) and budget_total >= 0):
        raise InfeasibleBudgetError(f"budget_total must be a finite number >= 0, got {budget_total}")
    bad = np.flatnonzero(lower > upper)
    if len(bad):
        i = bad[0]
        raise InfeasibleBudgetError(f"{labels[i]}: lower bound {lower[i]:.6g} exceeds upper bound {upper[i]:.6g}")
    if group_index is None:
        lo_total, hi_total = float(lower.sum()), float(upper.sum())
    else:
        n_groups = len(group_lower)
        sum_lo = np.bincount(group_index, lower, n_groups)
        sum_hi = np.bincount(group_index, upper, n_groups) if np.isfinite(upper).all() else \
            np.array([upper[group_index == g].sum() for g in range(n_groups)])
        g_lo, g_hi = np.maximum(group_lower, sum_lo), np.minimum(group_upper, sum_hi)
        bad = np.flatnonzero(g_lo > g_hi * (1 + 1e-12))
        if len(bad):
            g = bad[0]
            raise InfeasibleBudgetError(
                f"region {group_names[g]}: its channel bounds allow {sum_lo[g]:.6g} .. {sum_hi[g]:.6g} "
                f"but the region bounds are {group_lower[g]:.6g} .. {group_upper[g]:.6g}")
        lo_total, hi_total = float(g_lo.sum()), float(g_hi.sum())
    if budget_total < lo_total * (1 - 1e-12):
        raise InfeasibleBudgetError(f"budget_total {budget_total:.6g} is below the sum of lower bounds {lo_total:.6g}")
    if budget_total > hi_total * (1 + 1e-12):
        raise InfeasibleBudgetError(f"budget_total {budget_total:.6g} exceeds the sum of upper bounds {hi_total:.6g}")


@dataclass(frozen=True)
class BudgetScenario:
    """One planning scenario. Exactly one of: ``budget_multiplier`` (× current total spend),
    ``budget_total`` (currency), or ``target_mroi`` (spend until the marginal ROI of every channel falls
    to this value, within bounds; the budget is then an output)."""

    name: str
    budget_multiplier: float | None = None
    budget_total: float | None = None
    target_mroi: float | None = None

    def __post_init__(self) -> None:
        given = [x is not None for x in (self.budget_multiplier, self.budget_total, self.target_mroi)]
        if sum(given) != 1:
            raise ValueError(f"scenario {self.name!r}: give exactly one of budget_multiplier, budget_total, "
                             "target_mroi")
        for field in ("budget_multiplier", "budget_total", "target_mroi"):
            value = getattr(self, field)
            if value is not None and not (math.isfinite(value) and value >= 0):
                raise ValueError(f"scenario {self.name!r}: {field} must be finite and >= 0, got {value}")
        if not self.name:
            raise ValueError("a scenario needs a name")

    def budget_for(self, current_total: float) -> float | None:
        """The scenario's budget in currency (None for a target-mROI scenario)."""
        if self.budget_multiplier is not None:
            return self.budget_multiplier * current_total
        return self.budget_total

    @classmethod
    def from_multiplier(cls, multiplier: float) -> "BudgetScenario":
        """``budget_+20%``-style name for a multiplier of the current budget."""
        pct = round((multiplier - 1.0) * 100)
        name = "budget_current" if pct == 0 else f"budget_{pct:+d}pct"
        return cls(name=name, budget_multiplier=multiplier)
