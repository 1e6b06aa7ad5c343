"""Output tables written by an older version: a new column is added, old rows keep theirs (NULL in it)."""

import datetime as dt

import duckdb
import pandas as pd

from mmm_pipeline.storage.serving import build_serving_copy, mark_published
from mmm_pipeline.storage.tables import TABLES, read_partition, replace_partition

SCHEMA = TABLES["channel_parameters"].types
BEFORE_TAIL = [c for c in SCHEMA if c != "adstock_tail"]  # the table as written before adstock_tail


def test_a_warehouse_from_before_a_new_column_keeps_its_rows_and_serves_both(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    old_week, new_week = dt.date(2026, 1, 5), dt.date(2026, 1, 12)
    new_rows = pd.DataFrame({"channel": ["tv", "search"], "adstock_decay": [0.5, 0.1], "adstock_peak_lag": [1.0, 0.0],
                             "hill_half_saturation": [1.0, 2.0], "hill_slope": [1.0, 1.5],
                             "coefficient_max": [0.3, 0.2], "adstock_tail": [1.2, 1.9]})
    with duckdb.connect(str(path)) as conn:
        conn.execute("CREATE TABLE channel_parameters (" + ", ".join(f"{c} {SCHEMA[c]}" for c in BEFORE_TAIL) + ")")
        conn.execute("INSERT INTO channel_parameters VALUES (?, 'tv', 0.5, 1.0, 1.0, 1.0, 0.3)", [old_week])
        replace_partition(conn, "channel_parameters", new_week, new_rows)
        old, new = (read_partition(conn, "channel_parameters", w) for w in (old_week, new_week))
        mark_published(conn, old_week, "old-run")
        mark_published(conn, new_week, "new-run")
    assert len(old) == 1 and old["adstock_decay"].iloc[0] == 0.5 and old["adstock_tail"].isna().all()
    assert new.sort_values("channel")["adstock_tail"].tolist() == [1.9, 1.2]

    result = build_serving_copy(path, tmp_path / "serving", tables=("channel_parameters",))
    with duckdb.connect(str(result.serving_path), read_only=True) as conn:
        rows = conn.execute("SELECT refresh_week, channel, adstock_decay, adstock_tail FROM channel_parameters "
                            "ORDER BY 1, 2").fetchall()
    assert rows == [(old_week, "tv", 0.5, None), (new_week, "search", 0.1, 1.9), (new_week, "tv", 0.5, 1.2)]
