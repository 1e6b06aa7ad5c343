"""Budget allocation over response curves: maximise the summed response subject to a budget and bounds.

This module sees only a small curve protocol (``Curve``: ``response``, ``marginal``, ``curvature`` of spend,
plus ``channel``, ``region`` and ``current_spend``), never the model, so it is tested on hand-written Hill
curves. ``mmm_core.analysis.curves`` builds the curves from a fitted model.

    maximise  sum_i f_i(x_i)   subject to  sum_i x_i = budget_total,  lower_i <= x_i <= upper_i
                                          (and region_lower_r <= sum_{c} x_rc <= region_upper_r)

Methods: ``slsqp`` (default), ``trust-constr``, ``differential_evolution`` and ``hybrid`` (DE, then SLSQP
from its best point). Every solution is projected onto the constraints at the end, so the budget and the
bounds hold to rounding. A solver that stops without converging says so in ``BudgetResult.converged`` and
``message``; the allocation is then the best feasible point found, never silently the current one.

Region × channel (``optimise_region_budget``, R·C variables, 2470 for 190 × 13): ``trust-constr`` solves the
full problem with sparse constraints and an exact diagonal Hessian. The other methods solve the channel
totals (C variables) on each channel's *best-split value function* ``F_c(T) = max sum_r f_rc(x_rc)`` over
``sum_r x_rc = T`` (equal marginal return across regions, tabulated and interpolated; its slope is the
marginal return), then split the totals the same way. That keeps DE at C dimensions. Per-region budget
bounds couple the channels, so with them the result is polished by ``trust-constr`` on all variables.
The equal-marginal split is exact for concave curves (Hill slope <= 1); for S-shaped curves it uses the
concave branch past the inflection point (a region-channel below it gets its lower bound).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from collections.abc import Sequence
from typing import Literal, Protocol, get_args

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.interpolate import PchipInterpolator
from scipy.optimize import Bounds, LinearConstraint, differential_evolution, minimize

from mmm_core.model.transforms import hill
from mmm_core.planning.constraints import BoundsSpec, SpendBounds, check_feasible, resolve_channel_bounds

BudgetMethod = Literal["slsqp", "trust-constr", "differential_evolution", "hybrid"]
"""How an allocation is solved (see the module docstring); a config field of this type is checked when built."""
METHODS: tuple[str, ...] = get_args(BudgetMethod)
NATIONAL = "national"
SPLIT_GRID_POINTS = 25
"""Points of the tabulated best-split value function per channel (region × channel, non trust-constr)."""


class Curve(Protocol):
    """What the optimiser needs from a response curve. Spend in currency, response in KPI units."""

    channel: str
    region: str
    current_spend: float

    def response(self, spend: np.ndarray) -> np.ndarray: ...
    def marginal(self, spend: np.ndarray) -> np.ndarray: ...
    def curvature(self, spend: np.ndarray) -> np.ndarray: ...


# -- Hill curves ----------------------------------------------------------------------------------
def hill_response(spend, top, bottom, half_saturation, slope) -> np.ndarray:
    """``bottom + (top - bottom) * hill(spend)`` with the one Hill formula (``transforms.hill``), in numpy.
    All arguments broadcast; spend >= 0, 0 maps to ``bottom``."""
    return bottom + (top - bottom) * hill(np.asarray(spend, dtype=np.float64), half_saturation, slope)


def _hill_parts(spend, top, bottom, half_saturation, slope):
    """Response, first and second derivative of ``bottom + (top - bottom) * x^s / (x^s + k^s)``.
    All arguments broadcast; spend >= 0."""
    # Derivatives at x -> 0+ are taken at 1e-12 k: A/k for slope 1, very large for slope < 1, 0 above.
    x = np.maximum(np.asarray(spend, dtype=np.float64), 1e-12 * half_saturation)
    h = hill_response(x, 1.0, 0.0, half_saturation, slope)
    amplitude = top - bottom
    first = amplitude * slope * h * (1.0 - h) / x
    second = first * ((slope - 1.0) - 2.0 * slope * h) / x
    return bottom + amplitude * np.where(np.asarray(spend) > 0, h, 0.0), first, second


@dataclass(frozen=True)
class ResponseCurve:
    """A Hill response curve of spend (the seed's ResponseCurveFit parameters).

    ``response(x) = bottom + (top - bottom) * x**slope / (x**slope + half_saturation**slope)``, x in
    currency over the planning window, response in KPI units. ``region`` is ``"national"`` for a curve
    of all regions together. ``r2`` is the fit's R² against the model's points (NaN when hand-written).
    """

    channel: str
    top: float
    bottom: float
    half_saturation: float
    slope: float
    current_spend: float
    region: str = NATIONAL
    r2: float = float("nan")

    def __post_init__(self) -> None:
        if not (self.half_saturation > 0 and self.slope > 0):
            raise ValueError(f"{self.channel}: half_saturation and slope must be > 0, got "
                             f"{self.half_saturation}, {self.slope}")
        if not (np.isfinite(self.current_spend) and self.current_spend >= 0):
            raise ValueError(f"{self.channel}: current_spend must be finite and >= 0, got {self.current_spend}")

    def response(self, spend):
        return _hill_parts(spend, self.top, self.bottom, self.half_saturation, self.slope)[0]

    def marginal(self, spend):
        return _hill_parts(spend, self.top, self.bottom, self.half_saturation, self.slope)[1]

    def curvature(self, spend):
        return _hill_parts(spend, self.top, self.bottom, self.half_saturation, self.slope)[2]

    def saturation_spend(self, share: float = 0.9) -> float:
        """Spend at which the curve reaches ``share`` of its range (top - bottom): ``k (p/(1-p))^(1/s)``."""
        return float(self.half_saturation * (share / (1.0 - share)) ** (1.0 / self.slope))


@dataclass(frozen=True)
class MeanCurve:
    """The mean of several curves of one channel and region (e.g. the ensemble members' national curves):
    response, marginal and curvature averaged; ``current_spend`` the first curve's."""

    curves: tuple[Curve, ...]

    @property
    def channel(self) -> str:
        return self.curves[0].channel

    @property
    def region(self) -> str:
        return self.curves[0].region

    @property
    def current_spend(self) -> float:
        return self.curves[0].current_spend

    def response(self, spend):
        return np.mean([c.response(spend) for c in self.curves], axis=0)

    def marginal(self, spend):
        return np.mean([c.marginal(spend) for c in self.curves], axis=0)

    def curvature(self, spend):
        return np.mean([c.curvature(spend) for c in self.curves], axis=0)


@dataclass(frozen=True)
class TabulatedCurve:
    """A monotone-cubic (PCHIP) interpolation of ``response`` at ``spend_grid`` (increasing), e.g. a
    channel's best-split value function over regions. Linear extrapolation with the end slopes."""

    channel: str
    spend_grid: np.ndarray
    values: np.ndarray
    current_spend: float
    region: str = NATIONAL
    _interp: PchipInterpolator = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        grid = np.asarray(self.spend_grid, dtype=np.float64)
        if grid.ndim != 1 or len(grid) < 2 or np.any(np.diff(grid) <= 0):
            raise ValueError(f"{self.channel}: spend_grid must be strictly increasing with >= 2 points")
        object.__setattr__(self, "_interp", PchipInterpolator(grid, np.asarray(self.values, np.float64),
                                                              extrapolate=True))

    def response(self, spend):
        return self._interp(np.asarray(spend, dtype=np.float64))

    def marginal(self, spend):
        return self._interp.derivative(1)(np.asarray(spend, dtype=np.float64))

    def curvature(self, spend):
        return self._interp.derivative(2)(np.asarray(spend, dtype=np.float64))


class _HillArrays:
    """Hill curves as parameter arrays of any shape (vectorised evaluation, demand at a price)."""

    def __init__(self, top, bottom, half_saturation, slope):
        self.top, self.bottom = np.asarray(top, np.float64), np.asarray(bottom, np.float64)
        self.half_saturation, self.slope = np.asarray(half_saturation, np.float64), np.asarray(slope, np.float64)

    @classmethod
    def of(cls, curves: Sequence[ResponseCurve]) -> "_HillArrays":
        return cls(*(np.array([getattr(c, a) for c in curves]) for a in ("top", "bottom", "half_saturation", "slope")))

    def parts(self, spend):
        return _hill_parts(spend, self.top, self.bottom, self.half_saturation, self.slope)

    def inflection(self) -> np.ndarray:
        """Spend where the marginal return peaks: 0 for slope <= 1, ``k ((s-1)/(s+1))^(1/s)`` otherwise."""
        s = self.slope
        ratio = np.clip((s - 1.0) / (s + 1.0), 0.0, None)
        return np.where(s > 1.0, self.half_saturation * ratio ** (1.0 / s), 0.0)

    def demand(self, price, lower, upper, guess=None) -> np.ndarray:
        """Spend maximising ``f(x) - price * x`` on the concave branch within ``[lower, upper]`` (finite):
        the largest x with marginal return >= price, ``lower`` when even the peak marginal is below it.

        Between the branch start and ``upper`` that x is where the log marginal return, as a function of log
        spend, falls to ``log price``. This is the inner loop of the region split, so ``_concave_log_root``
        finds it by safeguarded Newton steps: a few per element where a bisection takes one per bit.
        ``guess`` (spend, broadcasting with the result), where given, is where that search starts (the
        region split passes the demand at its previous price): it changes the number of steps, not the
        result beyond rounding.
        """
        start = np.maximum(lower, self.inflection())
        start = np.minimum(np.maximum(start, self.half_saturation * 1e-12), upper)  # > 0 unless upper is 0
        peak = self.parts(start)[1]
        at_upper = self.parts(upper)[1] >= price
        amplitude_slope = (self.top - self.bottom) * self.slope
        out = np.where(at_upper, upper, np.where(peak < price, lower, start))
        # the root lies inside (start, upper]: marginal(start) >= price > marginal(upper) > 0
        solve = ~at_upper & (peak >= price) & (amplitude_slope > 0) & (price > 0) & np.isfinite(price)
        if not solve.any():
            return out
        solve = np.broadcast_to(solve, out.shape)

        def pick(a):
            return np.broadcast_to(a, out.shape)[solve]
        # in v = log(x / k) (the terms of g stay small near the inflection, so does their rounding error)
        k = self.half_saturation
        positive = np.where(amplitude_slope > 0, amplitude_slope, 1.0)
        tiny = np.finfo(np.float64).tiny
        log_lo, log_hi = np.log(np.maximum(start / k, tiny)), np.log(np.maximum(upper / k, tiny))
        price_s = pick(price)
        # offset log(A s / (price k)): from the ratio where it is a normal number (one rounding), else from logs
        with np.errstate(over="ignore", under="ignore"):
            ratio = pick(positive / k) / price_s
        normal = np.isfinite(ratio) & (ratio >= tiny)
        offset = np.log(np.where(normal, ratio, 1.0))
        if not normal.all():
            offset = np.where(normal, offset, pick(np.log(positive) - np.log(k)) - np.log(price_s))
        log_lo, log_hi, k_s = pick(log_lo), pick(log_hi), pick(k)
        first = None
        if guess is not None:
            spend = pick(guess)
            first = np.where(spend > 0, np.log(np.maximum(spend / k_s, tiny)), log_lo)
        v = _concave_log_root(offset, pick(self.slope), log_lo, log_hi, first)
        out[solve] = np.clip(k_s * np.exp(v), pick(lower), pick(upper))
        return out


def _concave_log_root(offset, slope, log_lo, log_hi, first=None, tolerance=1e-14, max_steps=100):
    """Root in ``[log_lo, log_hi]`` of ``g(v) = offset + log h + log(1 - h) - v`` with ``h = sigmoid(s v)``, the
    log of the Hill marginal return ``A s h (1 - h) / x`` over the price at ``x = k e^v`` (``offset = log(A s
    / (price k))``). 1-D arrays with g(log_lo) >= 0 > g(log_hi); ``first``: where to start (``log_hi``
    when None), moved into the bracket.

    Past the inflection g is decreasing and concave (``g'' = -2 s^2 h (1 - h)``): a Newton step from above
    the root stays above it and converges monotonically (quadratically near the root), and one from below
    lands above it, so it also bounds the root from above. Safeguarded Newton: the Newton step where it
    lands inside the bracket, a bisection step otherwise, the bracket moved to each new point by the sign
    of g. With ``e = exp(-s |v|)``: ``log h + log(1 - h) = -s |v| - 2 log1p(e)`` and ``g' = s (1 - 2h) - 1 =
    -s sign(v) (1 - e) / (1 + e) - 1``, so nothing overflows or underflows at any spend; ``-s |v| - v`` is
    one product, ``(s - 1) v`` below v = 0, so where g is flat (near the inflection) it is not a small
    difference of larger terms.

    An element stops where its Newton step, the error left after it (``|g'' / (2 g')| step^2``, for steps
    small enough that this holds) or its bracket is below ``tolerance`` relative to ``max(1, |v|)``; only
    the elements still moving are computed on.
    """
    u = log_hi if first is None else np.clip(first, log_lo, log_hi)
    out = np.empty_like(u)
    active = np.arange(u.size)
    for _ in range(max_steps):
        sign = np.sign(u)
        e = np.exp(-slope * np.abs(u))
        g = offset - (slope * sign + 1.0) * u - 2.0 * np.log1p(e)
        dg = np.minimum(-slope * sign * (1.0 - e) / (1.0 + e) - 1.0, -1e-280)  # 0 only at the inflection
        step = g / dg
        newton = u - step
        below = g >= 0.0
        log_lo = np.where(below, u, log_lo)
        log_hi = np.where(below, np.minimum(log_hi, newton), u)
        scale = tolerance * np.maximum(1.0, np.abs(u))
        size = np.abs(step)
        use = (newton > log_lo) & (newton <= log_hi)
        small = np.minimum(size, 1e-3)
        left = slope * slope * e / ((1.0 + e) ** 2 * -dg) * small  # |g'' / (2 g')| step, times step: what is left
        converged = (size <= scale) | (use & (size <= 1e-3) & (left <= 0.1) & (left * small <= 0.05 * scale))
        u = np.where(use | converged, newton, 0.5 * (log_lo + log_hi))
        done = converged | (log_hi - log_lo <= scale)
        if done.any():
            out[active[done]] = u[done]
            keep = ~done
            if not keep.any():
                return out
            active = active[keep]
            offset, slope, log_lo, log_hi, u = (a[keep] for a in (offset, slope, log_lo, log_hi, u))
    out[active] = u
    return out


class _Stack:
    """A list of protocol curves evaluated as one vector function ``[..., N]``."""

    def __init__(self, curves: Sequence[Curve]):
        self.curves = list(curves)
        self.hill = _HillArrays.of(self.curves) if all(isinstance(c, ResponseCurve) for c in self.curves) else None

    def parts(self, x: np.ndarray):
        if self.hill is not None:
            return self.hill.parts(x)
        x = np.asarray(x, dtype=np.float64)
        out = [np.empty_like(x) for _ in range(3)]
        for i, c in enumerate(self.curves):
            xi = x[..., i]
            out[0][..., i], out[1][..., i], out[2][..., i] = c.response(xi), c.marginal(xi), c.curvature(xi)
        return out

    def total(self, x):
        return self.parts(x)[0].sum(axis=-1)


# -- projection -----------------------------------------------------------------------------------
def project_to_budget(x: np.ndarray, lower: np.ndarray, upper: np.ndarray, budget_total) -> np.ndarray:
    """The point ``clip(x + tau, lower, upper)`` with ``sum = budget_total`` along the last axis (finite
    bounds; budget within ``[sum lower, sum upper]``). Leading axes are independent problems; the
    remaining rounding is put on the variable with most room, so the sum is exact to float precision."""
    x = np.asarray(x, dtype=np.float64)
    budget = np.asarray(budget_total, dtype=np.float64)[..., None]
    lo_tau = (lower - x).min(axis=-1, keepdims=True)
    hi_tau = (upper - x).max(axis=-1, keepdims=True)
    for _ in range(100):
        mid = 0.5 * (lo_tau + hi_tau)
        over = np.clip(x + mid, lower, upper).sum(axis=-1, keepdims=True) > budget
        lo_tau, hi_tau = np.where(over, lo_tau, mid), np.where(over, mid, hi_tau)
    y = np.clip(x + 0.5 * (lo_tau + hi_tau), lower, upper)
    residual = budget - y.sum(axis=-1, keepdims=True)
    room = np.where(residual > 0, upper - y, y - lower)
    pick = np.argmax(room, axis=-1)[..., None]
    step = np.sign(residual) * np.minimum(np.abs(residual), np.take_along_axis(room, pick, axis=-1))
    np.put_along_axis(y, pick, np.take_along_axis(y, pick, axis=-1) + step, axis=-1)
    return y


# -- results --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BudgetResult:
    """An allocation and how it compares with the current one (curve predictions, KPI units).

    ``allocation`` columns: region, channel, current_spend, optimal_spend, lower_bound, upper_bound,
    response_current, response_optimal, roi_current, roi_optimal, mroi_current, mroi_optimal (mROI is
    the curve's derivative: KPI units per extra currency unit at that spend).
    """

    method: str
    converged: bool
    message: str
    n_iterations: int
    budget_total: float
    allocation: pd.DataFrame
    wall_time_s: float

    @property
    def current_spend_total(self) -> float:
        return float(self.allocation.current_spend.sum())

    @property
    def response_current(self) -> float:
        return float(self.allocation.response_current.sum())

    @property
    def response_optimal(self) -> float:
        return float(self.allocation.response_optimal.sum())

    @property
    def incremental_response(self) -> float:
        return self.response_optimal - self.response_current

    @property
    def response_change_share(self) -> float:
        """Incremental response as a share of the current response (0.05 = +5 %)."""
        return self.incremental_response / self.response_current if self.response_current else float("nan")

    def optimal(self) -> pd.Series:
        """Optimal spend indexed by channel (national) or (region, channel)."""
        frame = self.allocation
        keys = ["channel"] if (frame.region == NATIONAL).all() else ["region", "channel"]
        return frame.set_index(keys).optimal_spend


def _allocation_frame(curves: Sequence[Curve], stack: _Stack, x: np.ndarray, lower, upper) -> pd.DataFrame:
    current = np.array([c.current_spend for c in curves], dtype=np.float64)
    f_cur, m_cur, _ = stack.parts(current)
    f_opt, m_opt, _ = stack.parts(x)
    safe = lambda num, den: np.divide(num, den, out=np.full_like(num, np.nan), where=den > 0)  # noqa: E731
    return pd.DataFrame({
        "region": [c.region for c in curves], "channel": [c.channel for c in curves],
        "current_spend": current, "optimal_spend": x, "lower_bound": lower, "upper_bound": upper,
        "response_current": f_cur, "response_optimal": f_opt,
        "roi_current": safe(f_cur, current), "roi_optimal": safe(f_opt, x),
        "mroi_current": m_cur, "mroi_optimal": m_opt,
    })


# -- solvers --------------------------------------------------------------------------------------
@dataclass
class _Solution:
    x: np.ndarray
    converged: bool
    message: str
    n_iterations: int


def _finite_upper(lower: np.ndarray, upper: np.ndarray, budget_total: float) -> np.ndarray:
    """No variable can exceed the budget minus the other variables' lower bounds."""
    return np.minimum(upper, budget_total - (lower.sum() - lower))


def _scaled_problem(stack: _Stack, budget_total: float, n: int):
    scale = budget_total / n
    f_scale = max(abs(float(stack.total(np.full(n, scale)))), 1e-12)

    def objective(y):
        f, m, _ = stack.parts(y * scale)
        return -f.sum() / f_scale, -m * scale / f_scale

    def hessian_diag(y):
        return -stack.parts(y * scale)[2] * scale * scale / f_scale

    return scale, objective, hessian_diag


def _slsqp(stack, x0, lower, upper, budget_total, maxiter=500) -> _Solution:
    n = len(x0)
    scale, objective, _ = _scaled_problem(stack, budget_total, n)
    result = minimize(objective, x0 / scale, jac=True, method="SLSQP", bounds=list(zip(lower / scale, upper / scale)),
                      constraints=[{"type": "eq", "fun": lambda y: y.sum() * scale / budget_total - 1.0,
                                    "jac": lambda y: np.full((1, n), scale / budget_total)}],
                      options={"maxiter": maxiter, "ftol": 1e-12})
    return _Solution(result.x * scale, bool(result.success), f"SLSQP: {result.message}", int(result.nit))


def _trust_constr(stack, x0, lower, upper, budget_total, groups=None, maxiter=3000) -> _Solution:
    """groups: optional (index [N], lower [G], upper [G]) bounds on group sums."""
    n = len(x0)
    scale, objective, hessian_diag = _scaled_problem(stack, budget_total, n)
    rows = [sp.csr_matrix(np.ones((1, n)))]
    lo_rows, hi_rows = [np.array([budget_total / scale])], [np.array([budget_total / scale])]
    if groups is not None:
        index, g_lo, g_hi = groups
        rows.append(sp.csr_matrix((np.ones(n), (index, np.arange(n))), shape=(len(g_lo), n)))
        lo_rows.append(g_lo / scale)
        hi_rows.append(g_hi / scale)
    constraint = LinearConstraint(sp.vstack(rows).tocsr(), np.concatenate(lo_rows), np.concatenate(hi_rows))
    result = minimize(objective, np.clip(x0, lower, upper) / scale, jac=True, method="trust-constr",
                      hess=lambda y: sp.diags(hessian_diag(y)), bounds=Bounds(lower / scale, upper / scale),
                      constraints=[constraint],
                      options={"maxiter": maxiter, "gtol": 1e-9, "xtol": 1e-12, "barrier_tol": 1e-12,
                               "initial_barrier_parameter": 1e-3})
    converged = result.status in (1, 2) and result.constr_violation < 1e-6
    return _Solution(result.x * scale, bool(converged), f"trust-constr: {result.message}", int(result.nit))


def _differential_evolution(stack, lower, upper, budget_total, seed, maxiter=1000) -> _Solution:
    """DE in the box; every candidate is projected onto the budget, so each one evaluated is feasible."""
    def objective(population):  # [N, S] (scipy's vectorised layout)
        x = project_to_budget(population.T, lower, upper, budget_total)
        return -stack.total(x)

    result = differential_evolution(objective, list(zip(lower, upper)), seed=seed, maxiter=maxiter, tol=1e-10,
                                    atol=1e-12 * max(abs(float(stack.total(lower))), 1.0), polish=False,
                                    vectorized=True, updating="deferred", popsize=max(15, 2 * len(lower)),
                                    init="sobol")
    x = project_to_budget(result.x, lower, upper, budget_total)
    return _Solution(x, bool(result.success), f"differential_evolution: {result.message}", int(result.nit))


def _snap_to_bounds(x: np.ndarray, lower: np.ndarray, upper: np.ndarray, budget_total: float) -> np.ndarray:
    """Put variables within 1e-5 (relative to the mean spend) of a bound exactly on it, rebalancing the
    budget over the free ones: interior-point solvers stop just inside active bounds."""
    tol = 1e-5 * budget_total / len(x)
    at_lower, at_upper = x - lower <= tol, upper - x <= tol
    free = ~(at_lower | at_upper)
    snapped = np.where(at_lower, lower, np.where(at_upper, upper, x))
    rest = budget_total - snapped[~free].sum()
    if not free.any() or not lower[free].sum() <= rest <= upper[free].sum():
        return x
    snapped[free] = project_to_budget(snapped[free], lower[free], upper[free], rest)
    return snapped


def _solve(stack, curves, lower, upper, budget_total, method, seed, groups=None) -> _Solution:
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    upper = _finite_upper(lower, upper, budget_total)
    current = np.array([c.current_spend for c in curves], dtype=np.float64)
    if budget_total <= 0 or np.allclose(lower, upper):
        return _Solution(project_to_budget(lower, lower, upper, budget_total), True, "fixed by the bounds", 0)
    start = project_to_budget(current, lower, upper, budget_total)
    if method == "slsqp":
        solution = _slsqp(stack, start, lower, upper, budget_total)
    elif method == "trust-constr":
        solution = _trust_constr(stack, start, lower, upper, budget_total, groups)
    elif method == "differential_evolution":
        solution = _differential_evolution(stack, lower, upper, budget_total, seed)
    else:
        de = _differential_evolution(stack, lower, upper, budget_total, seed, maxiter=200)
        solution = _slsqp(stack, de.x, lower, upper, budget_total)
        solution.message = f"hybrid: DE {'converged' if de.converged else 'stopped'}, then {solution.message}"
    x = project_to_budget(np.clip(solution.x, lower, upper), lower, upper, budget_total)
    if groups is not None:  # snapping or the current allocation could break the group bounds
        solution.x = x
        return solution
    x = _snap_to_bounds(x, lower, upper, budget_total)
    if stack.total(x) < stack.total(start) - 1e-9 * max(abs(stack.total(start)), 1.0):
        return _Solution(start, False, solution.message + "; the solver ended below the (projected) current "
                                                          "allocation, which is returned instead", solution.n_iterations)
    solution.x = x
    return solution


# -- public API -----------------------------------------------------------------------------------
def optimise_budget(total_budget: float, curves: Sequence[Curve], constraints: BoundsSpec = None,
                    method: BudgetMethod = "slsqp", seed: int = 0) -> BudgetResult:
    """Split ``total_budget`` (currency) over the channels of ``curves`` (one curve per channel, any
    ``Curve``) to maximise the summed response. ``constraints``: ``SpendBounds`` for every channel, or a
    mapping channel -> ``SpendBounds`` (multipliers of the curve's ``current_spend`` or absolute).

    Raises ``InfeasibleBudgetError`` when no allocation meets the budget and bounds.
    """
    started = time.perf_counter()
    names = [c.channel for c in curves]
    if len(set(names)) != len(names):
        raise ValueError(f"one curve per channel expected, got {names}")
    current = np.array([c.current_spend for c in curves], dtype=np.float64)
    lower, upper = resolve_channel_bounds(names, current, constraints)
    check_feasible(float(total_budget), lower, upper, names)
    stack = _Stack(curves)
    solution = _solve(stack, curves, lower, upper, float(total_budget), method, seed)
    return BudgetResult(method, solution.converged, solution.message, solution.n_iterations, float(total_budget),
                        _allocation_frame(curves, stack, solution.x, lower, upper), time.perf_counter() - started)


def optimise_budget_under_risk(total_budget: float, member_curves: Sequence[Sequence[Curve]], risk_aversion: float,
                               constraints: BoundsSpec = None, maxiter: int = 500) -> BudgetResult:
    """Split ``total_budget`` over the channels to maximise ``mean_k R_k(x) - risk_aversion * sd_k R_k(x)``, with
    ``R_k(x) = sum_c f_kc(x_c)`` the summed response of member k's curves (``member_curves[k]``: one curve per
    channel, the same channels in the same order for every member): a plan that gives up some expected response
    for less spread across the members. ``risk_aversion`` 0 maximises the members' mean. SLSQP from the current
    allocation (projected onto the budget), with the exact gradient; if it ends below that start, the start is
    returned and ``converged`` is False. ``allocation``'s curve columns are those of the members' mean curve
    (``MeanCurve``).
    """
    started = time.perf_counter()
    if risk_aversion < 0:
        raise ValueError(f"risk_aversion must be >= 0, got {risk_aversion}")
    names = [c.channel for c in member_curves[0]]
    if any([c.channel for c in curves] != names for curves in member_curves):
        raise ValueError("every member needs one curve per channel, in the same order")
    mean_curves = [MeanCurve(tuple(curves[c] for curves in member_curves)) for c in range(len(names))]
    current = np.array([c.current_spend for c in mean_curves], dtype=np.float64)
    lower, upper = resolve_channel_bounds(names, current, constraints)
    check_feasible(float(total_budget), lower, upper, names)
    upper = _finite_upper(lower, upper, float(total_budget))
    stacks = [_Stack(curves) for curves in member_curves]
    start = project_to_budget(current, lower, upper, float(total_budget))
    n, scale = len(names), float(total_budget) / len(names)

    def value(x):  # (objective, gradient) in KPI units
        parts = [stack.parts(x) for stack in stacks]
        response = np.array([f.sum() for f, _, _ in parts])  # [K]
        marginal = np.stack([m for _, m, _ in parts])  # [K, C]
        deviation = response - response.mean()
        sd = float(np.sqrt(np.mean(deviation ** 2)))
        grad_sd = (deviation[:, None] * (marginal - marginal.mean(0))).mean(0) / max(sd, 1e-12)
        return response.mean() - risk_aversion * sd, marginal.mean(0) - risk_aversion * grad_sd

    f_scale = max(abs(value(start)[0]), 1e-12)

    def objective(y):  # minimised, in scaled units
        v, g = value(y * scale)
        return -v / f_scale, -g * scale / f_scale

    if float(total_budget) <= 0 or np.allclose(lower, upper):
        x, solution = start, _Solution(start, True, "fixed by the bounds", 0)
    else:
        result = minimize(objective, start / scale, jac=True, method="SLSQP",
                          bounds=list(zip(lower / scale, upper / scale)),
                          constraints=[{"type": "eq", "fun": lambda y: y.sum() * scale / total_budget - 1.0,
                                        "jac": lambda y: np.full((1, n), scale / total_budget)}],
                          options={"maxiter": maxiter, "ftol": 1e-12})
        x = project_to_budget(np.clip(result.x * scale, lower, upper), lower, upper, float(total_budget))
        solution = _Solution(x, bool(result.success), f"SLSQP on mean - {risk_aversion:g} sd: {result.message}",
                             int(result.nit))
        if value(x)[0] < value(start)[0] - 1e-9 * f_scale:
            x, solution = start, _Solution(start, False, solution.message + "; ended below the (projected) current "
                                                                             "allocation, which is returned instead",
                                           solution.n_iterations)
    return BudgetResult("slsqp", solution.converged, solution.message, solution.n_iterations, float(total_budget),
                        _allocation_frame(mean_curves, _Stack(mean_curves), x, lower, upper),
                        time.perf_counter() - started)


def _region_grid(curves: Sequence[ResponseCurve]) -> tuple[list[str], list[str], np.ndarray]:
    """(regions, channels, ``[R, C]`` index of each region-channel's curve in ``curves``)."""
    regions = list(dict.fromkeys(c.region for c in curves))
    channels = list(dict.fromkeys(c.channel for c in curves))
    position = {(c.region, c.channel): i for i, c in enumerate(curves)}
    if len(position) != len(curves) or len(curves) != len(regions) * len(channels):
        raise ValueError("region curves must hold exactly one curve per (region, channel)")
    order = np.array([[position[(r, c)] for c in channels] for r in regions])  # [R, C]
    return regions, channels, order


def split_across_regions(hill: _HillArrays, totals: np.ndarray, lower: np.ndarray, upper: np.ndarray,
                         iterations: int = 48) -> np.ndarray:
    """Best split of channel totals ``[G, C]`` over regions with equal marginal return.

    hill: parameter arrays ``[R, C]``; lower/upper ``[R, C]`` finite. Returns spend ``[G, R, C]`` whose
    region sums equal ``totals`` exactly (totals within ``[sum lower, sum upper]``).
    """
    _, m_lower, _ = hill.parts(np.maximum(lower, hill.inflection()))
    _, m_upper, _ = hill.parts(upper)
    log_lo = np.full(totals.shape, np.log(max(float(np.min(m_upper[m_upper > 0], initial=1.0)), 1e-300) / 2))
    log_hi = np.full(totals.shape, np.log(max(float(m_lower.max()), 1e-300) * 2))
    x = None  # each demand starts from the one before: the prices move less and less
    for _ in range(iterations):
        price = np.exp(0.5 * (log_lo + log_hi))  # [G, C]
        x = hill.demand(price[:, None, :], lower, upper, x)  # [G, R, C]
        over = x.sum(axis=1) > totals
        log_lo, log_hi = np.where(over, 0.5 * (log_lo + log_hi), log_lo), np.where(over, log_hi, 0.5 * (log_lo + log_hi))
    x = hill.demand(np.exp(0.5 * (log_lo + log_hi))[:, None, :], lower, upper, x)  # [G, R, C]
    # exact totals: project each (grid point, channel) over its regions
    x_gcr = project_to_budget(np.moveaxis(x, 1, 2), lower.T, upper.T, totals)  # [G, C, R]
    return np.moveaxis(x_gcr, 2, 1)


def optimise_region_budget(total_budget: float, curves: Sequence[ResponseCurve], constraints: BoundsSpec = None,
                           region_bounds: SpendBounds | dict[str, SpendBounds] | None = None,
                           method: BudgetMethod = "slsqp", seed: int = 0) -> BudgetResult:
    """Region × channel allocation from per-region Hill curves (one per region and channel).

    ``constraints`` bound each region-channel (multipliers of its current spend, or absolute) by channel
    name; ``region_bounds`` bound each region's total (multipliers of its current total, or absolute).
    See the module docstring for how each method handles R·C variables.
    """
    started = time.perf_counter()
    regions, _, order = _region_grid(curves)
    flat = [curves[i] for i in order.reshape(-1)]  # region-major [R*C]
    R, C = order.shape
    current = np.array([c.current_spend for c in flat])
    lower, upper = resolve_channel_bounds([c.channel for c in flat], current, constraints)
    groups = None
    region_index = np.repeat(np.arange(R), C)
    if region_bounds is not None:
        region_current = current.reshape(R, C).sum(axis=1)
        g_lo, g_hi = np.zeros(R), np.full(R, np.inf)
        for r, region in enumerate(regions):
            b = region_bounds if isinstance(region_bounds, SpendBounds) else region_bounds.get(region)
            if b is not None:
                lo, hi = b.resolve(region_current[r:r + 1])
                g_lo[r], g_hi[r] = lo[0], hi[0]
        groups = (region_index, g_lo, np.minimum(g_hi, float(total_budget)))
    labels = [f"{c.region}/{c.channel}" for c in flat]
    check_feasible(float(total_budget), lower, upper, labels, *((region_index, groups[1], groups[2], regions)
                                                                 if groups else ()))
    stack = _Stack(flat)
    if method == "trust-constr":
        solution = _solve(stack, flat, lower, upper, float(total_budget), method, seed, groups)
    else:
        solution = _solve_by_channel_totals(stack, flat, (R, C), lower, upper, float(total_budget), method, seed)
        if groups is not None:
            polished = _trust_constr(stack, solution.x, lower, _finite_upper(lower, upper, float(total_budget)),
                                     float(total_budget), groups)
            polished.x = project_to_budget(np.clip(polished.x, lower, upper), lower,
                                           _finite_upper(lower, upper, float(total_budget)), float(total_budget))
            polished.message = f"{solution.message}; region bounds met by {polished.message}"
            solution = polished
    return BudgetResult(method, solution.converged, solution.message, solution.n_iterations, float(total_budget),
                        _allocation_frame(flat, stack, solution.x, lower, upper), time.perf_counter() - started)


def _solve_by_channel_totals(stack: _Stack, flat, shape, lower, upper, budget_total, method, seed) -> _Solution:
    """Channel totals by ``method`` on the tabulated best-split value functions, then the split."""
    R, C = shape
    hill = stack.hill
    if hill is None:
        raise TypeError("region × channel allocation needs Hill ResponseCurves")
    hill_rc = _HillArrays(*(a.reshape(R, C) for a in (hill.top, hill.bottom, hill.half_saturation, hill.slope)))
    upper_f = _finite_upper(lower, upper, budget_total)
    lo_rc, hi_rc = lower.reshape(R, C), upper_f.reshape(R, C)
    t_lo, t_hi = lo_rc.sum(axis=0), hi_rc.sum(axis=0)  # [C]
    fractions = np.linspace(0.0, 1.0, SPLIT_GRID_POINTS)[:, None]
    grid = t_lo + fractions * (t_hi - t_lo)  # [G, C]
    values = hill_rc.parts(split_across_regions(hill_rc, grid, lo_rc, hi_rc))[0].sum(axis=1)  # [G, C]
    current = np.array([c.current_spend for c in flat]).reshape(R, C).sum(axis=0)
    aggregate = [_channel_value_curve(flat[c].channel, grid[:, c], values[:, c], current[c]) for c in range(C)]
    totals = _solve(_Stack(aggregate), aggregate, t_lo, t_hi, budget_total, method, seed)
    x = split_across_regions(hill_rc, totals.x[None, :], lo_rc, hi_rc)[0]  # [R, C]
    totals.message += f" (on channel totals; split over {R} regions by equal marginal return)"
    totals.x = x.reshape(-1)
    return totals


def _channel_value_curve(channel: str, grid: np.ndarray, values: np.ndarray, current: float) -> Curve:
    if grid[-1] - grid[0] <= 0:
        return ResponseCurve(channel, 0.0, float(values[0]), 1.0, 1.0, current)  # fixed total: flat curve
    return TabulatedCurve(channel, grid, values, current)


def allocate_to_target_mroi(curves: Sequence[Curve], target_mroi: float, constraints: BoundsSpec = None) -> BudgetResult:
    """Spend on each curve until its marginal ROI falls to ``target_mroi`` (KPI units per currency unit),
    within bounds; the budget is the result. Works for national or region curves (any Hill curves)."""
    started = time.perf_counter()
    if not (np.isfinite(target_mroi) and target_mroi > 0):
        raise ValueError(f"target_mroi must be a finite number > 0, got {target_mroi}")
    if not all(isinstance(c, ResponseCurve) for c in curves):
        raise TypeError("target-mROI allocation needs Hill ResponseCurves")
    names = [c.channel for c in curves]
    current = np.array([c.current_spend for c in curves])
    lower, upper = resolve_channel_bounds(names, current, constraints)
    check_feasible(float(lower.sum()), lower, upper, [f"{c.region}/{c.channel}" for c in curves])
    hill = _HillArrays.of(curves)
    # Past the saturation at 1 - 1e-9 of the range the marginal return is ~0: a finite stand-in for "no cap".
    cap = np.where(np.isfinite(upper), upper, hill.half_saturation * 1e9 ** (1.0 / hill.slope))
    x = hill.demand(np.full(len(curves), float(target_mroi)), lower, np.maximum(cap, lower))
    stack = _Stack(curves)
    return BudgetResult("target_mroi", True, f"spend until mROI = {target_mroi:g}", 0, float(x.sum()),
                        _allocation_frame(curves, stack, x, lower, upper), time.perf_counter() - started)
