"""Yearly seasonality per region, indexed by calendar position so that it extrapolates.

The profile of region r is ``profile[r](t) = pooled(t) + sum_j coef[r, j] * basis_j(t)``:

* ``pooled`` is one smooth yearly shape shared by all regions: ``POOLED_HARMONICS`` Fourier terms of
  the day of year fitted to the cross-region mean of the scaled KPI minus its trend. The trend is
  statsmodels' ``seasonal_decompose`` trend (centred 52-week moving average, additive) when the window
  holds two full years, else a straight line. Averaging over regions first keeps one region's noise
  out. The shape is smooth on purpose: a free 52-week table would also copy last year's media flights
  into this year's "seasonality" (and compete with nationally flighted media for the same weekly variation).
  Each harmonic of the pooled shape is then shrunk by how well the years agree on it
  (``repeat_agreement``): a yearly shape is what repeats, so a one-off bump in one year (a launch, an
  outage, a news spike), which a least-squares fit over two years would copy at half its size into
  every later year, is kept only to the extent the other years show it too. The network's learnable
  correction of the shape (``network.MMMNet``) keeps every harmonic: that correction is where the joint
  fit takes media patterns back out of the KPI-only shape, and bounding it by the same factors cost
  attribution on the outside generator (figures in the README).
* ``coef`` ``[regions, 2 * n_harmonics]`` is each region's smooth departure from the pooled shape
  (low-order Fourier terms of the day of year), fitted by least squares per region to what the pooled
  shape leaves (with a level and a linear trend). They are not shrunk: one region's years are too noisy
  to tell a repeating departure from a one-off one, and shrinking them lost real regional amplitude
  (README).

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

MIN_WEEKS_PER_YEAR = 39
"""Fewest usable weeks of a year (a 52-week block, the last one possibly cut short) that votes in
``repeat_agreement``: three quarters of a year, so the usual two-year window less a 13-week holdout (91 or
96 weeks) already compares two years."""


def repeat_agreement(weeks: np.ndarray, series: np.ndarray, have: np.ndarray, n_harmonics: int) -> np.ndarray:
    """``[n_harmonics]`` in [0, 1]: how far consecutive 52-week blocks (years; the last may be shorter) of
    ``series`` ``[T]`` agree on each yearly harmonic; ``have`` ``[T]`` bool marks usable weeks.

    Each of the Y years gets its own least-squares Fourier coefficients a_y (sine and cosine of harmonic h).
    For a shape s that repeats plus whatever happens once or at random (e_y), the mean cross product of
    different years ``S = mean_{y != y'} <a_yh, a_y'h>`` estimates ``|s|^2`` and the mean power
    ``mean_y |a_yh|^2`` estimates ``|s|^2 + |e|^2``, so ``N`` = power - S estimates ``|e|^2``. The fit over
    all Y years averages the e_y, whose power falls to N / Y, and the factor is the one that shrinks that
    average by its signal share: ``S / (S + N / Y)`` (S clipped at 0). A bump in one year of two, on a
    harmonic with no repeating shape, gets 0; a harmonic that repeats and is disturbed by something else
    (media flights, noise) keeps most of its size. With fewer than two usable years nothing can be
    checked and every harmonic keeps factor 1.
    """
    basis = fourier_basis(weeks, n_harmonics)  # [T, 2H]
    coefs = []
    for start in range(0, len(series), WEEKS_PER_YEAR):
        block = slice(start, start + WEEKS_PER_YEAR)
        mask = have[block]
        if mask.sum() >= MIN_WEEKS_PER_YEAR:
            sol, *_ = np.linalg.lstsq(basis[block][mask], series[block][mask], rcond=None)
            coefs.append(sol.reshape(2, n_harmonics))  # (sine, cosine) x harmonic
    if len(coefs) < 2:
        return np.ones(n_harmonics)
    a = np.stack(coefs)  # [Y, 2, H]
    power = (a ** 2).sum(axis=1).mean(axis=0)  # [H]
    pairs = [(i, j) for i in range(len(a)) for j in range(len(a)) if i != j]
    signal = np.clip(np.mean([(a[i] * a[j]).sum(axis=0) for i, j in pairs], axis=0), 0.0, None)  # [H]
    noise = np.clip(power - signal, 0.0, None) / len(a)
    total = signal + noise
    return np.divide(signal, total, out=np.zeros_like(total), where=total > 0)


@dataclass
class YearlySeasonality:
    """Calendar-indexed yearly profiles.

    Attributes:
        n_harmonics: Fourier harmonics of the per-region departures.
        pooled_coef: ``[2 * POOLED_HARMONICS]`` Fourier coefficients of the shared yearly shape (after shrinkage).
        coef: ``[regions, 2 * n_harmonics]`` per-region departures.
        agreement: ``[POOLED_HARMONICS]`` ``repeat_agreement`` of each pooled harmonic (ones for a model saved
            before it existed).
    """

    n_harmonics: int = 2
    pooled_coef: np.ndarray | None = None
    coef: np.ndarray | None = None
    agreement: np.ndarray | None = None

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
        values, agreement = np.zeros(2 * POOLED_HARMONICS), np.ones(POOLED_HARMONICS)
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
            agreement = repeat_agreement(weeks, detrended, have, POOLED_HARMONICS)
            values = sol * np.tile(agreement, 2)
        self.pooled_coef, self.agreement = values, agreement

    def profile(self, weeks: np.ndarray) -> np.ndarray:
        """``[R, T]`` seasonal profile for any weeks (training, future or past)."""
        # Row-wise sums, not matrix products: a BLAS product's rounding depends on how many weeks are
        # asked for, and a week must get the same value in a training and in a forecast panel.
        pooled = (fourier_basis(weeks, POOLED_HARMONICS) * self.pooled_coef).sum(-1)
        departures = (fourier_basis(weeks, self.n_harmonics)[None, :, :] * self.coef[:, None, :]).sum(-1)
        return pooled[None, :] + departures

    def state_dict(self) -> dict[str, np.ndarray]:
        return {"pooled_coef": self.pooled_coef, "coef": self.coef, "agreement": self.agreement}

    @classmethod
    def from_state(cls, state: dict[str, np.ndarray]) -> "YearlySeasonality":
        coef = np.asarray(state["coef"], dtype=np.float64)
        agreement = np.asarray(state.get("agreement", np.ones(POOLED_HARMONICS)), np.float64)
        return cls(n_harmonics=coef.shape[1] // 2, pooled_coef=np.asarray(state["pooled_coef"], np.float64),
                   coef=coef, agreement=agreement)
