"""Publish a refresh for SQL consumers: a serving DuckDB file swapped in atomically, plus Parquet exports."""

import datetime as dt

import dagster as dg
from dagster_duckdb import DuckDBResource

from mmm_pipeline.defs.curves import CURVE_TABLES
from mmm_pipeline.defs.decomposition import DECOMPOSITION_TABLES
from mmm_pipeline.defs.training import mmm_model
from mmm_pipeline.partitions import weekly_refresh
from mmm_pipeline.policies import WAREHOUSE_RETRY
from mmm_pipeline.resources import ArtifactStoreResource
from mmm_pipeline.serving import build_serving_copy, export_parquet, mark_published, publish_lock
from mmm_pipeline.tables import read_partition


@dg.asset(
    partitions_def=weekly_refresh, deps=[mmm_model, *DECOMPOSITION_TABLES, *CURVE_TABLES], group_name="serving",
    kinds={"duckdb", "parquet"}, retry_policy=WAREHOUSE_RETRY,
    description="data/serving/mmm_serving.duckdb (every published refresh + latest_* views), replaced atomically, "
                "and data/serving/parquet/refresh_week=<week>/<table>.parquet. Runs only after the blocking "
                "checks of this refresh passed.",
)
def serving_tables(context: dg.AssetExecutionContext, warehouse: DuckDBResource,
                   artifacts: ArtifactStoreResource) -> dg.MaterializeResult:
    refresh_week = dt.date.fromisoformat(context.partition_key)
    with warehouse.get_connection() as conn:
        run = read_partition(conn, "model_runs", refresh_week)
        if run.empty:
            raise dg.Failure(f"refresh {refresh_week} has no model run to publish", allow_retries=False)
        mark_published(conn, refresh_week, str(run.run_id.iloc[0]))
    # No warehouse connection is open from here on: the serving build attaches the warehouse read-only.
    # The lock orders concurrent publishes (each build starts after its own mark, so the last swap has every
    # marked refresh) and lets the holder delete what a killed publish left behind.
    with publish_lock(artifacts.serving_dir) as stale:
        if stale:
            context.log.warning(f"removed {len(stale)} temporary files of an interrupted publish: "
                                + ", ".join(p.name for p in stale))
        result = build_serving_copy(warehouse.database, artifacts.serving_dir)
        parquet = export_parquet(result.serving_path, result.parquet_dir, refresh_week)
    return dg.MaterializeResult(metadata={
        "serving_database": dg.MetadataValue.path(str(result.serving_path)),
        "parquet_folder": dg.MetadataValue.path(str(parquet)),
        "published_refreshes": result.refresh_weeks,
        "row_counts": dg.MetadataValue.json(result.row_counts),
    })
