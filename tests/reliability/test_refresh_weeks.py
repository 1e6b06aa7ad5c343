"""Which weeks get refreshed: the data decide, never the calendar alone.

The refresh partitions are calendar weeks (``MMM_REFRESH_START`` to the last week that ended). The schedule
used to request the last calendar week whatever the data held (a week with no data, whose run failed and
turned the lineage red), and data ending before ``MMM_REFRESH_START`` gave ``DagsterUnknownPartitionError``.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import dagster as dg
import pytest

from mmm_pipeline import partitions
from mmm_pipeline.definitions import defs
from tests.conftest import REFRESH_WEEKS, ROOT, Deployment

DATA_END = dt.date.fromisoformat(REFRESH_WEEKS[-1])
"""The tiny deployment's newest week."""

TICK = dt.datetime(2026, 11, 30, 6, 0, tzinfo=dt.timezone.utc)
"""A Monday tick long after the data end: the calendar's last complete week (2026-11-23) has no data."""


def evaluate_schedule(deployment: Deployment, instance: dg.DagsterInstance):
    """One tick of the shipped schedule at ``TICK``, with the code location's resources on ``deployment``."""
    with pytest.MonkeyPatch.context() as mp:
        for name, value in deployment.variables.items():
            mp.setenv(name, value)
        definitions = defs()
    schedule = definitions.resolve_schedule_def("mmm_refresh_schedule")
    with dg.build_schedule_context(instance=instance, scheduled_execution_time=TICK,
                                   repository_def=definitions.get_repository_def(),
                                   resources=dict(definitions.resources)) as context:  # closes what it opened
        return schedule.evaluate_tick(context)


def test_the_schedule_refreshes_the_datas_newest_week_not_the_calendars(deployment):
    with dg.instance_for_test() as instance:
        tick = evaluate_schedule(deployment, instance)
    assert [r.partition_key for r in tick.run_requests] == [DATA_END.isoformat()]


def test_the_schedule_skips_a_week_that_is_already_published(deployment):
    with dg.instance_for_test() as instance:
        instance.report_runless_asset_event(dg.AssetMaterialization("serving_tables", partition=DATA_END.isoformat()))
        tick = evaluate_schedule(deployment, instance)
    assert not tick.run_requests
    assert "already published" in tick.skip_message


def test_the_schedule_skips_rejected_input_with_the_reason(deployment):
    deployment.spec_path.write_text("name: broken\nfiles: 5\n")
    with dg.instance_for_test() as instance:
        tick = evaluate_schedule(deployment, instance)
    assert not tick.run_requests
    assert tick.skip_message.startswith("input rejected")


def test_data_ending_before_the_first_refresh_week_says_to_set_it():
    first = partitions.first_refresh_week()
    early = first - dt.timedelta(weeks=3)
    problem = partitions.refresh_week_problem(early, data_end=early)
    assert "MMM_REFRESH_START" in problem and early.isoformat() in problem


@pytest.mark.parametrize("week, expected", [
    (DATA_END + dt.timedelta(weeks=1), "has no data"),
    (DATA_END + dt.timedelta(days=1), "refresh weeks are Mondays"),
    (DATA_END, None),
])
def test_a_week_is_refreshable_only_with_data_through_it(week, expected):
    problem = partitions.refresh_week_problem(week, data_end=DATA_END, today=TICK.date())
    assert problem is None if expected is None else expected in problem


def test_a_week_that_has_not_ended_is_refused():
    sunday = DATA_END + dt.timedelta(days=6)
    assert "not ended" in partitions.refresh_week_problem(DATA_END, data_end=DATA_END, today=sunday)


def test_make_run_on_data_ending_before_mmm_refresh_start_says_to_set_it(deployment):
    """Before: DagsterUnknownPartitionError and a traceback."""
    env = {**deployment.env, "MMM_REFRESH_START": "2024-01-01"}
    out = subprocess.run([sys.executable, "-m", "mmm_pipeline.run"], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode != 0
    assert "Traceback" not in out.stderr, out.stderr[-3000:]
    last = out.stderr.strip().splitlines()[-1]
    assert "MMM_REFRESH_START" in last and REFRESH_WEEKS[-1] in last, last


def test_make_run_refuses_a_week_the_data_do_not_have(deployment):
    week = (DATA_END + dt.timedelta(weeks=2)).isoformat()
    out = subprocess.run([sys.executable, "-m", "mmm_pipeline.run", "--refresh-week", week], cwd=ROOT,
                         env=deployment.env, capture_output=True, text=True, timeout=300)
    assert out.returncode != 0
    assert "has no data" in out.stderr.strip().splitlines()[-1], out.stderr[-3000:]
    assert not (deployment.data / "warehouse.duckdb").exists()  # refused before any run started
