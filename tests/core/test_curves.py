"""Response curves from a fitted model on the tiny simulated panel, and allocations judged by the truth.

The model is the shared short fit of the first 91 weeks (``tiny_fit``); the planning window is that panel's last 13 weeks and the
carry-over runs into the 13 weeks after it, which the simulator's ground truth covers, so an allocation
can be scored under the true response (``GroundTruth.kpi_noiseless_for`` with scaled own activity).
"""

from __future__ import annotations

import numpy as np
import pytest

from mmm_core.planning.budget import NATIONAL, hill_response, optimise_budget, optimise_region_budget
from mmm_core.planning.constraints import BudgetScenario, SpendBounds
from mmm_core.analysis.curves import (DEFAULT_MULTIPLIERS, HILL_LOWER, HILL_STARTS, HILL_UPPER, fit_hill, fit_hills,
                                     model_response, planning_window, response_curves)
from mmm_core.data.contract import DataContractError
from mmm_core.planning.scenarios import allocation_multipliers, plan_scenarios

PLANNING_WEEKS = 13


@pytest.fixture(scope="module")
def fitted(tiny_fit, tiny_train):
    return tiny_fit, tiny_train


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


def test_unit_multiplier_is_the_factual_prediction(fitted):
    model, train = fitted
    window = planning_window(model, train, PLANNING_WEEKS)
    ones = np.ones((train.n_regions, train.n_channels))
    same = model.counterfactual(window.panel, window.own_multiplier(ones))
    np.testing.assert_array_equal(same.prediction, model.decompose(window.panel).prediction)
    doubled = window.own_multiplier(np.array([2.0, 1.0, 1.0]))  # [R, T', C]: x2 inside the window only
    assert (doubled[:, window.in_window, 0] == 2.0).all() and (doubled[:, ~window.in_window] == 1.0).all()
    assert (doubled[..., 1:] == 1.0).all()


def test_batched_media_runs_are_the_counterfactuals_media_part(fitted):
    """``MMM.media_kpi`` (what curves and budgets read) changes a counterfactual's media terms only: the full
    counterfactual prediction is the factual minus the factual media plus the batched run's media."""
    model, train = fitted
    window = planning_window(model, train, PLANNING_WEEKS)
    rng = np.random.default_rng(3)
    runs = [np.ones((train.n_regions, train.n_channels)), np.zeros(train.n_channels),
            rng.uniform(0.0, 3.0, (train.n_regions, train.n_channels))]
    media = model.media_kpi(window.panel, np.stack([np.broadcast_to(m, runs[0].shape) for m in runs]),
                            weeks=window.in_window, chunk=2)
    factual = model.predict(window.panel)
    for b, multiplier in enumerate(runs):
        full = model.counterfactual(window.panel, window.own_multiplier(multiplier)).prediction
        np.testing.assert_allclose(factual - media[0] + media[b], full, rtol=1e-10, atol=1e-9 * np.abs(full).max())
    factual = model.decompose(window.panel)
    factual_media = sum(factual.channel(name) for name in train.channels)  # the channels' terms of the factual
    np.testing.assert_allclose(media[0], factual_media, rtol=1e-10, atol=1e-9 * np.abs(factual_media).max())


def test_curves_over_the_whole_panel_switch_a_channel_off_in_every_week(fitted):
    """Issue 15 item 18: a scenario with a channel at 0 in every week is not input data; the contract's
    rejection of such a channel applies to files, not to counterfactuals."""
    model, train = fitted
    curves = response_curves(model, train, planning_weeks=train.n_weeks, multipliers=(0.0, 0.5, 1.0),
                             per_region=False)
    assert (curves.points.response[0] == 0.0).all()
    assert (curves.table().current_response > 0).all()


def test_a_derived_panel_is_checked_for_structure_not_for_the_input_rules(tiny_panel):
    no_spend = np.zeros_like(tiny_panel.spend)
    with pytest.raises(DataContractError, match="zero spend"):
        tiny_panel.replace(spend=no_spend)  # as input: rejected
    derived = tiny_panel.derive(spend=no_spend, activity=no_spend)
    assert (derived.spend == 0.0).all() and derived.regions == tiny_panel.regions
    with pytest.raises(DataContractError, match="shape"):
        tiny_panel.derive(spend=no_spend[:, 1:])


def test_a_curve_at_current_spend_is_the_channels_total_contribution(fitted):
    """Issue 15 item 17: one counterfactual. Over the same weeks (the whole panel, no carry-over after it),
    the response curve at 1x spend equals ``contributions()``'s total contribution, and its spend too."""
    model, train = fitted
    table = model.contributions(train).set_index("channel")
    curves = response_curves(model, train, planning_weeks=train.n_weeks, multipliers=(0.0, 1.0), per_region=False,
                             carryover_weeks=0)
    national = curves.table().set_index("channel").loc[list(train.channels)]
    np.testing.assert_allclose(national.current_spend, table.spend.loc[list(train.channels)], rtol=1e-12)
    np.testing.assert_allclose(national.current_response, table.total_contribution.loc[list(train.channels)],
                               rtol=1e-9)
    np.testing.assert_allclose(national.roi, table.roi.loc[list(train.channels)], rtol=1e-9)


def test_contribution_parts_add_up_to_direct_and_to_total(fitted):
    """direct = own + mediated (activity the DAG parents caused), total = own + induced (in DAG children);
    a channel without parents has nothing mediated, one without children induces nothing."""
    model, train = fitted
    table = model.contributions(train).set_index("channel")
    scale = float(table.direct_contribution.abs().max())
    np.testing.assert_allclose(table.own_contribution + table.mediated_contribution, table.direct_contribution,
                               rtol=0, atol=1e-9 * scale)
    np.testing.assert_allclose(table.own_contribution + table.induced_contribution, table.total_contribution,
                               rtol=0, atol=1e-9 * scale)
    adjacency = model.adjacency()
    for c, channel in enumerate(train.channels):
        if not adjacency[:, c].any():
            assert abs(table.mediated_contribution[channel]) <= 1e-9 * scale, channel
        if not adjacency[c].any():
            assert abs(table.induced_contribution[channel]) <= 1e-9 * scale, channel
    parents, children = np.nonzero(adjacency)
    assert len(parents), "the tiny preset's tv -> search edge is learned"
    for p, c in zip(parents, children):
        assert table.induced_contribution[train.channels[p]] > 0
        assert table.mediated_contribution[train.channels[c]] > 0


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


def test_batched_hill_fit_recovers_known_curves_and_agrees_with_the_single_fit():
    """``fit_hills`` fits many curves side by side: from noiseless points it recovers each curve's parameters
    (S-shaped, concave, late and almost linear), leaves a zero-spend and an all-zero series flat with r2 NaN,
    and gives each curve what ``fit_hill`` gives it alone."""
    mults = np.array(sorted(DEFAULT_MULTIPLIERS))
    truth = [  # (top, half-saturation, slope, current spend)
        (120.0, 1.2e4, 2.5, 1.0e4),  # S-shaped
        (40.0, 600.0, 0.7, 800.0),  # concave
        (5.0e3, 9.0e5, 1.0, 2.0e5),  # late: nearly linear over the points
        (1.0, 1.0, 3.0, 2.0),  # steep, small units
    ]
    responses = [hill_response(mults * spend, top, 0.0, k, s) for top, k, s, spend in truth]
    responses += [np.linspace(0.0, 3.0, len(mults)), np.zeros(len(mults))]  # zero spend; no response
    spends = [spend for *_, spend in truth] + [0.0, 50.0]
    channels = [f"c{i}" for i in range(len(spends))]
    regions = ["r1", "r2", NATIONAL, "r1", "r2", "r1"]
    curves = fit_hills(mults, np.stack(responses), spends, channels, regions)
    assert [(c.channel, c.region, c.current_spend) for c in curves] == list(zip(channels, regions, spends))
    for curve, (top, k, s, spend), y in zip(curves, truth, responses):
        assert curve.r2 > 1 - 1e-10, curve
        np.testing.assert_allclose(curve.response(mults * spend), y, rtol=0, atol=1e-6 * top)
        if curve.channel != "c2":  # the late curve's top and half-saturation trade off over the points
            np.testing.assert_allclose([curve.top, curve.half_saturation, curve.slope], [top, k, s], rtol=1e-4)
            assert abs(curve.bottom) <= 1e-5 * top
    for flat in curves[4:]:
        assert flat.top == flat.bottom == 0.0 and np.isnan(flat.r2)
    for curve, y, spend, channel, region in zip(curves, responses, spends, channels, regions):
        alone = fit_hill(mults, y, spend, channel, region)
        assert (alone.channel, alone.region, alone.current_spend) == (channel, region, spend)
        np.testing.assert_allclose([alone.top, alone.bottom, alone.half_saturation, alone.slope],
                                   [curve.top, curve.bottom, curve.half_saturation, curve.slope], rtol=1e-9, atol=0)
        np.testing.assert_allclose(alone.r2, curve.r2, rtol=1e-12)


def test_batched_hill_fit_fits_noisy_points_as_well_as_scipy():
    """On noisy, non-Hill points the batched Levenberg–Marquardt reaches at least the fit of
    ``scipy.optimize.least_squares`` from the same starts within the same bounds."""
    from scipy.optimize import least_squares

    rng = np.random.default_rng(0)
    mults = np.array(sorted(DEFAULT_MULTIPLIERS))
    shapes = [np.log1p(2.0 * mults), mults ** 1.8 / (1.0 + mults ** 1.8), np.sqrt(mults), mults, 1.0 - np.exp(-mults)]
    responses = np.stack([shape * scale + rng.normal(0.0, 0.03 * scale, len(mults)) * (mults > 0)
                          for shape in shapes for scale in (1.0, 250.0)])
    curves = fit_hills(mults, responses, np.full(len(responses), 100.0), ["c"] * len(responses))
    for curve, response in zip(curves, responses):
        y = response / np.abs(response).max()
        fit = lambda th: hill_response(mults, th[0], th[1], np.exp(th[2]), np.exp(th[3])) - y  # noqa: E731
        best = min((least_squares(fit, [max(y.max(), 0.1) * 1.5, 0.0, np.log(k0), np.log(s0)],
                                  bounds=(HILL_LOWER, HILL_UPPER)) for k0, s0 in HILL_STARTS), key=lambda f: f.cost)
        scipy_r2 = 1.0 - 2.0 * best.cost / ((y - y.mean()) ** 2).sum()
        assert curve.r2 >= scipy_r2 - 1e-9, (curve, scipy_r2)


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
