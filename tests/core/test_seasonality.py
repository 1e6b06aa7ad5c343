"""Yearly seasonality: extrapolation by calendar position, recovery of a known shape."""

import numpy as np
import pytest

from mmm_core.data.calendar import fourier_basis, year_phase
from mmm_core.model.seasonality import YearlySeasonality


def _weeks(start="2021-01-04", n=130):
    return np.datetime64(start) + 7 * np.arange(n)


def test_year_phase_in_unit_interval_and_basis_shape():
    weeks = _weeks()
    phase = year_phase(weeks)
    assert (phase >= 0).all() and (phase < 1).all()
    assert fourier_basis(weeks, 3).shape == (len(weeks), 6)


def _seasonal_panel(n_weeks, seed=0):
    rng = np.random.default_rng(seed)
    weeks = _weeks(n=n_weeks)
    shape = np.cos(2 * np.pi * (year_phase(weeks) - 0.8))  # peak in late October
    amplitude = np.array([0.05, 0.1, 0.2])[:, None]
    t = np.arange(n_weeks) / 52
    series = 1 + 0.03 * t + amplitude * shape + rng.normal(0, 0.01, (3, n_weeks))
    return weeks, series, amplitude * shape


@pytest.mark.parametrize("n_weeks", [130, 70], ids=["seasonal_decompose", "short_window"])
def test_profile_recovers_a_known_yearly_shape(n_weeks):
    """The profile has the right shape; each region's amplitude is the model's learnable coefficient."""
    weeks, series, truth = _seasonal_panel(n_weeks)
    profile = YearlySeasonality(n_harmonics=2).fit(weeks, series).profile(weeks)
    for r in range(3):
        assert np.corrcoef(profile[r], truth[r])[0, 1] > 0.95
        coef = (profile[r] @ truth[r]) / (profile[r] @ profile[r])
        assert np.abs(coef * profile[r] - truth[r]).mean() < 0.2 * np.abs(truth[r]).mean()


def test_future_weeks_take_their_own_calendar_position():
    weeks, series, _ = _seasonal_panel(130)
    season = YearlySeasonality().fit(weeks, series)
    future = _weeks(str(weeks[-1] + 7), 60)
    same_week_a_year_later = future[np.argmin(np.abs((future - (weeks[-40] + 364)).astype(int)))]
    profile_train = season.profile(weeks[-40:-39])[:, 0]
    profile_future = season.profile(np.array([same_week_a_year_later]))[:, 0]
    np.testing.assert_allclose(profile_train, profile_future, atol=0.02)


def test_unobserved_weeks_are_ignored():
    weeks, series, truth = _seasonal_panel(130)
    observed = np.ones_like(series, bool)
    observed[0, 20:40] = False
    series = series.copy()
    series[0, 20:40] = 0.0
    profile = YearlySeasonality().fit(weeks, series, observed).profile(weeks)
    assert np.corrcoef(profile[0], truth[0])[0, 1] > 0.9


def test_state_round_trip():
    weeks, series, _ = _seasonal_panel(130)
    season = YearlySeasonality().fit(weeks, series)
    again = YearlySeasonality.from_state(season.state_dict())
    np.testing.assert_array_equal(again.profile(weeks), season.profile(weeks))




def test_the_profile_of_a_later_year_is_the_shape_itself_with_regions_of_different_amplitude():
    """Region departures are fitted to what the pooled shape leaves, so pooled + departures is each region's
    own shape (they were once fitted beside the pooled shape with a free coefficient that was then dropped,
    which missed by up to half the amplitude)."""
    rng = np.random.default_rng(0)
    weeks, future = _weeks(n=109), _weeks(str(_weeks(n=109)[-1] + 7), 52)
    amplitude = np.array([0.05, 0.1, 0.2])[:, None]
    shape = lambda w: amplitude * np.cos(2 * np.pi * (year_phase(w) - 0.8))  # noqa: E731
    series = 1 + 0.03 * np.arange(109) / 52 + shape(weeks) + rng.normal(0, 0.01, (3, 109))
    profile = YearlySeasonality().fit(weeks, series).profile(future)
    assert np.abs(profile - shape(future)).max() < 0.02
