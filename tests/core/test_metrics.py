"""Forecast metrics against hand-computed values, in every view, plus the naive baselines."""

from __future__ import annotations

import numpy as np
import pytest

from mmm_core.analysis.metrics import (BASELINES, METRICS, VIEWS, evaluate_forecast, format_evaluation, log_rmse, mae, mape,
                              metric_view, naive_forecasts, r2, rmse, trimmed_rmse)


def _ones(shape):
    return np.ones(shape, dtype=bool)


# -- 1-D metrics ----------------------------------------------------------------------------------
def test_hand_computed_metrics():
    actual = np.array([1.0, 2.0, 3.0, 4.0])
    predicted = np.array([1.0, 2.0, 3.0, 6.0])
    assert rmse(actual, predicted) == pytest.approx(1.0)           # sqrt(4 / 4)
    assert mae(actual, predicted) == pytest.approx(0.5)            # 2 / 4
    assert mape(actual, predicted) == pytest.approx(0.125)         # (2 / 4) / 4
    assert r2(actual, predicted) == pytest.approx(1 - 4 / 5)       # SST = 2.25 + .25 + .25 + 2.25
    assert trimmed_rmse(actual, predicted) == pytest.approx(1.0)   # n < 20: nothing dropped


def test_perfect_prediction():
    actual = np.array([3.0, 1.0, 4.0, 1.0, 5.0])
    assert r2(actual, actual) == 1.0
    for fn in (rmse, mae, mape, trimmed_rmse, log_rmse):
        assert fn(actual, actual) == 0.0


def test_mape_skips_zero_actuals():
    assert mape(np.array([0.0, 2.0]), np.array([5.0, 1.0])) == pytest.approx(0.5)
    assert np.isnan(mape(np.array([0.0, 0.0]), np.array([1.0, 1.0])))


def test_trimmed_rmse_drops_the_worst_five_percent():
    actual = np.zeros(40)
    predicted = np.zeros(40)
    predicted[:2] = 100.0                      # floor(0.05 * 40) = 2 outliers dropped
    predicted[2:] = 1.0
    assert trimmed_rmse(actual, predicted) == pytest.approx(1.0)
    assert rmse(actual, predicted) > 20


def test_log_rmse_is_on_log1p_scale():
    actual = np.array([np.e - 1.0])
    assert log_rmse(actual, np.array([0.0])) == pytest.approx(1.0)
    assert log_rmse(actual, np.array([-5.0])) == pytest.approx(1.0)  # negative predictions clip to 0


def test_r2_of_constant_actual_is_undefined():
    assert np.isnan(r2(np.ones(5), np.ones(5)))


# -- views ---------------------------------------------------------------------------------------
def test_region_mean_predictor_has_zero_within_region_r2_but_positive_pooled():
    actual = np.array([[1.0, 2.0, 3.0], [11.0, 12.0, 13.0]])
    predicted = np.repeat(actual.mean(axis=1, keepdims=True), 3, axis=1)
    mask = _ones(actual.shape)
    assert metric_view("r2", "within_region", actual, predicted, mask) == pytest.approx(0.0)
    # pooled: SSE = 4, SST = 4 + 150 = 154
    assert metric_view("r2", "pooled", actual, predicted, mask) == pytest.approx(1 - 4 / 154)


def test_national_view_sums_regions_per_week():
    actual = np.array([[1.0, 2.0], [3.0, 4.0]])
    predicted = np.array([[2.0, 1.0], [2.0, 5.0]])  # errors cancel per week: national sums 4, 6
    mask = _ones(actual.shape)
    assert metric_view("rmse", "national", actual, predicted, mask) == 0.0
    assert metric_view("rmse", "pooled", actual, predicted, mask) == pytest.approx(1.0)
    assert metric_view("mae", "within_region", actual, predicted, mask) == pytest.approx(1.0)


def test_masked_cells_are_never_read():
    actual = np.array([[1.0, 2.0, 3.0, 99.0], [2.0, 4.0, 6.0, 8.0]])
    predicted = actual.copy()
    predicted[0, 3] = -1e6
    mask = _ones(actual.shape)
    mask[0, 3] = False
    for view in VIEWS:
        for metric in METRICS:
            value = metric_view(metric, view, actual, predicted, mask)
            expected = 1.0 if metric == "r2" else 0.0
            assert value == pytest.approx(expected), (view, metric)


def test_shape_mismatch_raises():
    with pytest.raises(ValueError):
        metric_view("rmse", "pooled", np.ones((2, 3)), np.ones((2, 4)), _ones((2, 3)))


# -- baselines -----------------------------------------------------------------------------------
def test_naive_forecasts():
    T = 60
    actual = np.arange(2 * T, dtype=float).reshape(2, T)
    observed = _ones(actual.shape)
    observed[1, 55] = False                     # holdout week 55 of region 1 has no data
    observed[1, 3] = False                      # so week 55's last-year value is missing
    train_end = 56
    fc = naive_forecasts(actual, observed, train_end)
    assert set(fc) == set(BASELINES)
    np.testing.assert_allclose(fc["region_mean"][0], actual[0, :56].mean())
    train1 = np.r_[actual[1, :3], actual[1, 4:55]]
    np.testing.assert_allclose(fc["region_mean"][1], train1.mean())
    # last 4 weeks: holdout = mean of the last 4 observed training weeks; train week t = mean of t-4..t-1
    assert fc["last_4_weeks"][0, 57] == pytest.approx(actual[0, 52:56].mean())
    assert fc["last_4_weeks"][1, 57] == pytest.approx(actual[1, [51, 52, 53, 54]].mean())
    assert fc["last_4_weeks"][0, 10] == pytest.approx(actual[0, 6:10].mean())
    assert fc["last_4_weeks"][0, 0] == pytest.approx(actual[0, :56].mean())  # no history: region mean
    # same week last year, falling back to the region mean
    assert fc["same_week_last_year"][0, 56] == actual[0, 4]
    assert fc["same_week_last_year"][1, 55] == pytest.approx(train1.mean())
    assert fc["same_week_last_year"][0, 10] == pytest.approx(actual[0, :56].mean())


def test_same_week_last_year_never_reads_the_holdout():
    T = 120
    actual = np.arange(T, dtype=float)[None, :]
    fc = naive_forecasts(actual, _ones(actual.shape), train_end=60)
    assert fc["same_week_last_year"][0, 115] == actual[0, 115 - 104]


# -- evaluation table ------------------------------------------------------------------------------
def test_evaluate_forecast_table(tiny_panel):
    actual, observed = tiny_panel.kpi, tiny_panel.observed
    train_end = tiny_panel.n_weeks - 13
    table = evaluate_forecast(actual, actual, observed, train_end)
    assert list(table.columns) == ["split", "series", "view", "metric", "value"]
    assert set(table["split"]) == {"train", "holdout"}
    assert set(table["series"]) == {"model", *BASELINES}
    assert len(table) == 2 * 4 * len(VIEWS) * len(METRICS)
    model = table[table["series"] == "model"].set_index(["split", "view", "metric"])["value"]
    assert model.xs("r2", level="metric").eq(1.0).all()
    assert model.xs("rmse", level="metric").eq(0.0).all()
    region_mean = table[(table["series"] == "region_mean") & (table["split"] == "train")
                        & (table["view"] == "within_region") & (table["metric"] == "r2")]["value"].item()
    assert region_mean == pytest.approx(0.0, abs=1e-12)
    text = format_evaluation(table)
    assert "[holdout / national]" in text and "same_week_last_year" in text and "trimmed_rmse" in text


def test_evaluate_without_holdout_has_train_only(tiny_panel):
    table = evaluate_forecast(tiny_panel.kpi, tiny_panel.kpi, tiny_panel.observed, tiny_panel.n_weeks)
    assert set(table["split"]) == {"train"}
