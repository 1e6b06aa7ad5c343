"""Refresh partitions: one per Monday week. A partition key is the Monday of the refresh's last data week."""

import os

import dagster as dg

REFRESH_START = os.environ.get("MMM_REFRESH_START", "2023-01-02")
"""First refresh week on offer (a Monday); earlier history is still used as training data."""

weekly_refresh = dg.WeeklyPartitionsDefinition(start_date=REFRESH_START, day_offset=1)
"""Monday weeks (``day_offset=1``), matching the Monday-dated weeks of the bundled data."""
