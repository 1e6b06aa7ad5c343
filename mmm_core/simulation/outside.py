"""A second, independent simulator in another function family, to check that accuracy generalises.

The project's own simulator (``simulator.py``) shares the model's function family: normalised adstock
kernels, Hill curves, a multiplicative seasonal profile. A model tuned on it alone could be good at
that family only. This generator follows the style of PyMC-Marketing's example data instead, with
every form the model does not have:

* carry-over: unnormalised geometric adstock ``sum_{l < 8} decay**l * x[t - l]``, decay ~ U(0.1, 0.7);
* diminishing returns: logistic saturation ``(1 - exp(-lam * a)) / (1 + exp(-lam * a))`` of the
  adstocked spend ``a`` (spend per capita over the channel's mean active spend per capita);
* KPI per region (additive, KPI units): ``size_r * (1 + trend * t + seasonal Fourier terms)``, plus an
  event dummy and a continuous index, plus ``size_r * beta_c * saturation``, times (1 + noise);
* spend: a channel is either flighted (bursts of 2-7 weeks on, 2-9 off) or always on (a level per
  region, a yearly swing of +-30 % with its own phase, and +-30 % weekly jitter).

``stress_weeks`` > 0 makes the last weeks a forecast stress case: each channel's spend there is its drawn
spend times a factor from U(2, 5) (a generator of its own, so the weeks before draw as without it),
while the logistic curves saturate; the activity index is set by the weeks before.

No channel graph, no missing weeks, no holidays: the truth is the additive media term per channel
(direct = total contribution). ``scenario`` picks where on the identifiability scale a panel sits:
``flighted`` (every channel seen at zero: curves identified), ``mixed``, ``always_on_linear`` (levels
follow from slopes: saturation nearly linear) and ``always_on_saturated`` (levels not in the data).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from mmm_core.data.contract import Panel

MAX_LAG = 8
"""Weeks of carry-over of the geometric adstock."""

SCENARIOS: dict[str, tuple[float, tuple[float, float]]] = {
    "flighted": (1.0, (0.5, 3.0)),
    "mixed": (0.5, (0.5, 3.0)),
    "always_on_linear": (0.0, (0.1, 0.5)),
    "always_on_saturated": (0.0, (0.5, 3.0)),
}
"""scenario -> (probability that a channel is flighted, range of the logistic saturation rate lam)."""


@dataclass(frozen=True)
class OutsideSimulation:
    """A panel and its truth. contribution ``[R, T, C]`` KPI units per channel (direct = total);
    adstock_decay, saturation_rate, coefficient ``[C]`` (coefficient in KPI units per capita at full
    saturation); flighted ``[C]`` bool."""

    panel: Panel
    contribution: np.ndarray
    adstock_decay: np.ndarray
    saturation_rate: np.ndarray
    coefficient: np.ndarray
    flighted: np.ndarray
    index_scale: np.ndarray
    """``[C]`` spend per capita that makes activity index 1."""
    noise_sd: np.ndarray
    """``[R, T]`` sd of the KPI noise, KPI units (``noise`` × the noiseless KPI)."""

    def media_kpi(self, spend: np.ndarray) -> np.ndarray:
        """``[R, T]`` the media part of the noiseless KPI for ``spend`` ``[R, T, C]`` (currency)."""
        return media_contribution(spend, self.panel.population, self.index_scale, self.adstock_decay,
                                  self.saturation_rate, self.coefficient).sum(-1)

    def true_contributions(self, panel: Panel | None = None) -> pd.DataFrame:
        """Per channel over the weeks of ``panel`` (a leading slice of this panel; default all):
        direct_contribution, total_contribution, spend, share (of media), roi. KPI units, currency."""
        T = (panel or self.panel).n_weeks
        direct = self.contribution[:, :T].sum(axis=(0, 1))
        spend = self.panel.spend[:, :T].sum(axis=(0, 1))
        return pd.DataFrame({"channel": list(self.panel.channels), "direct_contribution": direct,
                             "total_contribution": direct, "spend": spend, "share": direct / direct.sum(),
                             "roi": direct / spend})


def media_contribution(spend: np.ndarray, size: np.ndarray, index_scale: np.ndarray, decay: np.ndarray,
                       rate: np.ndarray, coefficient: np.ndarray) -> np.ndarray:
    """``[R, T, C]`` KPI units: each channel's term for ``spend`` ``[R, T, C]`` (module docstring): spend per
    capita (``size`` ``[R]``) over ``index_scale``, geometric adstock, logistic saturation, × coefficient × size."""
    index = spend / size[:, None, None] / index_scale
    T = index.shape[1]
    adstocked = np.zeros_like(index)
    for lag in range(MAX_LAG):
        adstocked[:, lag:] += decay ** lag * index[:, :T - lag]
    saturation = (1.0 - np.exp(-rate * adstocked)) / (1.0 + np.exp(-rate * adstocked))
    return coefficient * saturation * size[:, None, None]


def _spend(rng: np.random.Generator, flighted: bool, n_weeks: int) -> np.ndarray:
    """``[T]`` spend per capita, mean around 1 over active weeks."""
    level = rng.uniform(0.5, 1.5)
    if flighted:
        on = np.zeros(n_weeks, dtype=bool)
        t = 0
        while t < n_weeks:
            length = int(rng.integers(2, 8))
            on[t:t + length] = True
            t += length + int(rng.integers(2, 10))
        return np.where(on, level * rng.uniform(0.5, 1.5, n_weeks), 0.0)
    weeks = np.arange(n_weeks)
    swing = 1.0 + 0.3 * np.sin(2 * np.pi * weeks / 52.0 + rng.uniform(0, 2 * np.pi))
    return level * swing * rng.uniform(0.7, 1.3, n_weeks)


def simulate_outside(scenario: str = "flighted", seed: int = 0, n_regions: int = 20, n_weeks: int = 156,
                     n_channels: int = 4, noise: float = 0.05, stress_weeks: int = 0) -> OutsideSimulation:
    """Draw a panel (see the module docstring). ``noise`` is the sd of the multiplicative KPI noise;
    ``stress_weeks`` the length of the stress case at the end (0: none)."""
    if scenario not in SCENARIOS:
        raise ValueError(f"scenario must be one of {sorted(SCENARIOS)}, got {scenario!r}")
    flight_probability, rate_range = SCENARIOS[scenario]
    rng = np.random.default_rng(seed)
    R, T, C = n_regions, n_weeks, n_channels
    size = np.exp(rng.normal(0.0, 0.5, R)) * 1000.0
    decay = rng.uniform(0.1, 0.7, C)
    rate = rng.uniform(*rate_range, C)
    coefficient = rng.uniform(0.05, 0.25, C)
    flighted = rng.random(C) < flight_probability
    per_capita = np.stack([np.stack([_spend(rng, bool(flighted[c]), T) for c in range(C)], axis=-1)
                           for _ in range(R)])  # [R, T, C]
    calm = per_capita[:, :T - stress_weeks]
    index_scale = np.array([calm[..., c][calm[..., c] > 0].mean() for c in range(C)])
    if stress_weeks:
        per_capita[:, T - stress_weeks:] *= np.random.default_rng([seed, 16]).uniform(2.0, 5.0, C)
    contribution = media_contribution(per_capita * size[:, None, None], size, index_scale, decay, rate, coefficient)
    weeks = np.arange(T)
    angle = 2 * np.pi * weeks / 52.18
    base = size[:, None] * (1.0 + 0.002 * weeks + 0.1 * np.sin(angle) + 0.05 * np.cos(2 * angle))
    event = (rng.random((R, T)) < 0.05).astype(float)
    price_index = rng.normal(0.0, 1.0, (R, T))
    controls = size[:, None] * (0.08 * event + 0.02 * price_index)
    noiseless = base + controls + contribution.sum(-1)
    kpi = noiseless * (1.0 + noise * rng.normal(size=(R, T)))
    spend = per_capita * size[:, None, None]
    panel = Panel(regions=[f"region_{r:02d}" for r in range(R)],
                  weeks=np.datetime64("2022-01-03") + 7 * np.arange(T),
                  channels=[f"channel_{c}" for c in range(C)], control_names=["event", "price_index"],
                  kpi=kpi, spend=spend, activity=spend, controls=np.stack([event, price_index], axis=-1),
                  population=size)
    return OutsideSimulation(panel, contribution, decay, rate, coefficient, flighted, index_scale, noise * noiseless)
