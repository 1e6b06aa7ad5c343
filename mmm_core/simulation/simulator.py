"""Simulated geo panels with a known ground truth, built from the model's own transforms.

``simulate(config_or_preset, seed)`` returns a ``Simulation``: the ``Panel`` a model sees and the
``GroundTruth`` that generated it. The noiseless KPI of region r in week t is additive, in KPI units::

    kpi_noiseless = base_level[r]                                         # baseline
                  + base_level[r] * trend_growth[r] * t / 52              # trend, t = week index
                  + base_level[r] * seasonality_amplitude[r] * seasonal_shape[t]
                  + base_level[r] * sum_h holiday_lift[r, h] * holiday_indicator[t, h]
                  + base_level[r] * sum_k control_coefficient[k] * (controls[r, t, k] - control_center[k])
                  + sum_c direct_contribution_weekly[r, t, c]

and the kpi in the panel is ``max(kpi_noiseless + noise, 0)`` rounded to cents, with noise
``N(0, noise_sd[r]^2)``. Media, per channel c (the same ``transforms`` functions as the model)::

    activity index  x = activity / (population[r] * activity_scale[c])         # per capita, ~1
    x_total         = propagate_graph(x_own, dag_adjacency, dag_lag, media_available)  # TV raises search
    direct_contribution_weekly[r, t, c]
        = population[r] * region_media_multiplier[r] * channel_coefficient[c]
          * hill(adstock(x_total, kernel_c)[r, t, c], hill_half_saturation[c], hill_slope[c])

Units:
  * activity: impressions for channels with an ``<ch>_impressions`` column, currency for spend-only
    channels (their activity is their spend, as in ``Panel``).
  * ``activity_scale[c]``: activity units per capita per week that make index 1; it is the channel's
    mean per-capita observed activity over the observed region-weeks where it is active (> 0), the
    same per-channel scale ``scaling.MediaScaler`` fits on a full panel with a population.
  * ``hill_half_saturation``: in activity-index units (1 = that mean active weekly per-capita level),
    applied to adstocked activity (normalised kernel, so the index keeps its level).
    ``GroundTruth.hill_half_saturation_per_capita`` gives it in activity units per capita per week.
  * ``channel_coefficient``: KPI units per capita per week at full saturation (hill = 1).
  * ``dag_adjacency[p, c]``: units of c's activity index caused by one unit of p's activity index,
    ``dag_lag[p, c]`` weeks later (0: the same week, then ``propagate_graph`` is ``propagate_dag``).
    ``dag_scores`` counts every nonzero entry as a true edge, lagged or not.
  * ``media_available[r, t, c]``: channel c is bought in region-week (r, t); False where unobserved, in a
    region that never buys the channel, or in a region sitting out one of its flights. Own activity is 0
    there and the channel gets nothing from its parents.
  * ``adstock_peak_lag``: 0 means geometric adstock (``w_l = decay**l``); > 0 means delayed adstock
    (``w_l = decay**((l - peak_lag)**2)``); kernels have ``max_lag`` weeks and sum to 1.

Missing region-weeks (observed False) are dark: no data and no media, activity 0 in the truth too,
so the data file holds every input that generated the KPI. Spend, activity and controls are rounded
as written to file *before* the KPI is computed, so the truth is exactly consistent with the file.
All per-channel totals sum over observed region-weeks.
"""

from __future__ import annotations

import numpy as np

from mmm_core.data.contract import Panel
from mmm_core.simulation.config import PRESETS, SimulationConfig, control_templates
from mmm_core.simulation.drivers import (HOLIDAYS, ar1, calendar, channel_activity, control_values,
                                       national_promos, observed_mask, population, week_dates)
from mmm_core.simulation.io import write_simulation
from mmm_core.simulation.truth import (GroundTruth, Simulation, adstock_kernel, direct_contributions,
                                     media_response, non_media_components, own_from_total, propagate_graph)

__all__ = ["GroundTruth", "PRESETS", "Simulation", "SimulationConfig", "adstock_kernel", "direct_contributions",
           "media_response", "non_media_components", "simulate", "write_simulation"]


def _dag(config: SimulationConfig, names: tuple[str, ...], patterns: list[str],
         rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Adjacency ``[C, C]`` in own-activity units and each edge's lag ``[C, C]`` in weeks (see
    ``SimulationConfig.dag_edges``; drawn edges act in the same week)."""
    C = len(names)
    adjacency = np.zeros((C, C))
    lag = np.zeros((C, C), dtype=int)
    if config.dag_edges is not None:
        for edge in config.dag_edges:
            parent, child, strength = edge[:3]
            weeks = int(edge[3]) if len(edge) > 3 else 0
            if parent not in names or child not in names or parent == child:
                raise ValueError(f"bad DAG edge {parent!r} -> {child!r}; channels are {names}")
            if not 0 <= weeks < config.n_weeks:
                raise ValueError(f"DAG edge {parent!r} -> {child!r}: lag {weeks} weeks is outside [0, n_weeks)")
            adjacency[names.index(parent), names.index(child)] = float(strength)
            lag[names.index(parent), names.index(child)] = weeks
        if np.linalg.matrix_power((adjacency != 0).astype(float), C).any():
            raise ValueError(f"dag_edges contain a cycle: {config.dag_edges}")
        return adjacency, lag
    draws = rng.random((C, C))
    strengths = rng.uniform(0.1, 0.3, size=(C, C))
    for p in range(C):
        for c in range(p + 1, C):
            if names[p] == "tv" and names[c] == "search":
                adjacency[p, c] = config.dag_strength
            elif patterns[c] == "always_on" and draws[p, c] < config.dag_density:
                adjacency[p, c] = strengths[p, c]
    return adjacency, lag


def _masked_mean(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Mean over the first two axes of ``[R, T, C]`` where ``mask`` (broadcastable) holds, ``[C]``."""
    mask = np.broadcast_to(mask, values.shape)
    return np.where(mask, values, 0.0).sum(axis=(0, 1)) / np.maximum(mask.sum(axis=(0, 1)), 1)


def _region_parameters(rng: np.random.Generator, config: SimulationConfig, pop: np.ndarray) -> dict:
    """Per-region parameters ``[R]`` (``holiday_lift`` ``[R, H]``); units in ``GroundTruth``."""
    R = config.n_regions
    multiplier = rng.lognormal(0.0, 0.25, size=R)
    params = dict(
        base_level=pop * config.kpi_per_capita * multiplier,
        trend_growth=rng.normal(0.03, 0.02, size=R),
        seasonality_amplitude=rng.uniform(0.05, 0.20, size=R),
        holiday_lift=np.array([0.25, 0.20, 0.10]) * rng.lognormal(0.0, 0.2, size=(R, len(HOLIDAYS))),
    )
    media = rng.lognormal(0.0, 0.15, size=R)
    params["region_media_multiplier"] = media / media.mean()
    return params


def _controls(rng: np.random.Generator, config: SimulationConfig) -> dict:
    """Control values ``[R, T, K]`` (rounded to 4 decimals, as in the file) and their effects ``[K]``."""
    R, T, K = config.n_regions, config.n_weeks, config.n_controls
    templates = control_templates(K)
    promo_weeks = national_promos(rng, T)
    values = [control_values(rng, t.kind, R, T, promo_weeks) for _, t in templates]
    return dict(
        controls=np.round(np.stack(values, axis=-1), 4) if K else np.zeros((R, T, 0)),
        control_coefficient=np.array([t.coefficient for _, t in templates]) * rng.uniform(0.7, 1.3, size=K),
        control_center=np.array([t.center for _, t in templates], dtype=float),
        control_names=tuple(n for n, _ in templates),
    )


def _channel_parameters(rng: np.random.Generator, config: SimulationConfig) -> dict:
    """Transform parameters ``[C]`` plus the draws that set contribution shares, budgets and costs."""
    templates = [t for _, t in config.channels]

    def draw(attr: str) -> np.ndarray:
        return np.array([rng.uniform(*getattr(t, attr)) for t in templates])

    def jitter(attr: str, sigma: float) -> np.ndarray:
        return np.array([getattr(t, attr) for t in templates]) * rng.lognormal(0.0, sigma, size=len(templates))

    params = dict(adstock_decay=draw("decay"), hill_slope=draw("slope"), hill_half_saturation=draw("half_saturation"),
                  adstock_peak_lag=np.array([t.peak_lag for t in templates], dtype=float))
    params.update(importance=jitter("importance", 0.3), budget=jitter("budget_weight", 0.25),
                  cost_per_activity=jitter("cost_per_activity", 0.2))
    return params


def _media_activity(rng: np.random.Generator, config: SimulationConfig, observed: np.ndarray,
                    q4: np.ndarray, demand: np.ndarray, stress: np.ndarray) -> dict:
    """Observed activity index ``total_x`` ``[R, T, C]`` (mean 1 where active), the DAG ``dag_adjacency``
    ``[C, C]`` in index units with its ``dag_lag`` ``[C, C]``, ``media_available`` ``[R, T, C]`` and the
    ``media_patterns`` drawn. ``demand`` ``[R, T]`` is the KPI's base demand per capita; ``stress``
    ``[T, C]`` multiplies each channel's own activity week by week (ones outside a stress case).

    Own activity is drawn with mean 1 per channel, propagated along the DAG drawn in those units, and
    each channel is then divided by its mean where active; the adjacency is rescaled to match."""
    R, T = config.n_regions, config.n_weeks
    templates = config.channels
    patterns = [t.pattern for _, t in templates]
    budget_factor = np.exp(ar1(rng, (1, T), 0.8, 0.1)[0]) * (1.0 + 0.3 * q4)  # [T], shared: correlates channels
    drawn = [channel_activity(rng, t, R, T, q4, budget_factor, demand) for _, t in templates]
    available = observed[..., None] & np.stack([d[1] for d in drawn], axis=-1)  # [R, T, C]
    own = np.where(available, np.stack([d[0] for d in drawn], axis=-1), 0.0)  # [R, T, C]
    own = own / np.maximum(_masked_mean(own, observed[..., None]), 1e-12) * stress
    adjacency_own, lag = _dag(config, tuple(n for n, _ in templates), patterns, rng)
    total = propagate_graph(own, adjacency_own, lag, available)
    calm = (stress == 1.0).all(axis=-1)[None, :, None]  # [1, T, 1]: the index is set by the weeks before a stress
    active_mean = _masked_mean(total, observed[..., None] & (total > 0) & calm)  # [C]
    active_mean = np.where(active_mean > 0, active_mean, 1.0)
    return dict(total_x=total / active_mean, dag_adjacency=active_mean[:, None] * adjacency_own / active_mean[None, :],
                dag_lag=lag, media_available=available, media_patterns=tuple(d[2] for d in drawn))


def simulate(config: SimulationConfig | str = "sample", seed: int | None = None) -> Simulation:
    """Simulate a panel and its ground truth. ``config`` is a ``SimulationConfig`` or a ``PRESETS``
    name; ``seed`` overrides ``config.seed``. Deterministic for a (config, seed) pair."""
    if isinstance(config, str):
        if config not in PRESETS:
            raise KeyError(f"unknown preset {config!r}; presets are {sorted(PRESETS)}")
        config = PRESETS[config]
    seed = config.seed if seed is None else int(seed)
    rng = np.random.default_rng(seed)
    R, T, C = config.n_regions, config.n_weeks, config.n_channels
    names = config.channel_names
    has_activity = tuple(t.has_activity for _, t in config.channels)
    regions = tuple(f"R{r + 1:0{max(3, len(str(R)))}d}" for r in range(R))

    weeks = week_dates(config.start_date, T)
    seasonal_shape, holiday_indicator, q4 = calendar(weeks, rng)
    pop = population(rng, R, config.population_sigma)
    observed = observed_mask(rng, R, T, config.missing_fraction, config.late_start_fraction)
    region = _region_parameters(rng, config, pop)
    ctl = _controls(rng, config)
    ch = _channel_parameters(rng, config)
    non_media_parts = dict(base_level=region["base_level"], trend_growth=region["trend_growth"],
                           seasonality_amplitude=region["seasonality_amplitude"], seasonal_shape=seasonal_shape,
                           holiday_lift=region["holiday_lift"], holiday_indicator=holiday_indicator, **ctl)
    parts = non_media_components(**non_media_parts)
    demand = (parts["baseline"] + parts["trend"] + parts["seasonality"] + parts["holiday"]) / pop[:, None]
    media = _media_activity(rng, config, observed, q4, demand, _stress_factors(config, seed))
    total_x, dag_adjacency = media["total_x"], media["dag_adjacency"]
    graph = dict(edge_lag=media["dag_lag"], available=media["media_available"])

    # Media total and spend total follow from the non-media KPI and the configured shares.
    non_media = sum(parts.values())  # [R, T]
    non_media_total = float(non_media[observed].sum())
    media_total = 0.0 if config.zero_media else config.media_share / (1.0 - config.media_share) * non_media_total
    activity, spend = _activity_and_spend(rng, total_x, pop, ch["budget"], ch["cost_per_activity"], has_activity,
                                          config.spend_share * (non_media_total + media_total))

    # From the rounded file values back to the index and the own activity.
    per_capita = activity / pop[:, None, None]
    calm = np.arange(T)[None, :, None] < T - config.stress_weeks
    activity_scale = _masked_mean(per_capita, observed[..., None] & (per_capita > 0) & calm)
    activity_scale = np.where(activity_scale > 0, activity_scale, 1.0)
    own_index = own_from_total(per_capita / activity_scale, dag_adjacency, **graph)
    own_activity = own_index * pop[:, None, None] * activity_scale  # [R, T, C]

    # Coefficients: each channel's share of the direct media contribution is its drawn importance.
    kernel = adstock_kernel(ch["adstock_decay"], ch["adstock_peak_lag"], config.max_lag)
    size = pop * region["region_media_multiplier"]
    transform = dict(adjacency=dag_adjacency, kernel=kernel, half_saturation=ch["hill_half_saturation"],
                     slope=ch["hill_slope"], **graph)
    unit = direct_contributions(own_index, size, np.ones(C), **transform)  # [R, T, C] at coefficient 1
    exposure = unit[observed].sum(axis=0)  # [C]
    weight = ch["importance"] / ch["importance"].sum()
    channel_coefficient = np.where(exposure > 0, media_total * weight / np.maximum(exposure, 1e-300), 0.0)
    direct_weekly = unit * channel_coefficient
    kpi_noiseless = non_media + direct_weekly.sum(axis=-1)

    # Noise at the stated signal-to-noise ratio (variance ratio within each region).
    within_var = np.array([kpi_noiseless[r, observed[r]].var() if observed[r].any() else 0.0 for r in range(R)])
    noise_sd = np.sqrt(within_var / config.snr)  # snr = inf gives 0
    noise = rng.normal(0.0, 1.0, size=(R, T)) * noise_sd[:, None]

    truth = GroundTruth(
        regions=regions, weeks=weeks, channels=names, holiday_names=HOLIDAYS, observed=observed, population=pop,
        **non_media_parts, region_media_multiplier=region["region_media_multiplier"],
        has_activity_column=has_activity, activity_scale=activity_scale, adstock_decay=ch["adstock_decay"],
        adstock_peak_lag=ch["adstock_peak_lag"], max_lag=config.max_lag,
        hill_half_saturation=ch["hill_half_saturation"], hill_slope=ch["hill_slope"],
        channel_coefficient=channel_coefficient, dag_adjacency=dag_adjacency, own_activity=own_activity,
        kpi_noiseless=kpi_noiseless, direct_contribution_weekly=direct_weekly, noise=noise, noise_sd=noise_sd,
        snr=float(config.snr), dag_lag=media["dag_lag"], media_available=media["media_available"],
        media_patterns=media["media_patterns"],
        **_channel_totals(own_index, size, channel_coefficient, transform, direct_weekly, kpi_noiseless, spend,
                          observed))
    mask3 = observed[..., None]
    panel = Panel(regions=regions, weeks=weeks, channels=names, control_names=ctl["control_names"],
                  kpi=np.where(observed, np.round(np.maximum(kpi_noiseless + noise, 0.0), 2), 0.0),
                  spend=np.where(mask3, spend, 0.0), activity=np.where(mask3, activity, 0.0),
                  controls=np.where(mask3, ctl["controls"], 0.0), observed=observed, population=pop)
    return Simulation(panel=panel, truth=truth, config=config, seed=seed)


def _stress_factors(config: SimulationConfig, seed: int) -> np.ndarray:
    """``[T, C]`` multipliers of the own activity: one factor per channel from ``stress_scale`` in the last
    ``stress_weeks`` weeks, ones before. Drawn from a generator of its own, so a config without stress
    draws everything else exactly as before."""
    factors = np.ones((config.n_weeks, config.n_channels))
    if config.stress_weeks:
        draw = np.random.default_rng([seed, 16]).uniform(*config.stress_scale, config.n_channels)
        factors[config.n_weeks - config.stress_weeks:] = draw
    return factors


def _activity_and_spend(rng: np.random.Generator, total_x: np.ndarray, pop: np.ndarray,
                        budget: np.ndarray, cost_per_activity: np.ndarray, has_activity: tuple[bool, ...],
                        spend_total: float) -> tuple[np.ndarray, np.ndarray]:
    """Activity and spend ``[R, T, C]`` as written to file (impressions to units, spend to cents).

    Channel c gets ``spend_total * budget[c] / sum(budget)``; for channels with an activity column the
    spend is activity times a cost per impression that varies by region-week (lognormal sd 0.08)."""
    budget_c = spend_total * budget / budget.sum()  # [C] currency
    cost_noise = rng.lognormal(0.0, 0.08, size=total_x.shape)  # [R, T, C]
    people = total_x * pop[:, None, None]  # [R, T, C] persons x index
    per_unit = budget_c / np.maximum(cost_per_activity * (people * cost_noise).sum(axis=(0, 1)), 1e-300)
    activity = np.round(people * per_unit, 0)
    spend = np.round(activity * cost_per_activity * cost_noise, 2)
    spend_only = ~np.array(has_activity)
    spend_direct = np.round(people * budget_c / np.maximum(people.sum(axis=(0, 1)), 1e-300), 2)
    spend = np.where(spend_only, spend_direct, spend)
    return np.where(spend_only, spend, activity), spend


def _channel_totals(own_index: np.ndarray, size: np.ndarray, coefficient: np.ndarray, transform: dict,
                    direct_weekly: np.ndarray, kpi_noiseless: np.ndarray, spend: np.ndarray,
                    observed: np.ndarray) -> dict:
    """Per-channel totals over observed region-weeks, including the DAG counterfactuals."""
    C = direct_weekly.shape[-1]
    media_weekly = direct_weekly.sum(axis=-1)  # [R, T]
    total = np.empty(C)
    for c in range(C):
        own = own_index.copy()
        own[..., c] = 0.0
        without = direct_contributions(own, size, coefficient, **transform)
        total[c] = (media_weekly - without.sum(axis=-1))[observed].sum()
    direct = direct_weekly[observed].sum(axis=0)  # [C]
    media_sum = direct.sum()
    spend_c = np.where(observed[..., None], spend, 0.0).sum(axis=(0, 1))
    safe = np.where(spend_c > 0, spend_c, 1.0)
    return dict(media_share=float(media_sum / kpi_noiseless[observed].sum()), spend=spend_c,
                direct_contribution=direct, total_contribution=total,
                direct_share=direct / media_sum if media_sum > 0 else np.zeros(C),
                roi=np.where(spend_c > 0, total / safe, 0.0), direct_roi=np.where(spend_c > 0, direct / safe, 0.0))
