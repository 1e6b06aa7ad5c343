"""Settings of the simulator: ``SimulationConfig``, the channel and control templates, and ``PRESETS``.

A config fixes the sizes and the knobs (media share, noise, missing data, the channel graph); the seed
then draws every parameter. Channels and controls are taken in order from the template lists below
(``tv``, ``search``, ``radio``, ...); past the end of a list the names repeat with a suffix (``tv_2``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

from mmm_core.data.contract import MIN_WEEKS
from mmm_core.model.transforms import DEFAULT_MAX_LAG


@dataclass(frozen=True)
class ChannelTemplate:
    """How one kind of channel is drawn.

    Attributes:
        kind: base name (``tv``); repeated kinds get ``_2``, ``_3``.
        pattern: ``flighted`` (on/off bursts, national schedule with regional buys), ``always_on``
            (smooth level with slow drifts), ``pulsed`` (always-on floor plus bursts), ``markov``
            (national on/off flights from a two-state Markov chain with the persistence drawn per
            channel from ``stay_on`` / ``stay_off``), ``markov_pulsed`` (always-on floor plus Markov
            flights) or ``demand`` (always-on spend that follows the KPI's own base demand per capita,
            ``demand_lag`` weeks late, raised to ``demand_elasticity``, so spend and baseline move together).
        has_activity: whether the data file carries ``<name>_impressions``; spend-only channels use
            spend as their activity (the Panel convention), so their activity unit is currency.
        budget_weight: relative share of the media budget before random variation.
        cost_per_activity: currency per activity unit (e.g. per impression), before random variation.
        importance: relative share of direct media contribution before random variation.
        decay: range of the adstock decay; peak_lag: 0 = geometric adstock, > 0 = delayed adstock
            with its largest weight that many weeks after exposure.
        slope: range of the Hill slope (<= 1 concave, > 1 S-shaped).
        half_saturation: range of the Hill half-saturation, in activity-index units (see simulate.py).
        dark_regions: share of regions (rounded, drawn per channel) where the channel is never bought.
        dark_flights: ``markov`` / ``markov_pulsed`` only: probability that a region sits out one flight
            (no spend in that region for the whole flight while others buy it).
        stay_on, stay_off: ranges of the Markov persistence, P(on next week | on) and P(off | off);
            the mean flight lasts ``1 / (1 - stay_on)`` weeks, the mean gap ``1 / (1 - stay_off)``.
        demand_lag: range (inclusive, weeks) of the lag of demand-following spend behind demand.
        demand_elasticity: range of the exponent of demand-following spend on relative demand.

    The fields from ``dark_regions`` on are used only by the templates in ``EXTRA_CHANNEL_TEMPLATES``;
    at their defaults nothing extra is drawn, so the channels of ``CHANNEL_TEMPLATES`` draw as before.
    """

    kind: str
    pattern: str
    has_activity: bool
    budget_weight: float
    cost_per_activity: float
    importance: float
    decay: tuple[float, float]
    peak_lag: float
    slope: tuple[float, float]
    half_saturation: tuple[float, float]
    dark_regions: float = 0.0
    dark_flights: float = 0.0
    stay_on: tuple[float, float] = (0.0, 0.0)
    stay_off: tuple[float, float] = (0.0, 0.0)
    demand_lag: tuple[int, int] = (0, 0)
    demand_elasticity: tuple[float, float] = (1.0, 1.0)


CHANNEL_TEMPLATES: tuple[ChannelTemplate, ...] = (
    ChannelTemplate("tv", "flighted", True, 0.30, 0.012, 3.0, (0.6, 0.8), 1.0, (1.8, 2.6), (0.8, 1.4)),
    ChannelTemplate("search", "always_on", True, 0.18, 0.60, 2.5, (0.05, 0.25), 0.0, (0.6, 0.9), (0.6, 1.2)),
    ChannelTemplate("radio", "flighted", False, 0.08, 1.0, 1.0, (0.3, 0.5), 0.0, (1.0, 1.5), (0.7, 1.3)),
    ChannelTemplate("social", "always_on", True, 0.12, 0.006, 1.5, (0.2, 0.4), 0.0, (0.7, 1.0), (0.7, 1.3)),
    ChannelTemplate("display", "always_on", True, 0.08, 0.003, 0.8, (0.1, 0.3), 0.0, (0.5, 0.8), (0.8, 1.5)),
    ChannelTemplate("ooh", "flighted", False, 0.07, 1.0, 0.8, (0.5, 0.7), 2.0, (1.5, 2.2), (0.8, 1.3)),
    ChannelTemplate("video", "pulsed", True, 0.09, 0.015, 1.2, (0.3, 0.5), 1.0, (1.2, 2.0), (0.8, 1.3)),
    ChannelTemplate("affiliate", "always_on", False, 0.04, 1.0, 0.6, (0.0, 0.15), 0.0, (0.8, 1.0), (0.5, 1.0)),
    ChannelTemplate("print", "flighted", False, 0.04, 1.0, 0.4, (0.2, 0.4), 0.0, (0.8, 1.2), (0.6, 1.2)),
    ChannelTemplate("podcast", "pulsed", True, 0.03, 0.02, 0.5, (0.3, 0.5), 1.0, (1.0, 1.5), (0.7, 1.2)),
)
"""The default channels, taken in this order (and repeated) when ``channel_kinds`` is None. Never append
here: the presets that cycle through this list (``benchmark``, ``large``) would draw other channels."""

EXTRA_CHANNEL_TEMPLATES: tuple[ChannelTemplate, ...] = (
    # bursty TV in Markov flights; some regions sit out whole flights, a few never buy it
    ChannelTemplate("linear_tv", "markov", True, 0.30, 0.012, 3.0, (0.6, 0.8), 1.0, (1.8, 2.6), (0.8, 1.4),
                    dark_regions=0.1, dark_flights=0.25, stay_on=(0.70, 0.88), stay_off=(0.72, 0.90)),
    # search follows the KPI's own demand one to two weeks late: spend and baseline are correlated
    ChannelTemplate("paid_search", "demand", True, 0.18, 0.60, 1.2, (0.05, 0.25), 0.0, (0.6, 0.9), (0.6, 1.2),
                    demand_lag=(1, 2), demand_elasticity=(2.0, 3.0)),
    # social and online video mix an always-on floor with Markov bursts
    ChannelTemplate("paid_social", "markov_pulsed", True, 0.12, 0.006, 2.4, (0.2, 0.4), 0.0, (0.7, 1.0),
                    (0.7, 1.3), stay_on=(0.50, 0.75), stay_off=(0.60, 0.85)),
    ChannelTemplate("online_video", "markov_pulsed", True, 0.09, 0.015, 1.0, (0.3, 0.5), 1.0, (1.2, 2.0),
                    (0.8, 1.3), dark_regions=0.15, stay_on=(0.60, 0.80), stay_off=(0.70, 0.85)),
    # always-on display, not bought in a fifth of the regions
    ChannelTemplate("programmatic", "always_on", True, 0.08, 0.003, 0.3, (0.1, 0.3), 0.0, (0.5, 0.8), (0.8, 1.5),
                    dark_regions=0.2),
    # spend-only local radio in Markov flights, absent from many regions
    ChannelTemplate("local_radio", "markov", False, 0.08, 1.0, 0.8, (0.3, 0.5), 0.0, (1.0, 1.5), (0.7, 1.3),
                    dark_regions=0.3, dark_flights=0.2, stay_on=(0.60, 0.80), stay_off=(0.60, 0.85)),
    # spend-only shopping ads, following demand within a week
    ChannelTemplate("shopping", "demand", False, 0.05, 1.0, 0.6, (0.0, 0.15), 0.0, (0.8, 1.0), (0.5, 1.0),
                    demand_lag=(0, 1), demand_elasticity=(1.5, 2.5)),
)
"""Channels of the wider families (Markov flights, dark regions, demand-following spend), reachable only
through ``SimulationConfig.channel_kinds``: the default channel list stays as it was."""


@dataclass(frozen=True)
class ControlTemplate:
    """How one control is drawn and what it does.

    The KPI contribution of control k in region r is ``base_level[r] * coefficient * (value - center)``:
    ``coefficient`` is the change of the KPI, as a share of the region's base level, per unit of the
    control. The drawn coefficient is ``coefficient`` times a factor in [0.7, 1.3].
    """

    name: str
    kind: str
    unit: str
    center: float
    coefficient: float


CONTROL_TEMPLATES: tuple[ControlTemplate, ...] = (
    ControlTemplate("price_index", "price", "index, 1 = reference price", 1.0, -1.5),
    ControlTemplate("competitor_activity", "competitor", "index, mean about 1", 0.0, -0.05),
    ControlTemplate("promo", "promo", "flag 0/1", 0.0, 0.10),
    ControlTemplate("temperature_anomaly", "weather", "degrees C against the seasonal normal", 0.0, 0.006),
    ControlTemplate("consumer_confidence", "index", "standardised index", 0.0, 0.02),
    ControlTemplate("fuel_price", "level", "currency per litre", 1.7, -0.08),
)


def _numbered(base: str, repeat: int) -> str:
    return base if repeat == 0 else f"{base}_{repeat + 1}"


def channel_templates(n_channels: int, kinds: tuple[str, ...] | None = None) -> list[tuple[str, ChannelTemplate]]:
    """(name, template) for the first ``n_channels`` channels, or for ``kinds`` in that order (a kind
    that repeats gets ``_2``, ``_3``)."""
    if kinds is None:
        n = len(CHANNEL_TEMPLATES)
        return [(_numbered(CHANNEL_TEMPLATES[i % n].kind, i // n), CHANNEL_TEMPLATES[i % n]) for i in range(n_channels)]
    by_kind = {t.kind: t for t in CHANNEL_TEMPLATES + EXTRA_CHANNEL_TEMPLATES}
    unknown = sorted(set(kinds) - set(by_kind))
    if unknown:
        raise ValueError(f"unknown channel kinds {unknown}; known: {sorted(by_kind)}")
    return [(_numbered(k, kinds[:i].count(k)), by_kind[k]) for i, k in enumerate(kinds)]


def control_templates(n_controls: int) -> list[tuple[str, ControlTemplate]]:
    """(name, template) for the first ``n_controls`` controls."""
    n = len(CONTROL_TEMPLATES)
    return [(_numbered(CONTROL_TEMPLATES[i % n].name, i // n), CONTROL_TEMPLATES[i % n]) for i in range(n_controls)]


@dataclass(frozen=True)
class SimulationConfig:
    """Sizes and knobs of one simulated panel. Every random draw comes from ``seed``.

    Attributes:
        n_regions, n_weeks, n_channels, n_controls: panel sizes (n_weeks >= 52).
        start_date: ISO date of the first week, a Monday.
        seed: default seed of ``simulate`` (an explicit ``seed=`` argument wins).
        media_share: sum of direct media contributions / noiseless KPI over observed region-weeks,
            in [0, 1). Ignored (0) when ``zero_media``.
        spend_share: total media spend / noiseless KPI over observed region-weeks; with
            ``media_share`` it sets the average ROI (about media_share / spend_share).
        snr: signal-to-noise ratio as a variance ratio per region: the noise variance of region r is
            the variance over its observed weeks of the noiseless KPI divided by ``snr``.
            ``float('inf')`` gives a noiseless KPI.
        missing_fraction: share of region-weeks (after late starts) dropped at random, observed False.
        late_start_fraction: share of regions whose data start late (between week 4 and a quarter
            of the panel); their earlier weeks are observed False.
        dag_edges: explicit channel graph as (parent, child, strength) or (parent, child, strength,
            lag_weeks) by channel name; an edge with a lag adds to the child's activity in week t what
            the parent did in week t - lag_weeks (0, the default, is the same week). None draws it:
            ``tv -> search`` with ``dag_strength`` when both exist, plus each other ordered pair
            (parent before child, child always-on) with probability ``dag_density``. Strength is in
            own-activity units: one unit of the parent's mean own activity adds ``strength`` units of
            the child's mean own activity (the truth stores the graph rescaled to the activity index).
        dag_strength: strength of the default ``tv -> search`` edge.
        dag_density: probability of each extra random edge when ``dag_edges`` is None.
        zero_media: every media effect is 0 (spend and activity are still simulated).
        max_lag: adstock kernel length in weeks.
        population_sigma: sigma of the lognormal region population (heavy tail).
        kpi_per_capita: mean weekly base KPI per capita (KPI units per person per week).
        kpi_unit, currency: informational units written to the spec.
        channel_kinds: template kinds of the channels in order (``("tv", "radio", "tv")``), None for
            the first ``n_channels`` templates; when given, ``n_channels`` must equal its length.
        stress_weeks: the last ``stress_weeks`` weeks are a stress case for forecasts: every channel's own
            activity (and with it its spend) is multiplied there by a factor drawn per channel from
            ``stress_scale``, far beyond anything earlier weeks show, while the true curves saturate. A
            forecast trained on the weeks before must extrapolate. 0 (the default) draws nothing extra.
        stress_scale: range of those factors.
    """

    n_regions: int = 40
    n_weeks: int = 156
    n_channels: int = 8
    n_controls: int = 4
    start_date: str = "2022-01-03"
    seed: int = 0
    media_share: float = 0.25
    spend_share: float = 0.10
    snr: float = 5.0
    missing_fraction: float = 0.0
    late_start_fraction: float = 0.0
    dag_edges: tuple[tuple[str, str, float] | tuple[str, str, float, int], ...] | None = None
    dag_strength: float = 0.4
    dag_density: float = 0.05
    zero_media: bool = False
    max_lag: int = DEFAULT_MAX_LAG
    population_sigma: float = 1.0
    kpi_per_capita: float = 2.0
    kpi_unit: str = "EUR"
    currency: str = "EUR"
    channel_kinds: tuple[str, ...] | None = None
    stress_weeks: int = 0
    stress_scale: tuple[float, float] = (2.0, 5.0)

    def __post_init__(self) -> None:
        if self.n_regions < 1 or self.n_channels < 1 or self.n_controls < 0:
            raise ValueError("need n_regions >= 1, n_channels >= 1, n_controls >= 0")
        if self.n_weeks < MIN_WEEKS:
            raise ValueError(f"n_weeks must be at least {MIN_WEEKS}, got {self.n_weeks}")
        if dt.date.fromisoformat(self.start_date).weekday() != 0:
            raise ValueError(f"start_date must be a Monday, got {self.start_date}")
        if not 0.0 <= self.media_share < 1.0:
            raise ValueError("media_share must be in [0, 1)")
        if self.spend_share <= 0 or self.snr <= 0:
            raise ValueError("spend_share and snr must be positive")
        if not (0.0 <= self.missing_fraction < 0.5 and 0.0 <= self.late_start_fraction <= 1.0):
            raise ValueError("missing_fraction must be in [0, 0.5), late_start_fraction in [0, 1]")
        if self.max_lag < 1:
            raise ValueError("max_lag must be >= 1")
        if not 0 <= self.stress_weeks <= self.n_weeks - MIN_WEEKS or min(self.stress_scale) <= 0:
            raise ValueError(f"stress_weeks must be in [0, n_weeks - {MIN_WEEKS}] and stress_scale positive")
        if self.channel_kinds is not None:
            if len(self.channel_kinds) != self.n_channels:
                raise ValueError(f"channel_kinds has {len(self.channel_kinds)} kinds for n_channels={self.n_channels}")
            channel_templates(self.n_channels, self.channel_kinds)  # unknown kinds fail here

    @property
    def channels(self) -> list[tuple[str, ChannelTemplate]]:
        """(name, template) of every channel, in order."""
        return channel_templates(self.n_channels, self.channel_kinds)

    @property
    def channel_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.channels)

    @property
    def control_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in control_templates(self.n_controls))


_TINY = SimulationConfig(n_regions=6, n_weeks=104, n_channels=3, n_controls=2, missing_fraction=0.02,
                         late_start_fraction=0.17, dag_edges=(("tv", "search", 0.4),))

PRESETS: dict[str, SimulationConfig] = {
    # Fast tests: tv (flighted, delayed, S-shaped) -> search (always-on, concave), radio spend-only.
    "tiny": _TINY,
    # The bundled sample dataset: data/sample/ is ``mmm simulate --preset sample --out data/sample`` (seed 7).
    "sample": SimulationConfig(n_regions=40, n_weeks=156, n_channels=8, n_controls=4, seed=7, missing_fraction=0.01,
                               late_start_fraction=0.1),
    # The size of the original package's example data (190 regions, 109 weeks, 13 channels, 7 controls).
    "benchmark": SimulationConfig(n_regions=190, n_weeks=109, n_channels=13, n_controls=7, missing_fraction=0.01,
                                  late_start_fraction=0.05),
    "large": SimulationConfig(n_regions=1000, n_weeks=156, n_channels=20, n_controls=10, missing_fraction=0.01,
                              late_start_fraction=0.05),
    # A world where media does nothing: a model should find contributions near 0.
    "zero_media": replace(_TINY, n_regions=12, zero_media=True, media_share=0.0),
    # Every channel flighted: the data see each channel at zero and at full weight, so each level is
    # measured (no always-on channel whose level only a prior can settle). Recovery targets are tested here.
    "flighted": SimulationConfig(n_regions=40, n_weeks=156, n_channels=6, n_controls=4, missing_fraction=0.01,
                                 late_start_fraction=0.1, channel_kinds=("tv", "radio", "ooh", "print", "tv", "radio")),
    # Every channel always-on: no channel is seen near zero, so no channel's level is measured and the media's
    # share of the KPI is not in the data (the media-share prior's world).
    "always_on": SimulationConfig(n_regions=40, n_weeks=156, n_channels=4, n_controls=4, missing_fraction=0.01,
                                  late_start_fraction=0.1, channel_kinds=("search", "social", "display", "affiliate")),
    # Exactly one strong edge (tv -> search) and balanced data: a DAG-recovery check.
    "strong_dag_edge": replace(_TINY, n_regions=20, missing_fraction=0.0, late_start_fraction=0.0,
                               dag_edges=(("tv", "search", 0.8),)),
    # Channel behaviour from wider families than the model's own (issue 16): TV and local radio in Markov
    # on/off flights with regions sitting out flights, channels not bought in some regions at all, search
    # and shopping spend following the KPI's own demand, social and video mixing a floor with bursts, and
    # a channel graph whose edges act one and two weeks later (plus one same-week edge into a channel
    # with dark regions).
    "varied": SimulationConfig(n_regions=20, n_weeks=156, n_channels=7, n_controls=4, missing_fraction=0.01,
                               late_start_fraction=0.1,
                               channel_kinds=("linear_tv", "paid_search", "paid_social", "online_video",
                                              "programmatic", "local_radio", "shopping"),
                               dag_edges=(("linear_tv", "paid_search", 0.4, 1), ("paid_social", "shopping", 0.3, 2),
                                          ("online_video", "programmatic", 0.25, 0))),
    # Forecast stress (issue 16): the last 13 weeks buy every channel at 2-5x its earlier level while the
    # true curves saturate; a forecast from the weeks before must extrapolate without running away.
    "stress": SimulationConfig(n_regions=20, n_weeks=156, n_channels=6, n_controls=4, missing_fraction=0.01,
                               late_start_fraction=0.1, stress_weeks=13),
}
# The same stress in a flat world where media barely matter (2 % of the KPI): the KPI stays flat while
# spend jumps, so a forecast that reads the jump as demand overshoots.
PRESETS["flat_stress"] = replace(PRESETS["stress"], media_share=0.02)
