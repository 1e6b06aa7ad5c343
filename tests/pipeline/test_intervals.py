"""Intervals in the published tables (issue 17): channel_summary's *_lower / *_upper columns come from the
ensemble's members in channel_draws and the bias refits saved with the model, every member reconciles, curves
carry bands and budgets intervals and the probability of beating the current allocation, model_metrics scores
the holdout prediction interval, the wide-interval check names channels, and a refresh trained without an
ensemble still publishes (NULL intervals, no draws, the check skipped)."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import duckdb
import numpy as np
import pandas as pd
import pytest

from mmm_core.model.ensemble import INTERVAL_COLUMNS, EnsembleConfig, with_intervals
from mmm_pipeline.resources import QualityGatesResource
from mmm_pipeline.storage.artifacts import load_ensemble
from tests.conftest import REFRESH_WEEKS as WEEKS
from tests.conftest import Deployment, fast_run_config
from tests.pipeline.conftest import RISK_AVERSION

MEMBERS = fast_run_config()["ops"]["mmm_model"]["config"]["ensemble_members"]
CHECK = dg.AssetCheckKey(dg.AssetKey("channel_summary"), "roi_intervals_narrow_enough_to_act_on")


def _frame(published, query: str, params=()) -> pd.DataFrame:
    with duckdb.connect(str(published.deployment.serving), read_only=True) as conn:
        return conn.execute(query, list(params)).df()


def test_channel_summary_intervals_are_the_published_draws_quantiles_widened_by_the_saved_bias_refits(published):
    """Without bias refits an interval is the draws' central 90 %; with them (the default) it is that interval
    widened by the error of the refits saved with the model: a SQL user gets the draws, the model the rest."""
    [[path]] = published.sql("SELECT artifact_path FROM model_runs WHERE refresh_week = ?", [WEEKS[1]])
    ensemble = load_ensemble(Path(path))
    summary = _frame(published, "SELECT * FROM channel_summary WHERE refresh_week = ?", [WEEKS[1]])
    summary = summary.set_index("channel").loc[list(ensemble.point.channels_)].reset_index()  # the refits' order
    draws = _frame(published, "SELECT * FROM channel_draws WHERE refresh_week = ?", [WEEKS[1]])
    assert ensemble.config.bias_refits == EnsembleConfig.bias_refits > 0
    assert all(v.shape == (EnsembleConfig.bias_refits, len(summary)) for v in ensemble.bias.values())
    assert (summary["interval"] == 0.9).all()
    assert sorted(draws["member"].unique()) == list(range(MEMBERS))
    assert len(draws) == MEMBERS * len(summary)
    expected = with_intervals(summary[["channel", *INTERVAL_COLUMNS]], draws, 0.9, ensemble.bias)
    widened = False
    for column in INTERVAL_COLUMNS:
        values = draws.pivot(index="member", columns="channel", values=column)[summary["channel"]].to_numpy()
        lower, upper = summary[f"{column}_lower"].to_numpy(), summary[f"{column}_upper"].to_numpy()
        np.testing.assert_allclose(lower, expected[f"{column}_lower"], rtol=1e-9)
        np.testing.assert_allclose(upper, expected[f"{column}_upper"], rtol=1e-9)
        q05, q95 = np.quantile(values, 0.05, axis=0), np.quantile(values, 0.95, axis=0)
        slack = 1e-6 * np.abs(values).max(0)
        assert (lower <= q05 + slack).all() and (upper >= q95 - slack).all()
        widened |= bool(((lower < q05 - slack) | (upper > q95 + slack)).any())
    assert widened  # the refits moved some interval beyond the draws' quantiles


def test_each_published_member_adds_up_to_its_prediction(published):
    draws = _frame(published, "SELECT * FROM channel_draws WHERE refresh_week = ?", [WEEKS[1]])
    for _, rows in draws.groupby("member"):
        assert rows["prediction"].nunique() == 1 and rows["non_media"].nunique() == 1
        assert rows["direct_contribution"].sum() + rows["non_media"].iloc[0] == pytest.approx(
            rows["prediction"].iloc[0], rel=1e-9)
        np.testing.assert_allclose(rows["roi"], rows["total_contribution"] / rows["spend"], rtol=1e-12)


def test_curves_and_budgets_carry_the_members_intervals_at_the_stated_level(published):
    points = _frame(published, "SELECT * FROM response_curve_points WHERE refresh_week = ?", [WEEKS[1]])
    curves = _frame(published, "SELECT * FROM response_curves WHERE refresh_week = ?", [WEEKS[1]])
    scenarios = _frame(published, "SELECT * FROM budget_scenarios WHERE refresh_week = ?", [WEEKS[1]])
    for frame, low, high in ((points, "response_lower", "response_upper"), (curves, "roi_lower", "roi_upper"),
                             (curves, "mroi_lower", "mroi_upper"),
                             (scenarios, "incremental_response_model_lower", "incremental_response_model_upper")):
        assert (frame["interval"] == 0.9).all()
        defined = frame[low].notna()  # NaN only where the point value is (a region-channel without window spend)
        assert defined.any() and (frame[low][defined] <= frame[high][defined]).all()
        assert (frame[high].notna() == defined).all()
    zero = points[points.multiplier == 0]
    np.testing.assert_allclose(zero[["response_lower", "response_upper"]], 0.0, atol=1e-6)
    # a member's share of wins is a multiple of 1 / K
    wins = scenarios["prob_beats_current"] * MEMBERS
    np.testing.assert_allclose(wins, np.round(wins), atol=1e-9)
    assert ((wins >= 0) & (wins <= MEMBERS)).all()


def test_the_risk_averse_plan_is_published_beside_each_budget_scenarios_point_plan(published):
    scenarios = _frame(published, "SELECT * FROM budget_scenarios WHERE refresh_week = ? AND scope = 'national'",
                       [WEEKS[1]])
    risky = scenarios[scenarios.objective == f"mean_minus_{RISK_AVERSION:g}_sd"]
    point = scenarios[scenarios.objective == "point"]
    assert sorted(risky.scenario) == sorted(point.scenario) and len(risky)
    assert risky["prob_beats_current"].notna().all() and risky["converged"].all()
    allocation = _frame(published, "SELECT scenario, objective, optimal_spend, budget_total FROM budget_allocation "
                                   "JOIN budget_scenarios USING (refresh_week, scenario, scope, objective) "
                                   "WHERE refresh_week = ? AND scope = 'national'", [WEEKS[1]])
    sums = allocation.groupby(["scenario", "objective"]).agg(spent=("optimal_spend", "sum"),
                                                             budget=("budget_total", "first"))
    np.testing.assert_allclose(sums.spent, sums.budget, rtol=1e-9)


def test_model_metrics_score_the_holdout_prediction_interval(published):
    metrics = _frame(published, "SELECT * FROM model_metrics WHERE refresh_week = ? AND metric = 'interval_coverage'",
                     [WEEKS[1]]).set_index("split")
    assert set(metrics.index) == {"train", "holdout"} and (metrics["interval"] == 0.9).all()
    assert metrics["value"].between(0, 1).all()


def test_the_interval_check_names_exactly_the_channels_whose_roi_interval_is_too_wide(published):
    threshold = QualityGatesResource().max_roi_interval_ratio
    summary = _frame(published, "SELECT channel, roi_lower, roi_upper FROM channel_summary WHERE refresh_week = ?",
                     [WEEKS[1]])
    ratio = np.where(summary["roi_lower"] > 0, summary["roi_upper"] / summary["roi_lower"], np.inf)
    expected = sorted(summary["channel"][ratio > threshold])
    [evaluation] = [e for e in published.results[WEEKS[1]].get_asset_check_evaluations() if e.asset_check_key == CHECK]
    assert sorted(evaluation.metadata["channels_too_wide"].value) == expected
    assert evaluation.passed == (not expected)
    assert evaluation.metadata["threshold"].value == threshold


def test_a_refresh_without_an_ensemble_publishes_point_estimates_and_skips_the_interval_check(tmp_path):
    deployment = Deployment.create(tmp_path)
    from mmm_pipeline.definitions import defs

    with pytest.MonkeyPatch.context() as mp:
        for name, value in deployment.variables.items():
            mp.setenv(name, value)
        definitions = defs()
    with dg.instance_for_test() as instance:
        result = definitions.resolve_job_def("mmm_refresh").execute_in_process(
            partition_key=WEEKS[0], instance=instance, run_config=fast_run_config(epochs=5, ensemble_members=0))
    assert result.success
    assert CHECK not in {e.asset_check_key for e in result.get_asset_check_evaluations()}
    with duckdb.connect(str(deployment.serving), read_only=True) as conn:
        summary = conn.execute("SELECT * FROM latest_channel_summary").df()
        assert conn.execute("SELECT count(*) FROM channel_draws").fetchone()[0] == 0
    assert len(summary) and summary["roi"].notna().all()
    interval_columns = [f"{c}_{end}" for c in INTERVAL_COLUMNS for end in ("lower", "upper")] + ["interval"]
    assert summary[interval_columns].isna().all().all()
    with duckdb.connect(str(deployment.serving), read_only=True) as conn:
        bands = conn.execute("SELECT count(*), count(response_lower), count(interval) "
                             "FROM latest_response_curve_points").fetchone()
        budgets = conn.execute("SELECT count(*), count(prob_beats_current) FROM latest_budget_scenarios").fetchone()
        coverage = conn.execute("SELECT count(*) FROM latest_model_metrics WHERE metric = 'interval_coverage'").fetchone()
    assert bands[0] > 0 and bands[1:] == (0, 0) and budgets[0] > 0 and budgets[1] == 0
    assert coverage[0] == 2  # the holdout model's interval is scored without an ensemble too
