"""The observed range of each channel: the highest weekly activity a fitted model was trained on, and how far
a curve point, a budget allocation or a forecast week goes beyond it.

A model's response beyond the highest activity it saw is extrapolation: nothing in the data pins the shape of
the curve there. Everything that scales activity (``analysis.curves``, ``planning.scenarios``) or forecasts
weeks after training reports

    ratio_to_observed_max[r, c] = activity used[r, c] / highest observed weekly activity[r, c]
    beyond_observed_range       = ratio_to_observed_max > 1 (to float rounding, ``BEYOND_TOLERANCE``)

The unit is **weekly activity** (impressions, GRPs, ... as input), per region and channel, because activity,
not spend, is what the model's adstock and saturation see, one region-week at a time: a curve or budget in
currency over a planning window is turned into activity by its spend multiplier (spend and activity scale
together in the curves) applied to each window week, and the busiest week decides. Per region because the
model saturates each region on its own activity; a national row (one multiplier in every region) takes its
largest region ratio.

The maxima are taken over the observed region-weeks of the panel that fall on the model's training weeks
(``MMM.train_weeks_``, which a saved model keeps), so a panel that runs past training (a forecast, a holdout)
does not widen the range. The saved model does not store the maxima themselves; they are derived here from
the panel handed to the curve, budget or forecast function, which must contain the training weeks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mmm_core.data.contract import Panel
from mmm_core.model.estimator import MMM

BEYOND_TOLERANCE = 1e-9
"""Relative slack above 1 before a ratio counts as beyond the range (a multiplier of 1 on the peak week
computed through a spend division must not be flagged by rounding)."""


def beyond_observed_range(ratio: np.ndarray) -> np.ndarray:
    """``ratio_to_observed_max > 1`` beyond float rounding (bool, same shape)."""
    return np.asarray(ratio) > 1.0 + BEYOND_TOLERANCE


@dataclass(frozen=True)
class ObservedRange:
    """``max_activity`` ``[R, C]``: each region-channel's highest weekly activity (input activity units) over
    the observed training region-weeks; 0 where the channel was never active in the region."""

    regions: tuple[str, ...]
    channels: tuple[str, ...]
    max_activity: np.ndarray

    @classmethod
    def of(cls, mmm: MMM, panel: Panel) -> "ObservedRange":
        """The range ``mmm`` was trained on, read from ``panel``'s weeks that are training weeks."""
        training = np.isin(panel.weeks, mmm.train_weeks_)
        if not training.any():
            raise ValueError(f"panel weeks {panel.weeks[0]}..{panel.weeks[-1]} hold none of the model's training "
                             f"weeks ({mmm.train_weeks_[0]}..{mmm.train_weeks_[-1]}): the observed range is unknown")
        seen = (panel.observed & training[None, :])[..., None]  # [R, T, 1]
        peak = np.where(seen, panel.activity, 0.0).max(axis=1)  # [R, C]; activity >= 0
        return cls(panel.regions, panel.channels, peak.astype(np.float64))

    def ratio(self, activity: np.ndarray) -> np.ndarray:
        """``activity`` ``[R, ..., C]`` (input units, e.g. ``[R, T, C]`` of a forecast panel or ``[R, C]``) over
        the region-channel's highest observed weekly activity. 0 where no activity is used; infinite where a
        region-channel never seen active is used."""
        activity = np.asarray(activity, dtype=np.float64)
        peak = self.max_activity.reshape((self.max_activity.shape[0],) + (1,) * (activity.ndim - 2) + (-1,))
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(activity > 0, activity / peak, 0.0)

    def beyond(self, activity: np.ndarray) -> np.ndarray:
        """``ratio(activity) > 1``: where ``activity`` leaves the observed range (bool, same shape)."""
        return beyond_observed_range(self.ratio(activity))
