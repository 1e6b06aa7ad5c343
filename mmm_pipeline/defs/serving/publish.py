"""Publish a refresh for SQL consumers: a serving DuckDB file swapped in atomically, plus Parquet exports."""

import datetime as dt

import dagster as dg

from mmm_pipeline import keys
from mmm_pipeline.partitions import weekly_refresh
from mmm_pipeline.policies import OWNERS
from mmm_pipeline.resources import ServingResource, WarehouseResource
from mmm_pipeline.storage.tables import CURVE_TABLES, DECOMPOSITION_TABLES


@dg.asset(
    name=keys.SERVING_TABLES, partitions_def=weekly_refresh, deps=[keys.MMM_MODEL, *DECOMPOSITION_TABLES, *CURVE_TABLES],
    group_name="serving", kinds={"duckdb", "parquet"}, owners=OWNERS,
    description="The serving copy mmm_serving.duckdb (every published refresh, a latest_<table> view per table), "
                "replaced atomically, and parquet/refresh_week=<week>/<table>.parquet. Runs only after the "
                "blocking checks of this refresh passed.",
)
def serving_tables(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                   serving: ServingResource) -> dg.MaterializeResult:
    refresh_week = dt.date.fromisoformat(context.partition_key)
    run = warehouse.read("model_runs", refresh_week)
    if run.empty:
        raise dg.Failure(f"refresh {refresh_week} has no model run to publish", allow_retries=False)
    warehouse.mark_published(refresh_week, str(run.run_id.iloc[0]))
    # No warehouse connection is open from here on: the serving build attaches the warehouse read-only.
    published = serving.publish(warehouse, refresh_week)
    if published.removed_stale:
        context.log.warning(f"removed {len(published.removed_stale)} temporary files of an interrupted publish: "
                            + ", ".join(p.name for p in published.removed_stale))
    return dg.MaterializeResult(metadata={
        "serving_database": dg.MetadataValue.path(str(published.serving.serving_path)),
        "parquet_folder": dg.MetadataValue.path(str(published.parquet_path)),
        "published_refreshes": published.serving.refresh_weeks,
        "row_counts": dg.MetadataValue.json(published.serving.row_counts),
    })
