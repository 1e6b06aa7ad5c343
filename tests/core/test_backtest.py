"""The refresh's holdout fit: a window of the contract's minimum length gets its forecast check, and a
holdout too long for a short window shrinks to what the window allows."""

from __future__ import annotations

from dataclasses import replace

import pytest

from mmm_core.analysis.backtest import (
    DEFAULT_HOLDOUT_WEEKS, MIN_HOLDOUT_TRAINING_WEEKS, fit_with_holdout, holdout_weeks_for,
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
