"""Yearly seasonality per region, indexed by calendar position so that it extrapolates.

The profile of region r is ``profile[r](t) = pooled(t) + sum_j coef[r, j] * basis_j(t)``:

* ``pooled`` is one smooth yearly shape shared by all regions: ``POOLED_HARMONICS`` Fourier terms of
  the day of year fitted to the cross-region mean of the scaled KPI minus its trend. The trend is
  statsmodels' ``seasonal_decompose`` trend (centred 52-week moving average, additive) when the window
  holds two full years, else a straight line. Averaging over regions first keeps one region's noise
  out. The shape is smooth on purpose: a free 52-week table would also copy last year's media flights
  into this year's "seasonality" (and compete with nationally flighted media for the same weekly variation).
* ``coef`` ``[regions, 2 * n_harmonics]`` is each region's smooth departure from the pooled shape
  (low-order Fourier terms of the day of year), fitted by least squares per region to what the pooled
  shape leaves (with a level and a linear trend): the profile is pooled + departures, so the pooled
  shape enters with coefficient 1 (the network scales the whole profile per region).

A week is looked up by its own calendar row, so a future week, or a week in another year, gets the
value of its place in the year, never a copy of some other week's.
Units: the units of the series fitted (scaled KPI, region mean 1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mmm_core.data.calendar import WEEKS_PER_YEAR, fourier_basis

POOLED_HARMONICS = 6
"""Fourier harmonics of the shared yearly shape (periods down to about two months)."""


@dataclass
class YearlySeasonality:
    """Calendar-indexed yearly profiles.

    Attributes:
        n_harmonics: Fourier harmonics of the per-region departures.
        pooled_coef: ``[2 * POOLED_HARMONICS]`` Fourier coefficients of the shared yearly shape.
        coef: ``[regions, 2 * n_harmonics]`` per-region departures.
    """

    n_harmonics: int = 2
    pooled_coef: np.ndarray | None = None
    coef: np.ndarray | None = None

    def fit(self, weeks: np.ndarray, series: np.ndarray, observed: np.ndarray | None = None) -> "YearlySeasonality":
        """weeks ``[T]``; series ``[R, T]`` (scaled KPI); observed ``[R, T]`` bool (default all True)."""
        series = np.asarray(series, dtype=np.float64)
        R, T = series.shape
        observed = np.ones((R, T), bool) if observed is None else np.asarray(observed, bool)
        self._fit_pooled(weeks, series, observed)
        pooled = fourier_basis(weeks, POOLED_HARMONICS) @ self.pooled_coef
        basis = fourier_basis(weeks, self.n_harmonics)  # [T, 2H]
        t = np.arange(T, dtype=np.float64) / WEEKS_PER_YEAR
        design = np.column_stack([np.ones(T), t, basis])
        coef = np.zeros((R, basis.shape[1]))
        for r in range(R):
            mask = observed[r]
            if self.n_harmonics and mask.sum() >= WEEKS_PER_YEAR:
                residual = series[r] - pooled  # what the pooled shape leaves to the region
                sol, *_ = np.linalg.lstsq(design[mask], residual[mask], rcond=None)
                coef[r] = sol[2:]
        self.coef = coef
        return self

    def _fit_pooled(self, weeks: np.ndarray, series: np.ndarray, observed: np.ndarray) -> None:
        T = series.shape[1]
        count = observed.sum(axis=0)
        mean = np.where(observed, series, 0.0).sum(axis=0) / np.maximum(count, 1)  # [T]
        have = count > 0
        values = np.zeros(2 * POOLED_HARMONICS)
        if have.sum() >= WEEKS_PER_YEAR // 2:
            t = np.arange(T, dtype=np.float64)
            if T >= 2 * WEEKS_PER_YEAR and have.all():
                from statsmodels.tsa.seasonal import seasonal_decompose

                trend = seasonal_decompose(mean, model="additive", period=WEEKS_PER_YEAR,
                                           extrapolate_trend=WEEKS_PER_YEAR // 2).trend
            else:
                slope, level = np.polyfit(t[have], mean[have], 1)
                trend = level + slope * t
            detrended = mean - trend
            basis = fourier_basis(weeks, POOLED_HARMONICS)
            sol, *_ = np.linalg.lstsq(basis[have], detrended[have], rcond=None)
            values = sol
        self.pooled_coef = values

    def profile(self, weeks: np.ndarray) -> np.ndarray:
        """``[R, T]`` seasonal profile for any weeks (training, future or past)."""
        # Row-wise sums, not matrix products: a BLAS product's rounding depends on how many weeks are
        # asked for, and a week must get the same value in a training and in a forecast panel.
        pooled = (fourier_basis(weeks, POOLED_HARMONICS) * self.pooled_coef).sum(-1)
        departures = (fourier_basis(weeks, self.n_harmonics)[None, :, :] * self.coef[:, None, :]).sum(-1)
        return pooled[None, :] + departures

    def state_dict(self) -> dict[str, np.ndarray]:
        return {"pooled_coef": self.pooled_coef, "coef": self.coef}

    @classmethod
    def from_state(cls, state: dict[str, np.ndarray]) -> "YearlySeasonality":
        coef = np.asarray(state["coef"], dtype=np.float64)
        return cls(n_harmonics=coef.shape[1] // 2, pooled_coef=np.asarray(state["pooled_coef"], np.float64),
                   coef=coef)
