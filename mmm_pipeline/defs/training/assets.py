"""The refresh's fitted model: holdout fit beside naive baselines, refit (both trained on the current experiments),
artefact, model_runs, model_metrics, holdout_forecast and experiments."""

import datetime as dt
import json

import dagster as dg

from mmm_core.analysis.backtest import MIN_HOLDOUT_TRAINING_WEEKS, fit_with_holdout, holdout_weeks_for
from mmm_core.data.contract import DataContractError
from mmm_pipeline import keys
from mmm_pipeline.defs.training.config import GPU_POD, TrainingConfig
from mmm_pipeline.metadata import table_metadata, table_schema
from mmm_pipeline.partitions import weekly_refresh
from mmm_pipeline.policies import OWNERS, TRAINING_POOL
from mmm_pipeline.resources import ComputeResource, DatasetResource, ModelStoreResource, WarehouseResource
from mmm_pipeline.storage.runs import experiment_rows, metrics_rows, run_record
from mmm_pipeline.storage.tables import MissingRefreshData
from mmm_pipeline.storage.warehouse import CurrentViewOutOfDate


@dg.asset(
    name=keys.MMM_MODEL, partitions_def=weekly_refresh, deps=[keys.MODEL_FEATURES, keys.RAW_MARKETING_DATA],
    group_name="training",
    kinds={"pytorch", "duckdb"}, owners=OWNERS, pool=TRAINING_POOL,
    op_tags={"dagster-k8s/config": GPU_POD}, metadata={"dagster/column_schema": table_schema("model_runs")},
    description="The refresh's fitted model (a folder of the model store: config.json + weights.safetensors + "
                "checksums.json, and members.safetensors + members.json when the run refits an ensemble for "
                "intervals) and its rows in model_runs, model_metrics (holdout metrics beside naive "
                "baselines), holdout_forecast (the held-out weeks' forecast and prediction interval) and "
                "experiments (each lift test of the current experiments file beside the model's lift). Both fits "
                "train on the current experiments whose weeks they cover.",
)
def mmm_model(context: dg.AssetExecutionContext, config: TrainingConfig, dataset: DatasetResource,
              warehouse: WarehouseResource, compute: ComputeResource,
              models: ModelStoreResource) -> dg.MaterializeResult:
    refresh_week = dt.date.fromisoformat(context.partition_key)
    spec = dataset.load_spec()
    try:
        panel = warehouse.read_panel(spec, refresh_week)
        # The current load's experiments only (raw_current_experiments), valid against the current data.
        lift_tests = warehouse.current_lift_tests(spec)
    except (MissingRefreshData, CurrentViewOutOfDate, DataContractError) as exc:
        raise dg.Failure(str(exc), allow_retries=False) from exc
    overrides = config.overrides(compute.train_overrides())
    try:
        holdout_weeks = holdout_weeks_for(panel.n_weeks, config.holdout_weeks)
    except ValueError as exc:
        raise dg.Failure(str(exc), allow_retries=False) from exc
    if holdout_weeks < config.holdout_weeks:
        context.log.warning(f"holdout shortened from {config.holdout_weeks} to {holdout_weeks} weeks: the window has "
                            f"{panel.n_weeks} weeks and the holdout model trains on at least "
                            f"{MIN_HOLDOUT_TRAINING_WEEKS}")

    def log_progress(event) -> None:
        context.log.info(f"{event.phase} epoch {event.epoch}: loss {event.train_loss:.5f}"
                         + ("" if event.val_metric is None else f", validation {event.val_metric:.5f}"))

    fit = fit_with_holdout(panel, holdout_weeks, config.refit_full_window, overrides=overrides,
                           callback=log_progress, ensemble=config.ensemble(), lift_tests=lift_tests,
                           workers=compute.workers)
    if config.leave_one_out and lift_tests:
        context.log.info(f"leave_one_out: one more fit per experiment in the refresh window (the file has "
                         f"{len(lift_tests)})")
    experiments = experiment_rows(fit.model, panel, lift_tests, overrides if config.leave_one_out else None)
    path = models.save(refresh_week, fit.ensemble or fit.model, context.run.run_id)
    record = run_record(fit, panel, refresh_week, context.run.run_id, overrides, config.seed, path)
    counts = warehouse.write(refresh_week, {"model_runs": record, "model_metrics": metrics_rows(fit),
                                            "holdout_forecast": fit.forecast, "experiments": experiments})
    row = record.iloc[0]
    return dg.MaterializeResult(metadata={
        **table_metadata("model_runs", counts["model_runs"]),
        "model_metrics_column_schema": table_schema("model_metrics"),
        "model_metrics_rows": counts["model_metrics"],
        "holdout_forecast_column_schema": table_schema("holdout_forecast"),
        "holdout_forecast_rows": counts["holdout_forecast"],
        "experiments_column_schema": table_schema("experiments"),
        "experiments_rows": counts["experiments"],
        "experiments_used": int(experiments["used"].sum()),
        "holdout_interval_coverage": fit.metric("holdout", "pooled", "interval_coverage"),
        "artifact_path": dg.MetadataValue.path(str(path)),
        "holdout_r2_pooled": float(row.holdout_r2),
        "holdout_r2_within_region": float(row.holdout_r2_within_region),
        "holdout_r2_national": float(row.holdout_r2_national),
        "best_baseline_holdout_r2_within_region": float(row.best_baseline_holdout_r2_within_region),
        "train_r2": float(row.train_r2),
        "epochs": int(row.epochs), "wall_time_s": float(row.wall_time_s), "device": str(row.device),
        "config": dg.MetadataValue.json(json.loads(row.config_json)),
        "holdout_weeks": fit.holdout_weeks,
        "ensemble_members": 0 if fit.ensemble is None else len(fit.ensemble.nets),
        "code_version": str(row.code_version), "config_hash": str(row.config_hash),  # as in model_runs
    })
