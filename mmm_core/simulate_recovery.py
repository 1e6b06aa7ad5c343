"""How well a fit recovers a simulated truth, and how well the data would let any model recover it.

``recovery_scores`` compares a contributions table (``MMM.contributions``) with the simulator's truth:
mean absolute error of the direct contribution shares (percentage points), Spearman rank correlation
of total ROI, and DAG precision / recall / F1.

``oracle_contributions`` is the yardstick for those scores. The oracle knows the form of every part of the
simulator's equation, everything a model has to learn beyond coefficients: each channel's adstock
kernel, Hill curve and the channel graph, how media and controls scale with a region, the seasonal
shape and the holiday weeks. It fits only the coefficients by least squares, without priors: per region
an intercept, a trend slope, a seasonal amplitude and holiday lifts; shared control and media
coefficients. On a noiseless panel it returns the truth.
Its errors are what the data alone cannot settle (collinear channels, always-on channels that never
leave their level, noise); a model that scores near the oracle has little left to gain on that panel.

Units: contributions in KPI units, spend in currency, shares as fractions (scores in pp).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from mmm_core.contract import Panel
from mmm_core.scaling import KpiScaler
from mmm_core.simulate_truth import Simulation, media_response


def true_contributions(sim: Simulation, panel: Panel) -> pd.DataFrame:
    """Per channel over the observed weeks of ``panel`` (the first ``panel.n_weeks`` weeks of the
    simulation): ``direct_contribution``, ``total_contribution`` (counterfactual through the DAG),
    ``spend``, ``share`` (of direct media), ``roi`` (total / spend). KPI units, currency."""
    T, observed = panel.n_weeks, panel.observed
    direct = sim.truth.direct_contribution_weekly[:, :T][observed].sum(axis=0)
    total = np.array([sim.total_contribution_weekly(c)[:, :T][observed].sum() for c in panel.channels])
    spend = np.where(observed[..., None], panel.spend, 0.0).sum(axis=(0, 1))
    return _table(panel.channels, direct, total, spend)


def _table(channels, direct: np.ndarray, total: np.ndarray, spend: np.ndarray) -> pd.DataFrame:
    media = direct.sum()
    return pd.DataFrame({"channel": list(channels), "direct_contribution": direct, "total_contribution": total,
                         "spend": spend, "share": direct / media if media > 0 else np.zeros_like(direct),
                         "roi": np.divide(total, spend, out=np.zeros_like(total), where=spend > 0)})


def recovery_scores(truth: pd.DataFrame, table: pd.DataFrame) -> dict[str, float]:
    """``share_mae_pp`` and ``roi_spearman`` of ``table`` (columns channel, share, roi) against
    ``truth`` (``true_contributions``), channels matched by name."""
    est = table.set_index("channel").loc[truth["channel"]]
    share_mae = float(np.abs(est["share"].to_numpy() - truth["share"].to_numpy()).mean() * 100)
    rho = float(spearmanr(est["roi"].to_numpy(), truth["roi"].to_numpy()).statistic)
    return {"share_mae_pp": round(share_mae, 3), "roi_spearman": round(rho, 3)}


def dag_scores(true_adjacency: np.ndarray, found: set[tuple[int, int]]) -> dict[str, float]:
    """Precision, recall and F1 of the ``found`` edges (parent, child) against the nonzero entries of
    ``true_adjacency`` ``[C, C]``."""
    truth = {(int(p), int(c)) for p, c in zip(*np.nonzero(true_adjacency))}
    tp = len(truth & found)
    precision = tp / len(found) if found else float(not truth)
    recall = tp / len(truth) if truth else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "n_true": len(truth), "n_found": len(found)}


def _residual(design: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``values`` minus their least-squares projection on the columns of ``design``."""
    return values - design @ np.linalg.lstsq(design, values, rcond=None)[0]


def oracle_contributions(sim: Simulation, panel: Panel) -> pd.DataFrame:
    """The oracle's contributions table (columns as ``true_contributions``) on ``panel``, the first
    ``panel.n_weeks`` weeks of ``sim``; see the module docstring. Without noise it returns the truth."""
    truth, T, observed = sim.truth, panel.n_weeks, panel.observed
    R, C = panel.n_regions, panel.n_channels
    shape = (truth.dag_adjacency, truth.adstock_kernel(), truth.hill_half_saturation, truth.hill_slope)
    own = truth.activity_index(truth.own_activity[:, :T])
    response = media_response(own, *shape)  # [R, T, C] in [0, 1)
    kpi_scale = KpiScaler().fit(panel).scale  # [R] region means, as the model scales them
    y = panel.kpi / kpi_scale[:, None]  # region mean 1: regions weigh alike
    media_size = truth.population * truth.region_media_multiplier  # [R] how media scale with the region
    control_size = truth.base_level / kpi_scale  # [R] how controls scale with the region
    shared = np.concatenate([(panel.controls - truth.control_center) * control_size[:, None, None],
                             response * (media_size / kpi_scale)[:, None, None]], axis=-1)  # [R, T, K + C]
    region_design = np.column_stack([np.ones(T), np.arange(T) / 52.0, truth.seasonal_shape[:T],
                                     truth.holiday_indicator[:T]])
    rows_x, rows_y = [], []
    for r in range(R):  # Frisch-Waugh-Lovell: the per-region terms projected out region by region
        m = observed[r]
        if m.sum() <= region_design.shape[1]:
            continue
        rows_x.append(_residual(region_design[m], shared[r, m]))
        rows_y.append(_residual(region_design[m], y[r, m]))
    beta = np.linalg.lstsq(np.concatenate(rows_x), np.concatenate(rows_y), rcond=None)[0][-C:]  # [C]
    per_unit = beta * media_size[:, None, None]  # KPI units per unit of response
    weekly = response * per_unit  # [R, T, C]
    direct = weekly[observed].sum(axis=0)
    total = np.empty(C)
    for c in range(C):
        without = own.copy()
        without[..., c] = 0.0
        total[c] = ((response - media_response(without, *shape)) * per_unit).sum(-1)[observed].sum()
    spend = np.where(observed[..., None], panel.spend, 0.0).sum(axis=(0, 1))
    return _table(panel.channels, direct, total, spend)
