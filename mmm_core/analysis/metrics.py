"""Forecast accuracy: metrics in three views, naive baselines, and one tidy evaluation table.

Pure numpy. Inputs are ``[regions, weeks]`` arrays of actual and predicted KPI (KPI units) with a
boolean mask (``Panel.observed``, possibly restricted to a split); masked-out cells are never read.

Metrics (``METRICS``), each on matching 1-D arrays ``actual``, ``predicted``:
  * ``r2``: ``1 - SSE / SST`` with SST around the mean of ``actual``; NaN when SST is 0 or n < 2.
  * ``rmse``, ``mae``: KPI units.
  * ``mape``: mean of ``|actual - predicted| / |actual|`` over the points where ``actual != 0`` (zero
    actuals are skipped), as a fraction (0.05 = 5 %); NaN when every actual is 0.
  * ``trimmed_rmse``: RMSE after dropping the largest ``TRIM_SHARE`` (5 %) absolute errors, i.e. the
    ``floor(0.05 n)`` worst points (none when n < 20); robust to a few outliers such as holiday weeks.
  * ``log_rmse``: RMSE of ``log1p(predicted) - log1p(actual)``, predictions clipped at 0 first; roughly a
    relative error, so large regions do not dominate.

Views (``VIEWS``):
  * ``pooled``: the metric over all masked region-weeks together.
  * ``within_region``: the metric per region over its masked weeks, then the mean over regions (regions
    where the metric is undefined, e.g. R² of a constant series, are skipped).
  * ``national``: actual and predicted summed over regions (masked cells only) per week, then the metric
    over the weeks with at least one masked cell.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from mmm_core.data.contract import Panel

TRIM_SHARE = 0.05
"""Share of the largest absolute errors that ``trimmed_rmse`` drops."""

SEASON_WEEKS = 52
"""Lag of the same-week-last-year baseline."""

LAST_WEEKS = 4
"""Window of the last-weeks baseline."""

METRICS = ("r2", "rmse", "mae", "mape", "trimmed_rmse", "log_rmse")
VIEWS = ("pooled", "within_region", "national")
BASELINES = ("region_mean", "last_4_weeks", "same_week_last_year")
SPLITS = ("train", "holdout")


# -- metrics on 1-D arrays ------------------------------------------------------------------------
def r2(actual: np.ndarray, predicted: np.ndarray) -> float:
    if actual.size < 2:
        return float("nan")
    sst = float(((actual - actual.mean()) ** 2).sum())
    return float("nan") if sst == 0 else 1.0 - float(((actual - predicted) ** 2).sum()) / sst


def rmse(actual: np.ndarray, predicted: np.ndarray) -> float:
    return float(np.sqrt(np.mean((actual - predicted) ** 2))) if actual.size else float("nan")


def mae(actual: np.ndarray, predicted: np.ndarray) -> float:
    return float(np.mean(np.abs(actual - predicted))) if actual.size else float("nan")


def mape(actual: np.ndarray, predicted: np.ndarray) -> float:
    nonzero = actual != 0
    if not nonzero.any():
        return float("nan")
    return float(np.mean(np.abs(actual[nonzero] - predicted[nonzero]) / np.abs(actual[nonzero])))


def trimmed_rmse(actual: np.ndarray, predicted: np.ndarray, trim_share: float = TRIM_SHARE) -> float:
    if not actual.size:
        return float("nan")
    errors = np.sort(np.abs(actual - predicted))
    keep = errors.size - int(np.floor(trim_share * errors.size))
    return float(np.sqrt(np.mean(errors[:keep] ** 2)))


def log_rmse(actual: np.ndarray, predicted: np.ndarray) -> float:
    if not actual.size:
        return float("nan")
    diff = np.log1p(np.maximum(predicted, 0.0)) - np.log1p(np.maximum(actual, 0.0))
    return float(np.sqrt(np.mean(diff**2)))


METRIC_FUNCTIONS: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {
    "r2": r2, "rmse": rmse, "mae": mae, "mape": mape, "trimmed_rmse": trimmed_rmse, "log_rmse": log_rmse,
}


# -- views on [R, T] arrays -----------------------------------------------------------------------
def _check(actual: np.ndarray, predicted: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, ...]:
    actual, predicted = np.asarray(actual, dtype=float), np.asarray(predicted, dtype=float)
    mask = np.asarray(mask, dtype=bool)
    if actual.ndim != 2 or actual.shape != predicted.shape or actual.shape != mask.shape:
        raise ValueError(f"need matching [regions, weeks] arrays, got {actual.shape}, {predicted.shape}, {mask.shape}")
    return actual, predicted, mask


def metric_view(metric: str, view: str, actual: np.ndarray, predicted: np.ndarray, mask: np.ndarray) -> float:
    """One metric in one view. actual, predicted: ``[R, T]`` KPI units; mask: ``[R, T]`` bool."""
    actual, predicted, mask = _check(actual, predicted, mask)
    fn = METRIC_FUNCTIONS[metric]
    if view == "pooled":
        return fn(actual[mask], predicted[mask])
    if view == "within_region":
        values = [fn(actual[r, mask[r]], predicted[r, mask[r]]) for r in range(actual.shape[0]) if mask[r].any()]
        values = [v for v in values if np.isfinite(v)]
        return float(np.mean(values)) if values else float("nan")
    if view == "national":
        weeks = mask.any(axis=0)
        national_actual = np.where(mask, actual, 0.0).sum(axis=0)[weeks]  # [T']
        national_predicted = np.where(mask, predicted, 0.0).sum(axis=0)[weeks]
        return fn(national_actual, national_predicted)
    raise ValueError(f"unknown view {view!r}; views are {VIEWS}")


def all_metrics(actual: np.ndarray, predicted: np.ndarray, mask: np.ndarray) -> dict[tuple[str, str], float]:
    """``{(view, metric): value}`` for every view and metric."""
    return {(view, metric): metric_view(metric, view, actual, predicted, mask) for view in VIEWS for metric in METRICS}


# -- naive baselines --------------------------------------------------------------------------------
def naive_forecasts(actual: np.ndarray, observed: np.ndarray, train_end: int) -> dict[str, np.ndarray]:
    """Naive predictions ``{name: [R, T]}`` for every week, using only observed training actuals
    (weeks ``< train_end``) for the holdout weeks.

    * ``region_mean``: each region's mean over its observed training weeks, for all weeks.
    * ``last_4_weeks``: holdout: the mean of the region's last 4 observed training weeks; training week
      t: the mean of the observed weeks among t-4 .. t-1 (a one-step-ahead analogue).
    * ``same_week_last_year``: the actual 52 weeks earlier (holdout: 52·k weeks earlier, the first lag
      that lands in the training weeks); where that week is unobserved or before the panel, the region
      mean.
    A region without observed training weeks falls back to the mean of the other regions' means.
    """
    actual, observed = np.asarray(actual, dtype=float), np.asarray(observed, dtype=bool)
    R, T = actual.shape
    train = observed & (np.arange(T) < train_end)[None, :]  # [R, T]
    count = train.sum(axis=1)
    means = np.where(train, actual, 0.0).sum(axis=1) / np.maximum(count, 1)
    fallback = float(means[count > 0].mean()) if (count > 0).any() else 0.0
    region_mean = np.where(count > 0, means, fallback)  # [R]
    constant = np.repeat(region_mean[:, None], T, axis=1)

    last = constant.copy()
    values = np.where(train, actual, 0.0)
    for t in range(min(train_end, T)):
        window = slice(max(0, t - LAST_WEEKS), t)
        window_n = train[:, window].sum(axis=1)
        last[:, t] = np.where(window_n > 0, values[:, window].sum(axis=1) / np.maximum(window_n, 1), region_mean)
    for r in range(R):
        weeks = np.flatnonzero(train[r])[-LAST_WEEKS:]
        if weeks.size:
            last[r, train_end:] = actual[r, weeks].mean()

    same = constant.copy()
    for t in range(T):
        lag = t - SEASON_WEEKS
        while t >= train_end and lag >= train_end:
            lag -= SEASON_WEEKS
        if lag >= 0:
            same[:, t] = np.where(observed[:, lag], actual[:, lag], region_mean)
    return {"region_mean": constant, "last_4_weeks": last, "same_week_last_year": same}


# -- the evaluation table ---------------------------------------------------------------------------
def evaluate_forecast(actual: np.ndarray, predicted: np.ndarray, observed: np.ndarray, train_end: int) -> pd.DataFrame:
    """Every metric × view for the training weeks (``< train_end``) and the holdout weeks, for the
    model and each naive baseline.

    actual, predicted: ``[R, T]`` KPI units over all weeks; observed: ``[R, T]`` bool. Returns a tidy
    frame with columns ``split`` ('train' | 'holdout'), ``series`` ('model' | 'region_mean' |
    'last_4_weeks' | 'same_week_last_year'), ``view``, ``metric``, ``value``. A split without observed
    weeks (e.g. ``train_end == T``) is left out.
    """
    actual, predicted, observed = _check(actual, predicted, observed)
    T = actual.shape[1]
    if not 0 < train_end <= T:
        raise ValueError(f"train_end must be in 1..{T}, got {train_end}")
    in_train = np.arange(T) < train_end
    series = {"model": predicted, **naive_forecasts(actual, observed, train_end)}
    rows = []
    for split, weeks in (("train", in_train), ("holdout", ~in_train)):
        mask = observed & weeks[None, :]
        if not mask.any():
            continue
        for name, pred in series.items():
            for (view, metric), value in all_metrics(actual, pred, mask).items():
                rows.append((split, name, view, metric, value))
    return pd.DataFrame(rows, columns=["split", "series", "view", "metric", "value"])


def forecast_report(train_panel: Panel, full_panel: Panel, prediction: np.ndarray) -> dict[str, Any]:
    """Scores of ``prediction`` ``[R, T]`` (over ``full_panel``'s weeks) against the naive baselines.

    The weeks of ``train_panel`` (a prefix of ``full_panel``) are the training split, the rest the holdout.
    Returns ``{"table": tidy frame from ``evaluate_forecast``, "train_r2": {series: {view:
    r2}}, "holdout_r2": {...}}`` (holdout keys only when there are holdout weeks).
    """
    table = evaluate_forecast(full_panel.kpi, prediction, full_panel.observed, train_end=train_panel.n_weeks)
    report: dict[str, Any] = {"table": table}
    for split in ("train", "holdout"):
        part = table[(table["split"] == split) & (table["metric"] == "r2")]
        if len(part):
            report[f"{split}_r2"] = {series: {row.view: round(float(row.value), 4) for row in grp.itertuples()}
                                     for series, grp in part.groupby("series", sort=False)}
    return report


def format_evaluation(table: pd.DataFrame, digits: int = 3) -> str:
    """Short text report: one block per split and view, series as rows and metrics as columns."""
    blocks = []
    for split in [s for s in SPLITS if s in set(table["split"])]:
        for view in VIEWS:
            part = table[(table["split"] == split) & (table["view"] == view)]
            if part.empty:
                continue
            wide = part.pivot(index="series", columns="metric", values="value")
            wide = wide.reindex(index=[s for s in ("model", *BASELINES) if s in wide.index],
                                columns=[m for m in METRICS if m in wide.columns])
            body = wide.to_string(float_format=lambda v: f"{v:.{digits}g}")
            blocks.append(f"[{split} / {view}]\n{body}")
    return "\n\n".join(blocks)
