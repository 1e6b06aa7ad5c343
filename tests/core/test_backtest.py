"""The refresh's holdout fit: a window of the contract's minimum length gets its forecast check, and a
holdout too long for a short window shrinks to what the window allows."""

from __future__ import annotations

from dataclasses import replace

import pytest

import numpy as np

from mmm_core.analysis.backtest import (
    DEFAULT_HOLDOUT_WEEKS, MIN_HOLDOUT_TRAINING_WEEKS, fit_with_holdout, holdout_weeks_for, interval_rows,
)
from mmm_core.data.contract import MIN_WEEKS
from mmm_core.simulation.config import PRESETS
from mmm_core.simulation.simulator import simulate

FAST = {"train": {"epochs": 3, "min_epochs": 1, "seed": 0, "device": "cpu", "threads": 1}}


def test_a_window_of_the_contract_minimum_fits_with_the_default_holdout_and_refits_on_every_week():
    panel = simulate(replace(PRESETS["tiny"], n_weeks=MIN_WEEKS), seed=1).panel
    fit = fit_with_holdout(panel, DEFAULT_HOLDOUT_WEEKS, overrides=FAST)
    assert fit.holdout_weeks == DEFAULT_HOLDOUT_WEEKS
    holdout = fit.metrics[(fit.metrics.split == "holdout") & (fit.metrics.metric == "r2")]
    assert set(holdout.view) == {"pooled", "within_region", "national"}
    assert holdout[holdout.series == "model"].value.notna().all()
    assert fit.model.predict(panel).shape == (panel.n_regions, MIN_WEEKS)  # the refit saw all 52 weeks
    coverage = fit.metrics[fit.metrics.metric == "interval_coverage"].set_index("split")
    assert set(coverage.index) == {"train", "holdout"} and (coverage.interval == 0.9).all()
    assert ((coverage.value >= 0) & (coverage.value <= 1)).all()
    assert fit.metrics.loc[fit.metrics.metric != "interval_coverage", "interval"].isna().all()


def test_interval_coverage_is_the_share_of_observed_region_weeks_inside_per_split():
    actual = np.arange(12.0).reshape(2, 6)
    lower, upper = actual - 1.0, actual + 1.0
    upper[0, 1] = actual[0, 1] - 0.5  # one training week missed
    lower[1, 4:] = actual[1, 4:] + 0.5  # two holdout weeks missed
    observed = np.ones_like(actual, dtype=bool)
    observed[1, 5] = False  # ...one of them unobserved, so it does not count
    rows = interval_rows(actual, lower, upper, observed, 4, 0.8).set_index("split")
    assert rows.value["train"] == pytest.approx(7 / 8)
    assert rows.value["holdout"] == pytest.approx(2 / 3)
    assert (rows.interval == 0.8).all() and (rows.metric == "interval_coverage").all()


@pytest.mark.parametrize("n_weeks, asked, given", [
    (52, 13, 13), (52, 26, 13), (60, 26, 21), (104, 26, 26), (104, 80, 65),
])
def test_the_holdout_shrinks_only_where_the_holdout_model_would_keep_too_few_weeks(n_weeks, asked, given):
    assert holdout_weeks_for(n_weeks, asked) == given
    assert n_weeks - given >= MIN_HOLDOUT_TRAINING_WEEKS


@pytest.mark.parametrize("n_weeks, asked", [(52, 0), (52, 52), (104, 500), (MIN_HOLDOUT_TRAINING_WEEKS, 1)])
def test_a_holdout_that_fits_no_window_raises(n_weeks, asked):
    with pytest.raises(ValueError, match="holdout"):
        holdout_weeks_for(n_weeks, asked)
