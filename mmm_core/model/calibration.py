"""Lift tests in the model: each experiment's counterfactual lift as the model computes it, and its loss term.

An experiment (``data.experiments.LiftTest``) says that the channel's own spend × m in some regions over
some weeks moved the KPI by ``lift`` ± ``lift_se`` over those regions and the test plus cool-down weeks. The
model's lift for it is the counterfactual the model reports contributions with (``MMM.counterfactual``):
the channel's own activity × m in the test cells (activity moves with spend), the change propagated along
the channel graph to its descendants, carried over by each channel's adstock and read through its Hill
curve, with the factual GRU modulation held; summed over the measurement cells in KPI units.

In training each experiment adds ``weight * ROI_PRIOR_LOG_SD**2 / C * z_e**2`` to the loss, with
``z_e = (model lift - lift) / lift_se`` and C the channels with spend: the units of the exchangeable-ROI prior
(``priors``), which adds ``roi_pooling / C * dev_c**2`` for a channel's relative ROI deviation ``dev_c`` and
states a spread of ``ROI_PRIOR_LOG_SD``. In those units an experiment is one more Gaussian measurement of the
channel's level: a test whose lift is known to ±10 % outweighs the prior (±50 %) 25 to 1 and decides the
channel, one known to ±100 % barely moves it. Why not the experiments' likelihood against the fit term's:
the prior settles always-on channels because the panel cannot, at a weight far above a likelihood's, and a
test on the likelihood's scale could not move a channel away from it (measured: README).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import torch

from mmm_core.data.contract import Panel
from mmm_core.data.experiments import LiftTest
from mmm_core.model.dag import descendants, own_activity
from mmm_core.model.priors import ROI_PRIOR_LOG_SD
from mmm_core.model.transforms import scale_own_activity


@dataclass
class LiftTestData:
    """The experiments a fit sees, as tensors over the training panel (E experiments, R regions, T weeks).

    channel ``[E]`` long; regions: E index tensors ``[S_e]`` (test regions); test_weeks, measured_weeks
    ``[E, T]`` bool; multiplier ``[E]`` (the test's own-activity factor); lift, lift_se ``[E]`` KPI units;
    kpi_scale ``[R]`` KPI units per scaled unit; observed ``[R, T]`` bool; adjacency ``[C, C]`` the channel graph
    the change propagates along; reach ``[E, C]`` bool, the channels each test's change reaches (its channel and
    the channel's descendants in the graph); n_channels the panel's channels with spend (``lift_test_term``'s C).
    Built once per fit: nothing here changes while the network trains."""

    channel: torch.Tensor
    regions: list[torch.Tensor]
    test_weeks: torch.Tensor
    measured_weeks: torch.Tensor
    multiplier: torch.Tensor
    lift: torch.Tensor
    lift_se: torch.Tensor
    kpi_scale: torch.Tensor
    observed: torch.Tensor
    adjacency: torch.Tensor
    reach: torch.Tensor
    n_channels: int

    def __len__(self) -> int:
        return len(self.regions)

    def to(self, device: torch.device, dtype: torch.dtype = torch.float32) -> "LiftTestData":
        """A copy on ``device``, real tensors in ``dtype``."""
        real = lambda t: t.to(device, dtype)  # noqa: E731
        return LiftTestData(self.channel.to(device), [r.to(device) for r in self.regions],
                            self.test_weeks.to(device), self.measured_weeks.to(device), real(self.multiplier),
                            real(self.lift), real(self.lift_se), real(self.kpi_scale), self.observed.to(device),
                            real(self.adjacency), self.reach.to(device), self.n_channels)

    def with_lift(self, lift: torch.Tensor) -> "LiftTestData":
        """The same experiments with other measured lifts ``[E]`` (an ensemble member's draw)."""
        return dataclasses.replace(self, lift=lift.to(self.lift.dtype))


def usable(tests: tuple[LiftTest, ...] | list[LiftTest], panel: Panel) -> tuple[LiftTest, ...]:
    """The experiments whose test and cool-down weeks all lie in ``panel`` (a training panel): an experiment
    after the training window (or inside a holdout) is not trained on."""
    return tuple(t for t in tests if t.within(panel.weeks) and t.channel in panel.channels
                 and set(t.regions) <= set(panel.regions))


def lift_test_data(tests: tuple[LiftTest, ...], panel: Panel, kpi_scale: np.ndarray,
                   adjacency: np.ndarray | None) -> LiftTestData | None:
    """Tensors (float64) for ``tests`` (each must lie in ``panel``: ``usable``) over ``panel``; None when
    there are none. ``kpi_scale`` ``[R]`` is the KPI scaler's per-region scale, ``adjacency`` ``[C, C]`` the
    graph (None: no edges)."""
    if not tests:
        return None
    C = panel.n_channels
    graph = np.zeros((C, C)) if adjacency is None else np.asarray(adjacency, dtype=np.float64)
    channel = torch.as_tensor([panel.channels.index(t.channel) for t in tests], dtype=torch.long)
    cells = [t.cells(panel.regions, panel.weeks) for t in tests]
    f64 = lambda a: torch.as_tensor(np.asarray(a, dtype=np.float64))  # noqa: E731
    spend = np.where(panel.observed[..., None], np.nan_to_num(panel.spend), 0.0).sum(axis=(0, 1))
    return LiftTestData(
        channel=channel,
        regions=[torch.as_tensor(rows) for rows, _, _ in cells],
        test_weeks=torch.as_tensor(np.stack([test for _, test, _ in cells])),
        measured_weeks=torch.as_tensor(np.stack([measured for _, _, measured in cells])),
        multiplier=f64([t.spend_multiplier for t in tests]), lift=f64([t.lift for t in tests]),
        lift_se=f64([t.lift_se for t in tests]), kpi_scale=f64(kpi_scale),
        observed=torch.as_tensor(panel.observed), adjacency=f64(graph),
        reach=torch.as_tensor(descendants(graph))[channel] != 0, n_channels=int((spend > 0).sum()))


def model_lifts(net, media: torch.Tensor, modulation: torch.Tensor, data: LiftTestData,
                shared_only: bool = False) -> torch.Tensor:
    """``[E]`` KPI units: each experiment's lift as the model computes it (see the module docstring).

    net: the ``MMMNet``; media ``[R, T, C]`` scaled activity (the factual inputs); modulation ``[R, T, C + K]`` the
    factual forward pass's GRU modulation (held, as in every counterfactual). Only the test regions and the
    channels the change reaches are recomputed. ``shared_only`` (training): the value is the same, but its
    gradient reaches only what every region shares (the channel's level, bound, carry-over and curve), not
    the test regions' own deviations nor the modulation of the test weeks: a test in a random sample of
    regions measures the channel, and the local parameters would otherwise absorb it."""
    adjacency = data.adjacency.to(media.dtype)
    C = media.shape[-1]
    out = []
    for e, rows in enumerate(data.regions):
        c = int(data.channel[e])
        channels = torch.nonzero(data.reach[e]).flatten()
        sub = media[rows]  # [S, T, C]
        factor = torch.ones_like(sub[..., :1])  # [S, T, 1]: the tested channel's
        factor[:, data.test_weeks[e], 0] = data.multiplier[e].to(media.dtype)
        scaled = scale_own_activity(sub, own_activity(sub, adjacency), adjacency, factor, torch.tensor([c]), channels)
        change = net.media_response(scaled, channels) - net.media_response(sub[..., channels], channels)
        coef = net.media_coefficient(modulation[rows][..., :C], rows, shared_only)[..., channels]
        delta = (coef * change).sum(-1)  # [S, T] scaled KPI units
        cells = (data.measured_weeks[e][None, :] & data.observed[rows]).to(media.dtype)
        out.append(((delta * cells).sum(-1) * data.kpi_scale[rows].to(media.dtype)).sum())
    return torch.stack(out)


CONCAVITY_WEIGHT = 1.0
"""Weight of ``concavity_term``: strong enough to act as a bound (slopes end within a few % of 1)."""


def concavity_term(net, channels: torch.Tensor) -> torch.Tensor:
    """``sum_c max(0, log hill_slope_c)**2`` over the tested ``channels`` (indices): a channel with a lift test
    is read as concave (Hill slope <= 1) below its data. Without it the fit met a test with an S-curve whose
    steep part sat on the tested range and kept the channel's total at the prior's (measured: README); a
    concave curve through zero holds at least twice a halving test's lift below the tested range."""
    return torch.log(net.saturation.slope()[channels]).clamp_min(0.0).square().sum()


def lift_test_term(lifts: torch.Tensor, data: LiftTestData) -> torch.Tensor:
    """``ROI_PRIOR_LOG_SD**2 / C * sum_e z_e**2`` with C = ``data.n_channels`` (module docstring; times the weight
    in the loss): the experiments in the exchangeable-ROI prior's units. lifts ``[E]`` KPI units (``model_lifts``)."""
    z = (lifts - data.lift) / data.lift_se
    return ROI_PRIOR_LOG_SD ** 2 / max(data.n_channels, 1) * z.square().sum()
