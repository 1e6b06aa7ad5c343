"""Refresh partitions: one per Monday week. A partition key is the Monday of the refresh's last data week.

The partitions are the calendar weeks from ``MMM_REFRESH_START`` to the last week that has ended; the data
decide which of them can be refreshed (a refresh needs data through its week). :func:`refresh_week_problem`
says why a week cannot be, in words a user can act on: ``make run`` prints it instead of Dagster's
``DagsterUnknownPartitionError`` and the schedule skips with it instead of launching a run that fails.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import dagster as dg

from mmm_core.data.io import load_panel

REFRESH_START_VARIABLE = "MMM_REFRESH_START"
REFRESH_START = os.environ.get(REFRESH_START_VARIABLE, "2023-01-02")
"""First refresh week on offer (a Monday); earlier history is still used as training data."""

weekly_refresh = dg.WeeklyPartitionsDefinition(start_date=REFRESH_START, day_offset=1)
"""Monday weeks (``day_offset=1``), matching the Monday-dated weeks of the bundled data."""


def monday_of(day: dt.date) -> dt.date:
    """The Monday that starts ``day``'s week: the refresh week (partition key) of data dated ``day``."""
    return day - dt.timedelta(days=day.weekday())


def last_data_week(spec_path: str | Path, allow_outside_paths: bool = False) -> dt.date:
    """The refresh week of the data's last week: the newest week a refresh can train through.

    Reads and validates the spec's files (raises ``DataContractError`` for rejected input).
    """
    last = load_panel(spec_path, allow_outside_paths=allow_outside_paths).weeks[-1]
    return monday_of(dt.date.fromisoformat(str(last)[:10]))


def first_refresh_week() -> dt.date:
    return weekly_refresh.start.date()


def refresh_week_problem(week: dt.date, data_end: dt.date, today: dt.date | None = None) -> str | None:
    """Why ``week`` cannot be refreshed on data whose last refresh week is ``data_end``; None when it can."""
    today = today or dt.datetime.now(dt.timezone.utc).date()
    first = first_refresh_week()
    if week.weekday() != 0:
        return f"refresh week {week} is a {week:%A}: refresh weeks are Mondays (e.g. {monday_of(week)})"
    if week > data_end:
        return (f"refresh week {week} has no data: the data end with the week of {data_end}; refresh "
                f"{data_end} or add newer data")
    if week < first:
        return (f"refresh week {week} is before the first refresh week {first} ({REFRESH_START_VARIABLE}): "
                f"set {REFRESH_START_VARIABLE} to a Monday on or before {week}, e.g. "
                f"`{REFRESH_START_VARIABLE}={week} make run`")
    if week + dt.timedelta(days=7) > today:
        return f"refresh week {week} has not ended yet: its partition exists from {week + dt.timedelta(days=7)}"
    return None
