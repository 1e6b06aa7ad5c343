"""The holdout gate on hand-made model_metrics rows, and where its threshold is set (resource, environment)."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from mmm_pipeline import gates
from mmm_pipeline.resources import QualityGatesResource, default_resources

DEFAULT = QualityGatesResource().min_holdout_skill


def _metrics(r2: dict[tuple[str, str], float]) -> pd.DataFrame:
    """model_metrics rows from ``{(view, series): holdout R²}``, plus a training row that must be ignored."""
    rows = [("holdout", series, view, "r2", value) for (view, series), value in r2.items()]
    rows.append(("train", "model", "national", "r2", 0.99))
    return pd.DataFrame(rows, columns=["split", "series", "view", "metric", "value"])


def _views(model: float, baselines: dict[str, float], view: str) -> dict[tuple[str, str], float]:
    return {(view, "model"): model, **{(view, name): value for name, value in baselines.items()}}


# The third-party panel of issue 15: pooled R² cleared the old 0.5 floor, but the forecast is worse than naive.
ISSUE_15 = _metrics({
    ("pooled", "model"): 0.93, ("pooled", "region_mean"): 0.95,
    **_views(-0.57, {"region_mean": -0.12, "last_4_weeks": -0.40, "same_week_last_year": -0.90}, "within_region"),
    **_views(-1.68, {"region_mean": -0.69, "last_4_weeks": -0.95, "same_week_last_year": -2.10}, "national"),
})


def test_a_forecast_worse_than_naive_is_blocked_in_both_views_with_figures_and_how_to_change_the_gate():
    verdicts = gates.forecast_verdicts(ISSUE_15, n_regions=40, min_skill=DEFAULT)
    assert [(v.view, v.baseline, v.passed) for v in verdicts] == \
        [("within_region", "region_mean", False), ("national", "region_mean", False)]
    text = gates.forecast_gate_description(verdicts, QualityGatesResource().how_to_change("min_holdout_skill"))
    assert text.startswith("Blocked")
    for part in ("within-region: holdout R² -0.570 vs best naive baseline region_mean -0.120",
                 "national: holdout R² -1.680 vs best naive baseline region_mean -0.690",
                 "resources.quality_gates.config.min_holdout_skill", "MMM_MIN_HOLDOUT_SKILL"):
        assert part in text


def test_the_bundled_samples_published_forecast_passes_by_a_wide_margin():
    # make run on the bundled sample (644 epochs, 2026-11-30): the model beats every naive baseline
    metrics = _metrics({
        **_views(0.560, {"region_mean": -0.981, "last_4_weeks": -0.615, "same_week_last_year": -1.227},
                 "within_region"),
        **_views(0.900, {"region_mean": -1.084, "last_4_weeks": -0.641, "same_week_last_year": -0.509}, "national"),
    })
    verdicts = gates.forecast_verdicts(metrics, n_regions=40, min_skill=DEFAULT)
    assert all(v.passed for v in verdicts)
    assert [v.baseline for v in verdicts] == ["last_4_weeks", "same_week_last_year"]
    assert min(v.skill for v in verdicts) > 0.5
    assert gates.forecast_gate_description(verdicts, "unused").startswith("The holdout forecast beats")


def test_the_bar_stays_reachable_when_the_best_baseline_is_already_good():
    """A fixed margin in R² points would ask a model to beat a 0.97 baseline with R² 1.02; the skill bar asks
    for a share of what the baseline leaves unexplained."""
    metrics = _metrics({**_views(0.99, {"same_week_last_year": 0.97}, "national"),
                        **_views(0.60, {"region_mean": 0.10}, "within_region")})
    [within, national] = gates.forecast_verdicts(metrics, n_regions=5, min_skill=DEFAULT)
    assert national.passed and national.required_r2 == pytest.approx(0.97 + DEFAULT * 0.03)
    assert within.passed
    [_, national] = gates.forecast_verdicts(metrics, n_regions=5, min_skill=0.9)
    assert not national.passed  # 0.99 explains 2/3 of the baseline's remaining 0.03, not 9/10


def test_a_national_dataset_is_judged_once_in_the_national_view():
    metrics = _metrics({**_views(0.7, {"region_mean": 0.2}, "within_region"),
                        **_views(0.7, {"region_mean": 0.2}, "national")})
    [verdict] = gates.forecast_verdicts(metrics, n_regions=1, min_skill=DEFAULT)
    assert verdict.view == "national" and verdict.passed
    assert "one region" in verdict.describe()


def test_an_undefined_figure_never_passes():
    nan = float("nan")
    metrics = _metrics({**_views(nan, {"region_mean": 0.2}, "within_region"),
                        **_views(0.5, {"region_mean": nan, "last_4_weeks": nan}, "national")})
    [within, national] = gates.forecast_verdicts(metrics, n_regions=3, min_skill=-10.0)
    assert not within.passed and not national.passed
    assert national.baseline is None and math.isnan(national.baseline_r2)
    assert "no naive baseline has a defined R²" in national.describe()


def test_a_negative_skill_lets_a_forecast_worse_than_naive_through():
    verdicts = gates.forecast_verdicts(ISSUE_15, n_regions=40, min_skill=-1.0)
    assert all(v.passed for v in verdicts)


def test_each_gate_is_set_by_its_environment_variable(monkeypatch, tmp_path):
    monkeypatch.setenv("MMM_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("MMM_MIN_HOLDOUT_SKILL", "0.25")
    monkeypatch.setenv("MMM_MAX_ROI_CHANGE", "0.8")
    monkeypatch.setenv("MMM_MAX_EXPERIMENT_Z", "2.5")
    monkeypatch.delenv("MMM_MAX_ADDITIVITY_ERROR", raising=False)
    assert default_resources()["quality_gates"] == QualityGatesResource(min_holdout_skill=0.25, max_roi_change=0.8,
                                                                        max_experiment_z=2.5)
    monkeypatch.setenv("MMM_MIN_HOLDOUT_SKILL", "ten percent")
    with pytest.raises(ValueError, match="MMM_MIN_HOLDOUT_SKILL='ten percent' is not a number"):
        default_resources()


def _experiments(z: dict[str, float], loo_z: dict[str, float] | None = None) -> pd.DataFrame:
    """experiments rows with the given z-scores (NaN: outside the window) around a measured lift of 100 ± 10, and
    leave-one-out z-scores (NaN where not given)."""
    loo = [float("nan") if loo_z is None else loo_z.get(name, float("nan")) for name in z]
    return pd.DataFrame({"experiment": list(z), "channel": "tv", "lift": 100.0, "lift_se": 10.0,
                         "model_lift": [100.0 + 10.0 * v for v in z.values()], "z": list(z.values()), "loo_z": loo})


def test_an_experiment_beyond_the_threshold_is_named_largest_first_and_one_outside_the_window_is_not_judged():
    table = _experiments({"inside": 1.0, "far_below": -7.5, "far_above": 4.0, "outside": float("nan")})
    assert list(gates.judged_experiments(table).experiment) == ["inside", "far_below", "far_above"]
    assert list(gates.contradicting_experiments(table, 3.0).experiment) == ["far_below", "far_above"]
    assert list(gates.contradicting_experiments(table, 8.0).experiment) == []
    text = gates.experiments_description(table, 3.0, "HOW")
    assert text.startswith("2 of 3 experiments contradict the model by more than 3 standard errors")
    assert "far_below (tv): measured lift 100 ± 10, model 25, z -7.50" in text and text.endswith("HOW")
    assert "inside" not in text and "outside" not in text
    assert gates.experiments_description(table, 8.0, "HOW").startswith("All 3 experiments in the refresh window agree")


def test_a_test_the_model_fitted_without_it_contradicts_is_named_though_the_fit_that_used_it_agrees():
    table = _experiments({"absorbed": 0.1, "agreed": 0.2}, loo_z={"absorbed": -4.0, "agreed": 1.0})
    assert list(gates.contradicting_experiments(table, 3.0).experiment) == ["absorbed"]
    assert "absorbed (tv): measured lift 100 ± 10, model 101, z +0.10, without it z -4.00" in \
        gates.experiments_description(table, 3.0, "HOW")
