"""The one registry of refresh tables (names, columns in order, SQL types, descriptions) and their partition writes.

Every table starts with ``refresh_week`` (the Monday of the refresh's last data week). A refresh replaces
its own rows in one transaction and never touches another refresh's rows, so re-materialising a partition
is idempotent and backfills are safe. The Dagster column schemas of the assets are generated from here
(``mmm_pipeline.metadata``), as are the serving copy's tables.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb
import pandas as pd

from mmm_core.data.contract import Panel
from mmm_core.data.spec import DatasetSpec
from mmm_core.model.features import panel_from_features
from mmm_pipeline.storage.warehouse import quote_ident


@dataclass(frozen=True)
class Column:
    name: str
    sql_type: str
    description: str


@dataclass(frozen=True)
class Table:
    name: str
    description: str
    columns: tuple[Column, ...]

    @property
    def types(self) -> dict[str, str]:
        """Column name -> SQL type, in table order."""
        return {c.name: c.sql_type for c in self.columns}

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


def _table(name: str, description: str, *columns: tuple[str, str, str]) -> Table:
    refresh_week = Column("refresh_week", "DATE", "Monday of the refresh's last data week")
    return Table(name, description, (refresh_week, *(Column(*c) for c in columns)))


_REGION = ("region", "VARCHAR", "region of the panel")
_CHANNEL = ("channel", "VARCHAR", "paid media channel")
_SCOPE = ("scope", "VARCHAR", "'national' (one multiplier per channel in every region) or 'region' (region x channel)")

TABLES: dict[str, Table] = {t.name: t for t in (
    _table(
        "model_runs", "One row per refresh: the fit's window, settings, holdout scores beside naive baselines, "
                      "artefact and code version.",
        ("run_id", "VARCHAR", "Dagster run that trained the refresh"),
        ("code_version", "VARCHAR", "package version plus git commit (0.1.0+g1a2b3c4)"),
        ("config_hash", "VARCHAR", "hash of the full model and training config"),
        ("seed", "INTEGER", "training seed"),
        ("window_start", "DATE", "first week of the training window"),
        ("window_end", "DATE", "last week of the training window"),
        ("holdout_start", "DATE", "first held-out week of the forecast check"),
        ("n_regions", "INTEGER", "regions in the window"),
        ("n_weeks", "INTEGER", "weeks in the window"),
        ("n_channels", "INTEGER", "channels in the window"),
        ("epochs", "INTEGER", "epochs of the holdout fit"),
        ("refit_epochs", "INTEGER", "epochs of the refit on the whole window"),
        ("train_r2", "DOUBLE", "pooled R² on the training weeks"),
        ("holdout_r2", "DOUBLE", "pooled R² of the forecast of the held-out weeks"),
        ("holdout_r2_within_region", "DOUBLE", "holdout R² within region (each region against its own mean)"),
        ("holdout_r2_national", "DOUBLE", "holdout R² of the national (summed) series"),
        ("holdout_rmse", "DOUBLE", "pooled holdout RMSE (KPI units)"),
        ("holdout_mape", "DOUBLE", "pooled holdout MAPE"),
        ("best_baseline_holdout_r2_within_region", "DOUBLE", "best naive baseline's holdout R² within region"),
        ("wall_time_s", "DOUBLE", "seconds the fit took"),
        ("device", "VARCHAR", "torch device the model trained on"),
        ("artifact_path", "VARCHAR", "folder of the saved model (config.json + weights.safetensors)"),
        ("created_at", "TIMESTAMP", "UTC time the row was written"),
        ("config_json", "VARCHAR", "full model and training config plus the run's overrides, as JSON"),
    ),
    _table(
        "model_metrics", "Fit and forecast metrics of the model beside naive baselines.",
        ("split", "VARCHAR", "'train' or 'holdout'"),
        ("series", "VARCHAR", "'model', 'region_mean', 'last_4_weeks' or 'same_week_last_year'"),
        ("view", "VARCHAR", "'pooled', 'within_region' or 'national'"),
        ("metric", "VARCHAR", "'r2', 'rmse', 'mae', 'mape', 'trimmed_rmse', 'log_rmse' or 'interval_coverage' "
                              "(series 'model', view 'pooled': share of the split's region-weeks inside the holdout "
                              "model's prediction interval, its forecast plus noise; no member spread)"),
        ("value", "DOUBLE", "the metric's value"),
        ("interval", "DOUBLE", "level of the prediction interval on 'interval_coverage' rows (0.9); NULL on the "
                               "others and in refreshes written before the column existed"),
    ),
    _table(
        "holdout_forecast", "The holdout model's forecast of each held-out region-week with its prediction "
                            "interval (made before the published refit; what model_metrics scores).",
        _REGION,
        ("week", "DATE", "week start (Monday) of a held-out week"),
        ("actual", "DOUBLE", "observed KPI (KPI units)"),
        ("forecast", "DOUBLE", "the holdout model's forecast, continued from its training weeks (KPI units)"),
        ("forecast_lower", "DOUBLE", "lower end of the prediction interval: the forecast plus Gaussian noise at the "
                                     "region's validation-scaled residual sd, without member spread"),
        ("forecast_upper", "DOUBLE", "upper end of the prediction interval"),
        ("interval", "DOUBLE", "the interval's level (0.9)"),
    ),
    _table(
        "experiments", "Every experiment (lift test) of the current experiments file beside the refresh model's lift "
                       "for it (mmm_core.analysis.experiments.experiment_table); empty when the spec names no "
                       "experiments file.",
        ("experiment", "VARCHAR", "experiment id, as in the experiments file"),
        _CHANNEL,
        ("regions", "VARCHAR", "the test regions, joined by ';' (every region for a national test)"),
        ("n_regions", "INTEGER", "number of test regions"),
        ("first_week", "DATE", "first week of changed spend"),
        ("last_week", "DATE", "last week of changed spend"),
        ("cooldown_weeks", "INTEGER", "weeks after last_week over which the lift was still measured"),
        ("spend_multiplier", "DOUBLE", "the test's spend over the spend the data record in the test cells (a "
                                       "spend_change in the file converted)"),
        ("lift", "DOUBLE", "measured incremental KPI over the test regions and weeks plus cool-down (KPI units)"),
        ("lift_se", "DOUBLE", "standard error of lift (KPI units)"),
        ("model_lift", "DOUBLE", "the published model's counterfactual lift for the same cells and spend change "
                                 "(KPI units); NULL when the test's weeks are not all in the refresh window"),
        ("z", "DOUBLE", "(model_lift - lift) / lift_se: beyond about 3 the experiment contradicts the model; NULL "
                        "outside the window"),
        ("used", "BOOLEAN", "the published model was trained on the experiment (its weeks lie in the training "
                            "weeks)"),
        ("loo_lift", "DOUBLE", "lift of a model fitted without this experiment (leave one out); NULL unless the run "
                               "set leave_one_out, and for tests outside the window"),
        ("loo_z", "DOUBLE", "(loo_lift - lift) / lift_se: how well the rest of the data predict the experiment"),
    ),
    _table(
        "features", "The training window's inputs, raw and scaled; training reads its panel from here.",
        _REGION,
        ("week", "DATE", "week start (Monday)"),
        ("kind", "VARCHAR", "'kpi', 'spend', 'activity', 'control' or 'population'"),
        ("name", "VARCHAR", "channel or control name (the KPI column's for kind 'kpi')"),
        ("value", "DOUBLE", "value as ingested"),
        ("scaled_value", "DOUBLE", "(value - center) / scale, with scaling_params"),
    ),
    _table(
        "scaling_params", "Scale factors of the window: scaled = (value - center) / scale.",
        ("kind", "VARCHAR", "'kpi', 'spend', 'activity', 'control' or 'population'"),
        ("name", "VARCHAR", "channel or control name"),
        _REGION,
        ("scale", "DOUBLE", "divisor; multiply a scaled KPI number by the region's kpi scale to get KPI units"),
        ("center", "DOUBLE", "value subtracted before scaling"),
    ),
    _table(
        "contributions", "Additive parts of the predicted KPI per region-week; per region-week the components "
                         "add up to the prediction.",
        _REGION,
        ("week", "DATE", "week start (Monday)"),
        ("component", "VARCHAR", "'baseline', 'trend', 'seasonality', 'control:<name>' or 'channel:<name>'"),
        ("kind", "VARCHAR", "'baseline', 'trend', 'seasonality', 'control' or 'channel'; seasonality is the "
                            "yearly profile plus the holiday-week lifts"),
        ("value", "DOUBLE", "contribution in KPI units"),
    ),
    _table(
        "channel_summary", "Per channel over the window: spend, direct and total contribution with their parts "
                           "(direct = own + mediated, total = own + induced), share and ROI.",
        _CHANNEL,
        ("spend", "DOUBLE", "spend in the panel's currency"),
        ("direct_contribution", "DOUBLE", "the channel's term of the decomposition: KPI from all of its activity, "
                                          "including activity its DAG parents caused (KPI units); channels' direct "
                                          "contributions add up to the media part of the prediction"),
        ("total_contribution", "DOUBLE", "KPI lost if the channel's own activity were switched off (counterfactual, "
                                         "KPI units): own + what it causes in its DAG children, without what its "
                                         "parents caused in it, so below direct for a child whose parents drive it"),
        ("share", "DOUBLE", "direct_contribution as a share of all channels' direct contribution"),
        ("roi", "DOUBLE", "total_contribution / spend"),
        ("direct_roi", "DOUBLE", "direct_contribution / spend"),
        ("roi_prior_weight", "DOUBLE", "how much of the channel's ROI comes from the exchangeable-ROI prior rather "
                                       "than the data: 0 when the data show the channel near zero activity (measured), "
                                       "1 for an always-on channel; NULL in refreshes written before the "
                                       "column existed"),
        ("own_contribution", "DOUBLE", "KPI from the channel's own activity in its own term (KPI units); NULL in "
                                       "refreshes written before the column existed"),
        ("mediated_contribution", "DOUBLE", "part of direct_contribution from activity the channel's DAG parents "
                                            "caused (KPI units); direct = own + mediated"),
        ("induced_contribution", "DOUBLE", "KPI the channel's own activity causes in its DAG descendants' terms "
                                           "(KPI units); total = own + induced"),
        *((f"{column}_{end}", "DOUBLE", f"{'lower' if end == 'lower' else 'upper'} end of the central interval "
                                        f"(level in interval) of {column} over the ensemble's members "
                                        f"(channel_draws); NULL without an ensemble and in refreshes written "
                                        f"before the column existed")
          for column in ("direct_contribution", "total_contribution", "share", "roi") for end in ("lower", "upper")),
        ("interval", "DOUBLE", "level of the *_lower / *_upper columns (0.9: from the 5 % to the 95 % quantile of "
                               "the members); NULL without an ensemble"),
    ),
    _table(
        "channel_draws", "Per ensemble member and channel: the member's contributions and ROI over the window; a "
                         "member's direct contributions plus its non_media add up to its prediction. Empty for "
                         "a refresh without an ensemble.",
        ("member", "INTEGER", "ensemble member (0 .. K-1)"),
        _CHANNEL,
        ("spend", "DOUBLE", "spend in the panel's currency (the same in every member)"),
        ("direct_contribution", "DOUBLE", "the member's direct contribution (KPI units), as in channel_summary"),
        ("total_contribution", "DOUBLE", "the member's total (counterfactual) contribution (KPI units)"),
        ("share", "DOUBLE", "direct_contribution over the member's media total"),
        ("roi", "DOUBLE", "total_contribution / spend"),
        ("direct_roi", "DOUBLE", "direct_contribution / spend"),
        ("prediction", "DOUBLE", "the member's predicted KPI summed over the window's observed region-weeks "
                                 "(the same in each of its rows)"),
        ("non_media", "DOUBLE", "what the member's baseline, trend, seasonality and controls give of prediction "
                                "(KPI units; the same in each of its rows)"),
    ),
    _table(
        "channel_parameters", "Per channel: the fitted adstock and Hill saturation parameters.",
        _CHANNEL,
        ("adstock_decay", "DOUBLE", "carry-over decay in [0, 1)"),
        ("adstock_peak_lag", "DOUBLE", "weeks from spend to the kernel's peak"),
        ("hill_half_saturation", "DOUBLE", "activity at half saturation (activity units, per capita with a "
                                           "population; averaged over regions)"),
        ("hill_slope", "DOUBLE", "Hill curve slope"),
        ("coefficient_max", "DOUBLE", "channel's largest effect in scaled KPI units (a share of the region mean) "
                                      "in a region selling the regions' average per person"),
        ("adstock_tail", "DOUBLE", "q of the kernel decay**(abs(lag - peak)**q); NULL in refreshes written before "
                                   "the column existed, whose kernel had q = 2"),
    ),
    _table(
        "dag_edges", "The learned channel graph.",
        ("parent", "VARCHAR", "channel that drives the child"),
        ("child", "VARCHAR", "channel driven by the parent"),
        ("weight", "DOUBLE", "edge weight"),
        ("support", "DOUBLE", "share of bootstrap resamples (0..1) whose graph fit keeps the edge in this direction; "
                              "only edges with support >= 0.8 are published and used; NULL (unknown, edge kept) "
                              "for refreshes written before the column existed and for models saved before support "
                              "existed"),
    ),
    _table(
        "response_curves", "Per channel, national and per region: Hill fit of the model's KPI response to "
                           "planning-window spend.",
        _SCOPE,
        ("region", "VARCHAR", "region ('national' for national rows)"),
        _CHANNEL,
        ("hill_top", "DOUBLE", "upper asymptote of the fitted curve (KPI units)"),
        ("hill_bottom", "DOUBLE", "lower asymptote of the fitted curve (KPI units)"),
        ("hill_half_saturation", "DOUBLE", "spend at half saturation (currency over the window)"),
        ("hill_slope", "DOUBLE", "Hill curve slope"),
        ("fit_r2", "DOUBLE", "R² of the Hill fit to the model's response"),
        ("planning_weeks", "INTEGER", "weeks of the planning window"),
        ("carryover_weeks", "INTEGER", "weeks appended after the window so carry-over counts"),
        ("current_spend", "DOUBLE", "spend in the planning window"),
        ("current_response", "DOUBLE", "the channel's total contribution from its current planning-window spend, "
                                       "carry-over weeks included (KPI units; the counterfactual of "
                                       "channel_summary.total_contribution, over this window)"),
        ("roi", "DOUBLE", "current_response / current_spend"),
        ("mroi", "DOUBLE", "marginal ROI from the model, +1 % spend step"),
        ("mroi_curve", "DOUBLE", "Hill derivative at current spend"),
        ("saturation_spend", "DOUBLE", "spend at 90 % of the curve's range"),
        ("spend_at_observed_max", "DOUBLE", "planning-window spend at which the channel's busiest window week "
                                            "reaches the highest weekly activity of the training weeks (national: "
                                            "in its first region to get there); curve points above it are "
                                            "extrapolation; NULL in refreshes written before the column existed"),
        ("roi_lower", "DOUBLE", "lower end of the central interval of roi over the ensemble members (each member's "
                                "own current_response / current_spend); NULL without an ensemble"),
        ("roi_upper", "DOUBLE", "upper end of that interval; NULL without an ensemble"),
        ("mroi_lower", "DOUBLE", "lower end of the central interval of mroi over the members; NULL without an ensemble"),
        ("mroi_upper", "DOUBLE", "upper end of that interval; NULL without an ensemble"),
        ("interval", "DOUBLE", "level of the intervals (0.9); NULL without an ensemble"),
    ),
    _table(
        "response_curve_points", "The model's response at each spend multiplier and the fitted curve, for plots.",
        _SCOPE,
        ("region", "VARCHAR", "region ('national' for national rows)"),
        _CHANNEL,
        ("multiplier", "DOUBLE", "multiplier of current spend (0 ... 3)"),
        ("spend", "DOUBLE", "spend at the multiplier"),
        ("response", "DOUBLE", "the channel's total contribution with its window spend at the multiplier "
                               "(KPI units; 0 at multiplier 0)"),
        ("fitted_response", "DOUBLE", "fitted Hill curve's response (KPI units)"),
        ("ratio_to_observed_max", "DOUBLE", "activity of the busiest planning-window week at this multiplier over "
                                            "the highest weekly activity the model was trained on, per region "
                                            "(national: the largest region's); NULL in refreshes written before "
                                            "the column existed"),
        ("beyond_observed_range", "BOOLEAN", "ratio_to_observed_max > 1: the model extrapolates beyond the data "
                                             "here; NULL in refreshes written before the column existed"),
        ("response_lower", "DOUBLE", "lower end of the central band of response over the ensemble members (each "
                                     "member run at the same multiplier); NULL without an ensemble"),
        ("response_upper", "DOUBLE", "upper end of that band; NULL without an ensemble"),
        ("interval", "DOUBLE", "level of the band (0.9); NULL without an ensemble"),
    ),
    _table(
        "budget_scenarios", "Per scenario and scope: budget, predicted response current vs optimal (curves and "
                            "full model), convergence.",
        ("scenario", "VARCHAR", "'budget_-20pct', 'budget_current', 'budget_+20pct' or 'target_mroi_<x>'"),
        _SCOPE,
        ("method", "VARCHAR", "optimiser: slsqp, trust-constr, differential_evolution or hybrid"),
        ("budget_multiplier", "DOUBLE", "multiplier of current total spend"),
        ("target_mroi", "DOUBLE", "marginal ROI the scenario spends down to"),
        ("budget_total", "DOUBLE", "budget allocated"),
        ("current_spend_total", "DOUBLE", "current total spend in the planning window"),
        ("response_current_curve", "DOUBLE", "sum of the curves at current spend"),
        ("response_optimal_curve", "DOUBLE", "sum of the curves at the optimal allocation"),
        ("incremental_response_curve", "DOUBLE", "response_optimal_curve - response_current_curve"),
        ("response_change_share_curve", "DOUBLE", "incremental_response_curve as a share of response_current_curve"),
        ("response_current_model", "DOUBLE", "full model: KPI minus the KPI with no media in the window, at "
                                             "current spend"),
        ("response_optimal_model", "DOUBLE", "the allocation re-run through the full model"),
        ("incremental_response_model", "DOUBLE", "response_optimal_model - response_current_model"),
        ("response_change_share_model", "DOUBLE", "incremental_response_model as a share of response_current_model"),
        ("converged", "BOOLEAN", "whether the optimiser converged"),
        ("message", "VARCHAR", "optimiser's message"),
        ("n_iterations", "INTEGER", "optimiser iterations"),
        ("wall_time_s", "DOUBLE", "seconds the optimisation took"),
        ("ratio_to_observed_max", "DOUBLE", "largest ratio_to_observed_max of the scenario's budget_allocation "
                                            "rows; NULL in refreshes written before the column existed"),
        ("beyond_observed_range", "BOOLEAN", "whether any channel (region) of the allocation is beyond the "
                                             "observed range; NULL in refreshes written before the column existed"),
        ("incremental_response_model_lower", "DOUBLE", "lower end of the central interval of "
                                                       "incremental_response_model over the ensemble members (each "
                                                       "member re-runs the same allocation); NULL without an ensemble"),
        ("incremental_response_model_upper", "DOUBLE", "upper end of that interval; NULL without an ensemble"),
        ("prob_beats_current", "DOUBLE", "share of ensemble members in which the allocation's response exceeds the "
                                         "current allocation's; NULL without an ensemble"),
        ("interval", "DOUBLE", "level of the intervals (0.9); NULL without an ensemble"),
        ("objective", "VARCHAR", "what the plan maximises: 'point' (the point model's curves) or "
                                 "'mean_minus_<λ>_sd' (the members' mean response minus λ sd, with "
                                 "budget_plans' risk_aversion set); NULL in refreshes written before the column "
                                 "existed"),
    ),
    _table(
        "budget_allocation", "Per scenario, scope, region and channel: current and optimal spend, response, "
                             "ROI, mROI.",
        ("scenario", "VARCHAR", "scenario name, as in budget_scenarios"),
        _SCOPE,
        ("region", "VARCHAR", "region ('national' for national rows)"),
        _CHANNEL,
        ("current_spend", "DOUBLE", "spend in the planning window"),
        ("optimal_spend", "DOUBLE", "spend of the optimal allocation"),
        ("lower_bound", "DOUBLE", "lowest spend allowed"),
        ("upper_bound", "DOUBLE", "highest spend allowed"),
        ("response_current", "DOUBLE", "curve response at current spend (KPI units)"),
        ("response_optimal", "DOUBLE", "curve response at optimal spend (KPI units)"),
        ("roi_current", "DOUBLE", "response_current / current_spend"),
        ("roi_optimal", "DOUBLE", "response_optimal / optimal_spend"),
        ("mroi_current", "DOUBLE", "curve derivative at current spend (KPI units per extra currency unit)"),
        ("mroi_optimal", "DOUBLE", "curve derivative at optimal spend"),
        ("ratio_to_observed_max", "DOUBLE", "activity of the busiest planning-window week at the optimal spend "
                                            "over the highest weekly activity the model was trained on (national: "
                                            "the largest region's); NULL in refreshes written before the column "
                                            "existed"),
        ("beyond_observed_range", "BOOLEAN", "ratio_to_observed_max > 1: the optimal spend relies on the model "
                                             "beyond the data; NULL in refreshes written before the column existed"),
        ("objective", "VARCHAR", "the plan's objective, as in budget_scenarios (curve columns of a "
                                 "'mean_minus_<λ>_sd' plan are the members' mean curve); NULL in refreshes written "
                                 "before the column existed"),
    ),
    _table(
        "published_refreshes", "Refreshes that passed every blocking check and may be served.",
        ("run_id", "VARCHAR", "Dagster run that published the refresh"),
        ("published_at", "TIMESTAMP", "UTC publish time"),
    ),
)}
"""Columns are in table order. A column added later goes last: ``ALTER TABLE`` appends it (see ensure_table)."""

DECOMPOSITION_TABLES = ("contributions", "channel_summary", "channel_draws", "dag_edges", "channel_parameters")
CURVE_TABLES = ("response_curves", "response_curve_points", "budget_scenarios", "budget_allocation")
PUBLISHED_TABLES = ("model_runs", "model_metrics", "holdout_forecast", "experiments", "contributions",
                    "channel_summary", "channel_draws", "channel_parameters", "dag_edges", "scaling_params",
                    *CURVE_TABLES)
"""Tables copied to the serving file; each gets a ``latest_<table>`` view over the newest refresh."""


class MissingRefreshData(LookupError):
    """A refresh's input rows are not in the warehouse (an upstream asset was not materialized)."""


def table_columns(conn: duckdb.DuckDBPyConnection, table: str, database: str | None = None) -> list[str]:
    """Columns of ``table`` as they are in the file (in order), [] when it does not exist."""
    rows = conn.execute("SELECT column_name FROM duckdb_columns() WHERE table_name = ? AND database_name = "
                        "coalesce(?, current_database()) AND schema_name = 'main' ORDER BY column_index",
                        [table, database]).fetchall()
    return [r[0] for r in rows]


def create_table_sql(table: str) -> str:
    columns = ", ".join(f"{quote_ident(c)} {t}" for c, t in TABLES[table].types.items())
    return f"CREATE TABLE IF NOT EXISTS {quote_ident(table)} ({columns})"


def ensure_table(conn: duckdb.DuckDBPyConnection, table: str) -> None:
    """Create ``table`` if missing; add columns that a newer version defines (appended, NULL in old rows),
    so a warehouse written by an older version keeps its history and takes the new rows."""
    conn.execute(create_table_sql(table))
    present = set(table_columns(conn, table))
    for column, sql_type in TABLES[table].types.items():
        if column not in present:
            conn.execute(f"ALTER TABLE {quote_ident(table)} ADD COLUMN {quote_ident(column)} {sql_type}")


def replace_partition(conn: duckdb.DuckDBPyConnection, table: str, refresh_week: dt.date,
                      frame: pd.DataFrame) -> int:
    """Delete the refresh's rows and insert ``frame`` (columns as in TABLES), atomically."""
    columns = TABLES[table].column_names
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


def previous_refresh(conn: duckdb.DuckDBPyConnection, table: str, refresh_week: dt.date) -> dt.date | None:
    """The newest refresh before ``refresh_week`` with rows in ``table``, or None."""
    ensure_table(conn, table)
    return conn.execute(f"SELECT max(refresh_week) FROM {quote_ident(table)} WHERE refresh_week < ?",
                        [refresh_week]).fetchone()[0]


def read_panel(conn: duckdb.DuckDBPyConnection, spec: DatasetSpec, refresh_week: dt.date) -> Panel:
    """The refresh's window panel, rebuilt from its ``features`` rows (what training fitted on)."""
    features = read_partition(conn, "features", refresh_week)
    if features.empty:
        raise MissingRefreshData(f"no features for refresh {refresh_week}; materialize model_features first")
    return panel_from_features(features, tuple(c.name for c in spec.channels), tuple(spec.controls))
