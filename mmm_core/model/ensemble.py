"""``Ensemble``: members refitted from a point ``MMM`` that approximate its posterior, and their intervals.

    mmm = MMM().fit(panel)
    ensemble = Ensemble.fit(mmm, panel)            # EnsembleConfig(): 16 members
    ensemble.contributions(panel, interval=0.9)    # the point table with *_lower / *_upper columns
    ensemble.draws(panel)                          # one row per member and channel, reconciled
    ensemble.predict_interval(new_panel, 0.9)      # prediction intervals per region-week, noise included
    response_curves(mmm, panel, members=ensemble.members())   # curve bands (mmm_core.analysis.curves)

Randomize-then-optimize (Bardsley et al. 2014): each member starts near the point fit's weights and
trains on, for ``EnsembleConfig.epochs``, under a randomised objective of its own:

- the fit term weighs each region-week by a Bayesian-bootstrap weight (Rubin 1981) shared by the cell of
  its region and its block of ``block_weeks`` weeks (Gamma(1, 1) draws over the cells, mean 1), so
  members see the data's sampling variation with the weeks' autocorrelation kept within a block;
- the exchangeable-ROI prior centres each channel at the pooled ROI times ``exp(e_c)``, e_c drawn from
  ``N(0, prior_centre_log_sd**2)``. A channel whose level the data measure (prior weight 0) ignores the
  draw and stays as tight as the bootstrap leaves it; a channel whose level only the prior sets (an
  always-on channel, weight 1) spreads as widely as the draw lets it. The draw is wider than the spread
  the point fit's prior states (``ROI_PRIOR_LOG_SD``): that prior is a regulariser for the point estimate,
  while the members' spread is what is not known about where such a channel's ROI lies, and true ROIs
  spread further from the pooled one than the prior states on every generator measured (README);
- the member's carry-over and Hill parameters start from the point fit's plus a normal draw
  (``shape_start_sd`` on their unconstrained scales): the fit's shapes are weakly identified where a channel
  is rarely seen away from its level, and a member that starts elsewhere on such a ridge stays there, while
  a shape the data pin pulls every member back. Without it members only moved where the bootstrap and the
  prior draw pushed them, and intervals held the truth for a third of flighted channels (README);
- where no channel's level is measured (every channel always-on), the point fit's total media share rests on a
  stated prior (``priors.media_share_prior_term``: media level and baseline trade off along a ridge the data
  cannot see). Each member draws that prior's centre, ``z`` (``level_start_sd``) on the log scale, and its media
  level starts there: the point fit's times ``exp(u w_c z)``, the baseline lowered to keep the fit
  (``_jitter_media_level``), so the member stays where its own prior holds it (README);
- every channel's media level starts at the point fit's times ``exp(e_c)``, one draw per channel
  (``channel_level_start_sd``), the baseline lowered the same way: fits that differ only in float rounding
  or a small change of the objective land several percent apart per channel, a spread of the point
  estimate that a bootstrap around its optimum does not carry (README).

``bias_refits`` R refits of the whole estimator from scratch on wild bootstraps of the point fit show the error
it makes on data drawn from its own fit, bias and spread (``estimator_bias``), and the published intervals are
widened by the largest of those errors (``with_intervals``, ``widened_by_refits``): members started at the point's
optimum do not travel the path along which that error arises (README).

For a linear-Gaussian model the optimum of such a randomised objective is an exact posterior draw; here
it is an approximation, judged by measured coverage against ground truth (README). The channel graph,
the scalers and the seasonality profile are the point fit's: members differ in the network's weights.
Every member is a complete model (``members()``), so each draw's decomposition adds up exactly and every
analysis of the point model (curves, budgets, counterfactuals) runs on a member unchanged.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import json
import threading
from dataclasses import dataclass
from pathlib import Path
from statistics import NormalDist
from typing import Callable

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from mmm_core.data.contract import Panel
from mmm_core.model import training
from mmm_core.model.estimator import MMM
from mmm_core.model.network import MMMNet
from mmm_core.model.parallel import parallel_map, run_parallel, stop_check
from mmm_core.model.priors import ROI_PRIOR_LOG_SD, pooled_extrapolation
from mmm_core.model.transforms import inverse_softplus

INTERVAL_COLUMNS = ("direct_contribution", "total_contribution", "share", "roi")
"""Columns of ``MMM.contributions`` that ``Ensemble.contributions`` gives intervals for."""
DRAW_COLUMNS = ("member", "channel", "spend", "direct_contribution", "total_contribution", "share", "roi",
                "direct_roi", "prediction", "non_media")
"""Columns of ``Ensemble.draws``, in order."""


@dataclass(frozen=True)
class EnsembleConfig:
    """How the members are drawn (see the module docstring)."""

    members: int = 16
    """K: members refitted from the point fit."""
    epochs: int = 100
    """Full-batch epochs each member trains from the point fit's weights (400 widened the ROI intervals of
    ``flighted`` seed 0 by a few percent at 2.7x the cost)."""
    learning_rate_factor: float = 0.3
    """Members' learning rate over the point fit's (the point fit's refit uses the same factor)."""
    block_weeks: int = 13
    """Weeks per Bayesian-bootstrap block (one quarter), per region."""
    prior_centre_log_sd: float = 1.0
    """Sd of each member's draw of its channels' ROI-prior centres around the pooled ROI, log scale (90 % within a
    factor exp(1.645) = 5.2; the point fit's prior states ``ROI_PRIOR_LOG_SD``). Sets the width of the intervals
    of channels whose level only the prior sets; chosen by measured coverage on the own and outside generators
    (README)."""
    shape_start_sd: float = 0.3
    """Sd of the normal draw added to each member's starting carry-over and Hill parameters (decay, peak lag,
    tail, log half-saturation, slope: on their unconstrained scales) before it trains: where the data pin a
    channel's shape the member returns to it, where they do not it stays apart. Chosen by measured coverage on
    the own, outside and external generators together with ``bias_refits`` (README: 0.6 before the refits widened by
    the estimator's error, wider than needed on own ``flighted`` since); 0 starts every member at the point fit's
    shapes."""
    level_start_sd: float = 1.0
    """Sd of each member's log-scale draw of the media-share prior's centre, and of the matching move of every
    channel's media level before it trains, in proportion to how far the pooled ROI is extrapolated
    (``_jitter_media_level``: nothing moves, and the prior is off, once one channel's level is measured). Equal to
    ``prior_centre_log_sd`` and wider than the stated prior (``TrainConfig.media_share_prior_sd``, log sd 0.47), for the
    same reason: that prior is a regulariser of the point estimate, the members' spread is what is not known
    about an unmeasured level: true media shares on the always-on worlds measured reach into the prior's lower
    tail (README)."""
    channel_level_start_sd: float = 0.15
    """Sd of each channel's own log-scale draw of its media level before a member trains (``_jitter_media_level``),
    measured or not: the size of the point fit's own variability (equivalent fits land 5-15 % apart per channel on
    the outside generator's flighted panels). Chosen by measured coverage on the own, outside and external
    generators (README); 0: only the common draw above."""
    bias_refits: int = 2
    """R: refits of the whole estimator from scratch, each on its own wild bootstrap of the point fit
    (``wild_bootstrap``) and from its own initial seed, whose log ratios to the point are draws of the estimator's
    error, bias and spread (``estimator_bias``): the published intervals are widened by the largest (``with_intervals``,
    ``widened_by_refits``). Each refit costs less than a point fit (it reuses the point's graph support and stopping
    epoch). Why: the point fit's own error on small measured channels is larger than the members' spread on the
    flighted worlds measured, and members started at its optimum do not repeat it; 2 is chosen by measured coverage
    on the own and outside generators at the refresh's time budget (README); 0: none."""
    seed: int = 0
    interval: float = 0.9
    """Central level of the intervals published from the members (0.9: the 5 % and 95 % quantiles)."""


def bootstrap_weights(observed: np.ndarray, block_weeks: int, rng: np.random.Generator) -> torch.Tensor:
    """``[R, T]`` float32 Bayesian-bootstrap weights: one Gamma(1, 1) draw per (region, block of
    ``block_weeks`` weeks), divided by their mean over observed region-weeks (so the fit term's scale is
    the point fit's). observed ``[R, T]`` bool."""
    R, T = observed.shape
    blocks = -(-T // block_weeks)
    cell = rng.gamma(1.0, 1.0, size=(R, blocks))
    weight = np.repeat(cell, block_weeks, axis=1)[:, :T]
    weight = weight / max(float(weight[observed].mean()), 1e-12)
    return torch.as_tensor(np.where(observed, weight, 0.0), dtype=torch.float32)


def wild_bootstrap(point: MMM, panel: Panel, block_weeks: int, rng: np.random.Generator) -> Panel:
    """``panel`` (the one ``point`` was fitted on) with its KPI replaced by ``point``'s prediction plus its residuals,
    those of each (region, block of ``block_weeks`` weeks) cell times a random sign (a wild bootstrap, Wu 1986):
    data drawn from the point fit, the residuals' size and their autocorrelation within a block kept. Floored at 0;
    unobserved region-weeks keep their KPI."""
    prediction = point.predict(panel)
    block = np.arange(panel.n_weeks) // block_weeks
    sign = rng.choice([-1.0, 1.0], size=(panel.n_regions, int(block.max()) + 1))[:, block]
    kpi = np.clip(prediction + sign * (panel.kpi - prediction), 0.0, None)
    return panel.replace(kpi=np.where(panel.observed, kpi, panel.kpi))


def estimator_bias(point: MMM, panel: Panel, refits: int, block_weeks: int = 13, seed: int = 0,
                   workers: int = 1) -> dict[str, np.ndarray]:
    """``{column: [R, C]}`` for each of ``INTERVAL_COLUMNS``: log(refit's value / ``point``'s value) over ``panel``
    for each of R = ``refits`` refits of the whole estimator (``point``'s configs and lift tests, from scratch, each
    on its own ``wild_bootstrap`` of ``panel`` and from its own initial seed). Each is one draw of the error the
    estimator makes on data drawn from its own fit, bias and spread together, the parametric bootstrap's stand-in for
    its error at the truth (Efron and Tibshirani 1993, ch. 10; used by ``widened_by_refits``). 0 where a value is not
    positive. Refits run on ``workers`` threads.

    Two parts of the point's fit are reused rather than repeated, as the bootstrap holds them fixed: the graph's
    edge support (the activity, all it reads, is the point's) and the epoch early stopping chose (each refit
    trains that many epochs and then its refit phase, without waiting out the patience); README gives the time
    this saves."""
    rng = np.random.default_rng([seed, 37])
    panels = [wild_bootstrap(point, panel, block_weeks, rng) for _ in range(refits)]
    train = point.train_config_
    stop_epoch = point.train_result_.best_epoch

    def refit(k: int, stop: threading.Event) -> pd.DataFrame:
        config = dataclasses.replace(train, seed=train.seed + 1000 + k, epochs=stop_epoch,
                                     min_epochs=stop_epoch, patience=0)
        model = MMM(point.model_config_, config).fit(panels[k], stop_check(stop), lift_tests=point.lift_tests_,
                                                     dag_support=point.dag_support_)
        return model.contributions(panels[k])

    tables = run_parallel([functools.partial(refit, k) for k in range(refits)], workers)
    reference = point.contributions(panel)
    bias = {}
    for column in INTERVAL_COLUMNS:
        base = reference[column].to_numpy(dtype=np.float64)
        values = np.stack([t.set_index("channel").loc[reference["channel"], column].to_numpy(dtype=np.float64)
                           for t in tables])  # [R, C]
        positive = (base > 0) & (values > 0).all(0)
        bias[column] = np.log(np.where(positive, values, 1.0) / np.where(positive, base, 1.0))
    return bias


def _jitter_shapes(net: MMMNet, sd: float, rng: np.random.Generator) -> None:
    """Add ``N(0, sd**2)`` draws to ``net``'s carry-over and Hill parameters on their unconstrained scales, in
    place (``EnsembleConfig.shape_start_sd``)."""
    if sd <= 0:
        return
    with torch.no_grad():
        for parameter in (net.adstock.decay_raw, net.adstock.peak_raw, getattr(net.adstock, "tail_raw", None),
                          net.saturation.log_half_saturation, net.saturation.slope_raw):
            if parameter is not None:
                parameter.add_(torch.as_tensor(rng.normal(0.0, sd, tuple(parameter.shape)), dtype=parameter.dtype))


def _jitter_media_level(net: MMMNet, data: training.TrainingData, z: float, channel_sd: float,
                        channel_rng: np.random.Generator) -> None:
    """Scale each channel's media by ``exp(u * w_c * z + e_c)`` and lower each region's baseline by what that
    adds over its observed weeks, in place (the same fit where the media hold still).

    ``z``: the member's draw of the media-share prior's centre, log scale (``EnsembleConfig.level_start_sd``);
    ``w_c`` is the ROI prior's channel weight (how far the channel's level is extrapolated) and ``u`` its smallest
    value over the channels with spend (``priors.pooled_extrapolation``), how far the pooled ROI is extrapolated
    itself. 0 as soon as one channel's level is measured (the pooled ROI then rests on it); near 1 when every
    channel is always-on, where media level and baseline trade off along a ridge the fit cannot see: the member
    starts where its own draw of the prior centres it.
    ``e_c ~ N(0, channel_sd**2)``, one per channel, whatever the data measure: the point fit's own variability
    (fits that differ only in float rounding or a small change of the objective land several percent apart
    per channel, README), which members started at the point's optimum do not carry. Where the data pin a
    level the member moves back toward it while it trains, where they do not it stays apart.
    The exponent is halved until every region keeps at least a tenth of its baseline."""
    e = torch.as_tensor(channel_rng.normal(0.0, channel_sd, net.n_channels), dtype=torch.float64)
    exponent = e
    prior = data.roi_prior
    if z != 0 and prior is not None:
        weight = prior.channel_weight.to(torch.float64)  # [C]
        exponent = weight * pooled_extrapolation(weight, prior.spend.sum((0, 1)) > 0) * z + e
    if not bool((exponent != 0).any()):
        return
    with torch.no_grad():
        out = net(data.inputs)
        mask = data.observed.to(torch.float64)
        media = (out.media.to(torch.float64) * mask[..., None]).sum(1) / mask.sum(1, keepdim=True).clamp_min(1.0)
        baseline = F.softplus(net.baseline_raw.to(torch.float64))  # [R]
        for _ in range(10):
            added = (media * torch.expm1(exponent)).sum(-1)  # [R]
            if bool((baseline - added >= 0.1 * baseline).all()):
                break
            exponent = exponent * 0.5
        else:
            return
        net.baseline_raw.copy_(inverse_softplus(baseline - added))
        new_max = F.softplus(net.media_max_raw.to(torch.float64)) * torch.exp(exponent)
        net.media_max_raw.copy_(inverse_softplus(new_max))


def empty_draws() -> pd.DataFrame:
    """A draws table (``DRAW_COLUMNS``) without rows: what a refresh without an ensemble publishes."""
    return pd.DataFrame({c: pd.Series(dtype="int64" if c == "member" else object if c == "channel" else "float64")
                         for c in DRAW_COLUMNS})


def with_intervals(table: pd.DataFrame, draws: pd.DataFrame | None, interval: float | None,
                   bias: dict[str, np.ndarray] | None = None) -> pd.DataFrame:
    """``table`` (``MMM.contributions``) with ``<column>_lower`` / ``<column>_upper`` after each of
    ``INTERVAL_COLUMNS``: the central ``interval`` quantiles over the members of ``draws`` (``Ensemble.draws``;
    None: no ensemble, the columns NaN) and ``interval`` (the level, in every row; NaN without draws).
    ``bias`` (``estimator_bias``, ``{column: [R, C]}`` log ratios of R refits to the point, in ``table``'s channel
    order): each interval is widened around the point by the largest error of the refits (``widened_by_refits``); it
    still holds the members' interval and the point."""
    table = table.copy()
    for column in INTERVAL_COLUMNS:
        if draws is None:
            lower = upper = np.full(len(table), np.nan)
        else:
            values = draws.pivot(index="member", columns="channel", values=column)[list(table["channel"])]
            lower, upper = central_interval(values.to_numpy(), interval)
            if bias is not None:
                point = table[column].to_numpy(dtype=np.float64)
                lower, upper = widened_by_refits(point, lower, upper, np.asarray(bias[column], dtype=np.float64),
                                                 interval)
        at = table.columns.get_loc(column) + 1
        table.insert(at, f"{column}_upper", upper)
        table.insert(at, f"{column}_lower", lower)
    table["interval"] = np.nan if draws is None else interval
    return table


def widened_by_refits(point: np.ndarray, lower: np.ndarray, upper: np.ndarray, log_ratios: np.ndarray,
                      interval: float) -> tuple[np.ndarray, np.ndarray]:
    """(lower, upper) ``[C]``: the interval ``[lower, upper]`` (all ``[C]``) widened, on the log scale around
    ``point``, by the error the estimator makes on data drawn from its own fit: each log half-width ``h`` (from
    ``point`` to a bound, 0 for a bound on the wrong side of ``point``) becomes ``sqrt(h**2 + (z * m)**2)``, ``m``
    the largest ``|log_ratios|`` over the R refits (``estimator_bias``, ``[R, C]``), ``z`` the normal quantile of
    the level. A refit's log ratio is one draw of the estimator's error, bias and spread together (the parametric
    bootstrap, Efron and Tibshirani 1993); the members' spread and that error add as independent errors; the largest
    of R (2 by default) draws rather than their rms, because so few draws understate the error's scale (README gives
    the coverage of each). The result holds ``[lower, upper]`` and ``point``. Where ``point`` or a bound is not positive the bound is kept."""
    m = np.abs(log_ratios).max(0) if log_ratios.shape[0] else np.zeros_like(point)
    extra = (NormalDist().inv_cdf(0.5 + interval / 2.0) * m) ** 2
    bounds = []
    for bound, sign in ((lower, -1.0), (upper, 1.0)):
        valid = (point > 0) & (bound > 0)
        # half-width on the log scale, 0 for a bound on the wrong side of the point
        h = np.clip(sign * np.log(np.where(valid, bound, 1.0) / np.where(valid, point, 1.0)), 0.0, None)
        bounds.append(np.where(valid, point * np.exp(sign * np.sqrt(h ** 2 + extra)), bound))
    return bounds[0], bounds[1]


def noise_scale(point: MMM, panel: Panel) -> np.ndarray:
    """``[R]`` scaled KPI units: the sd of each region's training residuals of ``point`` (fitted on ``panel``),
    times ``sqrt(max(1, v / m))``, where v is the best validation MSE of the point fit's early stopping (weeks
    it had not trained on, forecast from the weeks before) and m the final fit's mean squared training
    residual: in-sample residuals understate the error of a forecast, and the validation weeks measure by
    how much. 1 where the fit had no validation weeks (or its history is not kept, as after ``MMM.load``)."""
    residual = point.scaler_.kpi.forward(panel.kpi) - point.scaler_.kpi.forward(point.predict(panel))
    observed = panel.observed
    sd = np.array([np.std(residual[r][observed[r]]) if observed[r].any() else 0.0 for r in range(panel.n_regions)])
    validation = [e.val_metric for e in point.train_result_.history
                  if e.val_metric is not None and e.epoch >= point.train_config_.min_epochs]
    in_sample = float(np.mean(residual[observed] ** 2)) if observed.any() else 0.0
    best = min(validation) if validation else 0.0
    return sd * np.sqrt(max(1.0, best / in_sample)) if in_sample > 0 else sd


def point_prediction_interval(point: MMM, train_panel: Panel, panel: Panel,
                              interval: float) -> tuple[np.ndarray, np.ndarray]:
    """(lower, upper) ``[R, T]`` KPI units over ``panel``'s weeks: ``point``'s forecast (fitted on
    ``train_panel``) with Gaussian noise at ``noise_scale`` and no member spread; what a refresh scores on its
    held-out weeks, where its holdout model has no members (refitting them would double the ensemble's cost;
    README gives its coverage beside the members' interval)."""
    sd = (noise_scale(point, train_panel) * point.scaler_.kpi.scale)[:, None]
    return mixture_interval(point.predict(panel)[None], sd, interval)


def central_interval(values: np.ndarray, interval: float) -> tuple[np.ndarray, np.ndarray]:
    """(lower, upper) central ``interval`` quantiles of ``values`` along its first axis (members): the one
    definition of a published interval from draws (tables, curves, budgets)."""
    _check_interval(interval)
    tail = (1.0 - interval) / 2.0
    return np.quantile(values, tail, axis=0), np.quantile(values, 1.0 - tail, axis=0)


def mixture_interval(means: np.ndarray, sd: np.ndarray, interval: float,
                     iterations: int = 60) -> tuple[np.ndarray, np.ndarray]:
    """(lower, upper) central ``interval`` quantiles of the equal-weight Gaussian mixture
    ``mean_k N(means[k], sd**2)``: a prediction interval with parameter uncertainty (K members' forecasts,
    ``means`` ``[K, ...]``) and noise (``sd``, broadcastable to ``means[0]``, same units) together. Exact up
    to bisection (``iterations`` halvings of the bracket ``[min mean - 10 sd, max mean + 10 sd]``); K = 1 is
    the Gaussian interval ``mean -/+ z sd``."""
    from scipy.special import ndtr

    _check_interval(interval)
    means = np.asarray(means, dtype=np.float64)
    sd = np.broadcast_to(np.maximum(np.asarray(sd, dtype=np.float64), 1e-12), means.shape[1:])
    tail = (1.0 - interval) / 2.0
    bounds = []
    for target in (tail, 1.0 - tail):
        lo, hi = means.min(0) - 10.0 * sd, means.max(0) + 10.0 * sd
        for _ in range(iterations):
            mid = 0.5 * (lo + hi)
            below = ndtr((mid - means) / sd).mean(0) < target
            lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
        bounds.append(0.5 * (lo + hi))
    return bounds[0], bounds[1]


def _check_interval(interval: float) -> None:
    if not 0.0 < interval < 1.0:
        raise ValueError(f"interval must lie in (0, 1), got {interval}")


def _fit_member(k: int, net: MMMNet, data: training.TrainingData, config: training.TrainConfig,
                callback: Callable[[int, training.TrainResult], None] | None, stop: threading.Event) -> MMMNet:
    """Train member ``k``'s prepared ``net`` in place (one task of ``Ensemble.fit``) and return it."""
    result = training.fit(net, data, config, stop_check(stop))
    net.requires_grad_(True)
    if callback is not None:
        callback(k, result)
    return net


class Ensemble:
    """A point ``MMM`` and K member networks refitted from it (``Ensemble.fit``).

    Attributes: ``point`` (the point model), ``nets`` (K ``MMMNet``), ``noise_scale`` ``[R]`` (the noise a
    prediction interval adds, scaled KPI units: see ``noise_scale``), ``config``, ``bias`` (``estimator_bias``'s
    ``{column: [R, C]}`` when ``config.bias_refits`` > 0, else None).
    """

    def __init__(self, point: MMM, nets: list[MMMNet], noise_scale: np.ndarray, config: EnsembleConfig,
                 bias: dict[str, np.ndarray] | None = None):
        self.point, self.nets, self.noise_scale, self.config = point, nets, np.asarray(noise_scale), config
        self.bias = bias
        self._members: list[MMM] | None = None

    @classmethod
    def fit(cls, point: MMM, panel: Panel, config: EnsembleConfig = EnsembleConfig(),
            callback: Callable[[int, training.TrainResult], None] | None = None, workers: int = 1) -> "Ensemble":
        """Refit ``config.members`` members from ``point``, fitted on ``panel`` (the same training panel), on
        ``workers`` threads (``parallel.run_parallel``; the members are the same whatever the count: each one's
        draws are made up front, in member order). ``callback(k, result)`` after each member."""
        point._check_fitted()
        data = point.training_data(panel, point.adjacency())
        train = point.train_config_
        member_train = dataclasses.replace(train, epochs=config.epochs, validation_weeks=0, min_epochs=0,
                                           learning_rate=train.learning_rate * config.learning_rate_factor)
        rng = np.random.default_rng([config.seed, 17])
        level_rng = np.random.default_rng([config.seed, 23])
        channel_level_rng = np.random.default_rng([config.seed, 29])
        n_channels = len(point.channels_)
        tasks = []
        for k in range(config.members):
            weight = bootstrap_weights(panel.observed, config.block_weeks, rng)
            shift = torch.as_tensor(rng.normal(0.0, config.prior_centre_log_sd, n_channels), dtype=torch.float32)
            z = float(level_rng.normal(0.0, config.level_start_sd))
            prior = None if data.roi_prior is None else dataclasses.replace(
                data.roi_prior, centre_log_shift=shift, share_centre_log_shift=torch.tensor(z))
            lifts = data.lift_tests  # randomize-then-optimize: each member fits its own draw of the measured lifts
            if lifts is not None:
                lifts = lifts.with_lift(lifts.lift + lifts.lift_se * torch.as_tensor(rng.normal(size=len(lifts))))
            net = copy.deepcopy(point.net_)
            _jitter_shapes(net, config.shape_start_sd, rng)
            _jitter_media_level(net, data, z, config.channel_level_start_sd, channel_level_rng)
            if net.dag is not None:  # the point fit's graph: members share the counterfactuals' structure
                net.dag.requires_grad_(False)
            member_data = dataclasses.replace(data, roi_prior=prior, fit_weight=weight, lift_tests=lifts)
            tasks.append(functools.partial(_fit_member, k, net, member_data,
                                           dataclasses.replace(member_train, seed=train.seed + 1 + k), callback))
        nets = run_parallel(tasks, workers)
        bias = None if config.bias_refits <= 0 else estimator_bias(point, panel, config.bias_refits,
                                                                   config.block_weeks, config.seed, workers)
        return cls(point, nets, noise_scale(point, panel), config, bias)

    def members(self) -> list[MMM]:
        """The K members as models: the point model with its network replaced (scalers, seasonality and
        the channel graph shared), so every method of ``MMM`` runs on each. Built once, so each member's
        float64 inference copy is made once too."""
        if self._members is None:
            self._members = []
            for net in self.nets:
                member = copy.copy(self.point)
                member.net_, member._net64 = net, None
                self._members.append(member)
        return self._members

    # -- outputs ------------------------------------------------------------------------------------
    def draws(self, panel: Panel, workers: int = 1) -> pd.DataFrame:
        """One row per member and channel (``DRAW_COLUMNS``): member, channel, the member's spend, direct and
        total contribution, share, ROI and direct ROI (as in ``MMM.contributions``) over the observed
        region-weeks of ``panel``, plus ``prediction`` and ``non_media`` (the member's predicted KPI summed over
        them, and what its baseline, trend, seasonality and controls give of it): a member's
        ``direct_contribution`` over channels plus ``non_media`` is its ``prediction``. Members are read on
        ``workers`` threads (``parallel.parallel_map``)."""
        def draw(k: int) -> pd.DataFrame:
            member = self.members()[k]
            table = member.contributions(panel)
            prediction = float(member.predict(panel)[panel.observed].sum())
            table.insert(0, "member", k)
            table["prediction"] = prediction
            table["non_media"] = prediction - float(table["direct_contribution"].sum())
            return table[list(DRAW_COLUMNS)]

        self.members()  # built once, before the threads read it
        return pd.concat(parallel_map(draw, range(len(self.nets)), workers), ignore_index=True)

    def contributions(self, panel: Panel, interval: float | None = None,
                      draws: pd.DataFrame | None = None) -> pd.DataFrame:
        """The point model's ``MMM.contributions`` with central ``interval`` intervals (``config.interval``
        when None) over the members (``draws``, computed when None): see ``with_intervals``."""
        draws = self.draws(panel) if draws is None else draws
        return with_intervals(self.point.contributions(panel), draws,
                              self.config.interval if interval is None else interval, self.bias)

    def predict_interval(self, panel: Panel, interval: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(lower, upper) ``[R, T]`` KPI units: central ``interval`` (``config.interval`` when None) prediction
        interval of each region-week: the members' forecasts with Gaussian noise at each region's
        ``noise_scale`` (scaled units, so the noise is proportional to the region's KPI scale), parameter
        uncertainty and noise together (``mixture_interval``)."""
        predictions = np.stack([member.predict(panel) for member in self.members()])
        sd = (self.noise_scale * self.point.scaler_.kpi.scale)[:, None]  # [R, 1] KPI units
        return mixture_interval(predictions, sd, self.config.interval if interval is None else interval)

    # -- persistence --------------------------------------------------------------------------------
    def save(self, directory: str | Path) -> Path:
        """The point model (``MMM.save``) plus ``members.safetensors`` (every network tensor stacked over
        members, ``[K, ...]``, and ``noise_scale``) and ``members.json`` (the config). No pickle."""
        from safetensors.torch import save_file

        directory = self.point.save(directory)
        states = [net.state_dict() for net in self.nets]
        tensors = {f"net.{name}": torch.stack([s[name].detach() for s in states]).contiguous() for name in states[0]}
        tensors["noise_scale"] = torch.as_tensor(self.noise_scale, dtype=torch.float64)
        for column, values in (self.bias or {}).items():
            tensors[f"bias.{column}"] = torch.as_tensor(values, dtype=torch.float64)
        save_file(tensors, str(directory / "members.safetensors"))
        (directory / "members.json").write_text(json.dumps(dataclasses.asdict(self.config), indent=2))
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> "Ensemble":
        """An ensemble saved by ``save``. A folder with a point model only raises ``ValueError``."""
        from safetensors.torch import load_file

        directory = Path(directory)
        point = MMM.load(directory)
        if not (directory / "members.safetensors").exists():
            raise ValueError(f"{directory}: no members.safetensors (a point model without an ensemble)")
        tensors = load_file(str(directory / "members.safetensors"))
        # members saved before prior_centre_log_sd / level_start_sd / channel_level_start_sd existed drew their
        # centres at the point fit's prior spread and started at its media level
        config = EnsembleConfig(**{"prior_centre_log_sd": ROI_PRIOR_LOG_SD, "level_start_sd": 0.0,
                                   "channel_level_start_sd": 0.0,
                                   **json.loads((directory / "members.json").read_text())})
        stacked = {k.split(".", 1)[1]: v for k, v in tensors.items() if k.startswith("net.")}
        nets = []
        for k in range(next(iter(stacked.values())).shape[0]):
            net = copy.deepcopy(point.net_)
            state = {name: value[k] for name, value in stacked.items()}
            state.setdefault("media_region_scale", point.net_.media_region_scale)  # saved before it existed: the point's
            net.load_state_dict(state)
            nets.append(net)
        # saved before each refit's ratio was kept: the refits' mean, as one refit
        bias = {k.split(".", 1)[1]: np.atleast_2d(v.numpy()) for k, v in tensors.items() if k.startswith("bias.")} or None
        return cls(point, nets, tensors["noise_scale"].numpy(), config, bias)
