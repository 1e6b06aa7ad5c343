"""Decomposition: components in KPI units that sum to the prediction, a long frame, the channel table."""

import numpy as np
import pandas as pd
import pytest

from mmm_core.model.decomposition import AdditivityError, build_decomposition, channel_table


def _parts(R=2, T=5, C=2, K=1, seed=0):
    rng = np.random.default_rng(seed)
    baseline, trend, season = rng.uniform(0.5, 1, (R, T)), rng.normal(0, .1, (R, T)), rng.normal(0, .1, (R, T))
    controls, media = rng.normal(0, .05, (R, T, K)), rng.uniform(0, .1, (R, T, C))
    prediction = baseline + trend + season + controls.sum(-1) + media.sum(-1)
    return baseline, trend, season, controls, media, prediction


def test_components_sum_to_prediction_in_kpi_units():
    b, t, s, k, m, p = _parts()
    scale = np.array([100.0, 2500.0])
    d = build_decomposition(("r1", "r2"), np.datetime64("2024-01-01") + 7 * np.arange(5), ("tv", "search"),
                            ("price",), scale, b, t, s, k, m, p)
    assert d.components == ("baseline", "trend", "seasonality", "control:price", "channel:tv", "channel:search")
    assert d.component_kinds == ("baseline", "trend", "seasonality", "control", "channel", "channel")
    np.testing.assert_allclose(d.values.sum(-1), p * scale[:, None], rtol=1e-12)
    assert d.max_relative_error() <= 1e-12
    np.testing.assert_allclose(d.channel("tv"), m[..., 0] * scale[:, None])


def test_parts_that_do_not_add_up_raise():
    b, t, s, k, m, p = _parts()
    with pytest.raises(AdditivityError):
        build_decomposition(("r1", "r2"), np.datetime64("2024-01-01") + 7 * np.arange(5), ("tv", "search"),
                            ("price",), np.ones(2), b, t, s, k, m, p + 1e-3)


def test_to_frame_is_long_and_complete():
    b, t, s, k, m, p = _parts()
    d = build_decomposition(("r1", "r2"), np.datetime64("2024-01-01") + 7 * np.arange(5), ("tv", "search"),
                            ("price",), np.ones(2), b, t, s, k, m, p)
    frame = d.to_frame()
    assert list(frame.columns) == ["region", "week", "component", "kind", "value"]
    assert len(frame) == 2 * 5 * 6
    totals = frame.groupby(["region", "week"])["value"].sum().to_numpy()
    np.testing.assert_allclose(totals, p.reshape(-1))
    row = frame[(frame.region == "r2") & (frame.component == "channel:search")].iloc[2]
    assert row.value == pytest.approx(m[1, 2, 1]) and row.week == pd.Timestamp("2024-01-15")


def test_channel_table_shares_and_roi():
    table = channel_table(("tv", "search"), np.array([100.0, 50.0]), np.array([30.0, 10.0]), np.array([40.0, 10.0]))
    assert table["share"].sum() == pytest.approx(1.0)
    assert table.loc[0, "share"] == pytest.approx(0.75)
    assert table.loc[0, "roi"] == pytest.approx(0.4) and table.loc[0, "direct_roi"] == pytest.approx(0.3)


def test_to_frame_keeps_only_observed_region_weeks():
    from mmm_core.model.decomposition import Decomposition

    values = np.arange(2 * 3 * 2, dtype=float).reshape(2, 3, 2)
    d = Decomposition(("a", "b"), np.array(["2024-01-01", "2024-01-08", "2024-01-15"], dtype="datetime64[D]"),
                      ("baseline", "channel:tv"), ("baseline", "channel"), values, values.sum(-1))
    observed = np.array([[True, False, True], [False, False, True]])
    frame = d.to_frame(observed=observed)
    assert len(frame) == observed.sum() * 2
    assert list(frame.drop_duplicates(["region", "week"]).region) == ["a", "a", "b"]
    assert frame.value.sum() == values[observed].sum()


def test_channel_table_parts_add_up_and_say_why_a_dag_child_can_total_less_than_its_direct():
    """tv -> search: 12 of search's direct 30 come from searches tv caused; switching search's own activity
    off loses only its own 18, while tv's total adds the 10 it induces in search (issue 15, item 17)."""
    table = channel_table(("tv", "search"), np.array([100.0, 50.0]), direct=np.array([40.0, 30.0]),
                          total=np.array([50.0, 18.0]), mediated=np.array([0.0, 12.0]), induced=np.array([10.0, 0.0]))
    row = table.set_index("channel")
    assert list(row.own_contribution) == [40.0, 18.0]
    np.testing.assert_allclose(row.own_contribution + row.mediated_contribution, row.direct_contribution)
    np.testing.assert_allclose(row.own_contribution + row.induced_contribution, row.total_contribution)
    assert row.total_contribution["search"] < row.direct_contribution["search"]
    assert row.roi["search"] == pytest.approx(18.0 / 50.0) and row.share["search"] == pytest.approx(30.0 / 70.0)
