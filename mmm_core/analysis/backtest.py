"""One model refresh: fit with the last weeks held out, score them against naive baselines, then refit.

The held-out weeks are forecast by continuing the fitted model's state from the training weeks
(``MMM.predict`` on the whole window), so the holdout score is an honest out-of-time forecast. The
published model is refitted on the whole window (``refit=True``) so the newest weeks inform it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable

import pandas as pd

from mmm_core.data.contract import Panel
from mmm_core.model.estimator import MMM
from mmm_core.analysis.metrics import evaluate_forecast
from mmm_core.model.network import ModelConfig
from mmm_core.model.training import TrainConfig, TrainEvent

DEFAULT_HOLDOUT_WEEKS = 13
"""Weeks at the end of a refresh window that the holdout model never sees and forecasts (one quarter)."""


@dataclass(frozen=True)
class HoldoutFit:
    """A refresh's fitted model and how well its twin forecast the held-out weeks.

    ``metrics`` is tidy (split, series, view, metric, value): split ``train``/``holdout``; series
    ``model`` or a naive baseline; view ``pooled``/``within_region``/``national``.
    """

    model: MMM
    holdout_model: MMM
    metrics: pd.DataFrame
    holdout_weeks: int
    epochs: int
    refit_epochs: int | None
    seconds: float

    def metric(self, split: str, view: str, metric: str, series: str = "model") -> float:
        m = self.metrics
        hit = m[(m.split == split) & (m.view == view) & (m.metric == metric) & (m.series == series)]
        return float(hit.value.iloc[0]) if len(hit) else float("nan")

    def best_baseline(self, split: str, view: str, metric: str = "r2") -> float:
        m = self.metrics
        hit = m[(m.split == split) & (m.view == view) & (m.metric == metric) & (m.series != "model")]
        return float(hit.value.max()) if len(hit) else float("nan")


def fit_with_holdout(window: Panel, holdout_weeks: int = DEFAULT_HOLDOUT_WEEKS, refit: bool = True,
                     model_config: ModelConfig | None = None, train_config: TrainConfig | None = None,
                     overrides: dict[str, dict[str, Any]] | None = None,
                     callback: Callable[[TrainEvent], None] | None = None) -> HoldoutFit:
    """Fit on ``window`` minus its last ``holdout_weeks``, score the forecast, optionally refit on all of it."""
    if not 0 < holdout_weeks < window.n_weeks:
        raise ValueError(f"holdout_weeks={holdout_weeks} must be between 1 and the window's "
                         f"{window.n_weeks - 1} weeks")
    started = time.perf_counter()
    train_end = window.n_weeks - holdout_weeks
    train = window.slice_weeks(0, train_end)
    holdout_model = MMM(model_config, train_config, overrides).fit(train, callback=callback)
    predicted = holdout_model.predict(window)
    metrics = evaluate_forecast(window.kpi, predicted, window.observed, train_end)
    model, refit_epochs = holdout_model, None
    if refit:
        model = MMM(model_config, train_config, overrides).fit(window, callback=callback)
        refit_epochs = model.train_result_.epochs_run
    return HoldoutFit(model=model, holdout_model=holdout_model, metrics=metrics, holdout_weeks=holdout_weeks,
                      epochs=holdout_model.train_result_.epochs_run, refit_epochs=refit_epochs,
                      seconds=time.perf_counter() - started)
