"""Model features per refresh: the training window's inputs (table features) and scale factors (scaling_params)."""

import datetime as dt

import dagster as dg

from mmm_core.data.io import frame_to_panel
from mmm_core.model.features import feature_frame, refresh_window, scaling_frame
from mmm_core.model.scaling import PanelScaler
from mmm_pipeline import keys
from mmm_pipeline.defs.features.config import FeaturesConfig
from mmm_pipeline.metadata import table_metadata, table_schema
from mmm_pipeline.partitions import weekly_refresh
from mmm_pipeline.policies import OWNERS
from mmm_pipeline.resources import DatasetResource, WarehouseResource


@dg.asset(
    name=keys.MODEL_FEATURES, partitions_def=weekly_refresh, deps=[keys.RAW_MARKETING_DATA], group_name="features",
    kinds={"duckdb"}, owners=OWNERS,
    metadata={"dagster/column_schema": table_schema("features")},
    description="Tables features and scaling_params for the refresh's training window (the trailing window_weeks "
                "ending with the refresh week); training reads its panel from here.",
)
def model_features(context: dg.AssetExecutionContext, config: FeaturesConfig, dataset: DatasetResource,
                   warehouse: WarehouseResource) -> dg.MaterializeResult:
    refresh_week = dt.date.fromisoformat(context.partition_key)
    spec = dataset.load_spec()
    current = warehouse.read_current(spec)
    panel = refresh_window(frame_to_panel(current, spec), context.partition_key, config.window_weeks)
    scaler = PanelScaler.fit(panel)
    counts = warehouse.write(refresh_week, {"features": feature_frame(panel, scaler),
                                            "scaling_params": scaling_frame(panel, scaler)})
    return dg.MaterializeResult(metadata={
        **table_metadata("features", counts["features"]),
        "scaling_params_column_schema": table_schema("scaling_params"),
        "scaling_params_rows": counts["scaling_params"],
        "window_start": str(panel.weeks[0]), "window_end": str(panel.weeks[-1]), "weeks": panel.n_weeks,
        "regions": panel.n_regions, "channels": list(panel.channels), "feature_rows": counts["features"],
        "missing_region_weeks": int((~panel.observed).sum()),
    })
