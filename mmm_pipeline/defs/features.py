"""Model features per refresh: the training window's inputs, raw and scaled, and the scale factors."""

import datetime as dt

import dagster as dg
from dagster_duckdb import DuckDBResource

from mmm_core.model.features import feature_frame, refresh_window, scaling_frame
from mmm_core.data.io import frame_to_panel
from mmm_core.model.scaling import PanelScaler
from mmm_pipeline import warehouse as wh
from mmm_pipeline.defs.ingest import raw_marketing_data
from mmm_pipeline.partitions import weekly_refresh
from mmm_pipeline.policies import WAREHOUSE_RETRY, retry_only_on_lock
from mmm_pipeline.resources import DatasetResource
from mmm_pipeline.tables import replace_partition


class FeaturesConfig(dg.Config):
    window_weeks: int = 104
    """Trailing weeks of data a refresh trains on, ending with the refresh week."""


@dg.asset(
    partitions_def=weekly_refresh, deps=[raw_marketing_data], group_name="features", kinds={"duckdb"},
    retry_policy=WAREHOUSE_RETRY,
    description="Tables features (region, week, kind, name, value, scaled_value) and scaling_params (kind, name, "
                "region, scale, center) for the refresh's training window; training reads its panel from here.",
)
def model_features(context: dg.AssetExecutionContext, config: FeaturesConfig, dataset: DatasetResource,
                   warehouse: DuckDBResource) -> dg.MaterializeResult:
    refresh_week = dt.date.fromisoformat(context.partition_key)
    spec = dataset.load_spec()
    with warehouse.get_connection() as conn:
        current = wh.read_current(conn, spec)
    with retry_only_on_lock():
        panel = refresh_window(frame_to_panel(current, spec), context.partition_key, config.window_weeks)
        scaler = PanelScaler.fit(panel)
    with warehouse.get_connection() as conn:
        n_features = replace_partition(conn, "features", refresh_week, feature_frame(panel, scaler))
        replace_partition(conn, "scaling_params", refresh_week, scaling_frame(panel, scaler))
    return dg.MaterializeResult(metadata={
        "window_start": str(panel.weeks[0]), "window_end": str(panel.weeks[-1]), "weeks": panel.n_weeks,
        "regions": panel.n_regions, "channels": list(panel.channels), "feature_rows": n_features,
        "missing_region_weeks": int((~panel.observed).sum()),
    })
