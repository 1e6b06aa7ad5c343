"""Response curves from a fitted model on the tiny simulated panel, and allocations judged by the truth.

The model is fitted on the first 91 weeks; the planning window is that panel's last 13 weeks and the
carry-over runs into the 13 weeks after it, which the simulator's ground truth covers, so an allocation
can be scored under the true response (``GroundTruth.kpi_noiseless_for`` with scaled own activity).
"""

from __future__ import annotations

import numpy as np
import pytest

from mmm_core.planning.budget import NATIONAL, optimise_budget, optimise_region_budget
from mmm_core.planning.constraints import BudgetScenario, SpendBounds
from mmm_core.analysis.curves import (DEFAULT_MULTIPLIERS, fit_hill, model_response, planning_window, response_curves,
                                     with_spend_multiplied)
from mmm_core.planning.scenarios import allocation_multipliers, plan_scenarios
from mmm_core.model.estimator import MMM

PLANNING_WEEKS = 13


@pytest.fixture(scope="module")
def fitted(tiny_simulation):
    panel = tiny_simulation.panel
    train = panel.slice_weeks(0, panel.n_weeks - 13)
    model = MMM(overrides={"train": {"seed": 0, "epochs": 300, "threads": 1}}).fit(train)
    return model, train


@pytest.fixture(scope="module")
def curves(fitted):
    model, train = fitted
    return response_curves(model, train, PLANNING_WEEKS)


def test_planning_window_appends_carryover_weeks_without_media(fitted):
    model, train = fitted
    window = planning_window(model, train, PLANNING_WEEKS, carryover_weeks=5)
    extended = window.panel
    assert extended.n_weeks == train.n_weeks + 5
    assert (extended.activity[:, train.n_weeks:] == 0).all() and (extended.spend[:, train.n_weeks:] == 0).all()
    last = train.n_weeks - 1
    observed_last = train.observed[:, last]
    assert np.array_equal(extended.controls[observed_last, train.n_weeks], train.controls[observed_last, last])
    assert window.in_window.sum() == PLANNING_WEEKS and window.counted.sum() == PLANNING_WEEKS + 5
    # the state continues: same weeks, same values (to float rounding: a longer array may sum in another order)
    np.testing.assert_allclose(model.predict(extended)[:, :train.n_weeks], model.predict(train), rtol=1e-12, atol=0)


def test_unit_multiplier_leaves_the_panel_unchanged(fitted):
    model, train = fitted
    window = planning_window(model, train, PLANNING_WEEKS)
    same = with_spend_multiplied(model, window, np.ones(train.n_channels))
    assert np.array_equal(same.activity, window.panel.activity) and np.array_equal(same.spend, window.panel.spend)
    doubled = with_spend_multiplied(model, window, np.array([2.0, 1.0, 1.0]))
    inside = window.in_window
    assert np.allclose(doubled.spend[:, inside, 0], 2 * window.panel.spend[:, inside, 0])
    assert np.array_equal(doubled.spend[:, ~inside], window.panel.spend[:, ~inside])


def test_curves_start_at_zero_and_fit_the_model_points(curves, tiny_panel):
    pts = curves.points
    assert pts.multipliers.tolist() == sorted(DEFAULT_MULTIPLIERS)
    assert (pts.response[pts.multipliers == 0.0] == 0.0).all()
    table = curves.table()
    national = table[table.scope == "national"]
    assert len(national) == tiny_panel.n_channels and len(table) == tiny_panel.n_channels * (1 + tiny_panel.n_regions)
    assert (national.fit_r2 > 0.98).all(), national
    assert (national.current_response > 0).all()
    # the national series is the sum of the regions' series
    points = curves.points_frame()
    by_scope = points.groupby(["scope", "channel", "multiplier"]).response.sum()
    assert np.allclose(by_scope["national"], by_scope["region"], rtol=1e-9)
    # the Hill fit's derivative roughly agrees with the model's own +1 % step (the model is not exactly Hill)
    assert np.allclose(national.mroi_curve, national.mroi, rtol=0.25)


def true_response(simulation, window, multiplier: np.ndarray) -> np.ndarray:
    """``[R]`` true KPI over the counted weeks with own activity × ``multiplier`` ``[R, C]`` in the planning
    weeks (the simulator's noiseless equation, DAG included)."""
    truth = simulation.truth
    n = len(window.in_window)
    own = truth.own_activity.copy()
    own[:, :n][:, window.in_window] *= multiplier[:, None, :]
    return truth.kpi_noiseless_for(own)[:, :n][:, window.counted].sum(axis=1)


def true_curves(simulation, window, spend: np.ndarray, channels, regions):
    """Hill curves fitted (as for the model) to the simulator's true response at the default multipliers."""
    mults = np.array(sorted(DEFAULT_MULTIPLIERS))
    R, C = spend.shape
    totals = np.empty((len(mults), R, C))
    for c in range(C):
        for i, m in enumerate(mults):
            mult = np.ones((R, C))
            mult[:, c] = m
            totals[i, :, c] = true_response(simulation, window, mult)
    response = totals - totals[mults == 0.0]
    national = [fit_hill(mults, response[:, :, c].sum(axis=1), float(spend[:, c].sum()), ch)
                for c, ch in enumerate(channels)]
    regional = [fit_hill(mults, response[:, r, c], float(spend[r, c]), ch, region)
                for r, region in enumerate(regions) for c, ch in enumerate(channels)]
    return national, regional


def test_allocation_on_true_curves_beats_the_current_one_under_the_true_response(fitted, curves, tiny_simulation):
    """The curve -> optimiser -> multiplier chain, judged by the truth, with curves that are right."""
    _, train = fitted
    window, spend = curves.window, curves.points.spend
    budget = float(spend.sum())
    national_curves, regional_curves = true_curves(tiny_simulation, window, spend, train.channels, train.regions)
    assert min(c.r2 for c in national_curves) > 0.99
    current = true_response(tiny_simulation, window, np.ones_like(spend)).sum()
    national = optimise_budget(budget, national_curves, SpendBounds(0.5, 2.0))
    regional = optimise_region_budget(budget, regional_curves, SpendBounds(0.5, 2.0))
    gains = []
    for result in (national, regional):
        assert result.converged, result.message
        mult = allocation_multipliers(result, spend, train.regions, train.channels)
        assert float((mult * spend).sum()) == pytest.approx(budget, rel=1e-9)
        gains.append(true_response(tiny_simulation, window, mult).sum() - current)
        # the curves' predicted gain is the true gain, up to the channels' interaction through the DAG
        assert gains[-1] == pytest.approx(result.incremental_response, rel=0.25)
    assert gains[0] > 0 and gains[1] > 0
    assert gains[1] >= gains[0] * 0.99  # region × channel has more freedom than national multipliers


def test_model_allocation_beats_the_current_one_under_the_true_response(fitted, curves, tiny_simulation):
    model, train = fitted
    window, spend = curves.window, curves.points.spend
    current = true_response(tiny_simulation, window, np.ones_like(spend)).sum()
    result = optimise_budget(float(spend.sum()), curves.national, SpendBounds(0.5, 2.0))
    assert result.converged, result.message
    mult = allocation_multipliers(result, spend, train.regions, train.channels)
    # the full model agrees with its own curves that the allocation is better ...
    assert model_response(model, window, mult).sum() > model_response(model, window, np.ones_like(spend)).sum()
    # ... and so should the truth
    assert true_response(tiny_simulation, window, mult).sum() > current


def test_plan_scenarios_reports_curve_and_model_predictions(fitted, curves, tiny_panel):
    model, _ = fitted
    scenarios = [BudgetScenario.from_multiplier(m) for m in (0.8, 1.0)] + [BudgetScenario("target", target_mroi=1.0)]
    table, allocation = plan_scenarios(model, curves, scenarios)
    assert len(table) == 3 * 2 and table.converged.all()
    assert set(table.scope) == {"national", "region"}
    same = table[table.scenario == "budget_current"]
    assert (same.response_optimal_curve >= same.response_current_curve).all()
    assert (same.response_optimal_model > same.response_current_model).all()
    budgets = allocation.groupby(["scenario", "scope"]).optimal_spend.sum()
    current_total = float(curves.points.spend.sum())
    assert budgets["budget_-20pct"].to_numpy() == pytest.approx(0.8 * current_total, rel=1e-9)
    region_rows = allocation[(allocation.scope == "region") & (allocation.scenario == "budget_current")]
    assert len(region_rows) == tiny_panel.n_regions * tiny_panel.n_channels
    assert (allocation[allocation.scope == "national"].region == NATIONAL).all()
