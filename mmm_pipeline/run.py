"""``make run``: ingest the bundled data and run the refresh job for its latest complete week, then summarise.

Runs in-process against the real instance in ``$DAGSTER_HOME`` (so the run shows in ``make ui``), writes the
real DuckDB warehouse, model artefacts, serving copy and Parquet exports under ``data/``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys

import dagster as dg
import duckdb

from mmm_core.data.io import load_panel
from mmm_pipeline.definitions import defs
from mmm_pipeline.recovery import release_dead_runs
from mmm_pipeline.resources import default_resources
from mmm_pipeline.storage.tables import PUBLISHED_TABLES


def latest_refresh_week(spec_path: str) -> str:
    """The Monday partition that holds the data's last week."""
    last = dt.date.fromisoformat(str(load_panel(spec_path).weeks[-1]))
    return (last - dt.timedelta(days=last.weekday())).isoformat()


def main(argv: list[str] | None = None) -> int:
    resources = default_resources()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--refresh-week", help="partition key (a Monday); default: the data's latest week")
    parser.add_argument("--run-config", type=json.loads, default=None,
                        help='run config as JSON, e.g. \'{"ops": {"mmm_model": {"config": {"epochs": 30}}}}\'')
    args = parser.parse_args(argv)
    spec_path = resources["dataset"].spec_path
    week = args.refresh_week or latest_refresh_week(spec_path)
    print(f"refresh week {week} on {spec_path}", flush=True)
    definitions = defs()
    job = definitions.resolve_job_def("mmm_refresh")
    with dg.DagsterInstance.get() as instance:
        for run_id in release_dead_runs(instance):  # a killed earlier run would hold the training pool forever
            print(f"released run {run_id}: its worker process is gone", flush=True)
        result = job.execute_in_process(partition_key=week, instance=instance, run_config=args.run_config,
                                        raise_on_error=False)
    if not result.success:
        failures = [e for e in result.all_events if e.is_step_failure]
        for event in failures:
            print(f"FAILED {event.step_key}: {event.step_failure_data.error.message.strip()}", file=sys.stderr)
        return 1
    serving = resources["serving"].database_path
    with duckdb.connect(str(serving), read_only=True) as conn:
        print(f"\npublished: {serving}")
        for table in PUBLISHED_TABLES:
            n = conn.execute(f'SELECT count(*) FROM "{table}" WHERE refresh_week = ?', [week]).fetchone()[0]
            print(f"  {table:<20} {n:>8} rows for {week}")
        run = conn.execute("SELECT holdout_r2, holdout_r2_within_region, holdout_r2_national, "
                           "best_baseline_holdout_r2_within_region, train_r2, epochs, wall_time_s, artifact_path "
                           "FROM latest_model_runs").fetchone()
        print(f"\nholdout R² pooled {run[0]:.3f} | within-region {run[1]:.3f} (best naive baseline {run[3]:.3f}) | "
              f"national {run[2]:.3f}; train R² {run[4]:.3f}; {run[5]} epochs, {run[6]:.1f} s")
        print(f"model artefact: {run[7]}")
        print("\nchannel summary (latest refresh):")
        print(conn.execute("SELECT channel, round(spend) AS spend, round(total_contribution) AS total_contribution, "
                           "round(share, 3) AS share, round(roi, 3) AS roi FROM latest_channel_summary "
                           "ORDER BY total_contribution DESC").df().to_string(index=False))
    dashboard = resources["reports"].path(dt.date.fromisoformat(week))
    print(f"\nwarehouse: {resources['warehouse'].database}\nparquet:   {serving.parent / 'parquet'}"
          f"\ndashboard: {dashboard}"
          f"\nUI:        make ui  (then http://127.0.0.1:3000)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
