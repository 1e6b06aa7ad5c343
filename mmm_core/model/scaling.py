"""Fitted scalers that put a ``Panel`` into the model's units and back.

Three scalers, each with ``fit`` / ``forward`` / ``inverse`` and a plain-array ``state_dict`` (no pickle):

* ``KpiScaler``: KPI divided by its region mean over observed training weeks. Linear and without an
  offset, so every additive component of a scaled prediction maps back to KPI units exactly by the same
  multiplication.
* ``MediaScaler``: activity divided by one positive number per channel (or per region-channel) so that
  the spend *level* survives: doubling a channel's activity doubles its scaled value. With a population
  the activity is first taken per capita (Meridian's convention) and one scale per channel is used, the
  channel's mean per-capita activity over active (non-zero, observed) region-weeks. Without a population
  each region-channel is divided by its own mean over active weeks (regions of different sizes then share
  one saturation curve in relative units).
* ``ControlScaler``: each control standardised (mean 0, sd 1) over observed training region-weeks.

Fitting happens on the training window only; ``forward`` works on any panel with the same regions and
channels (e.g. train + future weeks).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mmm_core.data.contract import DataContractError, Panel


def _masked_mean(values: np.ndarray, mask: np.ndarray, axis) -> np.ndarray:
    count = mask.sum(axis=axis)
    total = np.where(mask, values, 0.0).sum(axis=axis)
    return np.divide(total, count, out=np.full(np.shape(total), np.nan), where=count > 0)


@dataclass
class KpiScaler:
    """``kpi_scaled[r, t] = kpi[r, t] / scale[r]``; ``scale`` ``[regions]`` in KPI units (region mean)."""

    scale: np.ndarray | None = None

    def fit(self, panel: Panel) -> "KpiScaler":
        mean = _masked_mean(panel.kpi, panel.observed, axis=1)
        overall = float(np.nanmean(mean)) if np.isfinite(mean).any() else 1.0
        # A region with no observed week or an all-zero KPI falls back to the mean of the others.
        mean = np.where(np.isfinite(mean) & (mean > 0), mean, overall if overall > 0 else 1.0)
        self.scale = mean.astype(np.float64)
        return self

    def forward(self, kpi: np.ndarray) -> np.ndarray:
        """kpi ``[R, T]`` in KPI units -> scaled ``[R, T]`` (region mean 1 over training)."""
        return kpi / self.scale[:, None]

    def inverse(self, kpi_scaled: np.ndarray) -> np.ndarray:
        """Scaled ``[R, T, ...]`` -> KPI units; works for stacked components ``[R, T, N]`` as well."""
        scale = self.scale.reshape((-1,) + (1,) * (np.ndim(kpi_scaled) - 1))
        return kpi_scaled * scale

    def state_dict(self) -> dict[str, np.ndarray]:
        return {"scale": self.scale}

    @classmethod
    def from_state(cls, state: dict[str, np.ndarray]) -> "KpiScaler":
        return cls(scale=np.asarray(state["scale"], dtype=np.float64))


@dataclass
class MediaScaler:
    """``activity_scaled[r, t, c] = activity[r, t, c] / (size[r] * scale[r, c])``.

    ``size`` ``[regions]`` is the population (ones without one); ``scale`` ``[regions, channels]`` is in
    activity units per capita (identical rows when a population is given).
    """

    size: np.ndarray | None = None
    scale: np.ndarray | None = None

    def fit(self, panel: Panel) -> "MediaScaler":
        R, C = panel.n_regions, panel.n_channels
        if panel.population is not None:
            if np.any(panel.population <= 0):
                raise DataContractError("population must be positive to scale media per capita",
                                        column="population")
            size = panel.population.astype(np.float64)
        else:
            size = np.ones(R)
        per_capita = panel.activity / size[:, None, None]  # [R, T, C]
        active = panel.observed[..., None] & (per_capita > 0)  # [R, T, C]
        channel_mean = _masked_mean(per_capita, active, axis=(0, 1))  # [C]
        for c, channel in enumerate(panel.channels):
            if not np.isfinite(channel_mean[c]):
                raise DataContractError("channel has zero activity in every observed region-week",
                                        column=f"{channel} (activity)")
        if panel.population is not None:
            scale = np.broadcast_to(channel_mean, (R, C)).copy()
        else:
            region_mean = _masked_mean(per_capita, active, axis=1)  # [R, C]
            scale = np.where(np.isfinite(region_mean), region_mean, channel_mean[None, :])
        self.size, self.scale = size, scale
        return self

    def forward(self, activity: np.ndarray) -> np.ndarray:
        """activity ``[R, T, C]`` in input units -> scaled ``[R, T, C]`` (mean 1 over active weeks)."""
        return activity / (self.size[:, None, None] * self.scale[:, None, :])

    def inverse(self, activity_scaled: np.ndarray) -> np.ndarray:
        return activity_scaled * (self.size[:, None, None] * self.scale[:, None, :])

    def to_activity_units(self, scaled_value: np.ndarray) -> np.ndarray:
        """A per-channel value in scaled units ``[C]`` -> per-region activity units ``[R, C]``."""
        return np.asarray(scaled_value)[None, :] * self.size[:, None] * self.scale

    def state_dict(self) -> dict[str, np.ndarray]:
        return {"size": self.size, "scale": self.scale}

    @classmethod
    def from_state(cls, state: dict[str, np.ndarray]) -> "MediaScaler":
        return cls(size=np.asarray(state["size"], dtype=np.float64),
                   scale=np.asarray(state["scale"], dtype=np.float64))


@dataclass
class ControlScaler:
    """``controls_scaled[..., k] = (controls[..., k] - mean[k]) / sd[k]``; constant controls get sd 1."""

    mean: np.ndarray | None = None
    sd: np.ndarray | None = None

    def fit(self, panel: Panel) -> "ControlScaler":
        K = panel.n_controls
        if K == 0:
            self.mean, self.sd = np.zeros(0), np.ones(0)
            return self
        mask = np.broadcast_to(panel.observed[..., None], panel.controls.shape)
        mean = _masked_mean(panel.controls, mask, axis=(0, 1))
        var = _masked_mean((panel.controls - mean) ** 2, mask, axis=(0, 1))
        sd = np.sqrt(var)
        self.mean = np.nan_to_num(mean)
        self.sd = np.where(np.isfinite(sd) & (sd > 1e-12), sd, 1.0)
        return self

    def forward(self, controls: np.ndarray) -> np.ndarray:
        """controls ``[R, T, K]`` -> standardised ``[R, T, K]``."""
        return (controls - self.mean) / self.sd

    def inverse(self, controls_scaled: np.ndarray) -> np.ndarray:
        return controls_scaled * self.sd + self.mean

    def state_dict(self) -> dict[str, np.ndarray]:
        return {"mean": self.mean, "sd": self.sd}

    @classmethod
    def from_state(cls, state: dict[str, np.ndarray]) -> "ControlScaler":
        return cls(mean=np.asarray(state["mean"], dtype=np.float64), sd=np.asarray(state["sd"], dtype=np.float64))


def per_capita_region_scale(kpi: KpiScaler, population: np.ndarray | None) -> np.ndarray:
    """``[R]`` each region's people per unit of scaled KPI (``population / kpi.scale``) over its mean across
    regions; ones without a population. A region's media coefficients carry this factor
    (``MMMNet.media_region_scale``), so the shared part of a coefficient is one effect per capita, as
    Meridian's are, and the regularised region deviations pull toward equal effects per person, not toward
    equal shares of each region's KPI. Why: where regions sell different amounts per person for reasons
    other than media, one shared share of KPI gives the high-selling regions too much media (own simulator,
    ``flighted``: model over true media per region correlated 0.68-0.83 with base sales per capita; README)."""
    if population is None:
        return np.ones(len(kpi.scale))
    people_per_unit = np.asarray(population, dtype=np.float64) / kpi.scale
    return people_per_unit / people_per_unit.mean()


@dataclass
class PanelScaler:
    """The three scalers together, fitted on one training panel."""

    kpi: KpiScaler
    media: MediaScaler
    controls: ControlScaler

    @classmethod
    def fit(cls, panel: Panel) -> "PanelScaler":
        return cls(KpiScaler().fit(panel), MediaScaler().fit(panel), ControlScaler().fit(panel))

    def state_dict(self) -> dict[str, np.ndarray]:
        out = {}
        for prefix, scaler in (("kpi", self.kpi), ("media", self.media), ("controls", self.controls)):
            out.update({f"{prefix}.{k}": v for k, v in scaler.state_dict().items()})
        return out

    @classmethod
    def from_state(cls, state: dict[str, np.ndarray]) -> "PanelScaler":
        def part(prefix: str) -> dict[str, np.ndarray]:
            return {k.split(".", 1)[1]: v for k, v in state.items() if k.startswith(prefix + ".")}
        return cls(KpiScaler.from_state(part("kpi")), MediaScaler.from_state(part("media")),
                   ControlScaler.from_state(part("controls")))
