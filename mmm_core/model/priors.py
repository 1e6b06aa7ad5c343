"""The exchangeable-ROI prior, in one place: how far each channel's level is extrapolated, the anchor, the term.

An always-on channel shows the fit the slope of its curve over the range it is run at, not what sits
under it, so its level (and its ROI) is a guess about a part of the curve the data never visit. The
prior pulls each such channel's ROI (direct contribution / spend over the fit weeks) toward the pooled
ROI of the channels whose level the data do measure, weighted per channel by ``level_extrapolation``:
how far below its observed range the channel's zero lies, in widths of that range. 0 for a channel
seen near zero (flighted, or bursts that reach a fraction of their mean: never pulled), 1 for one whose
low weeks sit more than one range width above zero (an always-on channel within ±25 % of its mean).
Its weight in the loss is ``TrainConfig.roi_pooling``; ``channel_prior_weight`` is also what
``MMM.contributions`` reports as ``roi_prior_weight``.

Where no channel's level is measured, the pooled ROI itself is extrapolated, and media level and baseline
trade off along a ridge the data cannot see: ``media_share_prior_term`` then pulls the total media share of
the KPI toward a stated prior (``TrainConfig.media_share_prior_mean`` / ``_sd``, by default Meridian's for a KPI
that is not revenue), weighted by how far the pooled ROI is extrapolated (``pooled_extrapolation``); the same
weight ``TrainConfig.roi_pooling`` carries it.

The same term bounds every channel's ROI, measured or not, at ``ROI_RATIO_CEILING`` times the pooled ROI of
all media (``roi_ceiling_term``). Activity is scaled by each channel's own mean, so without it a channel
with a negligible budget is as large as any other to the network and can carry any share of the KPI that
its pattern happens to fit; with it a channel's share of the media effect stays within a multiple of its
share of spend.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from mmm_core.data.contract import Panel
from mmm_core.model.dag import own_activity
from mmm_core.model.network import ModelOutput


@dataclass
class RoiPriorData:
    """What the ROI prior reads during training.

    region_weight ``[R]``: each region's KPI scale over the mean one (scaled contributions -> KPI units);
    spend ``[R, T, C]``: spend over observed region-weeks divided by its largest value (only ratios matter,
    and float32 holds any currency that way); channel_weight ``[C]`` in [0, 1] (``level_extrapolation``).
    """

    region_weight: torch.Tensor
    spend: torch.Tensor
    channel_weight: torch.Tensor
    centre_log_shift: torch.Tensor | None = None
    """``[C]`` log of each channel's prior centre over the pooled ROI (None: 0, every channel centred on the
    pooled ROI). An ensemble member draws it from ``N(0, EnsembleConfig.prior_centre_log_sd**2)``
    (randomize-then-optimize)."""

    share_centre_log_shift: torch.Tensor | None = None
    """Scalar: log of the media-share prior's centre over its median (None: 0, ``media_share_prior_term``).
    An ensemble member draws it from ``N(0, EnsembleConfig.level_start_sd**2)``."""

    def to(self, device: torch.device) -> "RoiPriorData":
        """A copy on ``device`` in float32."""
        return RoiPriorData(*(None if t is None else t.to(device, torch.float32)
                              for t in (self.region_weight, self.spend, self.channel_weight, self.centre_log_shift,
                                        self.share_centre_log_shift)))


ROI_PRIOR_LOG_SD = 0.5
"""Spread of a channel's ROI around the pooled ROI that the exchangeable prior states, on the log scale:
90 % of channels within a factor exp(1.645 * 0.5) = 2.3 of the pooled ROI. A stated prior, not a fitted
value: true ROI ratios in the worlds this project measures on reach 3.1 (README), and a channel that far
from the pooled ROI, with a level only the prior sets, lies outside this range (the ensemble's members draw
their centres wider: ``EnsembleConfig.prior_centre_log_sd``)."""


def lognormal_log_parameters(mean: float, sd: float) -> tuple[float, float]:
    """(log median, log sd) of the log-normal with this ``mean`` and ``sd`` (``TrainConfig.media_share_prior_mean``
    / ``_sd``: 0.4 / 0.2 give a median of 0.36 and a log sd of 0.47, 90 % between 0.16 and 0.78)."""
    log_sd = float(np.sqrt(np.log1p((sd / mean) ** 2)))
    return float(np.log(mean) - log_sd ** 2 / 2), log_sd


def pooled_extrapolation(channel_weight: torch.Tensor, has_spend: torch.Tensor) -> torch.Tensor:
    """Scalar in [0, 1]: how far the pooled ROI is extrapolated, the smallest ``level_extrapolation`` weight over
    the channels with spend (``channel_weight``, ``has_spend`` ``[C]``). 0 as soon as one channel's level is
    measured (the pooled ROI rests on it); near 1 when every channel is always-on; 0 without spend."""
    if not bool(has_spend.any()):
        return channel_weight.new_zeros(())
    return channel_weight[has_spend].min()


EXTRAPOLATION_QUANTILES = (0.1, 0.9)
"""Low and high quantiles of a channel's activity (relative to each region's mean) that bound the range
the data show the fit; the extremes are left out so one dark or one peak week does not decide."""


def level_extrapolation(activity: torch.Tensor, observed: torch.Tensor) -> torch.Tensor:
    """``[C]`` in [0, 1]: how far a channel's level must be extrapolated from its data.

    With ``lo``, ``hi`` the ``EXTRAPOLATION_QUANTILES`` of the channel's activity relative to each
    region's mean over observed weeks, ``r = lo / (hi - lo)`` is the distance from zero activity to the
    observed range in widths of that range, and the weight is ``clip(2 r - 1, 0, 1)``: 0 while zero lies
    within half a width of the data (a flighted channel, r = 0; bursts that fall to a quarter of their
    mean and peak near twice it, r ~ 0.2: the curve's slope across that range measures the level),
    1 once zero lies a full width or more below them (an always-on channel within ±25 % of its mean,
    r = 1.5: the level rests on the curve's shape below the data, which the data never show). Why the
    width and not ``lo`` alone: extrapolating a curve by a distance d from a range of width w multiplies
    its slope's uncertainty by about d / w. activity ``[R, T, C]``, observed ``[R, T]`` bool."""
    mask = observed[..., None].to(activity.dtype)
    mean = (activity * mask).sum(1, keepdim=True) / mask.sum(1, keepdim=True).clamp_min(1.0)  # [R, 1, C]
    relative = activity / mean.clamp_min(1e-12)
    levels = torch.tensor(EXTRAPOLATION_QUANTILES, dtype=torch.float64)
    out = torch.zeros(activity.shape[-1], dtype=activity.dtype)
    for c in range(activity.shape[-1]):
        values = relative[..., c][observed & (mean[..., c] > 0)]
        if values.numel():
            lo, hi = torch.quantile(values.double(), levels)
            distance = lo / (hi - lo).clamp_min(1e-9)
            out[c] = (2.0 * distance - 1.0).clamp(0.0, 1.0).to(activity.dtype)
    return out


def media_shares(out: ModelOutput, target: torch.Tensor, mask: torch.Tensor, region_weight: torch.Tensor,
                 spend: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(share ``[C]``: each channel's direct contribution over the observed region-weeks as a share of the KPI,
    regions weighted by ``region_weight`` ``[R]`` (scaled units -> KPI units); spend_total ``[C]``: its spend over
    the same region-weeks). mask ``[R, T]``, spend ``[R, T, C]``."""
    w = mask.to(out.media.dtype) * region_weight[:, None]  # [R, T]
    kpi_total = (target * w).sum().clamp_min(1e-12)
    share = (out.media * w[..., None]).sum((0, 1)) / kpi_total
    return share, (spend * mask[..., None].to(spend.dtype)).sum((0, 1))


def roi_pooling_term(out: ModelOutput, target: torch.Tensor, mask: torch.Tensor, region_weight: torch.Tensor,
                     spend: torch.Tensor, floor: float, channel_weight: torch.Tensor | None = None,
                     centre_log_shift: torch.Tensor | None = None) -> torch.Tensor:
    """Mean over channels of ``w_c * ((roi_c - anchor_c) / max(anchor_c, floor))**2``.

    roi_c = a_c / b_c, with a_c the channel's direct contribution as a share of the KPI (``media_shares``) and
    b_c its share of spend (the ROI up to one constant); w_c = ``channel_weight`` (ones when None). ``anchor``
    is the pooled ROI of the channels whose level the data measure, weighted by ``1 - w_c`` (all channels
    alike when none is), and held fixed: the prior moves extrapolated channels toward the measured ones,
    never the other way; ``anchor_c`` is ``anchor * exp(centre_log_shift_c)`` (``anchor`` when None). Shapes:
    mask ``[R, T]``, region_weight ``[R]``, spend ``[R, T, C]``, centre_log_shift ``[C]``; channels without
    spend are left out."""
    share, spend_total = media_shares(out, target, mask, region_weight, spend)
    has_spend = spend_total > 0
    if not bool(has_spend.any()):
        return out.media.new_zeros(())
    spend_share = spend_total / spend_total.sum()
    present = has_spend.to(share.dtype)
    weight = present if channel_weight is None else channel_weight * present
    measured = (1.0 - weight) * present
    if float(measured.sum()) < 1e-6:
        measured = present
    anchor = ((measured * share).sum() / (measured * spend_share).sum()).detach()
    if centre_log_shift is not None:
        anchor = anchor * torch.exp(centre_log_shift)
    roi = share / spend_share.clamp_min(1e-12)
    dev = (roi - anchor) / anchor.clamp_min(floor)
    return (weight * dev.square())[has_spend].mean() + roi_ceiling_term(roi[has_spend], share.sum().detach())


def media_share_prior_term(out: ModelOutput, target: torch.Tensor, mask: torch.Tensor, region_weight: torch.Tensor,
                           spend: torch.Tensor, channel_weight: torch.Tensor, mean: float, sd: float,
                           centre_log_shift: torch.Tensor | None = None) -> torch.Tensor:
    """``u * ((log S - m) / s)**2``: the stated prior on the total media share S of the KPI (the channels' shares
    from ``media_shares`` summed over channels with spend), a log-normal with this ``mean`` and ``sd``
    (``lognormal_log_parameters``: median m, shifted by ``centre_log_shift`` (a scalar), log sd s), weighted by
    u = ``pooled_extrapolation(channel_weight)``: 0, and no term, as soon as one channel's level is measured.
    Shapes as ``roi_pooling_term``; channel_weight ``[C]``."""
    share, spend_total = media_shares(out, target, mask, region_weight, spend)
    has_spend = spend_total > 0
    extrapolated = pooled_extrapolation(channel_weight, has_spend)
    if float(extrapolated) <= 0:
        return out.media.new_zeros(())
    log_median, log_sd = lognormal_log_parameters(mean, sd)
    centre = log_median + (0.0 if centre_log_shift is None else centre_log_shift)
    z = (torch.log(share[has_spend].sum().clamp_min(1e-6)) - centre) / log_sd
    return extrapolated * z.square()


ROI_RATIO_CEILING = 10.0
"""Highest ROI a channel gets without a penalty, as a multiple of the pooled ROI of all media: a channel holds
at most about ten times its share of spend as its share of the media effect. Well above the spread of true
ROIs in the worlds this project measures on (README), so it binds only on a channel whose effect is out of
all proportion to its budget."""


def roi_ceiling_term(roi: torch.Tensor, pooled: torch.Tensor) -> torch.Tensor:
    """Mean over channels of ``max(0, log(roi_c / pooled) - log(ROI_RATIO_CEILING))**2``: zero up to the
    ceiling, then growing with the log of the excess. roi ``[C]`` and the pooled ROI (a scalar) in the same
    units (``roi_pooling_term``'s share of KPI per share of spend); the pooled ROI is held fixed."""
    excess = torch.log(roi.clamp_min(1e-12) / pooled.clamp_min(1e-12)) - np.log(ROI_RATIO_CEILING)
    return excess.clamp_min(0.0).square().mean()


def channel_prior_weight(activity_scaled: np.ndarray, observed: np.ndarray,
                         adjacency: np.ndarray | None = None) -> torch.Tensor:
    """``[C]`` float32: ``level_extrapolation`` of each channel's OWN scaled activity (``dag.own_activity``
    under the channel graph ``adjacency`` ``[C, C]``; all of it without one) over the observed region-weeks
    ``[R, T]``: how much each channel's ROI leans on the prior. Own activity, because activity a parent
    channel causes moves with the parent: its swings show the fit the parent, not the child's curve (a
    steady search budget lifted in TV flights is still an always-on channel). activity ``[R, T, C]``."""
    activity = torch.as_tensor(np.ascontiguousarray(activity_scaled), dtype=torch.float64)
    if adjacency is not None and np.any(adjacency):
        activity = own_activity(activity, torch.as_tensor(adjacency, dtype=torch.float64))
    mask = torch.as_tensor(observed)
    masked = torch.where(mask[..., None], activity, torch.zeros((), dtype=activity.dtype))
    return level_extrapolation(masked.to(torch.float32), mask)


def roi_prior_data(panel: Panel, kpi_scale: np.ndarray, activity_scaled: np.ndarray,
                   adjacency: np.ndarray | None = None) -> RoiPriorData:
    """The prior's inputs for ``panel``: ``kpi_scale`` ``[R]`` is the KPI scaler's per-region scale,
    ``activity_scaled`` ``[R, T, C]`` the scaled activity, ``adjacency`` the channel graph (see
    ``channel_prior_weight``)."""
    as_f32 = lambda a: torch.as_tensor(np.ascontiguousarray(a), dtype=torch.float32)  # noqa: E731
    spend = np.where(panel.observed[..., None], np.nan_to_num(panel.spend), 0.0)
    spend = spend / max(float(spend.max()), 1e-12)
    return RoiPriorData(as_f32(kpi_scale / kpi_scale.mean()), as_f32(spend),
                        channel_prior_weight(activity_scaled, panel.observed, adjacency))
