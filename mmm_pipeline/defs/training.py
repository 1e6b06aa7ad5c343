"""Model training, one partition per weekly refresh: holdout fit, baselines, refit, artefacts, model_runs."""

import datetime as dt
import json

import dagster as dg
from dagster_duckdb import DuckDBResource

from mmm_core.analysis.backtest import DEFAULT_HOLDOUT_WEEKS, fit_with_holdout
from mmm_core.model.features import panel_from_features
from mmm_pipeline.artifacts import code_version, config_hash, save_model_atomically
from mmm_pipeline.defs.features import model_features
from mmm_pipeline.partitions import weekly_refresh
from mmm_pipeline.policies import TRAINING_POOL, WAREHOUSE_RETRY, retry_only_on_lock
from mmm_pipeline.resources import ArtifactStoreResource, ComputeResource, DatasetResource
from mmm_pipeline.runs import metrics_rows, run_record
from mmm_pipeline.tables import read_partition, replace_partition

GPU_POD = {"container_config": {"resources": {"limits": {"nvidia.com/gpu": "1"},
                                              "requests": {"cpu": "4", "memory": "8Gi"}}}}
"""Kubernetes pod spec for a training step (read by the k8s executor; inert on a local instance)."""


class TrainingConfig(dg.Config):
    """Launchpad-editable run settings; None keeps mmm_core's documented default."""

    holdout_weeks: int = DEFAULT_HOLDOUT_WEEKS
    refit_full_window: bool = True
    seed: int = 0
    epochs: int | None = None
    hidden_size: int | None = None
    learning_rate: float | None = None
    roi_pooling: float | None = None
    """Weight of the exchangeable-ROI prior (``mmm_core.model.training.TrainConfig.roi_pooling``); 0 turns it off."""

    def overrides(self, compute: ComputeResource) -> dict[str, dict]:
        train = {"seed": self.seed, "device": compute.device}
        if compute.threads:
            train["threads"] = compute.threads
        if self.epochs is not None:
            train["epochs"] = self.epochs
        if self.learning_rate is not None:
            train["learning_rate"] = self.learning_rate
        if self.roi_pooling is not None:
            train["roi_pooling"] = self.roi_pooling
        model = {} if self.hidden_size is None else {"hidden_size": self.hidden_size}
        return {"model": model, "train": train}


@dg.asset(
    partitions_def=weekly_refresh, deps=[model_features], group_name="model", kinds={"pytorch"},
    pool=TRAINING_POOL, retry_policy=WAREHOUSE_RETRY, op_tags={"dagster-k8s/config": GPU_POD},
    description="The refresh's fitted model (data/models/<refresh_week>/: config.json + weights.safetensors) and "
                "its rows in model_runs and model_metrics (holdout metrics beside naive baselines).",
)
def mmm_model(context: dg.AssetExecutionContext, config: TrainingConfig, dataset: DatasetResource,
              warehouse: DuckDBResource, compute: ComputeResource,
              artifacts: ArtifactStoreResource) -> dg.MaterializeResult:
    refresh_week = dt.date.fromisoformat(context.partition_key)
    spec = dataset.load_spec()
    with warehouse.get_connection() as conn:
        features = read_partition(conn, "features", refresh_week)
    if features.empty:
        raise dg.Failure(f"no features for refresh {refresh_week}; materialize model_features first",
                         allow_retries=False)
    panel = panel_from_features(features, tuple(c.name for c in spec.channels), tuple(spec.controls))
    overrides = config.overrides(compute)

    def log_progress(event) -> None:
        context.log.info(f"{event.phase} epoch {event.epoch}: loss {event.train_loss:.5f}"
                         + ("" if event.val_metric is None else f", validation {event.val_metric:.5f}"))

    with retry_only_on_lock():
        fit = fit_with_holdout(panel, config.holdout_weeks, config.refit_full_window, overrides=overrides,
                               callback=log_progress)
    path = save_model_atomically(fit.model, artifacts.models_dir / refresh_week.isoformat())
    record = run_record(fit, panel, refresh_week, context.run.run_id, overrides, config.seed, path)
    with warehouse.get_connection() as conn:
        replace_partition(conn, "model_runs", refresh_week, record)
        replace_partition(conn, "model_metrics", refresh_week, metrics_rows(fit))
    row = record.iloc[0]
    return dg.MaterializeResult(metadata={
        "artifact_path": dg.MetadataValue.path(str(path)),
        "holdout_r2_pooled": float(row.holdout_r2),
        "holdout_r2_within_region": float(row.holdout_r2_within_region),
        "holdout_r2_national": float(row.holdout_r2_national),
        "best_baseline_holdout_r2_within_region": float(row.best_baseline_holdout_r2_within_region),
        "train_r2": float(row.train_r2),
        "epochs": int(row.epochs), "wall_time_s": float(row.wall_time_s), "device": str(row.device),
        "config": dg.MetadataValue.json(json.loads(row.config_json)),
        "code_version": code_version(), "config_hash": config_hash(overrides),
    })
