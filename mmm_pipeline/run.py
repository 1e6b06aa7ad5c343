"""``make run``: ingest the bundled data and run the refresh job for its latest complete week, then summarise.

Runs in-process against the real instance in ``$DAGSTER_HOME`` (so the run shows in ``make ui``), writes the
real DuckDB warehouse, model artefacts, serving copy and Parquet exports under ``data/``.

Exit status: 0 published; 1 the refresh failed or was blocked by a check, or the input or week was refused
(the last line says why: the input error, the failed check's description or the step's own error); 130
interrupted (SIGINT or SIGTERM), with the last publication left as it was.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys

import dagster as dg
import duckdb

from mmm_core.data.contract import DataContractError
from mmm_pipeline import keys
from mmm_pipeline.definitions import defs
from mmm_pipeline.partitions import last_data_week, refresh_week_problem
from mmm_pipeline.recovery import release_dead_runs
from mmm_pipeline.resources import default_resources
from mmm_pipeline.storage.tables import PUBLISHED_TABLES

INTERRUPTED = 130
"""Exit status of an interrupted refresh (128 + SIGINT, as a shell reports Ctrl-C; SIGTERM ends the same way)."""

INTERRUPTS = ("DagsterExecutionInterruptedError", "KeyboardInterrupt")


def root_cause(error) -> str:
    """The innermost message of a Dagster ``SerializableErrorInfo`` chain, as ``Type: message``."""
    while error.cause is not None:
        error = error.cause
    text = error.message.strip()
    head, sep, rest = text.partition(": ")
    return f"{error.cls_name}: {rest}" if sep and head.endswith(error.cls_name) else text


def failure_lines(result: dg.ExecuteInProcessResult) -> list[str]:
    """What went wrong in a finished run, one entry per failed step, the cause last in each.

    A failed blocking check gives its description (the view, the figure, the floor and how to change it);
    a ``dg.Failure`` its description; any other error the message of its innermost cause.
    """
    lines = []
    failed_checks = [e.asset_check_evaluation_data for e in result.all_events
                     if e.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
                     and not e.asset_check_evaluation_data.passed]
    for check in failed_checks:
        if not check.blocking:
            lines.append(f"warning: check {check.asset_key.to_user_string()}:{check.check_name} failed"
                         + (f": {check.description}" if check.description else ""))
    for event in result.all_events:
        if not event.is_step_failure:
            continue
        data = event.step_failure_data
        if data.error is not None and data.error.cls_name == "DagsterAssetCheckFailedError":
            continue  # the blocked checks are listed below, with their descriptions
        if data.user_failure_data is not None and data.user_failure_data.description:
            cause = data.user_failure_data.description
        else:
            cause = root_cause(data.error) if data.error is not None else "failed"
        lines.append(f"FAILED {event.step_key}: {cause}")
    for check in failed_checks:
        if check.blocking:
            lines.append(f"BLOCKED by check {check.asset_key.to_user_string()}:{check.check_name}, nothing was "
                         f"published: {check.description or 'failed'}")
    return lines


def was_interrupted(result: dg.ExecuteInProcessResult) -> bool:
    return any(e.is_step_failure and e.step_failure_data.error is not None
               and e.step_failure_data.error.cls_name in INTERRUPTS for e in result.all_events)


def published_in(result: dg.ExecuteInProcessResult) -> bool:
    return any(e.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION
               and e.asset_key == dg.AssetKey(keys.SERVING_TABLES) for e in result.all_events)


def main(argv: list[str] | None = None) -> int:
    resources = default_resources()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--refresh-week", type=dt.date.fromisoformat,
                        help="partition key (a Monday, YYYY-MM-DD); default: the data's latest week")
    parser.add_argument("--run-config", type=json.loads, default=None,
                        help='run config as JSON, e.g. \'{"ops": {"mmm_model": {"config": {"epochs": 30}}}}\'')
    args = parser.parse_args(argv)
    dataset = resources["dataset"]
    try:
        data_end = last_data_week(dataset.spec_path, dataset.allow_outside_paths)
    except DataContractError as exc:
        print(f"input rejected, no refresh started: {exc}", file=sys.stderr)
        return 1
    week = args.refresh_week or data_end
    problem = refresh_week_problem(week, data_end)
    if problem:
        print(f"no refresh started: {problem}", file=sys.stderr)
        return 1
    print(f"refresh week {week} on {dataset.spec_path}", flush=True)
    job = defs().resolve_job_def("mmm_refresh")
    with dg.DagsterInstance.get() as instance:
        for run_id in release_dead_runs(instance):  # a killed earlier run would hold the training pool forever
            print(f"released run {run_id}: its worker process is gone", flush=True)
        result = job.execute_in_process(partition_key=week.isoformat(), instance=instance,
                                        run_config=args.run_config, raise_on_error=False)
    if was_interrupted(result):
        state = ("it was published before the signal; later steps (the dashboard) did not run"
                 if published_in(result) else "nothing was published, the serving file is as it was")
        print(f"refresh {week} interrupted (SIGINT/SIGTERM), run {result.run_id} marked failed: {state}",
              file=sys.stderr)
        return INTERRUPTED
    if not result.success:
        for line in failure_lines(result):
            print(line, file=sys.stderr)
        return 1
    print_summary(resources, week)
    for line in failure_lines(result):  # non-blocking checks that warned
        print(line)
    return 0


def print_summary(resources: dict, week: dt.date) -> None:
    serving = resources["serving"].database_path
    with duckdb.connect(str(serving), read_only=True) as conn:
        print(f"\npublished: {serving}")
        for table in PUBLISHED_TABLES:
            n = conn.execute(f'SELECT count(*) FROM "{table}" WHERE refresh_week = ?', [week]).fetchone()[0]
            print(f"  {table:<20} {n:>8} rows for {week}")
        run = conn.execute("SELECT holdout_r2, holdout_r2_within_region, holdout_r2_national, "
                           "best_baseline_holdout_r2_within_region, train_r2, epochs, wall_time_s, artifact_path, "
                           "refit_epochs FROM latest_model_runs").fetchone()
        print(f"\nholdout R² pooled {run[0]:.3f} | within-region {run[1]:.3f} (best naive baseline {run[3]:.3f}) | "
              f"national {run[2]:.3f}; train R² {run[4]:.3f}; holdout fit {run[5]} epochs, refit "
              f"{run[8] if run[8] is not None else 'none'}; {run[6]:.1f} s")
        print(f"model artefact: {run[7]}")
        print("\nchannel summary (latest refresh):")
        print(conn.execute("SELECT channel, round(spend) AS spend, round(direct_contribution) AS direct, "
                           "round(share, 3) AS share_of_direct, round(total_contribution) AS total, "
                           "round(roi, 3) AS roi, round(roi_lower, 3) AS roi_lower, round(roi_upper, 3) AS roi_upper, "
                           "round(roi_prior_weight, 2) AS roi_from_prior "
                           "FROM latest_channel_summary ORDER BY direct_contribution DESC").df().to_string(index=False))
        print("direct: the channel's term of the decomposition (adds up across channels; share is of direct); "
              "total: KPI lost without the channel's own spend (own + induced in DAG children); roi = total / spend; "
              "roi_lower / roi_upper: the ensemble's interval at the level in channel_summary.interval "
              "(NaN without one)")
    dashboard = resources["reports"].path(week)
    print(f"\nwarehouse: {resources['warehouse'].database}\nparquet:   {serving.parent / 'parquet'}"
          f"\ndashboard: {dashboard}"
          f"\nUI:        make ui  (then http://127.0.0.1:3000)")


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except KeyboardInterrupt:  # a signal before or after the Dagster run (Dagster handles those during it)
        print("interrupted outside the refresh run: its own outcome stands (see `make ui`)", file=sys.stderr)
        raise SystemExit(INTERRUPTED) from None
