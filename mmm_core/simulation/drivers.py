"""Random drivers of a simulated panel: calendar, region sizes, media flighting, controls, missing data.

Every function takes a ``numpy.random.Generator`` and returns plain arrays in ``[regions, weeks]`` order;
nothing here knows about the KPI equation (that lives in ``simulator.py``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from mmm_core.data.calendar import black_friday

HOLIDAYS = ("black_friday", "pre_christmas", "christmas")
"""Holiday weeks with their own KPI lift: the week of Black Friday (the day after the 4th Thursday of November), the week
before the week of 25 December, and the week of 25 December."""


def ar1(rng: np.random.Generator, shape: tuple[int, ...], phi: float, sd: float) -> np.ndarray:
    """Stationary AR(1) series along the last axis: ``x_t = phi x_{t-1} + e_t``, marginal sd ``sd``."""
    eps = rng.normal(0.0, sd * np.sqrt(1.0 - phi**2), size=shape)
    out = np.empty(shape)
    out[..., 0] = rng.normal(0.0, sd, size=shape[:-1])
    for t in range(1, shape[-1]):
        out[..., t] = phi * out[..., t - 1] + eps[..., t]
    return out


def week_dates(start_date: str, n_weeks: int) -> np.ndarray:
    """Monday dates ``[T]`` (``datetime64[D]``) from ``start_date`` on."""
    return np.datetime64(start_date, "D") + 7 * np.arange(n_weeks)


def calendar(weeks: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Yearly shape, holiday indicators and a Q4 flag per week.

    Returns:
        seasonal_shape ``[T]``: two yearly harmonics of the day of year (of the week's Thursday), peak
            around late autumn; unit standard deviation over a full year, so ``amplitude * shape`` has
            sd ``amplitude``. It depends on the calendar only, so it repeats every year.
        holiday_indicator ``[T, H]``: 1 in the holiday's week (``HOLIDAYS`` order), else 0.
        q4 ``[T]``: 1 for weeks starting in November or December.
    """
    mondays = [dt.date.fromisoformat(str(w)) for w in weeks]
    doy = np.array([(m + dt.timedelta(days=3)).timetuple().tm_yday for m in mondays], dtype=float)
    phase1 = 2 * np.pi * 300 / 365.25 + rng.normal(0.0, 0.2)
    phase2 = rng.uniform(0, 2 * np.pi)

    def shape_of(day: np.ndarray) -> np.ndarray:
        angle = 2 * np.pi * (day - 1) / 365.25
        return np.cos(angle - phase1) + 0.4 * np.cos(2 * angle - phase2)

    year_sd = shape_of(np.arange(1, 366, 7, dtype=float)).std()
    seasonal_shape = shape_of(doy) / year_sd
    indicator = np.zeros((len(weeks), len(HOLIDAYS)))
    for t, monday in enumerate(mondays):
        sunday = monday + dt.timedelta(days=6)
        christmas = dt.date(monday.year, 12, 25)
        if monday <= black_friday(monday.year) <= sunday:
            indicator[t, 0] = 1.0
        if monday <= christmas - dt.timedelta(days=7) <= sunday:
            indicator[t, 1] = 1.0
        if monday <= christmas <= sunday:
            indicator[t, 2] = 1.0
    q4 = np.array([m.month >= 11 for m in mondays], dtype=float)
    return seasonal_shape, indicator, q4


def population(rng: np.random.Generator, n_regions: int, sigma: float) -> np.ndarray:
    """Heavy-tailed region sizes ``[R]`` (people): lognormal with median 250,000, at least 20,000."""
    return np.maximum(np.round(rng.lognormal(np.log(250_000), sigma, size=n_regions)), 20_000.0)


def _flights(rng: np.random.Generator, n_weeks: int, q4: np.ndarray) -> np.ndarray:
    """National flight id per week ``[T]``: -1 off air, 0, 1, ... for successive flights.

    Flights last 2-6 weeks with 2-8 week gaps; gaps are shorter in Q4."""
    flight = np.full(n_weeks, -1)
    t = int(rng.integers(0, 4))
    f = 0
    while t < n_weeks:
        length = int(rng.integers(2, 7))
        flight[t:t + length] = f
        f += 1
        t += length
        gap = int(rng.integers(2, 9))
        t += max(1, gap // 2) if t < n_weeks and q4[t] else gap
    return flight


def _bursts(rng: np.random.Generator, n_regions: int, n_weeks: int, q4: np.ndarray) -> np.ndarray:
    """Flighted intensity ``[R, T]`` >= 0: a national schedule, each region joining a flight with
    probability 0.85 at its own weight, with weekly noise."""
    flight = _flights(rng, n_weeks, q4)
    n_flights = int(flight.max()) + 1
    level = rng.lognormal(0.0, 0.3, size=n_flights)  # [F]
    joins = rng.random((n_regions, n_flights)) < 0.85  # [R, F]
    region_weight = rng.lognormal(0.0, 0.35, size=(n_regions, 1))
    noise = rng.lognormal(0.0, 0.15, size=(n_regions, n_weeks))
    on = flight >= 0
    idx = np.where(on, flight, 0)
    return np.where(on[None, :], level[idx][None, :] * joins[:, idx] * region_weight * noise, 0.0)


def _smooth(rng: np.random.Generator, n_regions: int, n_weeks: int) -> np.ndarray:
    """Always-on intensity ``[R, T]`` > 0: regional level times slow national and regional drifts."""
    region_level = rng.lognormal(0.0, 0.3, size=(n_regions, 1))
    drift = ar1(rng, (1, n_weeks), 0.85, 0.15) + ar1(rng, (n_regions, n_weeks), 0.6, 0.1)
    return region_level * np.exp(drift)


def media_intensity(rng: np.random.Generator, pattern: str, n_regions: int, n_weeks: int,
                    q4: np.ndarray, budget_factor: np.ndarray) -> np.ndarray:
    """Own media activity of one channel, ``[R, T]``, in arbitrary units (rescaled by the caller).

    ``budget_factor`` ``[T]`` is shared by all channels (a national marketing budget with a Q4 lift),
    which correlates the channels."""
    if pattern == "flighted":
        base = _bursts(rng, n_regions, n_weeks, q4)
    elif pattern == "always_on":
        base = _smooth(rng, n_regions, n_weeks)
    elif pattern == "pulsed":
        base = 0.4 * _smooth(rng, n_regions, n_weeks) + _bursts(rng, n_regions, n_weeks, q4)
    else:
        raise ValueError(f"unknown media pattern {pattern!r}")
    return base * budget_factor[None, :]


@dataclass(frozen=True)
class MediaPattern:
    """How one channel's own activity was drawn: its pattern and the parameters drawn for it.

    Attributes:
        pattern: the template's pattern (``flighted``, ``always_on``, ``pulsed``, ``markov``,
            ``markov_pulsed``, ``demand``).
        stay_on, stay_off: Markov persistence, P(on next week | on) and P(off | off); NaN for other patterns.
        demand_lag: weeks by which demand-following spend trails demand; -1 for other patterns.
        demand_elasticity: exponent of demand-following spend on relative demand; NaN for other patterns.
    """

    pattern: str
    stay_on: float = float("nan")
    stay_off: float = float("nan")
    demand_lag: int = -1
    demand_elasticity: float = float("nan")


def markov_schedule(rng: np.random.Generator, n_weeks: int, stay_on: float, stay_off: float) -> np.ndarray:
    """National flight id per week ``[T]`` from a two-state Markov chain: -1 off air, 0, 1, ... for
    successive flights. The first week is drawn from the chain's stationary distribution; at least one
    week is on air."""
    p_on = (1.0 - stay_off) / (2.0 - stay_on - stay_off)
    u = rng.random(n_weeks)
    on = np.empty(n_weeks, dtype=bool)
    on[0] = u[0] < p_on
    for t in range(1, n_weeks):
        on[t] = u[t] < (stay_on if on[t - 1] else 1.0 - stay_off)
    if not on.any():
        on[int(rng.integers(0, n_weeks))] = True
    starts = on & ~np.concatenate([[False], on[:-1]])
    return np.where(on, np.cumsum(starts) - 1, -1)


def _markov_bursts(rng: np.random.Generator, n_regions: int, n_weeks: int, stay_on: float, stay_off: float,
                   dark_flights: float) -> tuple[np.ndarray, np.ndarray]:
    """Markov-flighted intensity ``[R, T]`` >= 0 and where the channel runs ``[R, T]`` bool: a national
    schedule, each region sitting out a flight with probability ``dark_flights`` (dark for that flight)."""
    flight = markov_schedule(rng, n_weeks, stay_on, stay_off)
    n_flights = int(flight.max()) + 1
    level = rng.lognormal(0.0, 0.3, size=n_flights)  # [F]
    sits_out = rng.random((n_regions, n_flights)) < dark_flights  # [R, F]
    region_weight = rng.lognormal(0.0, 0.35, size=(n_regions, 1))
    noise = rng.lognormal(0.0, 0.15, size=(n_regions, n_weeks))
    on = flight >= 0
    idx = np.where(on, flight, 0)
    dark = on[None, :] & sits_out[:, idx]  # [R, T]
    return np.where(on[None, :] & ~dark, level[idx][None, :] * region_weight * noise, 0.0), ~dark


def _demand_following(rng: np.random.Generator, demand: np.ndarray, lag: int, elasticity: float) -> np.ndarray:
    """Always-on intensity ``[R, T]`` > 0 that follows ``demand`` ``[R, T]`` (the KPI's base demand per
    capita) ``lag`` weeks late: ``(demand[t - lag] / mean demand) ** elasticity`` times a small regional
    AR(1) wobble (sd 0.05). Before the first week the first week's demand stands in."""
    n_weeks = demand.shape[1]
    shifted = np.concatenate([np.repeat(demand[:, :1], lag, axis=1), demand[:, :n_weeks - lag]], axis=1)
    relative = shifted / shifted.mean()
    return relative**elasticity * np.exp(ar1(rng, demand.shape, 0.5, 0.05))


def channel_activity(rng: np.random.Generator, template, n_regions: int, n_weeks: int, q4: np.ndarray,
                     budget_factor: np.ndarray, demand: np.ndarray) -> tuple[np.ndarray, np.ndarray, MediaPattern]:
    """Own media activity ``[R, T]`` (arbitrary units, rescaled by the caller) of one channel drawn from its
    ``ChannelTemplate``, where the channel is bought at all ``[R, T]`` bool (False: a dark region, or a
    region sitting out a flight), and the pattern's draws.

    ``demand`` ``[R, T]`` is the KPI's base demand per capita (only ``demand`` channels use it). The
    patterns of ``media_intensity`` draw exactly what they drew before the wider families existed."""
    pattern = template.pattern
    available = np.ones((n_regions, n_weeks), dtype=bool)
    if pattern in ("flighted", "always_on", "pulsed"):
        base = media_intensity(rng, pattern, n_regions, n_weeks, q4, budget_factor)
        drawn = MediaPattern(pattern)
    elif pattern in ("markov", "markov_pulsed"):
        stay_on, stay_off = rng.uniform(*template.stay_on), rng.uniform(*template.stay_off)
        bursts, available = _markov_bursts(rng, n_regions, n_weeks, stay_on, stay_off, template.dark_flights)
        floor = 0.4 * _smooth(rng, n_regions, n_weeks) if pattern == "markov_pulsed" else 0.0
        base = (floor + bursts) * budget_factor[None, :]
        drawn = MediaPattern(pattern, stay_on=float(stay_on), stay_off=float(stay_off))
    elif pattern == "demand":
        lag = int(rng.integers(template.demand_lag[0], template.demand_lag[1] + 1))
        elasticity = float(rng.uniform(*template.demand_elasticity))
        base = _demand_following(rng, demand, lag, elasticity)  # follows demand, not the shared budget
        drawn = MediaPattern(pattern, demand_lag=lag, demand_elasticity=elasticity)
    else:
        raise ValueError(f"unknown media pattern {pattern!r}")
    if template.dark_regions > 0:
        n_dark = int(round(template.dark_regions * n_regions))
        available = available.copy()
        available[rng.choice(n_regions, size=n_dark, replace=False)] = False
    return np.where(available, base, 0.0), available, drawn


def control_values(rng: np.random.Generator, kind: str, n_regions: int, n_weeks: int,
                   promo_weeks: np.ndarray) -> np.ndarray:
    """One control ``[R, T]`` in its own unit (see ``CONTROL_TEMPLATES``)."""
    shape = (n_regions, n_weeks)
    if kind == "price":
        national = ar1(rng, (1, n_weeks), 0.9, 0.02)
        return 1.0 + national + ar1(rng, shape, 0.7, 0.01) - 0.04 * promo_weeks[None, :]
    if kind == "competitor":
        bursts = _bursts(rng, n_regions, n_weeks, np.zeros(n_weeks))
        return 0.5 + bursts / max(bursts.mean(), 1e-12) * 0.5
    if kind == "promo":
        regional = rng.random(shape) < 0.03
        return np.maximum(promo_weeks[None, :], regional).astype(float)
    if kind == "weather":
        return ar1(rng, (1, n_weeks), 0.5, 1.5) + ar1(rng, shape, 0.3, 1.0)
    if kind == "index":
        return ar1(rng, (1, n_weeks), 0.95, 1.0) + ar1(rng, shape, 0.5, 0.2)
    if kind == "level":
        return 1.7 + ar1(rng, (1, n_weeks), 0.95, 0.12) + ar1(rng, shape, 0.5, 0.02)
    raise ValueError(f"unknown control kind {kind!r}")


def national_promos(rng: np.random.Generator, n_weeks: int) -> np.ndarray:
    """National promotion weeks ``[T]`` (0/1): about one week in ten, in runs of 1-2 weeks."""
    start = rng.random(n_weeks) < 0.06
    return np.minimum(start + np.roll(start & (rng.random(n_weeks) < 0.5), 1), 1).astype(float)


def observed_mask(rng: np.random.Generator, n_regions: int, n_weeks: int, missing_fraction: float,
                  late_start_fraction: float) -> np.ndarray:
    """``[R, T]`` bool: False before a late region's first week and at randomly dropped region-weeks.

    Late starts begin between week 4 and a quarter of the panel; random drops never touch a region's
    first observed week, so every region keeps a defined start."""
    observed = np.ones((n_regions, n_weeks), dtype=bool)
    n_late = int(round(late_start_fraction * n_regions))
    late = rng.choice(n_regions, size=n_late, replace=False) if n_late else np.array([], dtype=int)
    first = np.zeros(n_regions, dtype=int)
    for r in late:
        first[r] = int(rng.integers(4, max(5, n_weeks // 4)))
        observed[r, :first[r]] = False
    drop = rng.random((n_regions, n_weeks)) < missing_fraction
    drop[np.arange(n_regions), first] = False
    return observed & ~drop
