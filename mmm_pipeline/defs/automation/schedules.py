"""The weekly refresh job and its schedule (Monday 06:00, for the week that just ended)."""

import dagster as dg

refresh_job = dg.define_asset_job(
    name="mmm_refresh",
    selection=dg.AssetSelection.all(),
    description="Ingest → features → model → decomposition, curves and budget → publish → report, for one refresh week.",
)

weekly_refresh_schedule = dg.build_schedule_from_partitioned_job(
    refresh_job, hour_of_day=6, minute_of_hour=0, default_status=dg.DefaultScheduleStatus.RUNNING,
)
