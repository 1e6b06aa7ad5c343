"""Decomposition of a refresh: contributions per region-week, channel summary with ROI and its intervals, the
ensemble's draws, the DAG, parameters."""

import datetime as dt

import dagster as dg

from mmm_core.model.ensemble import empty_draws, with_intervals
from mmm_pipeline import keys
from mmm_pipeline.metadata import table_asset_spec, table_metadata
from mmm_pipeline.partitions import weekly_refresh
from mmm_pipeline.policies import OWNERS
from mmm_pipeline.resources import ComputeResource, DatasetResource, ModelStoreResource, WarehouseResource
from mmm_pipeline.storage.tables import DECOMPOSITION_TABLES


@dg.multi_asset(
    specs=[table_asset_spec(name, deps=[keys.MMM_MODEL], group_name="analysis", kinds={"duckdb", "pytorch"},
                            owners=OWNERS) for name in DECOMPOSITION_TABLES],
    partitions_def=weekly_refresh,
)
def decomposition(context: dg.AssetExecutionContext, dataset: DatasetResource, warehouse: WarehouseResource,
                  models: ModelStoreResource, compute: ComputeResource):
    refresh_week = dt.date.fromisoformat(context.partition_key)
    panel = warehouse.read_panel(dataset.load_spec(), refresh_week)
    ensemble = models.load_ensemble(refresh_week)
    model = models.load(refresh_week) if ensemble is None else ensemble.point
    decomposition_ = model.decompose(panel)
    draws = None if ensemble is None else ensemble.draws(panel, workers=compute.workers)
    frames = {
        "contributions": decomposition_.to_frame(observed=panel.observed),
        "channel_summary": (with_intervals(model.contributions(panel), None, None) if ensemble is None
                            else ensemble.contributions(panel, draws=draws)),
        "channel_draws": empty_draws() if draws is None else draws,
        "dag_edges": model.dag(),
        "channel_parameters": model.channel_parameters(),
    }
    counts = warehouse.write(refresh_week, frames)
    summary = frames["channel_summary"].sort_values("total_contribution", ascending=False)
    extra = {
        "contributions": {"max_relative_additivity_error": float(decomposition_.max_relative_error())},
        "channel_summary": {"preview": dg.MetadataValue.md(summary.round(4).to_markdown(index=False))},
    }
    for name in DECOMPOSITION_TABLES:
        yield dg.MaterializeResult(asset_key=name, metadata={**table_metadata(name, counts[name]),
                                                             "rows": counts[name], **extra.get(name, {})})
