"""Blocking model checks: a refresh whose forecast misses the floor, or whose outputs are not finite, is not published."""

import datetime as dt

import dagster as dg
import numpy as np

from mmm_pipeline import gates, keys
from mmm_pipeline.partitions import weekly_refresh
from mmm_pipeline.resources import DatasetResource, ModelStoreResource, QualityGatesResource, WarehouseResource


@dg.asset_check(asset=keys.MMM_MODEL, blocking=True, partitions_def=weekly_refresh,
                description="The forecast of the held-out weeks reaches the configured R² floor.")
def holdout_r2_above_floor(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource,
                           quality_gates: QualityGatesResource) -> dg.AssetCheckResult:
    metrics = warehouse.read("model_metrics", dt.date.fromisoformat(context.partition_key))
    value, baselines = gates.holdout_r2(metrics, quality_gates.holdout_r2_view)
    return dg.AssetCheckResult(
        passed=bool(np.isfinite(value) and value >= quality_gates.min_holdout_r2),
        metadata={f"holdout_r2_{quality_gates.holdout_r2_view}": value, "floor": quality_gates.min_holdout_r2,
                  "baselines": dg.MetadataValue.json(baselines)})


@dg.asset_check(asset=keys.MMM_MODEL, blocking=True, partitions_def=weekly_refresh,
                description="Saved weights and the predictions they give are finite (no NaN or infinity).")
def model_outputs_are_finite(context: dg.AssetCheckExecutionContext, dataset: DatasetResource,
                             warehouse: WarehouseResource, models: ModelStoreResource) -> dg.AssetCheckResult:
    week = dt.date.fromisoformat(context.partition_key)
    bad_weights, n_bad = gates.non_finite_outputs(models.load(week), warehouse.read_panel(dataset.load_spec(), week))
    return dg.AssetCheckResult(passed=not bad_weights and n_bad == 0,
                               metadata={"non_finite_weights": bad_weights, "non_finite_predictions": n_bad})
