"""``TrainConfig`` and ``fit``: full-batch training of an ``MMMNet`` with early stopping.

The loss is built in one function (``compute_loss``). Training runs over all regions at once; the last
``validation_weeks`` of the training window are held out of the fit term and used for early stopping,
which restores the best weights; a short refit that includes them follows (``refit_fraction``). The
fit term is masked by ``Panel.observed`` and skips the first ``burn_in_weeks`` (never padded with fake
targets). Deterministic for a seed on a given device and thread count.
"""

from __future__ import annotations

import time
import dataclasses
from dataclasses import dataclass
from typing import Callable, Literal

import torch
import torch.nn.functional as F

from mmm_core.model.calibration import CONCAVITY_WEIGHT, LiftTestData, concavity_term, lift_test_term, model_lifts
from mmm_core.model.dag import lasso_rate
from mmm_core.model.network import MMMNet, ModelInputs, ModelOutput
from mmm_core.model.options import check_choices
from mmm_core.model.parallel import SEEDED
from mmm_core.model.priors import RoiPriorData, media_share_prior_term, roi_pooling_term


@dataclass(frozen=True)
class TrainConfig:
    """Training and loss settings. Loss weights are in scaled-KPI units (KPI / region mean)."""

    epochs: int = 1200
    """Maximum epochs (full-batch steps) of the first phase; early stopping usually ends it sooner."""
    learning_rate: float = 0.03
    seed: int = 0
    validation_weeks: int = 8
    """Last weeks of the training window used for early stopping (0 disables it)."""
    patience: int = 200
    """Epochs without a validation improvement before stopping."""
    min_epochs: int = 300
    """No stopping before this epoch, and the restored best weights are the best from this epoch on:
    the levels of slow-moving parts (small flighted channels) are still growing when an early epoch
    happens to score best on the few validation weeks (figures: ``benchmarks/RESULTS.md``)."""
    refit_fraction: float = 0.25
    """After restoring the best weights, train this fraction of the best epoch count more on all weeks."""
    device: Literal["auto", "cpu", "cuda"] = "auto"
    """'auto' (cuda when available), 'cpu' or 'cuda'."""
    threads: int | None = None
    """torch CPU threads (None leaves torch's setting)."""
    loss: Literal["huber", "mse"] = "huber"
    """'huber' or 'mse'."""
    huber_delta: float = 0.25
    """Huber transition in scaled KPI units (a quarter of the region mean)."""
    l1: float = 1e-4
    """L1 on media coefficients (mean over region-weeks, summed over channels): no effect without evidence."""
    l2: float = 1e-4
    """L2 on control coefficients, trend slope and the learnable seasonal corrections."""
    region_l2: float = 1e-2
    """L2 pulling per-region deviations (media, controls, trend, seasonality) toward the shared value."""
    modulation_l2: float = 0.3
    """L2 on the GRU modulation: time variation of coefficients has to earn its place."""
    hill_shape_l2: float = 1e-5
    """Shape prior (not an answer prior): L2 on log(hill_slope) (toward 1) and on log(half-saturation)
    minus its data-based start. Where activity barely varies (always-on channels) the level of a
    channel's effect hinges on its curve's shape; without any prior the optimiser buys fit with steep
    S-curves and tiny levels. A world without media effects still gets ~0 (the prior is on shape).
    Losses are means over region-weeks, so this weight is strong: 1e-3 pinned every slope at 1, also
    where flights identify an S-shape (a concave curve on a pulsed channel's floor then takes always-on
    credit); 1e-4 still held pulsed channels near 1. Since ``roi_pooling`` settles the level of
    always-on channels, 1e-5 lets flighted channels find their S-shape (``benchmarks/RESULTS.md``)."""
    dag_l1: float = 0.85
    """L1 on the channel graph's edges, in units of the lasso rate ``sqrt(log(C) / n)`` (C channels, n
    observed region-weeks; ``dag.lasso_rate``): the penalty weakens as the data grow, as a lasso's
    should (0.85 is 0.01 on the benchmark panel, where that fixed value was set; figures:
    ``benchmarks/RESULTS.md``)."""
    dag_acyclicity: float = 10.0
    dag_nonnegativity: float = 10.0
    """Weight of the hinge keeping each channel's own activity ``X - X A`` non-negative (orients edges)."""
    roi_pooling: float = 1e-2
    """Weight of the exchangeable-ROI prior (in the spirit of Meridian's one default ROI prior for every
    channel), only where the data cannot measure a channel's level: the squared relative deviation of
    each channel's ROI (direct contribution / spend over the fit weeks) from the pooled ROI of the
    channels whose level is measured, weighted per channel by ``priors.level_extrapolation`` (0 for a channel
    the data see near zero activity, 1 for one whose low weeks sit a full range width or more above
    zero, e.g. one that never leaves ±25 % of its mean). Why: an always-on
    channel shows the fit the slope of its curve, not what sits under it; without the prior such channels
    ended at 0.1-0.3x their true contribution, their credit going to the baseline and to pulsed
    channels. The anchor ROI is learned from the data, so this is no answer prior (a world without
    media effects anchors at 0), and measured channels are never pulled. The same weight carries the
    ceiling on every channel's ROI at ``priors.ROI_RATIO_CEILING`` times the pooled ROI (a channel with a
    negligible budget cannot take a large share of the KPI). 0 turns both off."""
    roi_pooling_floor: float = 0.01
    """Lower bound of the anchor ROI in the relative deviations, in media-share-of-KPI units (the anchor
    equals the media share when every ROI is equal): keeps the prior weak where the model finds almost
    no media."""
    media_share_prior_mean: float = 0.4
    """Mean of the stated prior on the share of the KPI that all media add together, a log-normal, used only as far
    as no channel's level is measured (every channel always-on; ``priors.media_share_prior_term``, carried by
    ``roi_pooling``'s weight). Why: there the data do not say whether media carry 3 % or 30 % of the KPI, and
    without a prior the level rested on the network's start (``ModelConfig.media_init_share``), an accident rather
    than a statement (README). 0.4 / 0.2 is Meridian's default "total paid media contribution prior" for a KPI
    that is not revenue; set what past studies of the business say. 0 turns it off."""
    media_share_prior_sd: float = 0.2
    """Sd of that prior (same units: share of the KPI)."""
    lift_tests: float = 1e-2
    """Weight of the lift tests' term (``calibration.lift_test_term``), in ``roi_pooling``'s units: at the same
    value an experiment and the exchangeable-ROI prior weigh as the spreads they state (``lift_se``,
    ``priors.ROI_PRIOR_LOG_SD``). Its own setting, so experiments still count with the prior switched off."""
    grad_clip: float = 1.0
    """Max global gradient norm."""
    burn_in_weeks: int = 2
    """First weeks left out of the fit term (carry-over warm-up); their predictions are still made."""
    log_every: int = 10
    """Callback every this many epochs (and at the last)."""

    def __post_init__(self) -> None:
        check_choices(self)


@dataclass
class TrainingData:
    """What ``fit`` needs: inputs (scaled), target ``[R, T]`` scaled KPI, observed ``[R, T]`` bool, and for
    the DAG the within-region activity covariance ``[C, C]`` and the observed scaled activity rows ``[n, C]``."""

    inputs: ModelInputs
    target: torch.Tensor
    observed: torch.Tensor
    activity_covariance: torch.Tensor
    activity_rows: torch.Tensor
    roi_prior: RoiPriorData | None = None
    """What the exchangeable-ROI prior reads (``priors.roi_prior_data``); None: no ROI prior."""
    fit_weight: torch.Tensor | None = None
    """``[R, T]`` non-negative weight of each region-week in the fit term (None: all 1). An ensemble
    member's Bayesian-bootstrap weights (``ensemble.bootstrap_weights``)."""
    lift_tests: LiftTestData | None = None
    """The experiments the fit must respect (``calibration.lift_test_data``); None: none."""

    def to(self, device: torch.device) -> "TrainingData":
        """A copy on ``device`` in float32 (``observed`` stays bool)."""
        cast = lambda t: None if t is None else t.to(device, torch.float32)  # noqa: E731
        return TrainingData(self.inputs.to(device, torch.float32), cast(self.target), self.observed.to(device),
                            cast(self.activity_covariance), cast(self.activity_rows),
                            None if self.roi_prior is None else self.roi_prior.to(device), cast(self.fit_weight),
                            None if self.lift_tests is None else self.lift_tests.to(device))


@dataclass(frozen=True)
class TrainEvent:
    """Progress report passed to the callback."""

    epoch: int
    train_loss: float
    val_metric: float | None
    phase: str  # 'fit' or 'refit'
    seconds: float


@dataclass
class TrainResult:
    history: list[TrainEvent]
    best_epoch: int
    epochs_run: int
    seconds: float
    device: str


def resolve_device(name: str) -> torch.device:
    """'auto' is cuda when available, else cpu."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def fit_term(prediction: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, config: TrainConfig) -> torch.Tensor:
    """Weighted mean of the Huber (or squared) error, scalar; ``mask`` ``[R, T]`` bool or non-negative weights."""
    if config.loss == "huber":
        err = F.huber_loss(prediction, target, reduction="none", delta=config.huber_delta)
    else:
        err = (prediction - target) ** 2
    weight = mask.to(err.dtype)
    return (err * weight).sum() / weight.sum().clamp_min(1.0)


def compute_loss(net: MMMNet, out: ModelOutput, data: TrainingData, mask: torch.Tensor,
                 config: TrainConfig) -> tuple[torch.Tensor, dict[str, float]]:
    """The whole training objective in one place; returns (loss, parts for logging). ``mask`` ``[R, T]``
    selects the region-weeks of the fit term and of every per-week penalty."""
    target = data.target
    fit_mask = mask if data.fit_weight is None else mask * data.fit_weight
    parts: dict[str, torch.Tensor] = {"fit": fit_term(out.prediction, target, fit_mask, config)}
    weight = mask.to(out.prediction.dtype)[..., None]
    n = weight.sum().clamp_min(1.0)
    parts["l1"] = config.l1 * (out.media_coef * weight).sum() / n
    parts["l2"] = config.l2 * (net.control_coef.square().sum() + net.trend_slope.square()
                               + net.season_shape_correction.square().sum()
                               + net.holiday_coef.square().sum())
    parts["region_l2"] = config.region_l2 * (net.media_region.square().mean()
                                             + (net.control_region.square().mean() if net.n_controls else 0.0)
                                             + net.trend_slope_region.square().mean()
                                             + net.season_coef_region.square().mean()
                                             + (net.holiday_region.square().mean() if net.holiday_region.numel() else 0.0))
    parts["hill_shape"] = config.hill_shape_l2 * net.saturation.shape_penalty()
    parts["modulation_l2"] = config.modulation_l2 * (out.modulation.square() * weight).sum() / (n * out.modulation.shape[-1])
    if net.dag is not None:
        parts["dag"] = net.dag.penalty(data.activity_covariance, data.activity_rows,
                                                          config.dag_l1 * lasso_rate(*data.activity_rows.shape),
                                                          config.dag_acyclicity,
                                                          config.dag_nonnegativity)
    if config.roi_pooling > 0 and data.roi_prior is not None:
        prior = data.roi_prior
        parts["roi_pooling"] = config.roi_pooling * roi_pooling_term(out, target, mask, prior.region_weight,
                                                                     prior.spend, config.roi_pooling_floor,
                                                                     prior.channel_weight, prior.centre_log_shift)
        if config.media_share_prior_mean > 0:
            parts["media_share_prior"] = config.roi_pooling * media_share_prior_term(
                out, target, mask, prior.region_weight, prior.spend, prior.channel_weight,
                config.media_share_prior_mean, config.media_share_prior_sd, prior.share_centre_log_shift)
    if data.lift_tests is not None and len(data.lift_tests):
        lifts = model_lifts(net, data.inputs.media, out.modulation, data.lift_tests, shared_only=True)
        parts["lift_tests"] = config.lift_tests * lift_test_term(lifts, data.lift_tests)
        parts["concavity"] = CONCAVITY_WEIGHT * concavity_term(net, torch.unique(data.lift_tests.channel))
    total = sum(parts.values())
    return total, {k: float(v.detach()) if torch.is_tensor(v) else float(v) for k, v in parts.items()}


def _masks(observed: torch.Tensor, config: TrainConfig) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(fit mask, validation mask) ``[R, T]``; validation None when disabled or the window is too short."""
    R, T = observed.shape
    fit_mask = observed.clone()
    fit_mask[:, : config.burn_in_weeks] = False
    v = config.validation_weeks
    if v <= 0 or T - v - config.burn_in_weeks < 26:
        return fit_mask, None
    val_mask = fit_mask.clone()
    val_mask[:, : T - v] = False
    fit_mask[:, T - v:] = False
    return fit_mask, val_mask


def fit(net: MMMNet, data: TrainingData, config: TrainConfig = TrainConfig(),
        callback: Callable[[TrainEvent], None] | None = None) -> TrainResult:
    """Train ``net`` in place (float32 on the chosen device); on return it holds the restored best weights
    (plus the refit) on the CPU in float32."""
    torch.set_flush_denormal(True)
    if config.threads:
        torch.set_num_threads(config.threads)
    with SEEDED:  # nothing in training draws from it; seeded for any code that does, never mid-draw of another fit
        torch.manual_seed(config.seed)
    device = resolve_device(config.device)
    net.to(device=device, dtype=torch.float32)
    data = data.to(device)
    inputs, target, observed = data.inputs, data.target, data.observed
    fit_mask, val_mask = _masks(observed, config)
    validation_config = dataclasses.replace(config, loss="mse")  # early stopping scores the squared error
    history: list[TrainEvent] = []
    start = time.perf_counter()
    dag_params = list(net.dag.parameters()) if net.dag is not None else []
    dag_ids = {id(p) for p in dag_params}
    param_groups = [[p for p in net.parameters() if id(p) not in dag_ids], dag_params]

    def run_phase(mask: torch.Tensor, n_epochs: int, phase: str, lr: float) -> tuple[int, int]:
        optimizer = torch.optim.Adam(net.parameters(), lr=lr)
        best, best_epoch, best_state, epoch = float("inf"), 0, None, 0
        for epoch in range(1, n_epochs + 1):
            out = net(inputs)
            loss, _ = compute_loss(net, out, data, mask, config)
            val = None
            if phase == "fit" and val_mask is not None:
                with torch.no_grad():
                    val = float(fit_term(out.prediction, target, val_mask, validation_config))
                if val < best and epoch >= config.min_epochs:
                    best, best_epoch = val, epoch
                    best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if config.grad_clip:  # separately, so the structure loss never throttles the KPI model
                for group in param_groups:
                    torch.nn.utils.clip_grad_norm_(group, config.grad_clip)
            optimizer.step()
            if net.dag is not None:
                net.dag.project()
            if callback is not None and (epoch % config.log_every == 0 or epoch == n_epochs):
                callback(TrainEvent(epoch, float(loss.detach()), val, phase, time.perf_counter() - start))
            history.append(TrainEvent(epoch, float(loss.detach()), val, phase, time.perf_counter() - start))
            if best_state is not None and epoch >= config.min_epochs and epoch - best_epoch >= config.patience:
                break
        if best_state is not None:
            net.load_state_dict(best_state)  # weights as they were when validation was best
        return (best_epoch if best_state is not None else epoch), epoch

    best_epoch, epochs_run = run_phase(fit_mask, config.epochs, "fit", config.learning_rate)
    if val_mask is not None and config.refit_fraction > 0:
        full_mask = fit_mask | val_mask
        n_refit = max(1, int(round(config.refit_fraction * best_epoch)))
        _, extra = run_phase(full_mask, n_refit, "refit", config.learning_rate * 0.3)
        epochs_run += extra
    net.to(device="cpu", dtype=torch.float32)
    return TrainResult(history, best_epoch, epochs_run, time.perf_counter() - start, str(device))
