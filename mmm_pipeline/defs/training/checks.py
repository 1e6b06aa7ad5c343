"""Model checks: a refresh whose forecast is no better than naive, or whose outputs are not finite, is not published
(blocking); an experiment the model contradicts is a warning."""

import datetime as dt

import dagster as dg

from mmm_pipeline import gates, keys
from mmm_pipeline.partitions import weekly_refresh
from mmm_pipeline.resources import DatasetResource, ModelStoreResource, QualityGatesResource, WarehouseResource


@dg.asset_check(asset=keys.MMM_MODEL, blocking=True, partitions_def=weekly_refresh,
                description="The forecast of the held-out weeks beats the best naive baseline (region mean, last "
                            "4 weeks, same week last year) within-region and nationally by the configured skill "
                            "(quality_gates.min_holdout_skill, MMM_MIN_HOLDOUT_SKILL).")
def holdout_forecast_beats_naive(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource,
                                 quality_gates: QualityGatesResource) -> dg.AssetCheckResult:
    week = dt.date.fromisoformat(context.partition_key)
    n_regions = int(warehouse.read("model_runs", week).n_regions.iloc[0])
    verdicts = gates.forecast_verdicts(warehouse.read("model_metrics", week), n_regions,
                                       quality_gates.min_holdout_skill)
    metadata = {}
    for v in verdicts:
        metadata |= {f"holdout_r2_{v.view}": v.model_r2, f"best_baseline_{v.view}": v.baseline or "none",
                     f"best_baseline_holdout_r2_{v.view}": v.baseline_r2,
                     f"required_holdout_r2_{v.view}": v.required_r2}
    return dg.AssetCheckResult(
        passed=all(v.passed for v in verdicts),
        description=gates.forecast_gate_description(verdicts, quality_gates.how_to_change("min_holdout_skill")),
        metadata={**metadata, "min_holdout_skill": quality_gates.min_holdout_skill})


@dg.asset_check(asset=keys.MMM_MODEL, blocking=True, partitions_def=weekly_refresh,
                description="Saved weights and the predictions they give are finite (no NaN or infinity).")
def model_outputs_are_finite(context: dg.AssetCheckExecutionContext, dataset: DatasetResource,
                             warehouse: WarehouseResource, models: ModelStoreResource) -> dg.AssetCheckResult:
    week = dt.date.fromisoformat(context.partition_key)
    bad_weights, n_bad = gates.non_finite_outputs(models.load(week), warehouse.read_panel(dataset.load_spec(), week))
    return dg.AssetCheckResult(passed=not bad_weights and n_bad == 0,
                               metadata={"non_finite_weights": bad_weights, "non_finite_predictions": n_bad})


@dg.asset_check(asset=keys.MMM_MODEL, blocking=False, partitions_def=weekly_refresh,
                description="Warns when an experiment's measured lift and the model's lift for it differ by more than "
                            "the configured number of standard errors (|z|, or |loo_z| of the model fitted without "
                            "the experiment when leave_one_out is set, in the experiments table above "
                            "quality_gates.max_experiment_z, MMM_MAX_EXPERIMENT_Z), naming the experiments; skipped "
                            "when the refresh window holds no experiment.")
def experiments_agree_with_model(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource,
                                 quality_gates: QualityGatesResource) -> dg.AssetCheckResult | None:
    week = dt.date.fromisoformat(context.partition_key)
    experiments = warehouse.read("experiments", week)
    judged = gates.judged_experiments(experiments)
    if judged.empty:
        # No result: Dagster shows the planned check as skipped (see roi_stable_since_last_refresh).
        context.log.info(f"experiments_agree_with_model skipped: refresh {week} has no experiment in its window "
                         f"({len(experiments)} in the experiments file)")
        return None
    threshold = quality_gates.max_experiment_z
    off = gates.contradicting_experiments(experiments, threshold)
    loo = judged.dropna(subset=["loo_z"])
    loo_z = {e: round(float(z), 3) for e, z in zip(loo.experiment, loo.loo_z)}
    return dg.AssetCheckResult(
        passed=off.empty, severity=dg.AssetCheckSeverity.WARN,
        description=gates.experiments_description(experiments, threshold,
                                                  quality_gates.how_to_change("max_experiment_z")),
        metadata={"threshold": threshold, "experiments_contradicting": list(off.experiment),
                  "z": dg.MetadataValue.json({e: round(float(z), 3) for e, z in zip(judged.experiment, judged.z)}),
                  **({"loo_z": dg.MetadataValue.json(loo_z)} if loo_z else {}),
                  "experiments_not_in_window": list(experiments.experiment[~experiments.experiment.isin(
                      judged.experiment)])})
