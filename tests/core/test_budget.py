"""Budget allocation on hand-written Hill curves whose optimum is known in closed form.

With slope-1 Hill curves ``f(x) = A x / (x + k)`` the marginal return is ``A k / (x + k)^2``; at the
optimum of an interior allocation every channel has the same marginal return ``lam``, so
``x* = sqrt(A k / lam) - k`` and the budget that makes ``lam`` optimal is ``sum x*``.
"""

from __future__ import annotations

import numpy as np
import pytest

import mmm_core.planning.budget as budget
from mmm_core.planning.budget import METHODS, ResponseCurve, allocate_to_target_mroi, optimise_budget, optimise_region_budget
from mmm_core.planning.constraints import BudgetScenario, InfeasibleBudgetError, SpendBounds

LAM = 0.5


def known_optimum(tops, ks, lam=LAM) -> np.ndarray:
    return np.sqrt(np.asarray(tops) * np.asarray(ks) / lam) - np.asarray(ks)


def concave_curves(seed=0, n=5, region="national"):
    rng = np.random.default_rng(seed)
    tops, ks = rng.uniform(100, 400, n), rng.uniform(20, 60, n)
    optimum = known_optimum(tops, ks)
    assert (optimum > 0).all()
    current = np.full(n, optimum.sum() / n)  # an even split: clearly not optimal
    curves = [ResponseCurve(f"c{i}", tops[i], 0.0, ks[i], 1.0, current[i], region) for i in range(n)]
    return curves, optimum


@pytest.mark.parametrize("method", METHODS)
def test_every_method_reaches_the_known_optimum(method):
    curves, optimum = concave_curves()
    best = sum(float(c.response(x)) for c, x in zip(curves, optimum))
    result = optimise_budget(optimum.sum(), curves, method=method)
    assert result.converged, result.message
    assert result.response_optimal >= 0.995 * best
    assert result.response_optimal <= best * (1 + 1e-9)
    assert result.allocation.optimal_spend.sum() == pytest.approx(optimum.sum(), rel=1e-12)
    assert (result.allocation.optimal_spend >= 0).all()
    assert result.incremental_response > 0


@pytest.mark.parametrize("method", METHODS)
def test_binding_bounds_and_the_budget_hold_exactly(method):
    curves, optimum = concave_curves(seed=1)
    bounds = SpendBounds(0.8, 1.1)  # × current spend: binds for the channels the optimum moves most
    result = optimise_budget(optimum.sum(), curves, bounds, method=method)
    alloc = result.allocation
    assert (alloc.optimal_spend >= alloc.lower_bound).all() and (alloc.optimal_spend <= alloc.upper_bound).all()
    assert alloc.optimal_spend.sum() == pytest.approx(optimum.sum(), rel=1e-12)
    at_bound = np.isclose(alloc.optimal_spend, alloc.upper_bound, rtol=1e-9) | \
        np.isclose(alloc.optimal_spend, alloc.lower_bound, rtol=1e-9)
    assert at_bound.any()
    # free channels share one marginal return (KKT), within the solver's tolerance
    free = alloc[(alloc.optimal_spend > alloc.lower_bound + 1e-6) & (alloc.optimal_spend < alloc.upper_bound - 1e-6)]
    if len(free) > 1:
        assert free.mroi_optimal.max() / free.mroi_optimal.min() < 1.01


def test_two_identical_channels_split_equally():
    curves = [ResponseCurve(name, 100.0, 0.0, 30.0, 1.4, cur) for name, cur in (("a", 10.0), ("b", 50.0))]
    result = optimise_budget(60.0, curves)
    assert result.allocation.optimal_spend.to_numpy() == pytest.approx([30.0, 30.0], rel=1e-4)


def test_absolute_bounds_per_channel():
    curves, optimum = concave_curves(seed=2, n=3)
    bounds = {"c0": SpendBounds(lower=5.0, upper=6.0, kind="absolute")}
    result = optimise_budget(optimum.sum(), curves, bounds)
    spend = result.optimal()
    assert 5.0 <= spend["c0"] <= 6.0
    assert spend.sum() == pytest.approx(optimum.sum(), rel=1e-12)


@pytest.mark.parametrize("budget_total, bounds, match", [
    (1e9, SpendBounds(0.5, 2.0), "exceeds the sum of upper bounds"),
    (1.0, SpendBounds(0.5, 2.0), "below the sum of lower bounds"),
    (-1.0, None, "budget_total"),
])
def test_infeasible_constraints_raise(budget_total, bounds, match):
    curves, _ = concave_curves()
    with pytest.raises(InfeasibleBudgetError, match=match):
        optimise_budget(budget_total, curves, bounds)


def test_invalid_bounds_and_scenarios_raise_at_construction():
    with pytest.raises(ValueError, match="below lower"):
        SpendBounds(2.0, 1.0)
    with pytest.raises(ValueError, match="exactly one"):
        BudgetScenario("both", budget_multiplier=1.0, budget_total=5.0)
    with pytest.raises(ValueError, match="exactly one"):
        BudgetScenario("none")
    assert BudgetScenario.from_multiplier(1.2).name == "budget_+20pct"
    assert BudgetScenario.from_multiplier(0.8).budget_for(100.0) == pytest.approx(80.0)


def test_unknown_method_and_unknown_channel_raise():
    curves, optimum = concave_curves()
    with pytest.raises(ValueError, match="method"):
        optimise_budget(optimum.sum(), curves, method="newton")
    with pytest.raises(ValueError, match="unknown channels"):
        optimise_budget(optimum.sum(), curves, {"nope": SpendBounds()})


def test_a_solver_that_ends_worse_than_current_says_so(monkeypatch):
    curves, optimum = concave_curves()

    def broken(stack, x0, lower, upper, budget_total, maxiter=500):
        x = np.zeros_like(x0)
        x[0] = budget_total  # everything on one channel: much worse than the even split
        return budget._Solution(x, True, "SLSQP: pretend success", 1)

    monkeypatch.setattr(budget, "_slsqp", broken)
    result = optimise_budget(optimum.sum(), curves)
    assert not result.converged
    assert "below the (projected) current" in result.message


def test_target_mroi_spends_until_the_marginal_return_falls_to_the_target():
    curves, optimum = concave_curves(seed=3)
    result = allocate_to_target_mroi(curves, LAM)
    assert result.allocation.optimal_spend.to_numpy() == pytest.approx(optimum, rel=1e-6)
    assert result.allocation.mroi_optimal.to_numpy() == pytest.approx(LAM, rel=1e-6)
    capped = allocate_to_target_mroi(curves, LAM, SpendBounds(0.0, 1.0))
    assert (capped.allocation.optimal_spend <= capped.allocation.current_spend + 1e-9).all()


def region_curves(n_regions=8, n_channels=3, seed=4):
    rng = np.random.default_rng(seed)
    curves, optima = [], []
    for r in range(n_regions):
        tops, ks = rng.uniform(100, 400, n_channels), rng.uniform(20, 60, n_channels)
        opt = known_optimum(tops, ks)
        optima.append(opt)
        for c in range(n_channels):
            curves.append(ResponseCurve(f"c{c}", tops[c], 0.0, ks[c], 1.0, float(opt.mean()), f"r{r}"))
    return curves, np.concatenate(optima)


@pytest.mark.parametrize("method", METHODS)
def test_region_by_channel_allocation_reaches_the_known_optimum(method):
    curves, optimum = region_curves()
    best = sum(float(c.response(x)) for c, x in zip(curves, optimum))
    result = optimise_region_budget(optimum.sum(), curves, method=method)
    assert result.converged, result.message
    assert result.response_optimal >= 0.995 * best
    assert result.allocation.optimal_spend.sum() == pytest.approx(optimum.sum(), rel=1e-12)
    assert len(result.allocation) == len(curves)


@pytest.mark.parametrize("method", ["slsqp", "trust-constr"])
def test_region_budget_bounds_are_respected(method):
    curves, optimum = region_curves(seed=5)
    region_bounds = SpendBounds(0.95, 1.05)  # × each region's current total
    result = optimise_region_budget(optimum.sum(), curves, SpendBounds(0.0, 5.0), region_bounds, method=method)
    alloc = result.allocation
    per_region = alloc.groupby("region")[["current_spend", "optimal_spend"]].sum()
    assert (per_region.optimal_spend >= 0.95 * per_region.current_spend * (1 - 1e-7)).all()
    assert (per_region.optimal_spend <= 1.05 * per_region.current_spend * (1 + 1e-7)).all()
    assert alloc.optimal_spend.sum() == pytest.approx(optimum.sum(), rel=1e-9)
    unbounded = optimise_region_budget(optimum.sum(), curves, SpendBounds(0.0, 5.0), method=method)
    assert result.response_optimal <= unbounded.response_optimal * (1 + 1e-6)


def test_infeasible_region_bounds_raise():
    curves, optimum = region_curves()
    with pytest.raises(InfeasibleBudgetError, match="region"):
        optimise_region_budget(optimum.sum(), curves, SpendBounds(0.0, 1.0), SpendBounds(1.5, 2.0))


# -- risk-aware plans over ensemble members (issue 17) ---------------------------------------------------
def _members(scales_b):
    """Members that agree on channel a's curve and disagree on channel b's height (one scale per member)."""
    return [(ResponseCurve("a", 100.0, 0.0, 50.0, 1.0, 50.0), ResponseCurve("b", 100.0 * k, 0.0, 50.0, 1.0, 50.0))
            for k in scales_b]


def test_risk_neutral_plan_on_identical_members_is_the_plan_on_their_curve():
    curves = [ResponseCurve("a", 100.0, 0.0, 30.0, 1.0, 50.0), ResponseCurve("b", 200.0, 0.0, 80.0, 1.0, 50.0)]
    point = optimise_budget(100.0, curves, SpendBounds(0.2, 3.0))
    risk = budget.optimise_budget_under_risk(100.0, [curves, curves, curves], 0.0, SpendBounds(0.2, 3.0))
    np.testing.assert_allclose(risk.allocation.optimal_spend, point.allocation.optimal_spend, rtol=1e-5)
    assert risk.converged and risk.allocation.optimal_spend.sum() == pytest.approx(100.0, rel=1e-12)


def test_risk_aversion_moves_spend_from_the_channel_members_disagree_on_to_the_one_they_agree_on():
    members = _members([0.6, 1.0, 1.4])  # b's mean curve equals a's: a risk-neutral plan splits evenly
    spend = {lam: budget.optimise_budget_under_risk(100.0, members, lam, SpendBounds(0.1, 3.0))
             .allocation.set_index("channel").optimal_spend for lam in (0.0, 1.0, 3.0)}
    assert spend[0.0]["a"] == pytest.approx(50.0, rel=1e-4)
    assert spend[0.0]["a"] < spend[1.0]["a"] < spend[3.0]["a"]
    for lam, x in spend.items():
        assert x.sum() == pytest.approx(100.0, rel=1e-12)
        response = np.array([sum(c.response(x[c.channel]) for c in m) for m in members])
        current = np.array([sum(c.response(50.0) for c in m) for m in members])
        objective = lambda r: r.mean() - lam * r.std()  # noqa: E731
        assert objective(response) >= objective(current) - 1e-9  # never worse than the current plan
    with pytest.raises(ValueError, match="risk_aversion"):
        budget.optimise_budget_under_risk(100.0, members, -1.0)
    with pytest.raises(ValueError, match="same order"):
        budget.optimise_budget_under_risk(100.0, [members[0], members[1][::-1]], 1.0)


# -- demand at a price: the region split's inner solve -------------------------------------------------
def _random_hills(n, seed):
    rng = np.random.default_rng(seed)
    slope, k = rng.uniform(0.3, 4.0, n), 10 ** rng.uniform(-3, 6, n)
    top = 10 ** rng.uniform(-2, 6, n)
    hills = budget._HillArrays(top, top * rng.uniform(-0.5, 0.9, n), k, slope)
    lower = k * 10 ** rng.uniform(-6, 0, n) * (rng.random(n) < 0.7)
    upper = lower + k * 10 ** rng.uniform(-3, 3, n)
    return rng, hills, lower, upper


def test_demand_spends_until_the_marginal_return_falls_to_the_price():
    rng, hills, lower, upper = _random_hills(20_000, seed=11)
    start = np.minimum(np.maximum(np.maximum(lower, hills.inflection()), 1e-12 * hills.half_saturation), upper)
    peak, at_upper = hills.parts(start)[1], hills.parts(upper)[1]
    keep = peak > 1.01 * at_upper  # an interior root: not where the branch starts at upper (S-curves)
    assert keep.mean() > 0.5
    hills = budget._HillArrays(*(a[keep] for a in (hills.top, hills.bottom, hills.half_saturation, hills.slope)))
    lower, upper, start, peak, at_upper = lower[keep], upper[keep], start[keep], peak[keep], at_upper[keep]
    # prices strictly between the marginal return at upper and the peak (log-uniform between them)
    price = np.exp(np.log(at_upper) + rng.uniform(0.01, 0.99, len(lower)) * np.log(peak / at_upper))
    with np.errstate(all="raise"):
        x = hills.demand(price, lower, upper)
    assert ((x >= start) & (x <= upper)).all()  # on the concave branch: the largest x with that marginal return
    t = (x / hills.half_saturation) ** hills.slope  # h (1 - h) = t / (1 + t)^2, without 1 - h near saturation
    marginal = (hills.top - hills.bottom) * hills.slope * t / (1.0 + t) ** 2 / x
    np.testing.assert_allclose(marginal, price, rtol=1e-10)
    # where it starts changes the steps, not the result
    for guess in (lower, upper, 0.5 * (lower + upper), x * 1.001):
        np.testing.assert_allclose(hills.demand(price, lower, upper, guess), x, rtol=1e-12)


def test_demand_at_bounds_and_degenerate_curves():
    _, hills, lower, upper = _random_hills(2_000, seed=12)
    start = np.minimum(np.maximum(np.maximum(lower, hills.inflection()), 1e-12 * hills.half_saturation), upper)
    peak, at_upper = hills.parts(start)[1], hills.parts(upper)[1]
    with np.errstate(all="raise"):
        np.testing.assert_array_equal(hills.demand(at_upper, lower, upper), upper)  # marginal at upper >= price
        np.testing.assert_array_equal(hills.demand(0.5 * at_upper, lower, upper), upper)
        np.testing.assert_array_equal(hills.demand(0.0, lower, upper), upper)
        np.testing.assert_array_equal(hills.demand(peak * 1.5, lower, upper), lower)  # even the peak is below
        np.testing.assert_array_equal(hills.demand(np.inf, lower, upper), lower)
        np.testing.assert_array_equal(hills.demand(peak, lower, lower), lower)  # equal bounds
        np.testing.assert_array_equal(hills.demand(peak, 0.0, 0.0), 0.0)  # upper 0
        flat = budget._HillArrays(hills.top, hills.top, hills.half_saturation, hills.slope)  # amplitude 0
        np.testing.assert_array_equal(flat.demand(peak, lower, upper), lower)
        # slope <= 1: the branch starts at 1e-12 half-saturations; a price above the marginal there buys nothing
        concave = budget._HillArrays(10.0, 0.0, 2.0, np.array([0.5, 1.0]))
        floor = concave.parts(2e-12)[1]
        np.testing.assert_array_equal(concave.demand(floor * 1.01, 0.0, 100.0), 0.0)
        x = concave.demand(floor * 0.99, 0.0, 100.0)
        assert (x > 2e-12).all() and np.isfinite(x).all()
        np.testing.assert_allclose(concave.parts(x)[1], floor * 0.99, rtol=1e-9)
