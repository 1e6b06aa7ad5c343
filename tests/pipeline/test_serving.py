"""What the serving copy takes from where: a week's rows as they were when that week was published."""

import datetime as dt

import duckdb
import pandas as pd

from mmm_pipeline.storage.serving import SERVING_FILE, build_serving_copy, mark_published
from mmm_pipeline.storage.tables import replace_partition

WEEK_A, WEEK_B = dt.date(2026, 1, 5), dt.date(2026, 1, 12)


def parameters(decay: float) -> pd.DataFrame:
    return pd.DataFrame({"channel": ["tv"], "adstock_decay": [decay], "adstock_peak_lag": [0.0],
                         "hill_half_saturation": [1.0], "hill_slope": [1.0], "coefficient_max": [0.3],
                         "adstock_tail": [1.0]})


def served(serving_dir) -> list[tuple]:
    with duckdb.connect(str(serving_dir / SERVING_FILE), read_only=True) as conn:
        return conn.execute("SELECT refresh_week, adstock_decay FROM channel_parameters ORDER BY 1").fetchall()


def publish(warehouse, serving_dir, week: dt.date) -> None:
    build_serving_copy(warehouse, serving_dir, tables=("channel_parameters",), refresh_week=week)


def test_a_rerun_blocked_by_its_gates_never_reaches_consumers_through_another_weeks_publish(tmp_path):
    warehouse, serving_dir = tmp_path / "warehouse.duckdb", tmp_path / "serving"
    with duckdb.connect(str(warehouse)) as conn:
        replace_partition(conn, "channel_parameters", WEEK_A, parameters(0.5))
        mark_published(conn, WEEK_A, "run-a")
    publish(warehouse, serving_dir, WEEK_A)
    with duckdb.connect(str(warehouse)) as conn:
        replace_partition(conn, "channel_parameters", WEEK_A, parameters(0.9))  # a re-run of A, then blocked
        replace_partition(conn, "channel_parameters", WEEK_B, parameters(0.2))
        mark_published(conn, WEEK_B, "run-b")
    publish(warehouse, serving_dir, WEEK_B)
    assert served(serving_dir) == [(WEEK_A, 0.5), (WEEK_B, 0.2)]

    with duckdb.connect(str(warehouse)) as conn:  # A's re-run passes this time and is published
        mark_published(conn, WEEK_A, "run-a2")
    publish(warehouse, serving_dir, WEEK_A)
    assert served(serving_dir) == [(WEEK_A, 0.9), (WEEK_B, 0.2)]


def test_without_a_previous_serving_file_every_published_week_comes_from_the_warehouse(tmp_path):
    warehouse, serving_dir = tmp_path / "warehouse.duckdb", tmp_path / "serving"
    with duckdb.connect(str(warehouse)) as conn:
        for week, decay in ((WEEK_A, 0.5), (WEEK_B, 0.2)):
            replace_partition(conn, "channel_parameters", week, parameters(decay))
            mark_published(conn, week, f"run-{week}")
        replace_partition(conn, "channel_parameters", dt.date(2026, 1, 19), parameters(0.7))  # never published
    publish(warehouse, serving_dir, WEEK_B)
    assert served(serving_dir) == [(WEEK_A, 0.5), (WEEK_B, 0.2)]
