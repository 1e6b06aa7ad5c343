"""The weekly refresh job, its schedule (Monday 06:00, for the week that just ended) and dead-run recovery."""

import dagster as dg

from mmm_pipeline.partitions import weekly_refresh
from mmm_pipeline.recovery import release_dead_runs

refresh_job = dg.define_asset_job(
    name="mmm_refresh",
    selection=dg.AssetSelection.all(),
    description="Ingest → features → model → decomposition → publish, for one refresh week.",
    partitions_def=weekly_refresh,
)

weekly_refresh_schedule = dg.build_schedule_from_partitioned_job(
    refresh_job, hour_of_day=6, minute_of_hour=0, default_status=dg.DefaultScheduleStatus.RUNNING,
)


@dg.sensor(minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Marks failed the local runs whose worker process died (SIGKILL, OOM) and frees their "
                       "mmm_training pool slot, so the next refresh does not wait for it forever.")
def dead_runs_released(context: dg.SensorEvaluationContext) -> dg.SkipReason:
    released = release_dead_runs(context.instance)
    return dg.SkipReason(f"released {len(released)} dead runs: {released}" if released else "no dead runs")
