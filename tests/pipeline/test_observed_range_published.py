"""Issue 16 item 5: the flags of activity beyond the observed range reach the served tables of a refresh."""

from __future__ import annotations

from tests.conftest import REFRESH_WEEKS as WEEKS

FLAGGED = ("response_curve_points", "budget_allocation", "budget_scenarios")


def test_curve_points_and_budgets_beyond_the_observed_range_are_flagged_in_the_served_tables(published):
    for table in FLAGGED:
        rows = published.sql(f"SELECT ratio_to_observed_max, beyond_observed_range FROM latest_{table}")
        assert rows, table
        assert all(ratio is not None and ratio >= 0 and beyond is not None for ratio, beyond in rows), table
        assert all(beyond == (ratio > 1 + 1e-9) for ratio, beyond in rows), table
    # spend multiplier 0 uses no activity; the top multiplier (3x) of a national curve is the ratio at 1x tripled
    [(at_zero,)] = published.sql("SELECT bool_or(beyond_observed_range) FROM latest_response_curve_points "
                                 "WHERE multiplier = 0")
    assert at_zero is False
    pairs = published.sql("SELECT a.ratio_to_observed_max, b.ratio_to_observed_max, c.spend_at_observed_max, "
                          "c.current_spend FROM latest_response_curve_points a JOIN latest_response_curve_points b "
                          "USING (scope, region, channel) JOIN latest_response_curves c USING (scope, region, channel) "
                          "WHERE a.multiplier = 1 AND b.multiplier = 3 AND scope = 'national'")
    assert pairs
    for at_one, at_three, spend_at_max, current in pairs:
        assert abs(at_three - 3 * at_one) <= 1e-9 * at_three
        assert abs(spend_at_max * at_one - current) <= 1e-9 * current
    assert published.sql("SELECT DISTINCT refresh_week FROM latest_budget_allocation")[0][0].isoformat() == WEEKS[1]
