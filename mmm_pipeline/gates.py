"""What the quality gates measure, in plain Python (no dagster): the asset checks call these and judge the result.

Each function takes the frames a check reads (stored tables, a model's prediction) and returns numbers, so a
test can feed it hand-made rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mmm_core.data.contract import Panel
from mmm_core.model.estimator import MMM


def holdout_r2(metrics: pd.DataFrame, view: str) -> tuple[float, dict[str, float]]:
    """(the model's holdout R² in ``view``, NaN when absent; each naive baseline's) from model_metrics rows."""
    rows = metrics[(metrics.split == "holdout") & (metrics.metric == "r2") & (metrics.view == view)]
    model_r2 = rows[rows.series == "model"].value
    value = float(model_r2.iloc[0]) if len(model_r2) else float("nan")
    return value, {s: float(v) for s, v in zip(rows.series, rows.value) if s != "model"}


def non_finite_outputs(model: MMM, panel: Panel) -> tuple[list[str], int]:
    """(names of weights with a NaN or infinity, count of non-finite predictions on ``panel``)."""
    bad_weights = [k for k, v in model.net_.state_dict().items() if not bool(v.isfinite().all())]
    return bad_weights, int((~np.isfinite(model.predict(panel))).sum())


def additivity_error(contributions: pd.DataFrame, prediction: np.ndarray, panel: Panel) -> tuple[float, int]:
    """(largest relative gap between the stored components' sum and the prediction, observed region-weeks).

    ``prediction`` is ``[regions, weeks]`` in KPI units; a region-week without stored rows counts as infinite.
    """
    sums = contributions.groupby(["region", "week"])["value"].sum()
    r_idx, t_idx = np.nonzero(panel.observed)
    expected = prediction[r_idx, t_idx]
    got = sums.reindex(list(zip(np.asarray(panel.regions)[r_idx], panel.weeks[t_idx].astype("datetime64[ns]"))))
    got = got.to_numpy()
    scale = np.maximum(np.abs(expected), 1e-12)
    rel = np.abs(np.nan_to_num(got, nan=np.inf) - expected) / scale
    return (float(rel.max()) if len(rel) else 0.0), int(len(rel))


def relative_roi_change(current: pd.DataFrame, previous: pd.DataFrame) -> pd.Series:
    """Per channel: (ROI now - ROI before) / |ROI before|, from two refreshes' channel_summary rows."""
    now, before = current.set_index("channel").roi, previous.set_index("channel").roi
    return ((now - before) / before.abs().clip(lower=1e-12)).dropna()
