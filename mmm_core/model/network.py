"""``ModelConfig`` and ``MMMNet``: the network that maps scaled inputs to an additive scaled KPI.

Everything here is in scaled units (see ``scaling.py``): KPI divided by its region mean, activity divided
by its channel (per-capita) mean, controls standardised. The prediction is a sum of named parts,

    kpi_scaled[r, t] = baseline[r] + trend[r, t] + seasonality[r, t]
                       + sum_k control_coef[r, t, k] * controls[r, t, k]
                       + sum_c media_coef[r, t, c] * hill(adstock(activity)[r, t, c]; k_c, s_c)

so a decomposition is the parts themselves. Time-varying coefficients come from a small GRU over
(media, controls) shared by all regions, as a *bounded modulation* around per-channel levels with
regularised per-region deviations: the GRU can bend a channel's effect over time but cannot create one
where the channel is silent, cannot absorb the baseline and cannot move credit far between channels.

Media coefficients follow the seed, ``softplus(max_c) * sigmoid(level_c + region_rc + modulation_rtc)``, times a
fixed per-region factor ``media_region_scale_r`` (``scaling.per_capita_region_scale``; 1 without a population):
with it the shared part of a coefficient is one effect per capita (Meridian's convention), not one share of
each region's KPI, and ``region_rc`` measures departures from that.

Parameters are per channel / region with no batch dimension; a later replicate dimension (K fits at
once) would lead every parameter shape, which nothing below precludes (all ops broadcast on the left).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from mmm_core.model import transforms
from mmm_core.model.components import Adstock, HillSaturation, logit
from mmm_core.model.options import check_choices
from mmm_core.model.dag import ChannelDag
from mmm_core.model.recurrence import gru_hidden
from mmm_core.data.calendar import DEFAULT_HOLIDAYS, check_holidays
from mmm_core.model.seasonality import POOLED_HARMONICS


EXTRAPOLATION_HEADROOM = 1.0
"""How far above its highest training activity a channel's weekly activity still moves the response, as a
multiple of that activity (``transforms.soft_ceiling``): at most twice the observed maximum is read."""


@dataclass(frozen=True)
class ModelConfig:
    """Architecture and parameterisation (training settings live in ``training.TrainConfig``)."""

    hidden_size: int = 16
    """GRU hidden units. Small on purpose: the GRU only modulates coefficients, it does not carry them."""
    modulation_max: float = 0.5
    """Bound of the GRU's modulation: logit units for media coefficients, relative units (×(1 ± m)) for controls."""
    adstock_max_lag_weeks: int = transforms.DEFAULT_MAX_LAG
    """Length of the carry-over kernel in weeks."""
    adstock_decay_max: float = 0.95
    """Upper bound of the learnable decay (reparameterised as ``max * sigmoid``), not a clamp."""
    adstock_decay_init: float = 0.4
    adstock_peak_lag: bool = True
    """Learn a peak lag per channel (delayed adstock ``decay**((l - peak)**2)``); False: geometric."""
    adstock_peak_lag_max_weeks: float = 4.0
    adstock_peak_lag_init_weeks: float = 0.5
    adstock_learn_tail: bool = True
    """With a peak lag, also learn each channel's tail shape q in [1, 2]: ``decay**(|l - peak|**q)``
    (``transforms.adstock_weights``). q = 2 is the Gaussian-shaped delayed kernel, q = 1 a geometric fall
    (geometric adstock at peak 0), so both common carry-over forms are in the family. With the delayed
    kernel alone a geometric carry-over could only be copied by a long flat kernel (decay run to the
    cap), which then soaked up slow KPI movements (figures: ``benchmarks/RESULTS.md``). False: the
    delayed kernel (models saved before this option load that way)."""
    adstock_tail_init: float = 1.5
    """Starting tail shape q, halfway between geometric (1) and the delayed kernel (2)."""
    hill_slope_min: float = 0.3
    """Hill slope range (reparameterised with a sigmoid); both concave (< 1) and S-shaped (> 1) reachable."""
    hill_slope_max: float = 5.0
    hill_slope_init: float = 1.0
    hill_half_saturation_quantile: float = 0.5
    """Half-saturation initialised at this quantile of the channel's scaled activity over active weeks."""
    media_coef_max_init: float = 1.0
    """Initial per-channel bound (scaled KPI units = share of region mean) of a channel's coefficient."""
    media_init_share: float = 0.05
    """Media share of the KPI at initialisation, split evenly; small so the data, not the start, decides."""
    trend: bool = True
    trend_damping: float = 0.95
    """Per-week damping of the trend's slope after the last training week (Gardner's damped trend)."""
    seasonality_harmonics: int = 2
    """Fourier harmonics of each region's departure from the pooled yearly shape (see ``seasonality.py``)."""
    holidays: tuple[str, ...] = DEFAULT_HOLIDAYS
    """Holiday weeks with a learnable lift each (see ``data/calendar.py``); () for none."""
    dag: bool = True
    dag_upper_triangular: bool = False
    """Restrict edges to p < c (a known causal order by column); default learns direction from data."""
    presample: Literal["mean", "zero"] = "mean"
    """Media/controls assumed before the first week, for adstock and GRU warm-up: 'mean' of the first
    ``adstock_max_lag_weeks`` weeks, or 'zero'."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "holidays", tuple(self.holidays))  # JSON gives a list
        check_holidays(self.holidays)
        check_choices(self)


@dataclass
class ModelInputs:
    """Tensors the network reads (scaled units).

    media ``[R, T, C]``, controls ``[R, T, K]``, season_profile ``[R, T]`` (data-derived yearly profile),
    season_basis ``[T, 2H]`` (Fourier terms of the weeks' calendar position, for the learnable correction
    of the shared shape), trend_time ``[T]`` (trend regressor in years, linear inside the training window,
    damped after it), holidays ``[T, H]`` 0/1 holiday-week indicators (None: no holiday terms).
    """

    media: torch.Tensor
    controls: torch.Tensor
    season_profile: torch.Tensor
    season_basis: torch.Tensor
    trend_time: torch.Tensor
    holidays: torch.Tensor | None = None

    def to(self, device=None, dtype=None) -> "ModelInputs":
        cast = lambda t: t.to(device=device, dtype=dtype)  # noqa: E731
        return ModelInputs(cast(self.media), cast(self.controls), cast(self.season_profile),
                           cast(self.season_basis), cast(self.trend_time),
                           None if self.holidays is None else cast(self.holidays))


@dataclass
class ModelOutput:
    """Named parts of the scaled prediction; all ``[R, T]`` unless stated."""

    prediction: torch.Tensor
    baseline: torch.Tensor
    trend: torch.Tensor
    seasonality: torch.Tensor
    controls: torch.Tensor  # [R, T, K] contribution per control
    media: torch.Tensor  # [R, T, C] contribution per channel
    media_coef: torch.Tensor  # [R, T, C]
    modulation: torch.Tensor  # [R, T, C + K] GRU output in [-m, m]


class MMMNet(nn.Module):
    """The network. Construct with sizes, call ``initialise_from_data`` once, then ``forward(inputs)``."""

    def __init__(self, n_regions: int, n_channels: int, n_controls: int, config: ModelConfig = ModelConfig()):
        super().__init__()
        self.config = config
        R, C, K, H = n_regions, n_channels, n_controls, config.hidden_size
        self.n_regions, self.n_channels, self.n_controls = R, C, K
        self.baseline_raw = nn.Parameter(torch.full((R,), transforms.inverse_softplus(1.0 - config.media_init_share)))
        self.trend_slope = nn.Parameter(torch.zeros(()))
        self.trend_slope_region = nn.Parameter(torch.zeros(R))
        self.season_coef = nn.Parameter(torch.ones(()))
        self.season_coef_region = nn.Parameter(torch.zeros(R))
        self.season_shape_correction = nn.Parameter(torch.zeros(2 * POOLED_HARMONICS))
        n_holidays = len(config.holidays)
        self.holiday_coef = nn.Parameter(torch.zeros(n_holidays))
        self.holiday_region = nn.Parameter(torch.zeros(R, n_holidays))
        self.media_max_raw = nn.Parameter(torch.full((C,), transforms.inverse_softplus(config.media_coef_max_init)))
        # Each channel starts at media_init_share / C of the KPI at hill = 1/2.
        level = 2.0 * config.media_init_share / (C * config.media_coef_max_init)
        self.media_level = nn.Parameter(torch.full((C,), logit(min(level, 0.5))))
        self.media_region = nn.Parameter(torch.zeros(R, C))
        self.control_coef = nn.Parameter(torch.zeros(K))
        self.control_region = nn.Parameter(torch.zeros(R, K))
        self.adstock = Adstock(C, config.adstock_max_lag_weeks, config.adstock_decay_max, config.adstock_decay_init,
                               config.adstock_peak_lag, config.adstock_peak_lag_max_weeks,
                               config.adstock_peak_lag_init_weeks, config.adstock_learn_tail, config.adstock_tail_init)
        self.saturation = HillSaturation(C, config.hill_slope_min, config.hill_slope_max, config.hill_slope_init,
                                         config.hill_half_saturation_quantile)
        self.gru = nn.GRU(C + K, H, batch_first=True)
        self.head = nn.Linear(H, C + K)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)
        self.dag = ChannelDag(C, config.dag_upper_triangular) if config.dag else None
        # [C] highest weekly scaled activity over the observed training region-weeks (inf: not set, e.g. a
        # model saved before it existed): the response reads activity through ``transforms.soft_ceiling``.
        self.register_buffer("observed_activity_max", torch.full((C,), float("inf")))
        # [R] fixed factor of each region's media coefficients (``scaling.per_capita_region_scale``; ones: each
        # region's coefficient is a share of its own KPI, as models saved before it were fitted).
        self.register_buffer("media_region_scale", torch.ones(R))

    # -- constrained parameters ---------------------------------------------------------------
    def media_coef_max(self) -> torch.Tensor:
        """``[C]`` learnable bound of each channel's coefficient (scaled KPI units)."""
        return F.softplus(self.media_max_raw)

    def adjacency(self) -> torch.Tensor | None:
        return None if self.dag is None else self.dag.adjacency()

    @torch.no_grad()
    def initialise_from_data(self, media: torch.Tensor, observed: torch.Tensor) -> None:
        """Half-saturation from the data (``HillSaturation.initialise``): a quantile of each channel's
        adstocked scaled activity over active observed weeks; and each channel's highest weekly activity
        (``observed_activity_max``). media ``[R, T, C]`` scaled, observed ``[R, T]`` bool."""
        self.observed_activity_max.copy_(torch.where(observed[..., None], media, 0.0).amax(dim=(0, 1)))
        adstocked = self.adstock(self._pad(media), media.shape[1])
        self.saturation.initialise(adstocked, observed[..., None] & (media > 0))

    # -- forward ------------------------------------------------------------------------------
    def _pad(self, x: torch.Tensor) -> torch.Tensor:
        """Prepend ``L - 1`` presample weeks to ``[R, T, X]`` (mean of the first L weeks, or zeros)."""
        lag = self.config.adstock_max_lag_weeks
        if lag <= 1:
            return x
        if self.config.presample == "mean":
            head = x[:, :lag].mean(dim=1, keepdim=True)
        else:
            head = torch.zeros_like(x[:, :1])
        return torch.cat([head.expand(-1, lag - 1, -1), x], dim=1)

    def within_observed_range(self, media: torch.Tensor, channels: torch.Tensor | None = None) -> torch.Tensor:
        """Scaled media ``[R, T, C]`` as the model reads it: unchanged up to each channel's highest training
        activity, softly capped above it (``transforms.soft_ceiling`` with ``EXTRAPOLATION_HEADROOM``), so a
        forecast, curve or budget at several times the observed activity cannot ride a curve the data never
        pinned. Training never reaches the cap, so the fit is the same with or without it. With ``channels``
        (indices ``[S]``) ``media`` holds only those channels' columns."""
        ceiling = self.observed_activity_max if channels is None else self.observed_activity_max[channels]
        return transforms.soft_ceiling(media, ceiling, EXTRAPOLATION_HEADROOM)

    def media_response(self, media: torch.Tensor, channels: torch.Tensor | None = None) -> torch.Tensor:
        """Saturated carried-over activity ``hill(adstock(media))`` in [0, 1), ``[R, T, C]``; with ``channels``
        (indices ``[S]``) of the columns ``media`` ``[R, T, S]`` holds: a counterfactual that changes a few
        channels recomputes only theirs."""
        media = self.within_observed_range(media, channels)
        return self.saturation(self.adstock(self._pad(media), media.shape[1], channels), channels)

    def media_coefficient(self, modulation: torch.Tensor, regions: torch.Tensor | None = None,
                          shared_only: bool = False) -> torch.Tensor:
        """``[R, T, C]`` media coefficients ``media_region_scale_r * softplus(max_c) * sigmoid(level_c + region_rc +
        modulation_rtc)`` from the media part of the modulation ``[R, T, C]``; with ``regions`` (indices ``[S]``)
        ``modulation`` holds those regions' rows. ``shared_only`` holds the region deviations and the modulation
        fixed (no gradient): only the channel's shared level and bound can move the result (the lift tests' term,
        ``calibration``)."""
        region = self.media_region if regions is None else self.media_region[regions]
        if shared_only:
            region, modulation = region.detach(), modulation.detach()
        scale = self.media_region_scale if regions is None else self.media_region_scale[regions]
        return self.media_coef_max() * scale[:, None, None] * torch.sigmoid(self.media_level + region[:, None, :] + modulation)

    def modulation(self, media: torch.Tensor, controls: torch.Tensor) -> torch.Tensor:
        """GRU modulation ``[R, T, C + K]`` in [-modulation_max, modulation_max]."""
        n_weeks = media.shape[1]
        media = self.within_observed_range(media)
        features = self._pad(torch.cat([torch.log1p(media), controls], dim=-1))  # [R, L-1+T, C+K]
        hidden = gru_hidden(self.gru, features)
        return self.config.modulation_max * torch.tanh(self.head(hidden[:, -n_weeks:]))

    def forward(self, inputs: ModelInputs, media_override: torch.Tensor | None = None) -> ModelOutput:
        """inputs: see ``ModelInputs``. ``media_override`` ``[R, T, C]`` replaces the media in the response
        only (counterfactuals), keeping the GRU's modulation from the factual inputs so that a
        counterfactual changes exactly one thing: the channels' activity."""
        C = self.n_channels
        mod = self.modulation(inputs.media, inputs.controls)  # [R, T, C+K]
        media = inputs.media if media_override is None else media_override
        media_coef = self.media_coefficient(mod[..., :C])
        media_part = media_coef * self.media_response(media)  # [R, T, C]
        control_coef = (self.control_coef + self.control_region)[:, None, :] * (1.0 + mod[..., C:])
        control_part = control_coef * inputs.controls  # [R, T, K]
        R, T = media.shape[:2]
        baseline = F.softplus(self.baseline_raw)[:, None].expand(R, T)
        if self.config.trend:
            trend = (self.trend_slope + self.trend_slope_region)[:, None] * inputs.trend_time[None, :]
        else:
            trend = torch.zeros_like(baseline)
        # Data-derived profile plus a learnable correction of the shared shape (fitted jointly with media,
        # so media can claim national variation the KPI-only profile absorbed) times a per-region coefficient.
        profile = inputs.season_profile + (inputs.season_basis @ self.season_shape_correction)[None, :]
        season = (self.season_coef + self.season_coef_region)[:, None] * profile
        if inputs.holidays is not None and self.holiday_coef.numel():
            # holiday lifts are part of the seasonality component (scaled KPI: share of the region mean)
            season = season + ((self.holiday_coef + self.holiday_region)[:, None, :] * inputs.holidays[None]).sum(-1)
        prediction = baseline + trend + season + control_part.sum(-1) + media_part.sum(-1)
        return ModelOutput(prediction, baseline, trend, season, control_part, media_part, media_coef, mod)


def trend_time(n_weeks_before: int, n_weeks: int, n_train_weeks: int, damping: float) -> torch.Tensor:
    """Trend regressor ``[n_weeks]`` in years for weeks ``n_weeks_before .. n_weeks_before + n_weeks - 1``
    counted from the first training week: linear up to the last training week, then each further week
    adds ``damping**h`` weeks (h = 1, 2, ...), so a forecast's trend flattens instead of running away."""
    t = torch.arange(n_weeks_before, n_weeks_before + n_weeks, dtype=torch.float64)
    last = float(n_train_weeks - 1)
    horizon = (t - last).clamp_min(0.0)
    if damping >= 1.0:
        damped = horizon
    else:
        damped = damping * (1.0 - damping ** horizon) / (1.0 - damping)
    return (torch.minimum(t, torch.tensor(last)) + damped) / 52.0
