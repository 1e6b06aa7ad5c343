"""Decomposition of a refresh: contributions per region-week, channel summary with ROI, the DAG, parameters."""

import datetime as dt

import dagster as dg
from dagster_duckdb import DuckDBResource

from mmm_core.model.features import panel_from_features
from mmm_pipeline.artifacts import load_model
from mmm_pipeline.defs.training import mmm_model
from mmm_pipeline.partitions import weekly_refresh
from mmm_pipeline.policies import WAREHOUSE_RETRY
from mmm_pipeline.resources import ArtifactStoreResource, DatasetResource
from mmm_pipeline.tables import read_partition, replace_partition

DECOMPOSITION_TABLES = ("contributions", "channel_summary", "dag_edges", "channel_parameters")


def load_refresh(refresh_week: dt.date, dataset: DatasetResource, warehouse: DuckDBResource,
                 artifacts: ArtifactStoreResource):
    """The refresh's fitted model and the window panel it was fitted on."""
    spec = dataset.load_spec()
    with warehouse.get_connection() as conn:
        features = read_partition(conn, "features", refresh_week)
    panel = panel_from_features(features, tuple(c.name for c in spec.channels), tuple(spec.controls))
    return load_model(artifacts.models_dir / refresh_week.isoformat()), panel


@dg.multi_asset(
    specs=[
        dg.AssetSpec("contributions", deps=[mmm_model], group_name="decomposition", kinds={"duckdb"},
                     description="refresh_week, region, week, component, kind, value (KPI units); the components "
                                 "of a region-week add up to the model's prediction."),
        dg.AssetSpec("channel_summary", deps=[mmm_model], group_name="decomposition", kinds={"duckdb"},
                     description="Per channel: spend, direct and total (counterfactual, through the DAG) "
                                 "contribution, share of media, ROI."),
        dg.AssetSpec("dag_edges", deps=[mmm_model], group_name="decomposition", kinds={"duckdb"},
                     description="Learned channel graph: parent, child, weight."),
        dg.AssetSpec("channel_parameters", deps=[mmm_model], group_name="decomposition", kinds={"duckdb"},
                     description="Per channel adstock decay / peak lag, Hill half-saturation / slope, coefficient max."),
    ],
    partitions_def=weekly_refresh, retry_policy=WAREHOUSE_RETRY,
)
def decomposition(context: dg.AssetExecutionContext, dataset: DatasetResource, warehouse: DuckDBResource,
                  artifacts: ArtifactStoreResource):
    refresh_week = dt.date.fromisoformat(context.partition_key)
    model, panel = load_refresh(refresh_week, dataset, warehouse, artifacts)
    decomposition_ = model.decompose(panel)
    frames = {
        "contributions": decomposition_.to_frame(observed=panel.observed),
        "channel_summary": model.contributions(panel),
        "dag_edges": model.dag(),
        "channel_parameters": model.channel_parameters(),
    }
    with warehouse.get_connection() as conn:
        counts = {name: replace_partition(conn, name, refresh_week, frame) for name, frame in frames.items()}
    summary = frames["channel_summary"].sort_values("total_contribution", ascending=False)
    for name in DECOMPOSITION_TABLES:
        metadata = {"rows": counts[name]}
        if name == "contributions":
            metadata["max_relative_additivity_error"] = float(decomposition_.max_relative_error())
        if name == "channel_summary":
            metadata["preview"] = dg.MetadataValue.md(summary.round(4).to_markdown(index=False))
        yield dg.MaterializeResult(asset_key=name, metadata=metadata)
