"""Response curves and budget scenarios of a refresh, from its fitted model (mmm_core.analysis.curves / budget)."""

import datetime as dt

import dagster as dg
import pandas as pd
from dagster_duckdb import DuckDBResource

from mmm_core.planning.constraints import BudgetScenario, SpendBounds
from mmm_core.analysis.curves import DEFAULT_PLANNING_WEEKS, response_curves
from mmm_core.planning.scenarios import plan_scenarios
from mmm_pipeline.defs.decomposition import load_refresh
from mmm_pipeline.defs.training import mmm_model
from mmm_pipeline.partitions import weekly_refresh
from mmm_pipeline.policies import WAREHOUSE_RETRY
from mmm_pipeline.resources import ArtifactStoreResource, DatasetResource
from mmm_pipeline.tables import replace_partition

CURVE_TABLES = ("response_curves", "response_curve_points", "budget_scenarios", "budget_allocation")


class BudgetPlanConfig(dg.Config):
    """Launchpad-editable planning settings; the core's defaults where they exist."""

    budget_multipliers: list[float] = [0.8, 1.0, 1.2]
    """One scenario per multiplier of the planning window's current total spend."""
    target_mroi: float | None = None
    """Adds a scenario that spends until every channel's marginal ROI falls to this value."""
    planning_weeks: int = DEFAULT_PLANNING_WEEKS
    method: str = "slsqp"
    """slsqp, trust-constr, differential_evolution or hybrid."""
    channel_lower_multiplier: float = 0.5
    channel_upper_multiplier: float = 2.0
    region_lower_multiplier: float | None = None
    region_upper_multiplier: float | None = None
    per_region: bool = True
    """Fit per-region curves and add a region × channel allocation per scenario."""

    def scenarios(self) -> list[BudgetScenario]:
        scenarios = [BudgetScenario.from_multiplier(m) for m in self.budget_multipliers]
        if self.target_mroi is not None:
            scenarios.append(BudgetScenario(f"target_mroi_{self.target_mroi:g}", target_mroi=self.target_mroi))
        return scenarios

    def region_bounds(self) -> SpendBounds | None:
        if self.region_lower_multiplier is None and self.region_upper_multiplier is None:
            return None
        return SpendBounds(self.region_lower_multiplier or 0.0, self.region_upper_multiplier)


def _spec(name: str, description: str) -> dg.AssetSpec:
    return dg.AssetSpec(name, deps=[mmm_model], group_name="planning", kinds={"duckdb"}, description=description)


@dg.multi_asset(
    specs=[
        _spec("response_curves", "Per channel, national and per region: Hill fit (top, bottom, half-saturation, slope) "
                                 "of the model's KPI response to planning-window spend, fit R², current spend, ROI, mROI."),
        _spec("response_curve_points", "The model's response at each spend multiplier and the fitted curve, for plots."),
        _spec("budget_scenarios", "Per scenario and scope: budget, predicted response current vs optimal (curves and "
                                  "full model), convergence."),
        _spec("budget_allocation", "Per scenario, scope, region and channel: current and optimal spend, response, ROI, mROI."),
    ],
    partitions_def=weekly_refresh, retry_policy=WAREHOUSE_RETRY,
)
def budget_plans(context: dg.AssetExecutionContext, config: BudgetPlanConfig, dataset: DatasetResource,
                 warehouse: DuckDBResource, artifacts: ArtifactStoreResource):
    refresh_week = dt.date.fromisoformat(context.partition_key)
    model, panel = load_refresh(refresh_week, dataset, warehouse, artifacts)
    curves = response_curves(model, panel, config.planning_weeks, per_region=config.per_region)
    bounds = SpendBounds(config.channel_lower_multiplier, config.channel_upper_multiplier)
    scenarios, allocation = plan_scenarios(model, curves, config.scenarios(), bounds, config.region_bounds(),
                                           config.method)
    for row in scenarios.itertuples():
        if not row.converged:
            context.log.warning(f"scenario {row.scenario} ({row.scope}) did not converge: {row.message}")
    frames = {"response_curves": curves.table(), "response_curve_points": curves.points_frame(),
              "budget_scenarios": scenarios, "budget_allocation": allocation}
    with warehouse.get_connection() as conn:
        counts = {name: replace_partition(conn, name, refresh_week, frame) for name, frame in frames.items()}
    national = allocation[allocation.scope == "national"]
    preview = national.pivot_table(index="channel", columns="scenario", values="optimal_spend", sort=False)
    preview.insert(0, "current_spend", national.groupby("channel", sort=False).current_spend.first())
    for name in CURVE_TABLES:
        metadata = {"rows": counts[name]}
        if name == "response_curves":
            national_curves = frames[name][frames[name].scope == "national"]
            metadata["min_fit_r2"] = float(pd.to_numeric(frames[name].fit_r2, errors="coerce").min())
            metadata["preview"] = dg.MetadataValue.md(national_curves[
                ["channel", "current_spend", "roi", "mroi", "hill_slope", "fit_r2"]].round(4).to_markdown(index=False))
        if name == "budget_scenarios":
            metadata["all_converged"] = bool(scenarios.converged.all())
            metadata["preview"] = dg.MetadataValue.md(scenarios[
                ["scenario", "scope", "budget_total", "incremental_response_curve", "incremental_response_model",
                 "converged"]].round(2).to_markdown(index=False))
        if name == "budget_allocation":
            metadata["national_preview"] = dg.MetadataValue.md(preview.round(2).to_markdown())
        yield dg.MaterializeResult(asset_key=name, metadata=metadata)
