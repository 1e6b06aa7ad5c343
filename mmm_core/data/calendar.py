"""The calendar: holiday weeks (one 0/1 indicator per named holiday) and each week's place in the year.

A smooth yearly profile cannot follow a one-week spike, and moving holidays (Black Friday) do not keep
their calendar row from one year to the next, so the KPI lift of such weeks needs its own regressors.
Without them the lift lands on whatever else peaks in the fourth quarter (flighted media) and forecasts
of November and December weeks miss by the size of the lift. The model learns one coefficient per
holiday (scaled KPI units: a share of the region's mean KPI), near zero where a KPI has no such lift.

Weeks are Monday dates; a week "contains" a day when the day falls on its Monday..Sunday. A week's
place in the year (``year_phase``, ``fourier_basis``) is taken at its midpoint, so a future week, or a
week in another year, gets the value of its place in the year.
"""

from __future__ import annotations

import datetime as dt
from typing import Callable

import numpy as np


def black_friday(year: int) -> dt.date:
    """The day after US Thanksgiving, the 4th Thursday of November (not always the 4th Friday: 2019,
    2024, 2030)."""
    nov1 = dt.date(year, 11, 1)
    first_thursday = nov1 + dt.timedelta(days=(3 - nov1.weekday()) % 7)
    return first_thursday + dt.timedelta(weeks=3, days=1)


HOLIDAY_DAYS: dict[str, Callable[[int], dt.date]] = {
    "black_friday": black_friday,
    "pre_christmas": lambda year: dt.date(year, 12, 18),  # the week before Christmas week
    "christmas": lambda year: dt.date(year, 12, 25),
    "new_year": lambda year: dt.date(year, 1, 1),
}
"""Named holidays: a function from a year to a day; the holiday's week is the week containing that day."""

DEFAULT_HOLIDAYS = ("black_friday", "pre_christmas", "christmas", "new_year")

WEEKS_PER_YEAR = 52
DAYS_PER_YEAR = 365.25


def year_phase(weeks: np.ndarray) -> np.ndarray:
    """Position of each week's midpoint in its calendar year, in [0, 1). weeks: ``datetime64[D]`` [T]."""
    weeks = np.asarray(weeks, dtype="datetime64[D]")
    mid = weeks + np.timedelta64(3, "D")
    year_start = mid.astype("datetime64[Y]").astype("datetime64[D]")
    return (mid - year_start).astype(np.float64) / DAYS_PER_YEAR


def fourier_basis(weeks: np.ndarray, n_harmonics: int) -> np.ndarray:
    """``[T, 2 * n_harmonics]`` columns sin(2πkφ), cos(2πkφ) for k = 1..n_harmonics, φ = year_phase."""
    phase = year_phase(weeks)[:, None] * 2.0 * np.pi * np.arange(1, n_harmonics + 1)[None, :]
    return np.concatenate([np.sin(phase), np.cos(phase)], axis=1)


def check_holidays(names: tuple[str, ...]) -> None:
    unknown = [n for n in names if n not in HOLIDAY_DAYS]
    if unknown:
        raise ValueError(f"unknown holidays {unknown}; known: {sorted(HOLIDAY_DAYS)}")


def holiday_indicators(weeks: np.ndarray, names: tuple[str, ...] = DEFAULT_HOLIDAYS) -> np.ndarray:
    """``[T, H]`` float: 1 where week t (Monday date, ``datetime64[D]``) contains holiday h, else 0."""
    check_holidays(tuple(names))
    mondays = np.asarray(weeks, dtype="datetime64[D]")
    out = np.zeros((len(mondays), len(names)))
    years = mondays.astype("datetime64[Y]").astype(int) + 1970
    for h, name in enumerate(names):
        day_of = HOLIDAY_DAYS[name]
        # a week's Sunday may fall in the next year (new_year), so look at both years
        for year in (years, years + 1):
            days = np.array([np.datetime64(day_of(int(y))) for y in year], dtype="datetime64[D]")
            out[:, h] += ((days >= mondays) & (days <= mondays + np.timedelta64(6, "D"))).astype(float)
    return np.minimum(out, 1.0)
