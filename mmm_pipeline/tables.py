"""Output tables of a refresh: their DDL (one home for names, columns and types) and partition writes.

Every output table starts with ``refresh_week`` (the Monday of the refresh's last data week). A
refresh replaces its own rows in one transaction and never touches another refresh's rows, so
re-materialising a partition is idempotent and backfills are safe.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd

from mmm_pipeline.warehouse import quote_ident

OUTPUT_TABLES: dict[str, dict[str, str]] = {
    "model_runs": {
        "refresh_week": "DATE", "run_id": "VARCHAR", "code_version": "VARCHAR", "config_hash": "VARCHAR",
        "seed": "INTEGER", "window_start": "DATE", "window_end": "DATE", "holdout_start": "DATE",
        "n_regions": "INTEGER", "n_weeks": "INTEGER", "n_channels": "INTEGER",
        "epochs": "INTEGER", "refit_epochs": "INTEGER",
        "train_r2": "DOUBLE", "holdout_r2": "DOUBLE", "holdout_r2_within_region": "DOUBLE",
        "holdout_r2_national": "DOUBLE", "holdout_rmse": "DOUBLE", "holdout_mape": "DOUBLE",
        "best_baseline_holdout_r2_within_region": "DOUBLE",
        "wall_time_s": "DOUBLE", "device": "VARCHAR", "artifact_path": "VARCHAR", "created_at": "TIMESTAMP",
        "config_json": "VARCHAR",
    },
    "model_metrics": {
        "refresh_week": "DATE", "split": "VARCHAR", "series": "VARCHAR", "view": "VARCHAR",
        "metric": "VARCHAR", "value": "DOUBLE",
    },
    "features": {
        "refresh_week": "DATE", "region": "VARCHAR", "week": "DATE", "kind": "VARCHAR", "name": "VARCHAR",
        "value": "DOUBLE", "scaled_value": "DOUBLE",
    },
    "scaling_params": {
        "refresh_week": "DATE", "kind": "VARCHAR", "name": "VARCHAR", "region": "VARCHAR",
        "scale": "DOUBLE", "center": "DOUBLE",
    },
    "contributions": {
        "refresh_week": "DATE", "region": "VARCHAR", "week": "DATE", "component": "VARCHAR", "kind": "VARCHAR",
        "value": "DOUBLE",
    },
    "channel_summary": {
        "refresh_week": "DATE", "channel": "VARCHAR", "spend": "DOUBLE", "direct_contribution": "DOUBLE",
        "total_contribution": "DOUBLE", "share": "DOUBLE", "roi": "DOUBLE", "direct_roi": "DOUBLE",
        "roi_prior_weight": "DOUBLE",  # added later: last, as ALTER TABLE appends it (see ensure_table)
    },
    "channel_parameters": {
        "refresh_week": "DATE", "channel": "VARCHAR", "adstock_decay": "DOUBLE", "adstock_peak_lag": "DOUBLE",
        "hill_half_saturation": "DOUBLE", "hill_slope": "DOUBLE", "coefficient_max": "DOUBLE",
        "adstock_tail": "DOUBLE",  # added later: last, as ALTER TABLE appends it (see ensure_table)
    },
    "dag_edges": {
        "refresh_week": "DATE", "parent": "VARCHAR", "child": "VARCHAR", "weight": "DOUBLE",
    },
    "response_curves": {
        "refresh_week": "DATE", "scope": "VARCHAR", "region": "VARCHAR", "channel": "VARCHAR",
        "hill_top": "DOUBLE", "hill_bottom": "DOUBLE", "hill_half_saturation": "DOUBLE", "hill_slope": "DOUBLE",
        "fit_r2": "DOUBLE", "planning_weeks": "INTEGER", "carryover_weeks": "INTEGER", "current_spend": "DOUBLE",
        "current_response": "DOUBLE", "roi": "DOUBLE", "mroi": "DOUBLE", "mroi_curve": "DOUBLE",
        "saturation_spend": "DOUBLE",
    },
    "response_curve_points": {
        "refresh_week": "DATE", "scope": "VARCHAR", "region": "VARCHAR", "channel": "VARCHAR",
        "multiplier": "DOUBLE", "spend": "DOUBLE", "response": "DOUBLE", "fitted_response": "DOUBLE",
    },
    "budget_scenarios": {
        "refresh_week": "DATE", "scenario": "VARCHAR", "scope": "VARCHAR", "method": "VARCHAR",
        "budget_multiplier": "DOUBLE", "target_mroi": "DOUBLE", "budget_total": "DOUBLE",
        "current_spend_total": "DOUBLE", "response_current_curve": "DOUBLE", "response_optimal_curve": "DOUBLE",
        "incremental_response_curve": "DOUBLE", "response_change_share_curve": "DOUBLE",
        "response_current_model": "DOUBLE", "response_optimal_model": "DOUBLE",
        "incremental_response_model": "DOUBLE", "response_change_share_model": "DOUBLE",
        "converged": "BOOLEAN", "message": "VARCHAR", "n_iterations": "INTEGER", "wall_time_s": "DOUBLE",
    },
    "budget_allocation": {
        "refresh_week": "DATE", "scenario": "VARCHAR", "scope": "VARCHAR", "region": "VARCHAR",
        "channel": "VARCHAR", "current_spend": "DOUBLE", "optimal_spend": "DOUBLE", "lower_bound": "DOUBLE",
        "upper_bound": "DOUBLE", "response_current": "DOUBLE", "response_optimal": "DOUBLE",
        "roi_current": "DOUBLE", "roi_optimal": "DOUBLE", "mroi_current": "DOUBLE", "mroi_optimal": "DOUBLE",
    },
    "published_refreshes": {
        "refresh_week": "DATE", "run_id": "VARCHAR", "published_at": "TIMESTAMP",
    },
}


def table_columns(conn: duckdb.DuckDBPyConnection, table: str, database: str | None = None) -> list[str]:
    """Columns of ``table`` as they are in the file (in order), [] when it does not exist."""
    rows = conn.execute("SELECT column_name FROM duckdb_columns() WHERE table_name = ? AND database_name = "
                        "coalesce(?, current_database()) AND schema_name = 'main' ORDER BY column_index",
                        [table, database]).fetchall()
    return [r[0] for r in rows]


def ensure_table(conn: duckdb.DuckDBPyConnection, table: str) -> None:
    """Create ``table`` if missing; add columns that a newer version defines (appended, NULL in old rows),
    so a warehouse written by an older version keeps its history and takes the new rows."""
    columns = ", ".join(f"{quote_ident(c)} {t}" for c, t in OUTPUT_TABLES[table].items())
    conn.execute(f"CREATE TABLE IF NOT EXISTS {quote_ident(table)} ({columns})")
    present = set(table_columns(conn, table))
    for column, sql_type in OUTPUT_TABLES[table].items():
        if column not in present:
            conn.execute(f"ALTER TABLE {quote_ident(table)} ADD COLUMN {quote_ident(column)} {sql_type}")


def replace_partition(conn: duckdb.DuckDBPyConnection, table: str, refresh_week: dt.date,
                      frame: pd.DataFrame) -> int:
    """Delete the refresh's rows and insert ``frame`` (columns as in OUTPUT_TABLES), atomically."""
    columns = list(OUTPUT_TABLES[table])
    frame = frame.assign(refresh_week=pd.Timestamp(refresh_week))
    missing = set(columns) - set(frame.columns)
    if missing:
        raise ValueError(f"{table}: frame lacks columns {sorted(missing)}")
    ensure_table(conn, table)
    conn.execute("BEGIN TRANSACTION")
    try:
        conn.execute(f"DELETE FROM {quote_ident(table)} WHERE refresh_week = ?", [refresh_week])
        conn.register("partition_rows", frame[columns])
        names = ", ".join(quote_ident(c) for c in columns)
        conn.execute(f"INSERT INTO {quote_ident(table)} ({names}) SELECT {names} FROM partition_rows")
        conn.unregister("partition_rows")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return len(frame)


def read_partition(conn: duckdb.DuckDBPyConnection, table: str, refresh_week: dt.date) -> pd.DataFrame:
    ensure_table(conn, table)
    return conn.execute(f"SELECT * FROM {quote_ident(table)} WHERE refresh_week = ?", [refresh_week]).df()
