"""Response curves from a fitted model (budget scenarios built on them: ``mmm_core.planning.scenarios``).

The planning window is the last ``planning_weeks`` of a panel (the refresh window). A channel's spend is
multiplied only inside it; its effect is counted over the window plus ``carryover_weeks`` after it
(future weeks appended to the panel: no media, controls held at their last observed value), so carry-over
beyond the window is included. Spend and activity scale together (constant cost per unit); the channel's
*own* activity is scaled and the change propagates to its children along the learned DAG. Every run is
the model's one counterfactual, ``MMM.counterfactual`` (the GRU's modulation held at the factual), the
same one ``MMM.contributions`` uses, computed by ``MMM.media_kpi`` (which recomputes only the channels a run
changes; only the media part differs between counterfactuals), so

    response[m, r, c] = sum over the counted, observed weeks of region r of
                        kpi_pred(channel c's own activity × m in the window) - kpi_pred(× 0 in the window)

is 0 at zero spend, and at 1× over the whole panel (``planning_weeks = n_weeks``, no carry-over weeks)
it is the channel's total contribution. One batch of runs (per channel and multiplier, all
regions at once) gives both the per-region and the national (summed) curves; each is fitted with a Hill
curve (top, bottom, half-saturation, slope) as the seed's ResponseCurveFit does, in currency over the window.

With ensemble members (``response_curves(..., members=ensemble.members())``) every member is run at the same
multipliers on the same window, and the tables carry central intervals over them: a band around each curve
point (``response_lower`` / ``response_upper``) and intervals on each curve's ROI and mROI.

Each point also says how far it leaves the data (``mmm_core.analysis.observed_range``): at multiplier m a
region-channel's busiest window week uses ``m × peak window activity``, compared with the highest weekly
activity of the training weeks; a national point takes its largest region ratio.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from collections.abc import Sequence

import numpy as np
import pandas as pd

from mmm_core.analysis.observed_range import ObservedRange, beyond_observed_range
from mmm_core.planning.budget import NATIONAL, ResponseCurve, hill_response
from mmm_core.data.contract import Panel
from mmm_core.model.ensemble import EnsembleConfig, central_interval
from mmm_core.model.estimator import MMM
from mmm_core.model.parallel import parallel_map

DEFAULT_MULTIPLIERS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.01, 1.25, 1.5, 2.0, 2.5, 3.0)
"""Spend multipliers at which the model is run (1.01 gives the model's mROI at a +1 % step)."""
MROI_STEP = 0.01
DEFAULT_PLANNING_WEEKS = 13
"""The planning window: the last quarter of the refresh window, whose spend the curves and budgets scale."""
SATURATION_SHARE = 0.9
"""``saturation_spend`` is where a curve reaches this share of its range (top - bottom)."""


# -- the planning window --------------------------------------------------------------------------
@dataclass(frozen=True)
class PlanningWindow:
    """``panel`` extended by carry-over weeks; ``in_window`` ``[T']`` marks the planning weeks whose
    spend is scaled, ``counted`` ``[T']`` the weeks whose KPI is summed (window + carry-over; only the
    region-weeks the panel observes count, as in ``MMM.contributions``)."""

    panel: Panel
    in_window: np.ndarray
    counted: np.ndarray
    planning_weeks: int
    carryover_weeks: int

    @cached_property
    def spend(self) -> np.ndarray:
        """``[R, C]`` current spend in the planning window (currency, observed region-weeks). Computed once
        (a pass over the whole panel) and read-only, as the window is."""
        p = self.panel
        return _read_only(np.where(p.observed[..., None] & self.in_window[None, :, None], p.spend, 0.0).sum(axis=1))

    @cached_property
    def peak_activity(self) -> np.ndarray:
        """``[R, C]`` highest weekly activity in the planning window (input units, observed region-weeks):
        the week a spend multiplier pushes furthest. Computed once and read-only."""
        p = self.panel
        return _read_only(np.where(p.observed[..., None] & self.in_window[None, :, None], p.activity, 0.0).max(axis=1))

    def own_multiplier(self, multiplier: np.ndarray) -> np.ndarray:
        """``[R, T', C]`` factors on own activity for ``MMM.counterfactual``: ``multiplier`` (``[R, C]`` or
        ``[C]``) inside the planning weeks, 1 elsewhere."""
        p = self.panel
        mult = np.broadcast_to(np.asarray(multiplier, dtype=np.float64), (p.n_regions, p.n_channels))
        return np.where(self.in_window[None, :, None], mult[:, None, :], 1.0)

    def counted_media(self, mmm: MMM, multipliers: np.ndarray) -> np.ndarray:
        """``[B, R]`` the media part of the predicted KPI (``MMM.media_kpi``: KPI units) summed over the counted,
        observed weeks with own activity × ``multipliers[b]`` (``[B, R, C]`` or ``[B, C]``) in the planning weeks.
        Every other part of a counterfactual's prediction is the factual's, so differences between these are
        differences of the model's counterfactual KPI."""
        media = mmm.media_kpi(self.panel, multipliers, weeks=self.in_window)  # [B, R, T']
        return np.where((self.counted[None, :] & self.panel.observed)[None], media, 0.0).sum(axis=2)


def planning_window(mmm: MMM, panel: Panel, planning_weeks: int = DEFAULT_PLANNING_WEEKS, carryover_weeks: int | None = None) -> PlanningWindow:
    """The last ``planning_weeks`` of ``panel`` plus ``carryover_weeks`` appended future weeks (default:
    the model's adstock kernel length). The extended panel is derived (``Panel.derive``), not input."""
    if not 1 <= planning_weeks <= panel.n_weeks:
        raise ValueError(f"planning_weeks must be in 1..{panel.n_weeks}, got {planning_weeks}")
    extra = mmm.model_config_.adstock_max_lag_weeks if carryover_weeks is None else int(carryover_weeks)
    if extra < 0:
        raise ValueError(f"carryover_weeks must be >= 0, got {extra}")
    R, T, C, K = panel.n_regions, panel.n_weeks, panel.n_channels, panel.n_controls
    last_seen = T - 1 - np.argmax(panel.observed[:, ::-1], axis=1)  # [R] last observed week per region
    held = panel.controls[np.arange(R), last_seen]  # [R, K]
    weeks = np.concatenate([panel.weeks, panel.weeks[-1] + 7 * np.arange(1, extra + 1)])
    pad = lambda a, tail: np.concatenate([a, tail], axis=1)  # noqa: E731
    extended = panel.derive(weeks=weeks, kpi=pad(panel.kpi, np.zeros((R, extra))),
                            spend=pad(panel.spend, np.zeros((R, extra, C))),
                            activity=pad(panel.activity, np.zeros((R, extra, C))),
                            controls=pad(panel.controls, np.broadcast_to(held[:, None, :], (R, extra, K))),
                            observed=pad(panel.observed, np.ones((R, extra), dtype=bool)))
    position = np.arange(T + extra)
    return PlanningWindow(extended, (position >= T - planning_weeks) & (position < T), position >= T - planning_weeks,
                          planning_weeks, extra)


def model_response(mmm: MMM, window: PlanningWindow, multiplier: np.ndarray) -> np.ndarray:
    """``[R]`` KPI over the counted weeks with spend × ``multiplier`` ``[R, C]`` minus the KPI with no
    media at all in the planning window: the full model's response to an allocation (KPI units)."""
    allocation, zero = window.counted_media(mmm, [np.broadcast_to(multiplier, window.spend.shape),
                                                  np.zeros(window.spend.shape)])
    return allocation - zero


# -- response points and Hill fits ----------------------------------------------------------------
@dataclass(frozen=True)
class ResponsePoints:
    """The model run at spend multipliers. ``response`` ``[M, R, C]`` KPI units (0 at multiplier 0),
    ``spend`` ``[R, C]`` current planning-window spend."""

    regions: tuple[str, ...]
    channels: tuple[str, ...]
    multipliers: np.ndarray
    spend: np.ndarray
    response: np.ndarray


def response_points(mmm: MMM, window: PlanningWindow, multipliers: Sequence[float] = DEFAULT_MULTIPLIERS) -> ResponsePoints:
    """Run the model at every multiplier for every channel (one channel scaled at a time, all regions)."""
    mults = np.asarray(sorted({float(m) for m in multipliers} | {0.0, 1.0}))
    if mults[0] < 0:
        raise ValueError("spend multipliers must be >= 0")
    panel = window.panel
    R, C = panel.n_regions, panel.n_channels
    runs = [np.ones(C)]  # the factual, then one run per channel and multiplier other than 1
    at = np.zeros((len(mults), C), dtype=int)  # index of each (multiplier, channel) in runs
    for c in range(C):
        for i, m in enumerate(mults):
            if m != 1.0:
                at[i, c] = len(runs)
                runs.append(np.where(np.arange(C) == c, m, 1.0))
    counted = window.counted_media(mmm, np.stack(runs))  # [runs, R]
    totals = np.moveaxis(counted[at], 2, 1)  # [M, R, C]
    response = totals - totals[mults == 0.0]
    return ResponsePoints(panel.regions, panel.channels, mults, window.spend, response)


HILL_STARTS = ((1.0, 1.0), (0.5, 2.0), (2.0, 0.8), (1.0, 3.0))
"""Starting (half-saturation, slope) of every Hill fit, the half-saturation relative to current spend: the
least squares is not convex, so each curve keeps the best of these starts (concave, S-shaped, late, steep)."""
HILL_LOWER = np.array([-np.inf, -np.inf, np.log(1e-3), np.log(0.1)])
HILL_UPPER = np.array([np.inf, np.inf, np.log(1e3), np.log(10.0)])
"""Bounds on a Hill fit's (top, bottom, log half-saturation, log slope): half-saturation 1e-3 to 1e3 times
current spend, slope 0.1 to 10 (top and bottom free)."""


def _hill_value_and_jacobian(theta: np.ndarray, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The fitted curve and its analytic Jacobian in the fit's parameters.

    theta: ``[P, 4]`` (top, bottom, log k, log s) per problem; u: ``[M]`` spend relative to current spend
    (>= 0). Returns (``[P, M]`` ``hill_response(u, top, bottom, k, s)``, ``[P, M, 4]`` its derivatives in
    theta). With h the Hill saturation, ``dh/d log k = -s h (1 - h)`` and
    ``dh/d log s = s (log u - log k) h (1 - h)`` (both 0 at u = 0, where h is exactly 0)."""
    top, bottom, log_k, log_s = (theta[:, i:i + 1] for i in range(4))
    slope = np.exp(log_s)
    h = hill_response(u[None, :], 1.0, 0.0, np.exp(log_k), slope)  # [P, M]
    positive = u > 0
    log_u = np.log(np.where(positive, u, 1.0))[None, :]
    spread = (top - bottom) * slope * h * (1.0 - h)
    jac = np.stack([h, 1.0 - h, -spread, np.where(positive, spread * (log_u - log_k), 0.0)], axis=-1)
    return bottom + (top - bottom) * h, jac


def _least_squares_hills(u: np.ndarray, y: np.ndarray, start: np.ndarray, lower: np.ndarray, upper: np.ndarray,
                         max_iter: int = 500) -> tuple[np.ndarray, np.ndarray]:
    """P bounded least-squares Hill fits solved side by side: (``[P, 4]`` parameters, ``[P]`` cost = half the
    sum of squared residuals) of ``y`` ``[P, M]`` at ``u`` ``[M]`` (``_hill_value_and_jacobian``'s theta).

    Levenberg–Marquardt from ``start`` ``[P, 4]`` with the analytic Jacobian and each problem's own damping
    (Marquardt's diagonal scaling; divided by 3 after a step that lowers the cost, multiplied by 4 after one
    that does not); steps are projected onto ``lower`` / ``upper`` ``[4]``, and a parameter at a bound whose
    gradient points out of the box is held there for the step. A problem stops when an accepted step no
    longer lowers its cost beyond float rounding (or barely moves it), when its projected gradient vanishes
    or when no damping finds a lower cost; all stop by ``max_iter`` iterations. Vectorised over P, so one
    call fits every curve of a refresh."""
    theta = np.clip(start.astype(np.float64), lower, upper)
    fitted, jac = _hill_value_and_jacobian(theta, u)
    resid = fitted - y
    cost = 0.5 * (resid ** 2).sum(axis=1)
    damping = np.full(len(theta), 1e-3)
    todo = np.arange(len(theta))
    eye = np.eye(4)
    for _ in range(max_iter):
        if not len(todo):
            break
        th, r, J = theta[todo], resid[todo], jac[todo]
        grad = np.einsum("pmi,pm->pi", J, r)
        held = ((th <= lower) & (grad > 0)) | ((th >= upper) & (grad < 0))
        free = ~held
        normal = np.einsum("pmi,pmj->pij", J, J) * (free[:, :, None] & free[:, None, :])
        diag = np.einsum("pii->pi", normal)
        scale = np.maximum(diag, 1e-12 * diag.max(axis=1, keepdims=True) + 1e-300)
        system = normal + eye * (damping[todo, None] * scale + held)[:, :, None]
        step = np.linalg.solve(system, -np.where(free, grad, 0.0)[..., None])[..., 0]
        trial = np.clip(th + step, lower, upper)
        trial_fit, trial_jac = _hill_value_and_jacobian(trial, u)
        trial_resid = trial_fit - y[todo]
        trial_cost = 0.5 * (trial_resid ** 2).sum(axis=1)
        better = trial_cost < cost[todo]
        ok = todo[better]
        gain = cost[ok] - trial_cost[better]
        moved = np.abs(trial - th)[better].max(axis=1)
        theta[ok], fitted[ok], jac[ok], resid[ok], cost[ok] = trial[better], trial_fit[better], trial_jac[better], \
            trial_resid[better], trial_cost[better]
        damping[todo] = np.where(better, np.maximum(damping[todo] / 3.0, 1e-12), damping[todo] * 4.0)
        stalled = np.zeros(len(todo), dtype=bool)
        stalled[better] = (gain <= 1e-14 * (cost[ok] + 1e-300)) | (moved <= 1e-12 * (1.0 + np.abs(theta[ok]).max(axis=1)))
        flat = np.abs(np.where(free, grad, 0.0)).max(axis=1) <= 1e-15
        todo = todo[~(stalled | flat | (damping[todo] > 1e16))]
    return theta, cost


def fit_hills(multipliers: np.ndarray, responses: np.ndarray, current_spends: Sequence[float], channels: Sequence[str],
              regions: Sequence[str] | None = None) -> tuple[ResponseCurve, ...]:
    """Least-squares Hill fits (top, bottom, half-saturation, slope) of N response series at once.

    ``responses`` ``[N, M]`` (KPI units) at spend ``multipliers`` ``[M]`` × ``current_spends`` ``[N]``
    (currency over the window); ``channels`` / ``regions`` ``[N]`` name the curves (``regions`` None: all
    national). Each series is fitted on its response over its largest |response| with the half-saturation
    relative to its current spend, from every start in ``HILL_STARTS`` (top 1.5 × the largest scaled
    response, at least 0.15; bottom 0) within ``HILL_LOWER`` / ``HILL_UPPER``, keeping the start of least
    cost; all N × starts problems run side by side (``_least_squares_hills``), which is what makes the
    thousands of region curves of a refresh cheap. A zero-spend or all-zero series gives a flat curve with
    r2 NaN. ``r2`` is the fit's R² on the points."""
    u = np.asarray(multipliers, dtype=np.float64)
    responses = np.asarray(responses, dtype=np.float64).reshape(-1, len(u))
    spends = np.asarray(current_spends, dtype=np.float64).reshape(-1)
    regions = [NATIONAL] * len(responses) if regions is None else list(regions)
    if not len(spends) == len(channels) == len(regions) == len(responses):
        raise ValueError(f"{len(responses)} response series need as many spends, channels and regions, got "
                         f"{len(spends)}, {len(channels)}, {len(regions)}")
    y_scale = np.abs(responses).max(axis=1) if responses.size else np.zeros(len(responses))
    fitted = np.flatnonzero((spends > 0) & (y_scale > 0))
    y = responses[fitted] / y_scale[fitted, None]  # [n, M]
    top0 = np.maximum(y.max(axis=1, initial=-np.inf), 0.1) * 1.5
    starts = np.concatenate([np.stack([top0, np.zeros_like(top0), np.full_like(top0, np.log(k0)),
                                       np.full_like(top0, np.log(s0))], axis=1) for k0, s0 in HILL_STARTS])
    every, cost = _least_squares_hills(u, np.tile(y, (len(HILL_STARTS), 1)), starts, HILL_LOWER, HILL_UPPER)
    first_least = np.argmin(cost.reshape(len(HILL_STARTS), len(fitted)), axis=0)  # [n]
    best = every.reshape(len(HILL_STARTS), len(fitted), 4)[first_least, np.arange(len(fitted))]  # [n, 4]
    resid = hill_response(u, best[:, :1], best[:, 1:2], np.exp(best[:, 2:3]), np.exp(best[:, 3:4])) - y
    total = ((y - y.mean(axis=1, keepdims=True)) ** 2).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = np.where(total > 0, 1.0 - (resid ** 2).sum(axis=1) / total, np.nan)
    curves = [ResponseCurve(ch, 0.0, 0.0, max(float(spend), 1.0), 1.0, float(spend), region)
              for ch, spend, region in zip(channels, spends, regions)]
    for j, n in enumerate(fitted):
        top, bottom, log_k, log_s = best[j]
        curves[n] = ResponseCurve(channels[n], float(top * y_scale[n]), float(bottom * y_scale[n]),
                                  float(np.exp(log_k) * spends[n]), float(np.exp(log_s)), float(spends[n]), regions[n],
                                  float(r2[j]))
    return tuple(curves)


def fit_hill(multipliers: np.ndarray, response: np.ndarray, current_spend: float, channel: str,
             region: str = NATIONAL) -> ResponseCurve:
    """``fit_hills`` of one series: the Hill fit of ``response`` ``[M]`` at spend ``multipliers * current_spend``."""
    return fit_hills(multipliers, np.asarray(response, dtype=np.float64)[None, :], [current_spend], [channel],
                     [region])[0]


@dataclass(frozen=True)
class ResponseCurveSet:
    """National curves (one per channel), per-region curves (one per region-channel, empty when not
    asked for), the model points they were fitted to, and the range the model was trained on."""

    national: tuple[ResponseCurve, ...]
    regional: tuple[ResponseCurve, ...]
    points: ResponsePoints
    window: PlanningWindow
    observed_range: ObservedRange
    member_response: np.ndarray | None = None
    """``[K, M, R, C]`` KPI units: each ensemble member's ``ResponsePoints.response`` (None without members)."""
    interval: float | None = None
    """Level of the central intervals over the members (None without members)."""

    def ratio_to_observed_max(self, multiplier: np.ndarray) -> np.ndarray:
        """``[R, C]`` ratio of the activity used at spend ``multiplier`` (``[R, C]`` or ``[C]``; applied to every
        planning week) to the highest observed weekly activity, per region-channel: the window's busiest week
        decides. ``.max(axis=0)`` is a national allocation's ratio."""
        mult = np.broadcast_to(np.asarray(multiplier, dtype=np.float64), self.window.spend.shape)
        return self.observed_range.ratio(mult * self.window.peak_activity)

    @cached_property
    def current_ratio(self) -> np.ndarray:
        """``[R, C]`` ``ratio_to_observed_max`` at current spend (multiplier 1), computed once: every curve's
        ratio at a multiplier m is m times its entry (a national curve's: its channel's largest)."""
        return _read_only(self.ratio_to_observed_max(np.ones(len(self.points.channels))))

    def _ratio(self, curve: ResponseCurve, multipliers: np.ndarray) -> np.ndarray:
        """``[M]`` ratio to the observed maximum of ``curve`` at each spend multiplier."""
        current = self.current_ratio[:, self.points.channels.index(curve.channel)]
        scale = current.max() if curve.region == NATIONAL else current[self.points.regions.index(curve.region)]
        return np.asarray(multipliers, dtype=np.float64) * scale

    def _series(self, curve: ResponseCurve, response: np.ndarray | None = None) -> tuple[np.ndarray, float]:
        """(``[..., M]`` response of ``curve`` at each multiplier, its current window spend) from ``response``
        ``[..., M, R, C]`` (the point model's when None; ``member_response`` gives ``[K, M]``)."""
        pts, c = self.points, self.points.channels.index(curve.channel)
        response = pts.response if response is None else response
        if curve.region == NATIONAL:
            return response[..., c].sum(axis=-1), float(pts.spend[:, c].sum())
        r = pts.regions.index(curve.region)
        return response[..., r, c], float(pts.spend[r, c])

    def _index(self, curve: ResponseCurve) -> tuple[int, int]:
        """(row, channel) of ``curve`` in ``_member_bands``' arrays: its region's index, R for a national curve."""
        pts = self.points
        row = len(pts.regions) if curve.region == NATIONAL else pts.regions.index(curve.region)
        return row, pts.channels.index(curve.channel)

    @cached_property
    def _member_bands(self) -> dict[str, tuple[np.ndarray, np.ndarray]] | None:
        """Central intervals over the members for every curve at once (None without members): ``response``
        (lower, upper) ``[M, R + 1, C]``, ``roi`` and ``mroi`` ``[R + 1, C]``; row r is region r's curve, row R the
        national one (``_index``). Each statistic is computed per member, then its quantiles taken."""
        if self.member_response is None:
            return None
        series = np.concatenate([self.member_response, self.member_response.sum(axis=2, keepdims=True)], axis=2)
        spend = np.concatenate([self.points.spend, self.points.spend.sum(axis=0, keepdims=True)])  # [R + 1, C]
        roi, mroi = self._roi_mroi(np.moveaxis(series, 1, -1), spend)  # [K, R + 1, C] each
        return {"response": central_interval(series, self.interval), "roi": central_interval(roi, self.interval),
                "mroi": central_interval(mroi, self.interval)}

    def _member_interval(self, curve: ResponseCurve, statistic: str, like: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(lower, upper) central interval over the members of ``statistic`` (a key of ``_member_bands``) for
        ``curve``, or NaN shaped like ``like`` (the point model's statistic) without members."""
        bands = self._member_bands
        if bands is None:
            nan = np.full(np.shape(like), np.nan)
            return nan, nan
        row, c = self._index(curve)
        return tuple(bound[..., row, c] for bound in bands[statistic])

    def member_national_curves(self) -> list[tuple[ResponseCurve, ...]]:
        """Each member's national Hill curves (``fit_hills`` on its own points, all members in one batch; one per
        channel, in channel order), for planning on the members (``optimise_budget_under_risk``). Raises
        ``ValueError`` without members."""
        if self.member_response is None:
            raise ValueError("the curve set has no ensemble members")
        series = [self._series(curve, self.member_response[k])
                  for k in range(len(self.member_response)) for curve in self.national]
        fits = fit_hills(self.points.multipliers, np.stack([y for y, _ in series]), [spend for _, spend in series],
                         [curve.channel for _ in self.member_response for curve in self.national])
        n = len(self.national)
        return [fits[k * n:(k + 1) * n] for k in range(len(self.member_response))]

    def _roi_mroi(self, series: np.ndarray, spend) -> tuple[np.ndarray, np.ndarray]:
        """(ROI at current spend, model mROI at a +``MROI_STEP`` step) of ``series`` ``[..., M]`` at window spend
        ``spend`` (broadcasting with ``series[..., 0]``); NaN where the spend is 0."""
        mults = self.points.multipliers
        current = series[..., np.flatnonzero(mults == 1.0)[0]]
        step = np.flatnonzero(np.isclose(mults, 1.0 + MROI_STEP))
        spend = np.asarray(spend, dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            roi = np.where(spend > 0, current / spend, np.nan)
            mroi = (np.where(spend > 0, (series[..., step[0]] - current) / (MROI_STEP * spend), np.nan) if len(step)
                    else np.full_like(roi, np.nan))
        return roi, mroi

    def table(self) -> pd.DataFrame:
        """One row per curve: scope (national/region), region, channel, hill_top, hill_bottom,
        hill_half_saturation (currency over the window), hill_slope, fit_r2, planning_weeks,
        carryover_weeks, current_spend, current_response (model), roi (current_response / current_spend),
        mroi (model, +1 % spend step), mroi_curve (Hill derivative at current spend), saturation_spend
        (where the curve reaches 90 % of its range), spend_at_observed_max (window spend at which the curve
        leaves the observed range: ratio_to_observed_max 1; infinite for a channel without activity), then
        roi_lower / roi_upper, mroi_lower / mroi_upper (central intervals over the members; NaN without them)
        and interval (their level)."""
        rows = []
        for curve in self.national + self.regional:
            series, spend = self._series(curve)
            roi, mroi = self._roi_mroi(series, spend)
            roi_lower, roi_upper = self._member_interval(curve, "roi", roi)
            mroi_lower, mroi_upper = self._member_interval(curve, "mroi", mroi)
            rows.append({
                "scope": "national" if curve.region == NATIONAL else "region", "region": curve.region,
                "channel": curve.channel, "hill_top": curve.top, "hill_bottom": curve.bottom,
                "hill_half_saturation": curve.half_saturation, "hill_slope": curve.slope, "fit_r2": curve.r2,
                "planning_weeks": self.window.planning_weeks, "carryover_weeks": self.window.carryover_weeks,
                "current_spend": spend, "current_response": float(series[self.points.multipliers == 1.0][0]),
                "roi": float(roi), "mroi": float(mroi),
                "mroi_curve": float(curve.marginal(spend)) if spend > 0 else np.nan,
                "saturation_spend": curve.saturation_spend(SATURATION_SHARE),
                "spend_at_observed_max": _spend_at_ratio_one(spend, float(self._ratio(curve, np.ones(1))[0])),
                "roi_lower": float(roi_lower), "roi_upper": float(roi_upper),
                "mroi_lower": float(mroi_lower), "mroi_upper": float(mroi_upper),
                "interval": np.nan if self.member_response is None else self.interval,
            })
        return pd.DataFrame(rows)

    def points_frame(self) -> pd.DataFrame:
        """One row per curve and multiplier: scope, region, channel, multiplier, spend, response (model),
        fitted_response (Hill), ratio_to_observed_max (busiest window week's activity over the highest
        observed weekly activity; national: the largest region's), beyond_observed_range (ratio > 1),
        response_lower / response_upper (central band over the members; NaN without them) and interval."""
        mults = self.points.multipliers
        curves = self.national + self.regional
        columns = {"spend": [], "response": [], "fitted_response": [], "ratio_to_observed_max": [],
                   "response_lower": [], "response_upper": []}  # per curve [M] each, joined into one frame below
        for curve in curves:
            series, spend = self._series(curve)
            lower, upper = self._member_interval(curve, "response", series)
            for name, values in zip(columns, (mults * spend, series, curve.response(mults * spend),
                                              self._ratio(curve, mults), lower, upper)):
                columns[name].append(values)
        joined = {name: np.concatenate(values) for name, values in columns.items()}
        per_curve = lambda values: np.repeat(np.array(values, dtype=object), len(mults))  # noqa: E731
        return pd.DataFrame({
            "scope": per_curve(["national" if c.region == NATIONAL else "region" for c in curves]),
            "region": per_curve([c.region for c in curves]), "channel": per_curve([c.channel for c in curves]),
            "multiplier": np.tile(mults, len(curves)), "spend": joined["spend"], "response": joined["response"],
            "fitted_response": joined["fitted_response"], "ratio_to_observed_max": joined["ratio_to_observed_max"],
            "beyond_observed_range": beyond_observed_range(joined["ratio_to_observed_max"]),
            "response_lower": joined["response_lower"], "response_upper": joined["response_upper"],
            "interval": np.nan if self.member_response is None else self.interval})


def response_curves(mmm: MMM, panel: Panel, planning_weeks: int = DEFAULT_PLANNING_WEEKS, multipliers: Sequence[float] = DEFAULT_MULTIPLIERS,
                    per_region: bool = True, carryover_weeks: int | None = None, members: Sequence[MMM] = (),
                    interval: float | None = None, workers: int = 1) -> ResponseCurveSet:
    """National and (with ``per_region``) per-region Hill response curves of every channel; with ``members``
    (``Ensemble.members()``) each is run at the same points (on ``workers`` threads: ``parallel.parallel_map``)
    and the tables carry central ``interval`` intervals over them (``EnsembleConfig.interval`` when None)."""
    window = planning_window(mmm, panel, planning_weeks, carryover_weeks)
    pts = response_points(mmm, window, multipliers)
    member_response = np.stack(parallel_map(lambda member: response_points(member, window, multipliers).response,
                                            members, workers)) if members else None
    R, C = len(pts.regions), len(pts.channels)
    series = [pts.response[:, :, c].sum(axis=1) for c in range(C)]  # national, then region-major region curves
    spends = [float(pts.spend[:, c].sum()) for c in range(C)]
    channels, regions = list(pts.channels), [NATIONAL] * C
    if per_region:
        series += list(pts.response.reshape(len(pts.multipliers), R * C).T)
        spends += list(pts.spend.reshape(R * C))
        channels += list(pts.channels) * R
        regions += [region for region in pts.regions for _ in range(C)]
    curves = fit_hills(pts.multipliers, np.stack(series), spends, channels, regions)  # one batch for all of them
    national, regional = curves[:C], curves[C:]
    return ResponseCurveSet(national, regional, pts, window, ObservedRange.of(mmm, panel), member_response,
                            None if member_response is None else (EnsembleConfig.interval if interval is None else interval))


def _read_only(array: np.ndarray) -> np.ndarray:
    """``array``, flagged read-only: a cached value is shared by every reader."""
    array.setflags(write=False)
    return array


def _spend_at_ratio_one(current_spend: float, current_ratio: float) -> float:
    """Window spend at which the ratio to the observed maximum reaches 1 (it grows in proportion to spend)."""
    return current_spend / current_ratio if current_ratio > 0 else float("inf")
