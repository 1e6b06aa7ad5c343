"""Checks on the decomposition: its components add up (blocking); ROI drift since the last refresh and ROI
intervals too wide to act on (warnings)."""

import datetime as dt

import dagster as dg
import numpy as np

from mmm_pipeline import gates
from mmm_pipeline.partitions import weekly_refresh
from mmm_pipeline.resources import DatasetResource, ModelStoreResource, QualityGatesResource, WarehouseResource


@dg.asset_check(asset="contributions", blocking=True, partitions_def=weekly_refresh,
                description="The stored components of every region-week add up to the model's prediction.")
def decomposition_sums_to_prediction(context: dg.AssetCheckExecutionContext, dataset: DatasetResource,
                                     warehouse: WarehouseResource, models: ModelStoreResource,
                                     quality_gates: QualityGatesResource) -> dg.AssetCheckResult:
    week = dt.date.fromisoformat(context.partition_key)
    panel = warehouse.read_panel(dataset.load_spec(), week)
    prediction = models.load(week).predict(panel)
    worst, n = gates.additivity_error(warehouse.read("contributions", week), prediction, panel)
    return dg.AssetCheckResult(passed=worst <= quality_gates.max_additivity_error,
                               metadata={"max_relative_error": worst, "region_weeks": n,
                                         "tolerance": quality_gates.max_additivity_error})


@dg.asset_check(asset="channel_summary", blocking=False, partitions_def=weekly_refresh,
                description="Warns when a channel's ROI moved by more than the configured fraction since the "
                            "previous refresh; skipped when there is no earlier refresh to compare with.")
def roi_stable_since_last_refresh(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource,
                                  quality_gates: QualityGatesResource) -> dg.AssetCheckResult | None:
    week = dt.date.fromisoformat(context.partition_key)
    previous_week = warehouse.previous_refresh("channel_summary", week)
    if previous_week is None:
        # No result at all: Dagster shows a planned check without an evaluation in a successful run as
        # "Skipped" (AssetCheckExecutionResolvedStatus.SKIPPED). passed=True would claim a comparison made.
        context.log.info(f"roi_stable_since_last_refresh skipped: no refresh before {week} to compare ROI with")
        return None
    change = gates.relative_roi_change(warehouse.read("channel_summary", week),
                                       warehouse.read("channel_summary", previous_week))
    moved = change[change.abs() > quality_gates.max_roi_change]
    return dg.AssetCheckResult(
        passed=moved.empty, severity=dg.AssetCheckSeverity.WARN,
        metadata={"previous_refresh": str(previous_week), "threshold": quality_gates.max_roi_change,
                  "relative_roi_change": dg.MetadataValue.json({k: round(float(v), 4) for k, v in change.items()}),
                  "channels_moved": list(moved.index)})


@dg.asset_check(asset="channel_summary", blocking=False, partitions_def=weekly_refresh,
                description="Warns when a channel's ROI interval is too wide to act on (roi_upper / roi_lower above "
                            "the configured ratio), naming the channels: where an experiment would pay. Skipped for "
                            "a refresh without an ensemble.")
def roi_intervals_narrow_enough_to_act_on(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource,
                                          quality_gates: QualityGatesResource) -> dg.AssetCheckResult | None:
    week = dt.date.fromisoformat(context.partition_key)
    summary = warehouse.read("channel_summary", week)
    ratio = gates.roi_interval_ratio(summary)
    if ratio.empty:
        context.log.info(f"roi_intervals_narrow_enough_to_act_on skipped: refresh {week} has no ROI intervals "
                         f"(trained with ensemble_members 0)")
        return None
    wide = ratio[ratio > quality_gates.max_roi_interval_ratio]
    return dg.AssetCheckResult(
        passed=wide.empty, severity=dg.AssetCheckSeverity.WARN,
        metadata={"threshold": quality_gates.max_roi_interval_ratio, "interval": float(summary["interval"].iloc[0]),
                  "roi_interval_ratio": dg.MetadataValue.json({k: (round(float(v), 3) if np.isfinite(v) else "inf")
                                                               for k, v in ratio.items()}),
                  "channels_too_wide": list(wide.index)})
