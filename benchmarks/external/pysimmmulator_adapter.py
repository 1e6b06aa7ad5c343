"""Region × week panels and their truth from ``pysimmmulator`` (PyPI, MIT; a Python port of Google's siMMMulator).

What the generator is (read from its source, version 0.6.2, ``pysimmmulator/simulate.py``): one DAILY world.
* Baseline sales ``base + linear trend + c * temp_var * sin(day * 3.14 / 182.5) + N(0, error_std)``, with
  ``c ~ N(temp_coef_mean, temp_coef_sd)`` drawn once per run; revenue = sales × ``revenue_per_conv``.
* Spend in campaigns of ``frequency_of_campaigns`` days: a campaign budget ~ truncated N(mean, sd) is split
  across channels by proportions drawn uniformly in each channel's [min, max] (min > 0); the last channel takes
  the rest, ``max(0, 1 - sum)``, so it goes dark whenever the others' proportions sum past 1. Spend follows the
  baseline's trend. Within a campaign every day spends the same.
* Activity: impressions = spend / noisy CPM × 1000 or clicks = spend / noisy CPC (noise per campaign).
* Response per channel (daily activity ``x``): geometric (``x_t + lambda * a_{t-1}``) or Weibull-pdf adstock,
  then "saturation" ``a * a^alpha / (a^alpha + g^alpha)`` (Hill or S-curve with ``g`` from ``gamma`` times the
  run's maximum or range). NOTE the extra factor ``a``: the curve is convex at low activity and linear at high
  activity, it never saturates; the model's family (concave Hill) does not contain it.
* Conversions per channel = response × CVR, the CVR drawn per campaign (true CVR × Weibull noise); revenue from
  ads = conversions × ``revenue_per_conv``; KPI ``total_revenue`` = baseline revenue + revenue from ads.
* Geos (``distribute_to_geos``): the package copies the national daily frame to every geo and scales it by the
  geo's size (with a per-geo noise on media and on revenue): every region then has the SAME weekly shape.

Truth it gives: per channel and day the conversions (so contributions, KPI units) and the response before CVR
(the true shape, so a true-shape oracle is possible), and ``channel_roi`` = revenue per conversion / CPA - 1
(a net ROI; ``mmm_core`` reports gross ROI = contribution / spend, so the table below recomputes that). No
channel graph, no controls: direct = total contribution.

Two ways to make regions (``geo_mode``):
* ``"independent"`` (default): each region is its own run of the generator (same config, its own seed), every
  count scaled by the region's size from the package's ``Geos.create_random_geos`` (beta-distributed shares):
  regions differ week by week, as real regions do.
* ``"package"``: one national run distributed by the package's ``distribute_to_geos`` (scaled copies; the
  regional dimension carries no information beyond scale).

Units: KPI and contributions in revenue units, spend in currency, activity in impressions or clicks.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import pandas as pd

from mmm_core.data.contract import Panel

START = "2022/01/03"
"""A Monday, so weeks start on the generator's first day."""
REVENUE_PER_CONVERSION = 50.0
CLICK_CHANNELS = ("search",)
IMPRESSION_CHANNELS = ("social", "display", "online_video", "tv")
CHANNELS = CLICK_CHANNELS + IMPRESSION_CHANNELS
"""The generator orders channels clicks first, then impressions; ``tv`` is the last and takes the budget's rest."""
DAILY_BUDGET = 12_000.0
"""Mean spend per day over all channels (currency) in a region of size 1."""

SCENARIOS: dict[str, dict] = {
    # Daily campaigns with narrow proportions: every channel always on, weekly spend nearly flat (only trend and
    # the average of seven daily draws move it). Identification only from small wiggles: the hard case.
    "always_on": {"frequency": 1, "proportions": {"search": (0.25, 0.35), "social": (0.15, 0.25),
                                                 "display": (0.08, 0.14), "online_video": (0.10, 0.16)}},
    # Weekly campaigns: search and display steady, social and online video bursty (x20 between weeks), TV
    # (the rest) dark in the weeks where the others take the whole budget.
    "mixed": {"frequency": 7, "proportions": {"search": (0.20, 0.35), "social": (0.02, 0.40),
                                             "display": (0.10, 0.15), "online_video": (0.02, 0.40)}},
    # Fortnightly campaigns with wide proportions: every channel swings x40-50 between flights; TV dark in about
    # half of the fortnights.
    "flighted": {"frequency": 14, "proportions": {"search": (0.01, 0.50), "social": (0.01, 0.50),
                                                 "display": (0.01, 0.40), "online_video": (0.01, 0.50)}},
}
"""scenario -> campaign length (days) and each non-TV channel's [min, max] share of a campaign's budget."""


def _config(scenario: str, years: int) -> dict:
    """The generator's configuration (its own schema, ``pysimmmulator.load_parameters.create_all_parameters``)."""
    spec = SCENARIOS[scenario]
    frequency = spec["frequency"]
    return {
        "basic_params": {"years": years, "channels_clicks": list(CLICK_CHANNELS),
                         "channels_impressions": list(IMPRESSION_CHANNELS), "frequency_of_campaigns": frequency,
                         "start_date": START, "revenue_per_conv": REVENUE_PER_CONVERSION,
                         "true_cvr": {"search": 0.03, "social": 0.0002, "display": 0.0002,
                                      "online_video": 0.00017, "tv": 0.0016}},
        # Baseline sales per day: level 1500, +300 over the period, yearly sine of amplitude ~200, noise sd 120.
        "baseline_params": {"base_p": 1500, "trend_p": 300, "temp_var": 200, "temp_coef_mean": 1,
                            "temp_coef_sd": 0.2, "error_std": 120},
        "ad_spend_params": {"campaign_spend_mean": DAILY_BUDGET * frequency,
                            "campaign_spend_std": 0.3 * DAILY_BUDGET * frequency,
                            "max_min_proportion_on_each_channel": {
                                c: {"min": lo, "max": hi} for c, (lo, hi) in spec["proportions"].items()}},
        # search needs a CPM too: the package caps clicks at impressions, and a channel without a CPM gets
        # ~0 impressions (CPM 1e10), hence 0 clicks (0.6.2).
        "media_params": {"true_cpm": {"search": 2.0, "social": 6.0, "display": 3.0, "online_video": 12.0, "tv": 20.0},
                         "true_cpc": {"search": 1.2},
                         "noisy_cpm_cpc": {"search": {"loc": 0.0, "scale": 0.1}, "social": {"loc": 0.0, "scale": 0.5},
                                           "display": {"loc": 0.0, "scale": 0.3},
                                           "online_video": {"loc": 0.0, "scale": 1.0},
                                           "tv": {"loc": 0.0, "scale": 1.5}}},
        "cvr_params": {"noisy_cvr": {c: {"loc": 0.0, "scale": 0.02} for c in CHANNELS}},
        # Carry-over per DAY (the generator is daily): search ~1 day, social/online video ~3-4 days, display and
        # TV Weibull lags peaking after a few days; curves of both of the package's families.
        "adstock_params": {
            "adstock": {"search": {"type": "geometric", "params": {"lambda": 0.3}},
                        "social": {"type": "geometric", "params": {"lambda": 0.7}},
                        "display": {"type": "weibull", "params": {"shape": 1.5, "scale": 5.0}},
                        "online_video": {"type": "geometric", "params": {"lambda": 0.8}},
                        "tv": {"type": "weibull", "params": {"shape": 2.0, "scale": 10.0}}},
            "saturation": {"search": {"type": "hill", "params": {"alpha": 1.0, "gamma": 0.5}},
                           "social": {"type": "scurve", "params": {"alpha": 2.0, "gamma": 0.3}},
                           "display": {"type": "hill", "params": {"alpha": 1.5, "gamma": 0.6}},
                           "online_video": {"type": "hill", "params": {"alpha": 2.0, "gamma": 0.4}},
                           "tv": {"type": "hill", "params": {"alpha": 2.0, "gamma": 0.5}}}},
        "output_params": {"aggregation_level": "daily"},
    }


def _metric(channel: str) -> str:
    return "clicks" if channel in CLICK_CHANNELS else "impressions"


def _run_daily(config: dict, seed: int) -> pd.DataFrame:
    """One run of the generator's own pipeline (``Simulate.run_with_config`` up to, not including, the output
    step that drops the per-channel conversions and responses). Columns: date, total_revenue and per channel
    ``<ch>_spend``, ``<ch>_<metric>``, ``<ch>_conversions``, ``<ch>_response`` (adstocked, saturated activity)."""
    from pysimmmulator import Simulate
    from pysimmmulator.load_parameters import create_all_parameters

    params = create_all_parameters(copy.deepcopy(config))
    sim = Simulate(basic_params=params["basic_params"], random_seed=seed)
    baseline = sim.simulate_baseline(params["baseline_params"])
    spend = sim.simulate_ad_spend(baseline_sales_df=baseline, params=params["ad_spend_params"])
    spend = sim.simulate_media(spend_df=spend, params=params["media_params"])
    spend = sim.simulate_cvr(spend_df=spend, params=params["cvr_params"])
    daily = sim.simulate_decay_returns(spend_df=spend, params=params["adstock_params"])
    response = {f"{c}_response": daily[f"{c}_{_metric(c)}_adstocked_decay_diminishing"].to_numpy() for c in CHANNELS}
    daily = sim.calculate_conversions(mmm_df=daily)
    daily = sim.consolidate_dataframe(mmm_df=daily, baseline_sales_df=baseline)
    # Bug in 0.6.2 (consolidate_dataframe): the daily baseline is aligned on the campaign id, not the day, so
    # with campaigns longer than a day every day of campaign k gets day k's baseline (the trend and yearly
    # season squeezed into the first T / frequency days, the noise frozen over each campaign). Realigned by day
    # here, as the docstring of simulate_baseline describes; with daily campaigns this changes nothing.
    # (The media frame runs one day longer, end date inclusive; that day falls in the dropped partial week.)
    daily = daily.reset_index(drop=True)
    baseline_revenue = np.full(len(daily), np.nan)
    days = min(len(daily), len(baseline))
    baseline_revenue[:days] = (np.round(baseline["baseline_sales"].to_numpy()[:days])
                               * params["basic_params"].revenue_per_conv)
    daily = daily.assign(baseline_revenue=baseline_revenue)
    daily["total_revenue"] = daily["total_revenue_from_ads"] + daily["baseline_revenue"]
    return daily.assign(**response)


def _weekly(daily: pd.DataFrame, n_weeks: int) -> pd.DataFrame:
    """Sums over the generator's days in weeks of 7 from the (Monday) start; the partial last week dropped."""
    numeric = daily.drop(columns=["date"]).to_numpy(dtype=np.float64)[: 7 * n_weeks]
    return pd.DataFrame(numeric.reshape(n_weeks, 7, -1).sum(axis=1), columns=daily.columns.drop("date"))


@dataclass(frozen=True)
class ExternalSimulation:
    """A ``pysimmmulator`` panel and its truth. contribution ``[R, T, C]`` revenue per channel (direct = total);
    response ``[R, T, C]`` the true shaped activity (adstocked, saturated, before CVR) times the region's size,
    whose coefficient per channel is CVR × revenue per conversion; season ``[T]`` the generator's yearly sine
    summed per week; package_roi: the generator's own ``channel_roi`` per channel (net, national, all weeks)."""

    panel: Panel
    contribution: np.ndarray
    response: np.ndarray
    season: np.ndarray
    package_roi: dict[str, float]
    scenario: str
    geo_mode: str

    def true_contributions(self, panel: Panel | None = None) -> pd.DataFrame:
        """Per channel over the weeks of ``panel`` (a leading slice of this panel; default all): direct_contribution,
        total_contribution, spend, share (of media), roi (gross: contribution / spend). KPI units, currency."""
        T = (panel or self.panel).n_weeks
        direct = self.contribution[:, :T].sum(axis=(0, 1))
        spend = self.panel.spend[:, :T].sum(axis=(0, 1))
        return _table(self.panel.channels, direct, spend)

    def oracle_contributions(self, panel: Panel) -> pd.DataFrame:
        """The true-shape oracle on ``panel`` (a leading slice): least squares, without priors, of the KPI on the
        true shaped activity of every channel (coefficients shared across regions), after projecting out per
        region an intercept, a linear trend and the generator's yearly sine. It knows the adstock and curve of
        every channel; what it cannot know is the per-campaign CVR noise and the baseline noise. Same columns
        as ``true_contributions``."""
        T = panel.n_weeks
        t = np.arange(T, dtype=np.float64)
        design = np.column_stack([np.ones(T), t / 52.0, self.season[:T]])  # [T, 3] per-region nuisance columns
        projector = np.eye(T) - design @ np.linalg.pinv(design)  # residual maker, same for every region
        y_res = (projector @ panel.kpi.T).T  # [R, T]
        x_res = np.einsum("st,rtc->rsc", projector, self.response[:, :T])  # [R, T, C]
        beta = np.linalg.lstsq(x_res.reshape(-1, x_res.shape[-1]), y_res.reshape(-1), rcond=None)[0]  # [C]
        direct = (self.response[:, :T] * beta).sum(axis=(0, 1))
        return _table(panel.channels, direct, panel.spend.sum(axis=(0, 1)))


def _table(channels, direct: np.ndarray, spend: np.ndarray) -> pd.DataFrame:
    media = direct.sum()
    return pd.DataFrame({"channel": list(channels), "direct_contribution": direct, "total_contribution": direct,
                         "spend": spend, "share": direct / media if media else np.zeros_like(direct),
                         "roi": np.divide(direct, spend, out=np.zeros_like(direct), where=spend > 0)})


def spend_share_guess(truth: pd.DataFrame) -> pd.DataFrame:
    """The naive attribution: each channel's share of media = its share of spend, one ROI for every channel
    (the TRUE media total over total spend: generous, the guess is told the media level)."""
    spend = truth["spend"].to_numpy()
    table = _table(truth["channel"], truth["direct_contribution"].sum() * spend / spend.sum(), spend)
    return table.assign(roi=truth["direct_contribution"].sum() / spend.sum())  # exactly one value: no ranking


def simulate_pysimmmulator(scenario: str = "mixed", seed: int = 0, n_regions: int = 10, years: int = 2,
                           geo_mode: str = "independent") -> ExternalSimulation:
    """Draw a region × week panel (see the module docstring): ``years`` × 52 weeks, ``n_regions`` regions."""
    if scenario not in SCENARIOS:
        raise ValueError(f"scenario must be one of {sorted(SCENARIOS)}, got {scenario!r}")
    if geo_mode not in ("independent", "package"):
        raise ValueError(f"geo_mode must be 'independent' or 'package', got {geo_mode!r}")
    from pysimmmulator import Geos

    config = _config(scenario, years)
    T, R = 52 * years, n_regions
    sizes = Geos(total_population=1_000_000, random_seed=seed).create_random_geos(count=R)
    names = [f"region_{r:02d}" for r in range(R)]
    size = np.array(list(sizes.values()), dtype=np.float64)
    size = np.maximum(size, 1.0) / size.mean()  # [R] mean 1
    if geo_mode == "independent":
        weekly = [_weekly(_run_daily(config, seed * 10_000 + r), T) * size[r] for r in range(R)]
    else:
        weekly = _package_geos(config, seed, size, T)
    days = np.arange(7 * T)
    season = np.sin(days * 3.14 / 182.5).reshape(T, 7).sum(axis=1)  # the generator's seasonal shape per week
    stack = lambda suffix: np.stack([np.stack([w[f"{c}_{suffix(c)}"].to_numpy() for c in CHANNELS], -1)
                                     for w in weekly])  # noqa: E731  [R, T, C]
    spend = stack(lambda c: "spend")
    activity = stack(_metric)
    contribution = stack(lambda c: "conversions") * REVENUE_PER_CONVERSION
    response = stack(lambda c: "response")
    kpi = np.stack([w["total_revenue"].to_numpy() for w in weekly])
    if geo_mode == "package":  # the package rescales revenue per geo after the split: contributions follow
        ads_and_base = np.stack([(w["total_revenue_from_ads"] + w["baseline_revenue"]).to_numpy() for w in weekly])
        factor = (kpi.sum(1) / ads_and_base.sum(1))[:, None, None]
        contribution, response = contribution * factor, response * factor
    panel = Panel(regions=names, weeks=np.datetime64("2022-01-03") + 7 * np.arange(T), channels=list(CHANNELS),
                  control_names=[], kpi=kpi, spend=spend, activity=activity, controls=np.zeros((R, T, 0)),
                  population=size)
    package_roi = {}
    for c in CHANNELS:  # the generator's formula (Simulate.calculate_channel_roi) over the panel
        cpa = spend[..., CHANNELS.index(c)].sum() / (contribution[..., CHANNELS.index(c)].sum() / REVENUE_PER_CONVERSION)
        package_roi[c] = float((REVENUE_PER_CONVERSION - cpa) / cpa)
    return ExternalSimulation(panel, contribution, response, season, package_roi, scenario, geo_mode)


def _package_geos(config: dict, seed: int, size: np.ndarray, T: int) -> list[pd.DataFrame]:
    """One national run split by the package's ``distribute_to_geos`` (its default noise), weekly per geo."""
    from pysimmmulator import distribute_to_geos

    daily = _run_daily(config, seed)
    geo_details = {f"region_{r:02d}": int(s * 100_000) for r, s in enumerate(size)}
    split = distribute_to_geos(daily, geo_details, random_seed=seed).reset_index()
    # distribute_to_geos scales count columns (spend, media, conversions, revenue) but not the response
    share = {g: p / sum(geo_details.values()) for g, p in geo_details.items()}
    out = []
    for g in geo_details:
        part = split[split["geo_name"] == g].drop(columns=["geo_name"]).reset_index(drop=True)
        scale = part["search_conversions"].sum() / daily["search_conversions"].sum() if daily["search_conversions"].sum() else share[g]
        part = part.assign(**{f"{c}_response": daily[f"{c}_response"].to_numpy() * scale for c in CHANNELS})
        out.append(_weekly(part, T))
    return out
