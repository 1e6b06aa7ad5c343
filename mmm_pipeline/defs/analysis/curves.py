"""Response curves and budget scenarios of a refresh, from its fitted model (mmm_core.analysis / planning), with
bands and intervals over its ensemble members when the refresh has them."""

import datetime as dt

import dagster as dg
import pandas as pd

from mmm_core.analysis.curves import response_curves
from mmm_core.planning.scenarios import plan_scenarios
from mmm_pipeline import keys
from mmm_pipeline.defs.analysis.config import BudgetPlanConfig
from mmm_pipeline.metadata import table_asset_spec, table_metadata
from mmm_pipeline.partitions import weekly_refresh
from mmm_pipeline.policies import OWNERS
from mmm_pipeline.resources import ComputeResource, DatasetResource, ModelStoreResource, WarehouseResource
from mmm_pipeline.storage.tables import CURVE_TABLES


@dg.multi_asset(
    specs=[table_asset_spec(name, deps=[keys.MMM_MODEL], group_name="analysis", kinds={"duckdb", "scipy"},
                            owners=OWNERS) for name in CURVE_TABLES],
    partitions_def=weekly_refresh,
)
def budget_plans(context: dg.AssetExecutionContext, config: BudgetPlanConfig, dataset: DatasetResource,
                 warehouse: WarehouseResource, models: ModelStoreResource, compute: ComputeResource):
    refresh_week = dt.date.fromisoformat(context.partition_key)
    panel = warehouse.read_panel(dataset.load_spec(), refresh_week)
    ensemble = models.load_ensemble(refresh_week)
    model = models.load(refresh_week) if ensemble is None else ensemble.point
    members, interval = ((), None) if ensemble is None else (ensemble.members(), ensemble.config.interval)
    if config.risk_aversion is not None and not members:
        context.log.warning("risk_aversion is set but this refresh has no ensemble members: point plans only")
    curves = response_curves(model, panel, config.planning_weeks, per_region=config.per_region, members=members,
                             interval=interval, workers=compute.workers)
    scenarios, allocation = plan_scenarios(model, curves, config.scenarios(), config.channel_bounds(),
                                           config.region_bounds(), config.method, members=members, interval=interval,
                                           risk_aversion=config.risk_aversion if members else None,
                                           workers=compute.workers)
    for row in scenarios.itertuples():
        if not row.converged:
            context.log.warning(f"scenario {row.scenario} ({row.scope}) did not converge: {row.message}")
    frames = {"response_curves": curves.table(), "response_curve_points": curves.points_frame(),
              "budget_scenarios": scenarios, "budget_allocation": allocation}
    counts = warehouse.write(refresh_week, frames)
    extra = _previews(frames)
    for name in CURVE_TABLES:
        yield dg.MaterializeResult(asset_key=name, metadata={**table_metadata(name, counts[name]),
                                                             "rows": counts[name], **extra.get(name, {})})


def _previews(frames: dict[str, pd.DataFrame]) -> dict[str, dict]:
    """Markdown previews and headline numbers shown on the materializations."""
    curves, scenarios, allocation = frames["response_curves"], frames["budget_scenarios"], frames["budget_allocation"]
    national_curves = curves[curves.scope == "national"]
    national = allocation[allocation.scope == "national"]
    preview = national.pivot_table(index="channel", columns="scenario", values="optimal_spend", sort=False)
    preview.insert(0, "current_spend", national.groupby("channel", sort=False).current_spend.first())
    return {
        "response_curves": {
            "min_fit_r2": float(pd.to_numeric(curves.fit_r2, errors="coerce").min()),
            "preview": dg.MetadataValue.md(national_curves[
                ["channel", "current_spend", "roi", "mroi", "hill_slope", "fit_r2"]].round(4).to_markdown(index=False)),
        },
        "budget_scenarios": {
            "all_converged": bool(scenarios.converged.all()),
            "preview": dg.MetadataValue.md(scenarios[
                ["scenario", "scope", "budget_total", "incremental_response_curve", "incremental_response_model",
                 "incremental_response_model_lower", "incremental_response_model_upper", "prob_beats_current",
                 "converged"]].round(2).to_markdown(index=False)),
        },
        "budget_allocation": {"national_preview": dg.MetadataValue.md(preview.round(2).to_markdown()),
                              "rows_beyond_observed_range": int(allocation.beyond_observed_range.sum())},
    }
