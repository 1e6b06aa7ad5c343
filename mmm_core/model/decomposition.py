"""Additive decomposition of a prediction into named components in KPI units, and the channel table.

The model's prediction is a sum of parts in scaled units (see ``network.py``) and the KPI scaler is a
per-region multiplication, so multiplying each part by the region scale gives components that sum to
the prediction in KPI units; ``decompose`` checks this (relative error <= 1e-6) instead of trusting it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from mmm_core.data.contract import REGION, WEEK

COMPONENT_KINDS = ("baseline", "trend", "seasonality", "control", "channel")
ADDITIVITY_RTOL = 1e-6


class AdditivityError(AssertionError):
    """Components failed to sum to the prediction."""


@dataclass(frozen=True, eq=False)
class Decomposition:
    """Contributions per region, week and component.

    Attributes:
        regions: ``[R]`` names. weeks: ``[T]`` ``datetime64[D]``.
        components: ``[N]`` names: 'baseline', 'trend', 'seasonality', 'control:<name>', 'channel:<name>'.
        component_kinds: ``[N]`` one of ``COMPONENT_KINDS``.
        values: ``[R, T, N]`` contributions in KPI units.
        prediction: ``[R, T]`` predicted KPI; equals ``values.sum(-1)``.
    """

    regions: tuple[str, ...]
    weeks: np.ndarray
    components: tuple[str, ...]
    component_kinds: tuple[str, ...]
    values: np.ndarray
    prediction: np.ndarray

    def max_relative_error(self) -> float:
        """``max |sum(values) - prediction| / max(|prediction|, tiny)`` over region-weeks."""
        gap = np.abs(self.values.sum(-1) - self.prediction)
        return float((gap / np.maximum(np.abs(self.prediction), 1e-12)).max()) if gap.size else 0.0

    def totals(self) -> pd.Series:
        """Sum over regions and weeks per component, KPI units."""
        return pd.Series(self.values.sum(axis=(0, 1)), index=list(self.components))

    def channel(self, name: str) -> np.ndarray:
        """``[R, T]`` contribution of one channel."""
        return self.values[..., self.components.index(f"channel:{name}")]

    def to_frame(self, observed: np.ndarray | None = None) -> pd.DataFrame:
        """Long form: one row per (region, week, component) with columns region, week, component, kind, value.

        ``observed`` ``[R, T]`` bool keeps only those region-weeks (e.g. ``panel.observed``: weeks absent
        from the input are predicted but are not data)."""
        R, T, N = self.values.shape
        frame = pd.DataFrame({
            REGION: np.repeat(np.asarray(self.regions, dtype=object), T * N),
            WEEK: np.tile(np.repeat(pd.to_datetime(self.weeks).values, N), R),
            "component": np.tile(np.asarray(self.components, dtype=object), R * T),
            "kind": np.tile(np.asarray(self.component_kinds, dtype=object), R * T),
            "value": self.values.reshape(-1),
        })
        if observed is None:
            return frame
        return frame[np.repeat(np.asarray(observed, dtype=bool).reshape(-1), N)].reset_index(drop=True)


def build_decomposition(regions, weeks, channels, control_names, scale: np.ndarray,
                        baseline: np.ndarray, trend: np.ndarray, seasonality: np.ndarray,
                        controls: np.ndarray, media: np.ndarray, prediction: np.ndarray) -> Decomposition:
    """Assemble a ``Decomposition`` from scaled parts (float64 numpy).

    scale ``[R]`` KPI units per scaled unit; baseline, trend, seasonality, prediction ``[R, T]``;
    controls ``[R, T, K]``; media ``[R, T, C]``. Raises ``AdditivityError`` if the parts do not sum.
    """
    parts = [baseline[..., None], trend[..., None], seasonality[..., None], controls, media]
    scaled = np.concatenate(parts, axis=-1).astype(np.float64)  # [R, T, N]
    values = scaled * scale[:, None, None]
    names = (["baseline", "trend", "seasonality"] + [f"control:{k}" for k in control_names]
             + [f"channel:{c}" for c in channels])
    kinds = ["baseline", "trend", "seasonality"] + ["control"] * len(control_names) + ["channel"] * len(channels)
    decomposition = Decomposition(tuple(regions), np.asarray(weeks, dtype="datetime64[D]"), tuple(names),
                                  tuple(kinds), values, np.asarray(prediction, np.float64) * scale[:, None])
    err = decomposition.max_relative_error()
    if not err <= ADDITIVITY_RTOL:
        raise AdditivityError(f"components miss the prediction by a relative {err:.3g} (> {ADDITIVITY_RTOL})")
    return decomposition


def channel_table(channels, spend: np.ndarray, direct: np.ndarray, total: np.ndarray,
                  mediated: np.ndarray | None = None, induced: np.ndarray | None = None) -> pd.DataFrame:
    """One row per channel: channel, spend, direct_contribution, total_contribution, share, roi, direct_roi,
    own_contribution, mediated_contribution, induced_contribution.

    spend, direct, total, mediated, induced ``[C]`` summed over the same region-weeks (currency, then KPI
    units). The two contributions answer different questions, and the parts show how they differ:

    - ``direct`` is the channel's term of the decomposition: the KPI from all of its activity, including
      activity its DAG parents caused. Terms add up to the prediction; ``share`` is the channel's share
      of all channels' direct contribution (sums to 1 when they are positive).
    - ``total`` is the counterfactual: the prediction minus the prediction with the channel's own
      activity switched off (``MMM.counterfactual``), so it includes what the channel causes in its DAG
      children and leaves out what its parents caused in it. It can be below ``direct`` for a DAG child.
      ``roi = total / spend``, ``direct_roi = direct / spend``.
    - ``mediated`` is the channel's term when its own activity is off: the part of ``direct`` its parents
      caused; ``own = direct - mediated``; ``induced = total - own`` is what it causes in its children
      (both 0 without DAG edges, where total equals direct).

    Only direct contributions add up to the media part of the prediction: a parent's induced part (the
    child's term lost with the parent's own activity) differs from the child's mediated part (its term
    from the parent-caused activity alone) wherever the Hill curve bends.
    """
    mediated = np.zeros_like(direct) if mediated is None else mediated
    induced = total - (direct - mediated) if induced is None else induced
    direct_sum = direct.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        share = direct / direct_sum if direct_sum != 0 else np.zeros_like(direct)
        roi = np.where(spend > 0, total / spend, np.nan)
        direct_roi = np.where(spend > 0, direct / spend, np.nan)
    return pd.DataFrame({"channel": list(channels), "spend": spend, "direct_contribution": direct,
                         "total_contribution": total, "share": share, "roi": roi, "direct_roi": direct_roi,
                         "own_contribution": direct - mediated, "mediated_contribution": mediated,
                         "induced_contribution": induced})
