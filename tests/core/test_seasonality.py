"""Yearly seasonality: calendar rows, extrapolation by calendar position, recovery of a known shape."""

import numpy as np
import pytest

from mmm_core.model.seasonality import WEEKS_PER_YEAR, YearlySeasonality, calendar_row, fourier_basis, year_phase


def _weeks(start="2021-01-04", n=130):
    return np.datetime64(start) + 7 * np.arange(n)


def test_christmas_week_is_row_zero_every_year():
    weeks = _weeks("2019-12-02", 60 * 5)
    rows = calendar_row(weeks)
    for year in range(2019, 2025):
        christmas = np.datetime64(f"{year}-12-25")
        week = (christmas - weeks[0]).astype(int) // 7
        if 0 <= week < len(weeks):
            assert rows[week] == 0
            assert rows[week - 1] == WEEKS_PER_YEAR - 1  # the week holding 18 December
    assert rows.min() == 0 and rows.max() == WEEKS_PER_YEAR - 1


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


def test_seasonal_media_given_as_exog_stay_out_of_the_profile():
    """Media that run every fourth quarter are seasonal too; fitted beside them, the shape is the KPI's own."""
    rng = np.random.default_rng(1)
    weeks, series, truth = _seasonal_panel(130)
    R, T = series.shape
    q4 = (year_phase(weeks) > 0.75).astype(float)  # flights in Q4, a bit stronger in some regions
    activity = q4[None, :] * rng.uniform(0.6, 1.4, (R, 1)) * rng.uniform(0.8, 1.2, (R, T))
    with_media = series + 0.15 * activity
    naive = YearlySeasonality().fit(weeks, with_media).profile(weeks)
    joint = YearlySeasonality().fit(weeks, with_media, exog=activity[..., None]).profile(weeks)

    def error(profile):  # per region: what is left after the best level and amplitude of the true shape
        return max(np.std(p - np.polyval(np.polyfit(s, p, 1), s)) for p, s in zip(profile, truth))

    assert error(naive) > 0.03  # the Q4 flights went into the naive shape
    assert error(joint) < 0.2 * error(naive)
