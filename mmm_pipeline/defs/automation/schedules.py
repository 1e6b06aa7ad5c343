"""The weekly refresh job and its schedule: Monday 06:00, the data's newest week unless it is already published."""

import datetime as dt

import dagster as dg

from mmm_core.data.contract import DataContractError
from mmm_pipeline import keys
from mmm_pipeline.partitions import last_data_week, refresh_week_problem
from mmm_pipeline.resources import DatasetResource

refresh_job = dg.define_asset_job(
    name="mmm_refresh",
    selection=dg.AssetSelection.all(),
    description="Ingest → features → model → decomposition, curves and budget → publish → report, for one refresh week.",
)


@dg.schedule(
    job=refresh_job, cron_schedule="0 6 * * 1", name="mmm_refresh_schedule",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Mondays 06:00 UTC: refresh the data's newest week, unless it is already published. Skips (with "
                "the reason on the tick) when the input is rejected or that week is not a refresh week "
                "(before MMM_REFRESH_START, or not ended); never launches a week the data do not have.",
)
def mmm_refresh_schedule(context: dg.ScheduleEvaluationContext, dataset: DatasetResource):
    try:
        week = last_data_week(dataset.spec_path, dataset.allow_outside_paths)
    except DataContractError as exc:
        return dg.SkipReason(f"input rejected, no refresh launched: {exc}")
    tick = context.scheduled_execution_time or dt.datetime.now(dt.timezone.utc)
    problem = refresh_week_problem(week, data_end=week, today=tick.date())
    if problem:
        return dg.SkipReason(problem)
    if week.isoformat() in context.instance.get_materialized_partitions(dg.AssetKey(keys.SERVING_TABLES)):
        return dg.SkipReason(f"refresh {week} (the data's newest week) is already published; no newer data")
    return dg.RunRequest(run_key=week.isoformat(), partition_key=week.isoformat())
