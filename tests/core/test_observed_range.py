"""Issue 16 item 5: curve points, budget allocations and forecast region-weeks that use a channel's activity
beyond the highest weekly activity the model was trained on say so (``ratio_to_observed_max``,
``beyond_observed_range``).

The panel is the tiny simulated one with the first channel's activity (and spend) replaced by a known series:
each region's base level × (1 + 0.2 cos(2π t / 13)), so the channel is seen at most at 1.2× its mean and
every 13-week planning window holds a week at that peak. A curve point at spend multiplier m then uses
m × the highest observed activity: flagged above 1, not below. The fit is short: the flags do not depend
on the model's quality.
"""

from __future__ import annotations

import numpy as np
import pytest

from mmm_core.analysis.curves import response_curves
from mmm_core.analysis.observed_range import ObservedRange
from mmm_core.model.estimator import MMM
from mmm_core.planning.constraints import BudgetScenario, SpendBounds
from mmm_core.planning.scenarios import plan_scenarios

PLANNING_WEEKS = 13
PEAK = 1.2
"""The known channel's highest weekly activity, as a multiple of its mean level."""


@pytest.fixture(scope="module")
def known_panel(tiny_panel):
    """The tiny panel with channel 0 at ``base_r × (1 + 0.2 cos(2π t / 13))`` in observed weeks."""
    R, T, _ = tiny_panel.activity.shape
    base = 100.0 * (1.0 + np.arange(R))[:, None]  # [R, 1]
    level = base * (1.0 + (PEAK - 1.0) * np.cos(2.0 * np.pi * np.arange(T) / 13.0))[None, :]  # [R, T]
    activity, spend = tiny_panel.activity.copy(), tiny_panel.spend.copy()
    activity[..., 0] = np.where(tiny_panel.observed, level, 0.0)
    spend[..., 0] = 2.5 * activity[..., 0]
    return tiny_panel.replace(activity=activity, spend=spend)


@pytest.fixture(scope="module")
def fitted(known_panel):
    return MMM(overrides={"train": {"seed": 0, "epochs": 5, "threads": 1}}).fit(known_panel)


@pytest.fixture(scope="module")
def curves(fitted, known_panel):
    return response_curves(fitted, known_panel, PLANNING_WEEKS, multipliers=(0.5, 0.75, 1.0, 1.25, 2.0))


def test_the_observed_range_is_the_highest_weekly_activity_over_observed_training_weeks(fitted, known_panel):
    observed = ObservedRange.of(fitted, known_panel)
    expected = np.where(known_panel.observed[..., None], known_panel.activity, -np.inf).max(axis=1)
    np.testing.assert_allclose(observed.max_activity, expected, rtol=1e-12)
    assert observed.regions == known_panel.regions and observed.channels == known_panel.channels


def test_weeks_after_training_do_not_widen_the_range_and_are_flagged(known_panel):
    """A forecast's region-weeks: the model trained on the first 91 weeks; later weeks at 3x are beyond."""
    train = known_panel.slice_weeks(0, 91)
    model = MMM(overrides={"train": {"seed": 0, "epochs": 1, "threads": 1}}).fit(train)
    activity = known_panel.activity.copy()
    activity[:, 91:, 0] *= 3.0
    future = known_panel.derive(activity=activity)
    observed = ObservedRange.of(model, future)
    np.testing.assert_allclose(observed.max_activity, ObservedRange.of(model, train).max_activity, rtol=1e-12)
    ratio = observed.ratio(future.activity)  # [R, T, C]
    beyond = observed.beyond(future.activity)
    assert not beyond[:, :91].any()
    assert beyond[:, 91:, 0][future.observed[:, 91:] & (future.activity[:, 91:, 0] > 0)].any()
    assert (ratio[:, :91] <= 1.0 + 1e-12).all()


def test_a_curve_point_beyond_the_highest_observed_activity_is_flagged_and_one_inside_is_not(curves):
    points = curves.points_frame()
    known = points[points.channel == points.channel.iloc[0]]
    assert {"ratio_to_observed_max", "beyond_observed_range"} <= set(points.columns)
    for scope in ("national", "region"):
        rows = known[known.scope == scope].set_index(["region", "multiplier"])
        # every planning window holds the channel's peak week: the ratio is the multiplier
        np.testing.assert_allclose(rows.ratio_to_observed_max, rows.index.get_level_values("multiplier"), rtol=1e-9)
        at = lambda m: rows.xs(m, level="multiplier").beyond_observed_range  # noqa: E731
        assert at(2.0).all() and at(1.25).all()
        assert not at(0.75).any() and not at(1.0).any()
    table = curves.table()
    known_curves = table[table.channel == points.channel.iloc[0]]
    np.testing.assert_allclose(known_curves.spend_at_observed_max, known_curves.current_spend, rtol=1e-9)


def test_a_budget_allocation_above_the_observed_maximum_is_flagged(fitted, curves):
    scenarios = [BudgetScenario.from_multiplier(2.0), BudgetScenario.from_multiplier(0.5)]
    table_up, allocation_up = plan_scenarios(fitted, curves, scenarios[:1], SpendBounds(1.5, 2.5))
    _, allocation_down = plan_scenarios(fitted, curves, scenarios[1:], SpendBounds(0.25, 0.9))
    channel = curves.points.channels[0]
    more = allocation_up[allocation_up.channel == channel]
    less = allocation_down[allocation_down.channel == channel]
    assert more.beyond_observed_range.all() and (more.ratio_to_observed_max >= 1.5 - 1e-9).all()
    assert not less.beyond_observed_range.any() and (less.ratio_to_observed_max <= 0.9 + 1e-9).all()
    # the ratio is the allocation's spend multiplier, the channel's planning window holding its peak week
    np.testing.assert_allclose(more.ratio_to_observed_max, more.optimal_spend / more.current_spend, rtol=1e-9)
    assert table_up.beyond_observed_range.all()
    assert (table_up.ratio_to_observed_max >= 1.5 - 1e-9).all()
