"""One model refresh: fit with the last weeks held out, score them against naive baselines, then refit.

The held-out weeks are forecast by continuing the fitted model's state from the training weeks
(``MMM.predict`` on the whole window), so the holdout score is an honest out-of-time forecast. The
published model is refitted on the whole window (``refit=True``) so the newest weeks inform it.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import pandas as pd

from mmm_core.data.contract import MIN_WEEKS, Panel
from mmm_core.data.experiments import LiftTest
from mmm_core.model.ensemble import Ensemble, EnsembleConfig, point_prediction_interval
from mmm_core.model.estimator import MMM
from mmm_core.analysis.metrics import evaluate_forecast
from mmm_core.model.network import ModelConfig
from mmm_core.model.parallel import run_parallel, stop_check
from mmm_core.model.training import TrainConfig, TrainEvent

DEFAULT_HOLDOUT_WEEKS = 13
"""Weeks at the end of a refresh window that the holdout model never sees and forecasts (one quarter)."""

MIN_HOLDOUT_TRAINING_WEEKS = MIN_WEEKS - DEFAULT_HOLDOUT_WEEKS
"""Fewest weeks the holdout model trains on (39): what the default holdout leaves of the shortest window the
contract accepts (52 weeks). On such a window the holdout model sees three quarters of a year, not a whole
one, so its forecast check is weaker; the published model is refitted on the whole window."""


@dataclass(frozen=True)
class HoldoutFit:
    """A refresh's fitted model and how well its twin forecast the held-out weeks.

    ``metrics`` is tidy (split, series, view, metric, value, interval): split ``train``/``holdout``; series
    ``model`` or a naive baseline; view ``pooled``/``within_region``/``national``; the ``interval_coverage``
    rows (``interval_rows``) carry their level in ``interval`` (NaN on every other row).
    """

    model: MMM
    holdout_model: MMM
    metrics: pd.DataFrame
    holdout_weeks: int
    epochs: int
    refit_epochs: int | None
    seconds: float
    ensemble: Ensemble | None = None
    """Members refitted from ``model`` on the weeks it was fitted on (``Ensemble.fit``); None when not asked."""
    forecast: pd.DataFrame | None = None
    """The holdout model's forecast of the held-out weeks with its prediction interval (``forecast_frame``)."""

    def metric(self, split: str, view: str, metric: str, series: str = "model") -> float:
        m = self.metrics
        hit = m[(m.split == split) & (m.view == view) & (m.metric == metric) & (m.series == series)]
        return float(hit.value.iloc[0]) if len(hit) else float("nan")

    def best_baseline(self, split: str, view: str, metric: str = "r2") -> float:
        m = self.metrics
        hit = m[(m.split == split) & (m.view == view) & (m.metric == metric) & (m.series != "model")]
        return float(hit.value.max()) if len(hit) else float("nan")


def interval_rows(actual: np.ndarray, lower: np.ndarray, upper: np.ndarray, observed: np.ndarray,
                  train_end: int, interval: float) -> pd.DataFrame:
    """``metrics`` rows (series ``model``, view ``pooled``, metric ``interval_coverage``) per split: the share
    of observed region-weeks whose actual KPI lies in ``[lower, upper]``, all ``[R, T]`` over the window's weeks
    (training weeks ``< train_end``); ``interval`` the intervals' level."""
    inside = (lower <= actual) & (actual <= upper)
    in_train = np.arange(actual.shape[1]) < train_end
    rows = [(split, "model", "pooled", "interval_coverage", float(inside[mask].mean()), interval)
            for split, mask in (("train", observed & in_train), ("holdout", observed & ~in_train)) if mask.any()]
    return pd.DataFrame(rows, columns=["split", "series", "view", "metric", "value", "interval"])


def forecast_frame(window: Panel, forecast: np.ndarray, lower: np.ndarray, upper: np.ndarray, train_end: int,
                   interval: float) -> pd.DataFrame:
    """One row per observed held-out region-week (weeks ``>= train_end``): region, week, actual, forecast,
    forecast_lower, forecast_upper (KPI units; ``[R, T]`` arrays over the window's weeks) and interval (the
    level), so a consumer can score the forecast and its interval week by week."""
    held = window.observed & (np.arange(window.n_weeks) >= train_end)[None, :]
    r, t = np.nonzero(held)
    return pd.DataFrame({"region": np.asarray(window.regions, dtype=object)[r],
                         "week": pd.to_datetime(np.asarray(window.weeks)[t]), "actual": window.kpi[r, t],
                         "forecast": forecast[r, t], "forecast_lower": lower[r, t], "forecast_upper": upper[r, t],
                         "interval": interval})


def holdout_weeks_for(n_weeks: int, holdout_weeks: int = DEFAULT_HOLDOUT_WEEKS) -> int:
    """The holdout a window of ``n_weeks`` gets: ``holdout_weeks``, shrunk where it would leave the holdout
    model fewer than ``MIN_HOLDOUT_TRAINING_WEEKS`` (e.g. 26 asked on a 52-week window: 13).

    Raises ``ValueError`` when ``holdout_weeks`` is not between 1 and ``n_weeks - 1`` (a setting that fits no
    window) or when the window leaves no week to hold out.
    """
    if not 0 < holdout_weeks < n_weeks:
        raise ValueError(f"holdout_weeks={holdout_weeks} must be between 1 and the window's {n_weeks - 1} weeks")
    room = n_weeks - MIN_HOLDOUT_TRAINING_WEEKS
    if room < 1:
        raise ValueError(f"a window of {n_weeks} weeks leaves no holdout: the holdout model needs "
                         f"{MIN_HOLDOUT_TRAINING_WEEKS} weeks to train on")
    return min(holdout_weeks, room)


def fit_with_holdout(window: Panel, holdout_weeks: int = DEFAULT_HOLDOUT_WEEKS, refit: bool = True,
                     model_config: ModelConfig | None = None, train_config: TrainConfig | None = None,
                     overrides: dict[str, dict[str, Any]] | None = None,
                     callback: Callable[[TrainEvent], None] | None = None,
                     ensemble: EnsembleConfig | None = None, lift_tests: tuple[LiftTest, ...] = (),
                     workers: int = 1) -> HoldoutFit:
    """Fit on ``window`` minus its last ``holdout_weeks_for(window.n_weeks, holdout_weeks)`` weeks, score the
    forecast, optionally refit on all of it. ``HoldoutFit.holdout_weeks`` is the holdout used. With
    ``ensemble`` (and ``ensemble.members`` > 0), members are refitted from the published model on its weeks.
    ``metrics`` also score the holdout model's prediction interval at the ensemble's level
    (``point_prediction_interval``, ``interval_rows``), with or without members. Both fits train on the
    ``lift_tests`` whose weeks they cover (``MMM.fit``): an experiment in the holdout weeks is not the holdout
    model's to see.

    The holdout model and the refit do not read each other, nor do the members: with ``workers`` > 1 they train
    side by side on that many threads (``parallel.run_parallel``), each the same model as when trained alone.
    ``callback(event)`` is called one event at a time, from the thread of the fit it reports on; the holdout
    model's events (when there is a refit) carry phase ``holdout fit`` / ``holdout refit``.

    The holdout model's weeks are a split of a validated window, not input data: they may be fewer than the
    contract's 52 (``Panel.derive``), so a window of the documented minimum still gets a forecast check.
    """
    holdout_weeks = holdout_weeks_for(window.n_weeks, holdout_weeks)
    started = time.perf_counter()
    train_end = window.n_weeks - holdout_weeks
    train = window.derive(weeks=window.weeks[:train_end], kpi=window.kpi[:, :train_end],
                          spend=window.spend[:, :train_end], activity=window.activity[:, :train_end],
                          controls=window.controls[:, :train_end], observed=window.observed[:, :train_end])
    reporting = threading.Lock()

    def report(label: str) -> Callable[[TrainEvent], None] | None:
        if callback is None:
            return None

        def one_at_a_time(event: TrainEvent) -> None:
            with reporting:
                callback(dataclasses.replace(event, phase=f"{label}{event.phase}"))
        return one_at_a_time

    def fit_on(panel: Panel, label: str) -> Callable[[threading.Event], MMM]:
        return lambda stop: MMM(model_config, train_config, overrides).fit(
            panel, callback=stop_check(stop, report(label)), lift_tests=lift_tests)

    fits = run_parallel([fit_on(train, "holdout " if refit else "")] + ([fit_on(window, "")] if refit else []),
                        workers)
    holdout_model = fits[0]
    predicted = holdout_model.predict(window)
    interval = (ensemble or EnsembleConfig()).interval
    lower, upper = point_prediction_interval(holdout_model, train, window, interval)
    metrics = pd.concat([evaluate_forecast(window.kpi, predicted, window.observed, train_end).assign(interval=np.nan),
                         interval_rows(window.kpi, lower, upper, window.observed, train_end, interval)],
                        ignore_index=True)
    model, refit_epochs, fitted_on = holdout_model, None, train
    if refit:
        model = fits[1]
        refit_epochs, fitted_on = model.train_result_.epochs_run, window
    members = None
    if ensemble is not None and ensemble.members > 0:
        members = Ensemble.fit(model, fitted_on, ensemble, workers=workers)
    return HoldoutFit(model=model, holdout_model=holdout_model, metrics=metrics, holdout_weeks=holdout_weeks,
                      epochs=holdout_model.train_result_.epochs_run, refit_epochs=refit_epochs,
                      seconds=time.perf_counter() - started, ensemble=members,
                      forecast=forecast_frame(window, predicted, lower, upper, train_end, interval))
