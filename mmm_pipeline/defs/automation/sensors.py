"""Dead-run recovery under ``make ui``: the daemon runs what ``make run`` does before each refresh."""

import dagster as dg

from mmm_pipeline.recovery import release_dead_runs


@dg.sensor(minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Marks failed the local runs whose worker process died (SIGKILL, OOM) and frees their "
                       "mmm_training pool slot, so the next refresh does not wait for it forever.")
def dead_runs_released(context: dg.SensorEvaluationContext) -> dg.SkipReason:
    released = release_dead_runs(context.instance)
    return dg.SkipReason(f"released {len(released)} dead runs: {released}" if released else "no dead runs")
