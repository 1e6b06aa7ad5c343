"""What the quality gates measure, in plain Python (no dagster): the asset checks call these and judge the result.

Each function takes the frames a check reads (stored tables, a model's prediction) and returns numbers, so a
test can feed it hand-made rows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from mmm_core.data.contract import Panel
from mmm_core.model.estimator import MMM


FORECAST_VIEWS = ("within_region", "national")
"""The views in which a holdout R² measures forecasting. Pooled R² over regions of different sizes mostly
measures region size: each region's own mean scores high there (0.94 on the bundled sample's holdout)."""

VIEW_LABELS = {"within_region": "within-region", "national": "national"}


def holdout_r2(metrics: pd.DataFrame, view: str) -> tuple[float, dict[str, float]]:
    """(the model's holdout R² in ``view``, NaN when absent; each naive baseline's) from model_metrics rows."""
    rows = metrics[(metrics.split == "holdout") & (metrics.metric == "r2") & (metrics.view == view)]
    model_r2 = rows[rows.series == "model"].value
    value = float(model_r2.iloc[0]) if len(model_r2) else float("nan")
    return value, {s: float(v) for s, v in zip(rows.series, rows.value) if s != "model"}


@dataclass(frozen=True)
class ForecastVerdict:
    """The holdout gate in one view: the model's holdout R² against the best naive baseline's.

    The model must explain at least ``min_skill`` of the variance the best baseline leaves unexplained:
    R² >= baseline + min_skill * (1 - baseline). That is the MSE skill score against the baseline, so the
    bar never rises above R² = 1 when a baseline is already good (a fixed gain in R² points would ask a
    model to beat a 0.97 baseline with an impossible 1.02).
    """

    view: str
    """'within_region' or 'national' (see ``mmm_core.analysis.metrics``)."""
    model_r2: float
    baseline: str | None
    """Name of the best naive baseline (``model_metrics.series``); None when no baseline has a defined R²."""
    baseline_r2: float
    min_skill: float
    one_region: bool = False
    """One region: the within-region and national views are the same series, judged once."""

    @property
    def required_r2(self) -> float:
        return self.baseline_r2 + self.min_skill * (1.0 - self.baseline_r2)

    @property
    def skill(self) -> float:
        """Share of the baseline's unexplained variance that the model explains (NaN when undefined)."""
        room = 1.0 - self.baseline_r2
        return (self.model_r2 - self.baseline_r2) / room if room > 0 else float("nan")

    @property
    def passed(self) -> bool:
        return math.isfinite(self.model_r2) and math.isfinite(self.baseline_r2) and self.model_r2 >= self.required_r2

    @property
    def label(self) -> str:
        return VIEW_LABELS[self.view] + (" (one region: the within-region view is the same series)"
                                         if self.one_region else "")

    def describe(self) -> str:
        """One line: the view, the model's figure, the best baseline's (named) and the bar."""
        if self.baseline is None:
            return f"{self.label}: holdout R² {self.model_r2:.3f}, but no naive baseline has a defined R²"
        return (f"{self.label}: holdout R² {self.model_r2:.3f} vs best naive baseline {self.baseline} "
                f"{self.baseline_r2:.3f} (skill {self.skill:.2f}; the gate needs R² >= {self.required_r2:.3f}, "
                f"skill >= {self.min_skill:g})")


def forecast_verdicts(metrics: pd.DataFrame, n_regions: int, min_skill: float) -> list[ForecastVerdict]:
    """The holdout gate per forecasting view, from a refresh's model_metrics rows.

    Each view compares the model with the best of the naive baselines (region mean, last 4 weeks, same week
    last year) in that view. A national dataset (``n_regions == 1``) is judged once, in the national view.
    """
    views = ("national",) if n_regions == 1 else FORECAST_VIEWS
    verdicts = []
    for view in views:
        model_r2, baselines = holdout_r2(metrics, view)
        defined = {name: r2 for name, r2 in baselines.items() if math.isfinite(r2)}
        best = max(defined, key=defined.get) if defined else None
        verdicts.append(ForecastVerdict(view, model_r2, best, defined[best] if best else float("nan"),
                                        min_skill, one_region=n_regions == 1))
    return verdicts


def forecast_gate_description(verdicts: list[ForecastVerdict], how_to_change: str) -> str:
    """What the holdout gate found, for the check's description: the failing views first, then how to change it."""
    failed = [v for v in verdicts if not v.passed]
    if not failed:
        return "The holdout forecast beats the best naive baseline. " + "; ".join(v.describe() for v in verdicts)
    return ("Blocked: the holdout forecast does not beat the best naive baseline by the required margin. "
            + "; ".join(v.describe() for v in failed) + f". {how_to_change}")


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


def roi_interval_ratio(summary: pd.DataFrame) -> pd.Series:
    """Per channel with an interval: roi_upper / roi_lower from a refresh's channel_summary rows (inf where the
    lower end is at or below 0: the data do not even tell the ROI's sign). Empty without an ensemble."""
    rows = summary.dropna(subset=["roi_lower", "roi_upper"]).set_index("channel")
    lower, upper = rows["roi_lower"], rows["roi_upper"]
    return (upper / lower.where(lower > 0)).fillna(np.inf).astype(float)


def judged_experiments(experiments: pd.DataFrame) -> pd.DataFrame:
    """The rows of a refresh's experiments table the model can be judged on: those with a z-score (the test's
    weeks lie in the refresh window)."""
    return experiments[np.isfinite(experiments["z"].astype(float))]


def contradicting_experiments(experiments: pd.DataFrame, max_z: float) -> pd.DataFrame:
    """The judged rows whose |z| = |model_lift - lift| / lift_se, or |loo_z| (the same for the model fitted
    without the test, when the refresh computed it), exceeds ``max_z``, largest first. The leave-one-out z is
    the sharper one: a model that trained on a precise test matches it even where the rest of the data
    disagree (a test of an always-on channel meets only the ROI prior), one fitted without it does not."""
    judged = judged_experiments(experiments)
    worst = np.fmax(judged["z"].astype(float).abs(), judged["loo_z"].astype(float).abs().fillna(0.0))
    off = judged[worst > max_z]
    return off.iloc[np.argsort(-worst[worst > max_z].to_numpy(), kind="stable")]


def experiments_description(experiments: pd.DataFrame, max_z: float, how_to_change: str) -> str:
    """What the experiments check found: each contradicting experiment with its measured and model lift, or that
    every judged experiment agrees; then how to change the threshold."""
    judged, off = judged_experiments(experiments), contradicting_experiments(experiments, max_z)
    if off.empty:
        return (f"All {len(judged)} experiments in the refresh window agree with the model within {max_z:g} standard "
                f"errors. {how_to_change}")
    named = "; ".join(f"{r.experiment} ({r.channel}): measured lift {r.lift:,.0f} ± {r.lift_se:,.0f}, model "
                      f"{r.model_lift:,.0f}, z {r.z:+.2f}" + ("" if np.isnan(r.loo_z) else f", without it z {r.loo_z:+.2f}")
                      for r in off.itertuples())
    return (f"{len(off)} of {len(judged)} experiments contradict the model by more than {max_z:g} standard errors: "
            f"{named}. Check the experiment's design and read-out, or what the model lacks. {how_to_change}")
