"""What the refresh dashboard shows, read from the published serving file (and the refresh's inputs).

Every model number comes from the serving copy (``mmm_serving.duckdb``), so the report and SQL consumers
never disagree. The observed KPI and the inputs (spend, activity, controls) are not model outputs and
are not published; they come from the warehouse ``features`` rows the refresh was fitted on.
Response-curve and budget tables are optional: when a table is absent, its panel says so.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pandas as pd

from mmm_core.report.dashboard import DashboardData
from mmm_pipeline.storage.warehouse import quote_ident

INPUT_KINDS = ("kpi", "spend", "activity", "control")


class RefreshNotPublished(LookupError):
    """The serving file has no published rows for the refresh."""


def read_inputs(conn: duckdb.DuckDBPyConnection, refresh_week: dt.date) -> pd.DataFrame:
    """region, week, kind, name, value, scaled_value of the refresh's KPI, spend, activity and controls."""
    kinds = ", ".join(f"'{k}'" for k in INPUT_KINDS)
    return conn.execute(
        "SELECT region, week, kind, name, value, scaled_value FROM features "
        f"WHERE refresh_week = ? AND kind IN ({kinds}) ORDER BY kind, name, region, week", [refresh_week]).df()


def read_dashboard_data(serving_path: str | Path, refresh_week: dt.date, inputs: pd.DataFrame) -> DashboardData:
    """The dashboard's tables for one published refresh (history panels: every refresh up to this one)."""
    with duckdb.connect(str(serving_path), read_only=True) as conn:
        published = conn.execute("SELECT count(*) FROM published_refreshes WHERE refresh_week = ?",
                                 [refresh_week]).fetchone()[0]
        if not published:
            raise RefreshNotPublished(f"refresh {refresh_week} is not in {serving_path}")

        def rows(table: str, order: str = "") -> pd.DataFrame:
            frame = conn.execute(f"SELECT * FROM {quote_ident(table)} WHERE refresh_week = ? {order}",
                                 [refresh_week]).df()
            return frame.drop(columns="refresh_week")

        run = rows("model_runs").iloc[0].to_dict()
        tables = set(conn.execute("SELECT table_name FROM duckdb_tables()").df()["table_name"])
        curve_points, allocation, planning_weeks, unavailable = _budget_tables(conn, refresh_week, tables)
        return DashboardData(
            refresh_week=refresh_week.isoformat(), run=run,
            metrics=rows("model_metrics"),
            contributions=rows("contributions", "ORDER BY region, week"),
            inputs=inputs,
            channel_summary=rows("channel_summary"),
            channel_parameters=rows("channel_parameters"),
            dag_edges=rows("dag_edges"),
            roi_history=conn.execute("SELECT refresh_week, channel, spend, total_contribution, roi FROM channel_summary "
                                     "WHERE refresh_week <= ? ORDER BY refresh_week, channel", [refresh_week]).df(),
            curve_points=curve_points, allocation=allocation, planning_weeks=planning_weeks, unavailable=unavailable,
            holdout_forecast=rows("holdout_forecast", "ORDER BY region, week") if "holdout_forecast" in tables else None,
        )


SAME_BUDGET_SCENARIO = "budget_current"
"""Scenario of ``BudgetScenario.from_multiplier(1.0)``: the current total, re-split; shown first."""


SCENARIO_ODDS = ("prob_beats_current", "incremental_response_model_lower", "incremental_response_model_upper",
                 "interval")
"""``budget_scenarios`` columns the budget panel shows beside each scenario's allocation."""


def _budget_tables(conn: duckdb.DuckDBPyConnection, refresh_week: dt.date, tables: set[str]):
    """(national curve points, national allocation, planning weeks, reasons) for panels 14 and 15.

    A table that is absent, empty for the refresh or lacks a column gives None and the reason its panel shows.
    """
    unavailable: dict[str, str] = {}

    def read(table: str, needed: tuple[str, ...]) -> pd.DataFrame | None:
        if table not in tables:
            unavailable[table] = f"the serving file has no {table} table (published by a later pipeline version)"
            return None
        frame = conn.execute(f"SELECT * FROM {quote_ident(table)} WHERE refresh_week = ?", [refresh_week]).df()
        missing = [c for c in needed if c not in frame.columns]
        if missing:
            unavailable[table] = f"{table} lacks the columns {missing}"
            return None
        if "scope" in frame.columns:
            frame = frame[frame["scope"] == "national"]
        if "objective" in frame.columns:  # the point plans (a risk-averse plan is a table row, not a panel)
            frame = frame[frame["objective"].isna() | (frame["objective"] == "point")]
        if frame.empty:
            unavailable[table] = f"{table} has no national rows for refresh {refresh_week}"
            return None
        return frame

    points = read("response_curve_points", ("channel", "spend", "response"))
    if points is not None:
        points = points.rename(columns={"response": "contribution", "fitted_response": "fitted_contribution",
                                        "response_lower": "contribution_lower", "response_upper": "contribution_upper"})
    allocation = read("budget_allocation", ("scenario", "channel", "current_spend", "optimal_spend"))
    if allocation is not None:
        allocation = allocation.rename(columns={"response_current": "current_contribution",
                                                "response_optimal": "optimal_contribution"})
        scenarios = read("budget_scenarios", ("scenario",))
        odds = [c for c in SCENARIO_ODDS if scenarios is not None and c in scenarios.columns]
        if odds:  # each scenario's member odds beside its channels (panel 15's subtitle)
            allocation = allocation.merge(scenarios[["scenario", *odds]], on="scenario", how="left")
        unavailable.pop("budget_scenarios", None)
        first = allocation["scenario"] == SAME_BUDGET_SCENARIO  # same budget first, then as published
        allocation = pd.concat([allocation[first], allocation[~first]], ignore_index=True)
    curves = read("response_curves", ("planning_weeks",)) if "response_curves" in tables else None
    planning_weeks = int(curves["planning_weeks"].iloc[0]) if curves is not None else None
    unavailable.pop("response_curves", None)
    return points, allocation, planning_weeks, unavailable
