"""Model checks. Blocking ones stop a bad refresh before it is published; the ROI drift check only warns."""

import datetime as dt

import dagster as dg
import numpy as np
from dagster_duckdb import DuckDBResource

from mmm_pipeline.defs.decomposition import load_refresh
from mmm_pipeline.defs.training import mmm_model
from mmm_pipeline.partitions import weekly_refresh
from mmm_pipeline.resources import ArtifactStoreResource, DatasetResource, QualityGatesResource
from mmm_pipeline.tables import ensure_table, read_partition


def _week(context: dg.AssetCheckExecutionContext) -> dt.date:
    return dt.date.fromisoformat(context.partition_key)


@dg.asset_check(asset=mmm_model, blocking=True, partitions_def=weekly_refresh,
                description="The forecast of the held-out weeks reaches the configured R² floor.")
def holdout_r2_above_floor(context: dg.AssetCheckExecutionContext, warehouse: DuckDBResource,
                           quality_gates: QualityGatesResource) -> dg.AssetCheckResult:
    with warehouse.get_connection() as conn:
        metrics = read_partition(conn, "model_metrics", _week(context))
    view = quality_gates.holdout_r2_view
    rows = metrics[(metrics.split == "holdout") & (metrics.metric == "r2") & (metrics.view == view)]
    model_r2 = rows[rows.series == "model"].value
    value = float(model_r2.iloc[0]) if len(model_r2) else float("nan")
    baselines = {s: float(v) for s, v in zip(rows.series, rows.value) if s != "model"}
    return dg.AssetCheckResult(
        passed=bool(np.isfinite(value) and value >= quality_gates.min_holdout_r2),
        metadata={f"holdout_r2_{view}": value, "floor": quality_gates.min_holdout_r2,
                  "baselines": dg.MetadataValue.json(baselines)})


@dg.asset_check(asset=mmm_model, blocking=True, partitions_def=weekly_refresh,
                description="Saved weights and the predictions they give are finite (no NaN or infinity).")
def model_outputs_are_finite(context: dg.AssetCheckExecutionContext, dataset: DatasetResource,
                             warehouse: DuckDBResource, artifacts: ArtifactStoreResource) -> dg.AssetCheckResult:
    model, panel = load_refresh(_week(context), dataset, warehouse, artifacts)
    bad_weights = [k for k, v in model.net_.state_dict().items() if not bool(v.isfinite().all())]
    prediction = model.predict(panel)
    n_bad = int((~np.isfinite(prediction)).sum())
    return dg.AssetCheckResult(passed=not bad_weights and n_bad == 0,
                               metadata={"non_finite_weights": bad_weights, "non_finite_predictions": n_bad})


@dg.asset_check(asset="contributions", blocking=True, partitions_def=weekly_refresh,
                description="The stored components of every region-week add up to the model's prediction.")
def decomposition_sums_to_prediction(context: dg.AssetCheckExecutionContext, dataset: DatasetResource,
                                     warehouse: DuckDBResource, artifacts: ArtifactStoreResource,
                                     quality_gates: QualityGatesResource) -> dg.AssetCheckResult:
    week = _week(context)
    model, panel = load_refresh(week, dataset, warehouse, artifacts)
    with warehouse.get_connection() as conn:
        stored = read_partition(conn, "contributions", week)
    sums = stored.groupby(["region", "week"])["value"].sum()
    prediction = model.predict(panel)
    r_idx, t_idx = np.nonzero(panel.observed)
    expected = prediction[r_idx, t_idx]
    got = sums.reindex(list(zip(np.asarray(panel.regions)[r_idx], panel.weeks[t_idx].astype("datetime64[ns]"))))
    got = got.to_numpy()
    scale = np.maximum(np.abs(expected), 1e-12)
    rel = np.abs(np.nan_to_num(got, nan=np.inf) - expected) / scale
    worst = float(rel.max()) if len(rel) else 0.0
    return dg.AssetCheckResult(passed=worst <= quality_gates.max_additivity_error,
                               metadata={"max_relative_error": worst, "region_weeks": int(len(rel)),
                                         "tolerance": quality_gates.max_additivity_error})


@dg.asset_check(asset="channel_summary", blocking=False, partitions_def=weekly_refresh,
                description="Warns when a channel's ROI moved by more than the configured fraction since the "
                            "previous refresh.")
def roi_stable_since_last_refresh(context: dg.AssetCheckExecutionContext, warehouse: DuckDBResource,
                                  quality_gates: QualityGatesResource) -> dg.AssetCheckResult:
    week = _week(context)
    with warehouse.get_connection() as conn:
        ensure_table(conn, "channel_summary")
        previous_week = conn.execute("SELECT max(refresh_week) FROM channel_summary WHERE refresh_week < ?",
                                     [week]).fetchone()[0]
        current = read_partition(conn, "channel_summary", week).set_index("channel").roi
        if previous_week is None:
            return dg.AssetCheckResult(passed=True, metadata={"previous_refresh": "none"})
        previous = read_partition(conn, "channel_summary", previous_week).set_index("channel").roi
    change = ((current - previous) / previous.abs().clip(lower=1e-12)).dropna()
    moved = change[change.abs() > quality_gates.max_roi_change]
    return dg.AssetCheckResult(
        passed=moved.empty, severity=dg.AssetCheckSeverity.WARN,
        metadata={"previous_refresh": str(previous_week), "threshold": quality_gates.max_roi_change,
                  "relative_roi_change": dg.MetadataValue.json({k: round(float(v), 4) for k, v in change.items()}),
                  "channels_moved": list(moved.index)})
