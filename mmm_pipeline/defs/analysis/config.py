"""Run config of the budget planning: the core's defaults where they exist."""

import dagster as dg
from pydantic import ConfigDict

from mmm_core.analysis.curves import DEFAULT_PLANNING_WEEKS
from mmm_core.planning.budget import BudgetMethod
from mmm_core.planning.constraints import BudgetScenario, SpendBounds


class BudgetPlanConfig(dg.Config):
    """Launchpad-editable planning settings; the core's defaults where they exist."""

    model_config = ConfigDict(use_attribute_docstrings=True)  # the field docstrings are the Launchpad's descriptions

    budget_multipliers: list[float] = [0.8, 1.0, 1.2]
    """One scenario per multiplier of the planning window's current total spend."""
    target_mroi: float | None = None
    """Adds a scenario that spends until every channel's marginal ROI falls to this value."""
    planning_weeks: int = DEFAULT_PLANNING_WEEKS
    """Last weeks of the refresh window whose spend the response curves and budgets scale (the planning window)."""
    method: BudgetMethod = "slsqp"
    """slsqp, trust-constr, differential_evolution or hybrid (checked when the run config is built)."""
    channel_lower_multiplier: float = 0.5
    """Lowest spend an allocation may give a channel, as a multiple of its current planning-window spend."""
    channel_upper_multiplier: float = 2.0
    """Highest spend an allocation may give a channel, as a multiple of its current planning-window spend."""
    region_lower_multiplier: float | None = None
    """Lowest total a region may get in the region allocations, as a multiple of its current planning-window
    spend (None with an upper bound set: 0; both None: regions unbounded)."""
    region_upper_multiplier: float | None = None
    """Highest total a region may get in the region allocations, as a multiple of its current planning-window
    spend (None: no cap)."""
    per_region: bool = True
    """Fit per-region curves and add a region × channel allocation per scenario."""
    risk_aversion: float | None = None
    """λ >= 0: with an ensemble, also plan each budget scenario nationally for the members' mean response minus λ
    times its sd over the members (objective 'mean_minus_<λ>_sd', beside the point plan); None: off."""

    def scenarios(self) -> list[BudgetScenario]:
        scenarios = [BudgetScenario.from_multiplier(m) for m in self.budget_multipliers]
        if self.target_mroi is not None:
            scenarios.append(BudgetScenario(f"target_mroi_{self.target_mroi:g}", target_mroi=self.target_mroi))
        return scenarios

    def channel_bounds(self) -> SpendBounds:
        return SpendBounds(self.channel_lower_multiplier, self.channel_upper_multiplier)

    def region_bounds(self) -> SpendBounds | None:
        if self.region_lower_multiplier is None and self.region_upper_multiplier is None:
            return None
        return SpendBounds(self.region_lower_multiplier or 0.0, self.region_upper_multiplier)
