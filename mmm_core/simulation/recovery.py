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

With ``fit_curves=True`` the oracle is not told the Hill curves and fits them by maximum likelihood
(no priors). That is the fairer yardstick for always-on channels: their curves are what a model cannot
read off the data; the fitted curves fit the KPI at least as well as the true ones and still miss
(figures: ``benchmarks/RESULTS.md``).

Units: contributions in KPI units, spend in currency, shares as fractions (scores in pp).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from scipy.stats import spearmanr

from mmm_core.data.contract import Panel
from mmm_core.model.fwl import RegionProjection
from mmm_core.model.scaling import KpiScaler
from mmm_core.simulation.truth import Simulation, media_response, propagate_graph
from mmm_core.model.transforms import adstock, hill

SLOPE_RANGE = (0.3, 5.0)
"""Hill slopes the curve-fitting oracle may take: the model's default range (``ModelConfig``)."""
HALF_SATURATION_RANGE = 5.0
"""The curve-fitting oracle's half-saturations lie within this factor of the channel's mean active
activity index (1). Unbounded, maximum likelihood turns an always-on channel into an on/off switch
(half-saturation 0.04: benchmark seed 0 gave it 91 % of media), a fit no analyst would accept."""


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
    ``true_adjacency`` ``[C, C]``. The simulator's ``GroundTruth.dag_adjacency`` holds every edge whatever
    its lag (``dag_lag``), so an edge p -> c that acts weeks later counts as the true edge p -> c."""
    truth = {(int(p), int(c)) for p, c in zip(*np.nonzero(true_adjacency))}
    tp = len(truth & found)
    precision = tp / len(found) if found else float(not truth)
    recall = tp / len(truth) if truth else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "n_true": len(truth), "n_found": len(found)}


def _f64(a) -> torch.Tensor:
    return torch.as_tensor(np.ascontiguousarray(a), dtype=torch.float64)


def _region_projection(region_design: np.ndarray, observed: np.ndarray) -> RegionProjection:
    """Projection on each region's columns ``region_design`` ``[T, P]`` over its observed weeks ``[R, T]``."""
    return RegionProjection(_f64(region_design)[None] * _f64(observed)[..., None])


def oracle_contributions(sim: Simulation, panel: Panel, fit_curves: bool = False,
                         curve_iterations: int = 60) -> pd.DataFrame:
    """The oracle's contributions table (columns as ``true_contributions``) on ``panel``, the first
    ``panel.n_weeks`` weeks of ``sim``; see the module docstring. Without noise it returns the truth.

    ``fit_curves``: the oracle is not told the Hill curves (half-saturation and slope of each channel)
    and fits them by maximum likelihood instead, profiled over the coefficients (least squares inside,
    L-BFGS over the 2 x C curve parameters, from the neutral start a model uses: half-saturation at 1,
    the channel's mean active index, and slope 1; half-saturations within ``HALF_SATURATION_RANGE`` of
    it and slopes in the model's range). It knows everything
    else. Its scores say what the data allow once curves have to be learned, which is what every
    observational model has to do."""
    truth, T, observed = sim.truth, panel.n_weeks, panel.observed
    C = panel.n_channels
    kernel = truth.adstock_kernel()
    own = truth.activity_index(truth.own_activity[:, :T])
    kpi_scale = KpiScaler().fit(panel).scale  # [R] region means, as the model scales them
    y = panel.kpi / kpi_scale[:, None]  # region mean 1: regions weigh alike
    media_size = truth.population * truth.region_media_multiplier  # [R] how media scale with the region
    control_size = truth.base_level / kpi_scale  # [R] how controls scale with the region
    controls = (panel.controls - truth.control_center) * control_size[:, None, None]
    region_design = np.column_stack([np.ones(T), np.arange(T) / 52.0, truth.seasonal_shape[:T],
                                     truth.holiday_indicator[:T]])
    half_saturation, slope = truth.hill_half_saturation, truth.hill_slope
    graph = dict(edge_lag=truth.dag_lag,
                 available=None if truth.media_available is None else truth.media_available[:, :T])
    if fit_curves:
        carried = adstock(_f64(propagate_graph(own, truth.dag_adjacency, **graph)), kernel)  # [R, T, C]
        half_saturation, slope = _profiled_curves(carried, y, controls, media_size / kpi_scale, region_design,
                                                  observed, curve_iterations)
    shape = (truth.dag_adjacency, kernel, half_saturation, slope)
    response = media_response(own, *shape, **graph)  # [R, T, C] in [0, 1)
    shared = np.concatenate([controls, response * (media_size / kpi_scale)[:, None, None]], axis=-1)  # [R, T, K + C]
    # Frisch-Waugh-Lovell: the per-region terms projected out region by region (regions with no more
    # observed weeks than region columns are left out)
    keep = observed & (observed.sum(axis=1, keepdims=True) > region_design.shape[1])  # [R, T]
    projection = _region_projection(region_design, keep)
    x_res = projection.residual(_f64(shared) * _f64(keep)[..., None]).numpy()[keep]
    y_res = projection.residual(_f64(np.nan_to_num(y) * keep)[..., None]).numpy()[keep][:, 0]
    beta = np.linalg.lstsq(x_res, y_res, rcond=None)[0][-C:]  # [C]
    per_unit = beta * media_size[:, None, None]  # KPI units per unit of response
    weekly = response * per_unit  # [R, T, C]
    direct = weekly[observed].sum(axis=0)
    total = np.empty(C)
    for c in range(C):
        without = own.copy()
        without[..., c] = 0.0
        total[c] = ((response - media_response(without, *shape, **graph)) * per_unit).sum(-1)[observed].sum()
    spend = np.where(observed[..., None], panel.spend, 0.0).sum(axis=(0, 1))
    return _table(panel.channels, direct, total, spend)


def _profiled_curves(carried: torch.Tensor, y: np.ndarray, controls: np.ndarray, media_scale: np.ndarray,
                     region_design: np.ndarray, observed: np.ndarray, iterations: int) -> tuple[np.ndarray, np.ndarray]:
    """Hill half-saturations and slopes ``[C]`` minimising the least-squares residual of the oracle's
    regression (coefficients profiled out). Shapes: carried ``[R, T, C]`` adstocked total activity index
    (fixed: the oracle knows the graph and the kernels), y ``[R, T]`` scaled, controls ``[R, T, K]``,
    media_scale ``[R]``, region_design ``[T, P]``, observed ``[R, T]``."""
    f64 = _f64
    mask = f64(observed)
    projection = _region_projection(region_design, observed)  # region columns [R, T, P]

    def residual(z: torch.Tensor) -> torch.Tensor:  # per-region projection removed, unobserved rows zeroed
        return projection.residual(z * mask[..., None])

    y_res = residual(f64(np.nan_to_num(y))[..., None])[..., 0]
    controls_res = residual(f64(controls))
    scale = f64(media_scale)[:, None, None]
    C = carried.shape[-1]
    k_raw = torch.zeros(C, dtype=torch.float64, requires_grad=True)
    slope_raw = torch.full((C,), float(np.log((1 - SLOPE_RANGE[0]) / (SLOPE_RANGE[1] - 1))), dtype=torch.float64,
                           requires_grad=True)

    def half_saturation_of(raw: torch.Tensor) -> torch.Tensor:
        return torch.exp(float(np.log(HALF_SATURATION_RANGE)) * torch.tanh(raw))

    def slope_of(raw: torch.Tensor) -> torch.Tensor:
        return SLOPE_RANGE[0] + (SLOPE_RANGE[1] - SLOPE_RANGE[0]) * torch.sigmoid(raw)

    def sse() -> torch.Tensor:
        response = hill(carried, half_saturation_of(k_raw), slope_of(slope_raw)) * scale
        x = torch.cat([controls_res, residual(response)], dim=-1).reshape(-1, controls.shape[-1] + C)
        target = y_res.reshape(-1)
        beta = torch.linalg.solve(x.T @ x + 1e-9 * torch.eye(x.shape[1], dtype=torch.float64), x.T @ target)
        return (target - x @ beta).square().sum()

    if iterations > 0:
        optimizer = torch.optim.LBFGS([k_raw, slope_raw], max_iter=iterations, line_search_fn="strong_wolfe")

        def closure() -> torch.Tensor:
            optimizer.zero_grad()
            loss = sse()
            loss.backward()
            return loss

        optimizer.step(closure)
    with torch.no_grad():
        return half_saturation_of(k_raw).numpy(), slope_of(slope_raw).numpy()
