"""Holiday weeks: the calendar is right across years, and the model learns the lift of those weeks."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mmm_core.model.estimator import MMM
from mmm_core.data.calendar import DEFAULT_HOLIDAYS, holiday_indicators
from mmm_core.model.network import ModelConfig


def _weeks_of(name: str, first_monday: str, n: int) -> list[str]:
    weeks = np.datetime64(first_monday) + 7 * np.arange(n)
    flags = holiday_indicators(weeks, (name,))[:, 0]
    return [str(w) for w in weeks[flags == 1.0]]


def test_holiday_weeks_follow_the_calendar():
    # Black Friday is the day after the 4th Thursday of November: 2024-11-29, 2023-11-24, 2019-11-29
    assert _weeks_of("black_friday", "2019-01-07", 320) == ["2019-11-25", "2020-11-23", "2021-11-22",
                                                           "2022-11-21", "2023-11-20", "2024-11-25"]
    assert _weeks_of("christmas", "2022-01-03", 110) == ["2022-12-19", "2023-12-25"]
    assert _weeks_of("pre_christmas", "2022-01-03", 110) == ["2022-12-12", "2023-12-18"]
    # 1 January 2023 is a Sunday: it belongs to the week that starts on Monday 26 December 2022
    assert _weeks_of("new_year", "2022-01-03", 110) == ["2022-12-26", "2024-01-01"]


def test_unknown_holiday_is_refused():
    with pytest.raises(ValueError, match="unknown holidays"):
        ModelConfig(holidays=("easter_monday_typo",))
    assert ModelConfig().holidays == DEFAULT_HOLIDAYS


FAST = {"epochs": 200, "min_epochs": 50, "patience": 50, "threads": 1}


def test_holiday_lifts_are_learned(tiny_simulation, tiny_fit, tiny_train):
    """The simulated KPI lifts Black Friday, pre-Christmas and Christmas weeks (not New Year): the learned
    lifts (share of the region mean) are within a factor 2 of the true ones and New Year's is the smallest.
    The shared short fit of the first 91 weeks (``tiny_fit``, default holidays)."""
    mmm, train = tiny_fit, tiny_train
    assert mmm.model_config_.holidays == DEFAULT_HOLIDAYS
    learned = dict(zip(mmm.model_config_.holidays, mmm.net_.holiday_coef.detach().numpy()))
    lift = tiny_simulation.truth.components()["holiday"][:, :train.n_weeks] / mmm.scaler_.kpi.scale[:, None]
    flags = holiday_indicators(train.weeks, ("black_friday", "pre_christmas", "christmas"))
    for h, name in enumerate(("black_friday", "pre_christmas", "christmas")):
        true_lift = lift[:, flags[:, h] == 1.0][train.observed[:, flags[:, h] == 1.0]].mean()
        assert true_lift > 0.05
        assert 0.5 * true_lift < learned[name] < 2.0 * true_lift, (name, learned[name], true_lift)
    assert learned["new_year"] < min(learned[n] for n in ("black_friday", "pre_christmas", "christmas"))


def test_models_saved_without_holiday_terms_still_load(fitted_tiny_without_holidays, tmp_path):
    mmm, panel = fitted_tiny_without_holidays
    folder = mmm.save(tmp_path / "old")
    config = json.loads((folder / "config.json").read_text())
    del config["model_config"]["holidays"]  # as written before holiday terms existed
    (folder / "config.json").write_text(json.dumps(config))
    loaded = MMM.load(folder)
    assert loaded.model_config_.holidays == ()
    np.testing.assert_array_equal(loaded.predict(panel), mmm.predict(panel))


@pytest.fixture(scope="module")
def fitted_tiny_without_holidays(tiny_simulation):
    panel = tiny_simulation.panel
    train = panel.slice_weeks(0, panel.n_weeks - 13)
    mmm = MMM(overrides={"model": {"holidays": []}, "train": {**FAST, "epochs": 20, "min_epochs": 5}}).fit(train)
    return mmm, panel
