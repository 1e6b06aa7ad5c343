"""Dashboard figures draw exactly the numbers of the tables they are given, and the page is self-contained."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from mmm_core.report import figures as F
from mmm_core.model.decomposition import build_decomposition
from mmm_core.report.dashboard import PANELS, DashboardData, build_report, summarize
from tests.browser import figures_in_html

REGIONS = ("north", "south")
CHANNELS = ("tv", "search")
CONTROLS = ("price",)
WEEKS = pd.date_range("2024-01-01", periods=20, freq="7D")


def _decomposition(seed: int = 0):
    rng = np.random.default_rng(seed)
    R, T = len(REGIONS), len(WEEKS)
    baseline = np.full((R, T), 1.0)
    trend = np.linspace(0, 0.1, T)[None].repeat(R, 0)
    seasonality = 0.2 * np.sin(np.arange(T) / 3)[None].repeat(R, 0)
    controls = rng.normal(0, 0.05, (R, T, len(CONTROLS)))
    media = rng.uniform(0.05, 0.3, (R, T, len(CHANNELS)))
    prediction = baseline + trend + seasonality + controls.sum(-1) + media.sum(-1)
    return build_decomposition(REGIONS, WEEKS.values, CHANNELS, CONTROLS, np.array([1000.0, 500.0]),
                               baseline, trend, seasonality, controls, media, prediction)


def _inputs(contributions: pd.DataFrame, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    keys = contributions[["region", "week"]].drop_duplicates().reset_index(drop=True)
    predicted = contributions.groupby(["region", "week"])["value"].sum().reindex(
        pd.MultiIndex.from_frame(keys)).to_numpy()
    parts = [keys.assign(kind="kpi", name="kpi", value=predicted * rng.uniform(0.95, 1.05, len(keys)))]
    for c in CHANNELS:
        spend = rng.uniform(0, 100, len(keys))
        spend[:3] = 0.0  # weeks without spend
        parts += [keys.assign(kind="spend", name=c, value=spend), keys.assign(kind="activity", name=c, value=10 * spend)]
    parts.append(keys.assign(kind="control", name="price", value=rng.normal(1, 0.1, len(keys))))
    frame = pd.concat(parts, ignore_index=True)
    return frame.assign(scaled_value=frame["value"] / frame.groupby(["kind", "name"])["value"].transform("mean"))


@pytest.fixture(scope="module")
def data() -> DashboardData:
    contributions = _decomposition().to_frame()
    inputs = _inputs(contributions)
    spend = inputs[inputs.kind == "spend"].groupby("name")["value"].sum()
    direct = contributions[contributions.kind == "channel"].groupby("component")["value"].sum()
    summary = pd.DataFrame({"channel": list(CHANNELS), "spend": [spend[c] for c in CHANNELS],
                            "direct_contribution": [direct[f"channel:{c}"] for c in CHANNELS]})
    summary["total_contribution"] = summary["direct_contribution"] * [1.2, 1.0]
    summary["share"] = summary["direct_contribution"] / summary["direct_contribution"].sum()
    summary["roi"] = summary["total_contribution"] / summary["spend"]
    summary["direct_roi"] = summary["direct_contribution"] / summary["spend"]
    metrics = pd.DataFrame([(split, series, view, metric, v)
                            for split in ("train", "holdout") for series in ("model", "region_mean")
                            for view in ("pooled", "within_region", "national") for metric, v in (("r2", 0.8), ("mape", 0.1))],
                           columns=["split", "series", "view", "metric", "value"])
    history = pd.concat([summary.assign(refresh_week=pd.Timestamp(w)) for w in ("2024-05-06", "2024-05-13")])
    return DashboardData(
        refresh_week="2024-05-13",
        run={"holdout_start": WEEKS[15], "window_start": WEEKS[0], "window_end": WEEKS[-1], "holdout_r2": 0.9,
             "holdout_r2_within_region": 0.5, "holdout_r2_national": 0.7, "holdout_mape": 0.05, "train_r2": 0.95,
             "best_baseline_holdout_r2_within_region": 0.1, "n_regions": 2, "n_weeks": 20, "n_channels": 2},
        metrics=metrics, contributions=contributions, inputs=inputs, channel_summary=summary,
        channel_parameters=pd.DataFrame({"channel": list(CHANNELS), "adstock_decay": [0.5, 0.2], "hill_slope": [1.0, 2.0]}),
        dag_edges=pd.DataFrame({"parent": ["tv"], "child": ["search"], "weight": [0.4]}),
        roi_history=history[["refresh_week", "channel", "spend", "total_contribution", "roi"]],
        unavailable={"response_curve_points": "not published yet", "budget_allocation": "not published yet"},
    )


def test_waterfall_adds_up_to_the_prediction(data):
    fig = F.plot_waterfall(data.contributions)
    trace = fig.data[0]
    assert list(trace.x[:3]) == ["baseline", "trend", "seasonality"]
    assert list(trace.x[3:-1]) == ["control:price", "channel:tv", "channel:search"]
    assert trace.y[-1] == pytest.approx(data.contributions["value"].sum())
    assert sum(trace.y[:-1]) == pytest.approx(trace.y[-1])


def test_actual_vs_predicted_sums_regions_and_selects_one_region_at_a_time(data):
    fig = F.plot_actual_vs_predicted(data.actual, data.contributions, data.run["holdout_start"])
    national_pred = data.contributions.groupby("week")["value"].sum()
    np.testing.assert_allclose(fig.data[1].y, national_pred.to_numpy())
    np.testing.assert_allclose(fig.data[0].y, data.actual.groupby("week")["kpi"].sum().to_numpy())
    buttons = fig.layout.updatemenus[0].buttons
    assert buttons[0].label == "national" and len(buttons) == 1 + len(REGIONS)
    for b in buttons:
        assert sum(b.args[0]["visible"]) == 2
    assert fig.layout.shapes, "the holdout weeks are shaded"


def test_holdout_scatter_shows_only_holdout_region_weeks(data):
    fig = F.plot_holdout_scatter(data.actual, data.contributions, data.run["holdout_start"])
    assert len(fig.data[0].x) == len(REGIONS) * 5  # weeks 15..19
    assert "in-sample" in fig.layout.title.subtitle.text


def test_channel_panels_show_the_summary_numbers(data):
    bars = F.plot_channel_contributions(data.channel_summary)
    by_channel = dict(zip(bars.data[1].y, bars.data[1].x))
    for row in data.channel_summary.itertuples():
        assert by_channel[row.channel] == pytest.approx(row.total_contribution)
    donut = F.plot_contribution_share(data.channel_summary)
    assert dict(zip(donut.data[0].labels, donut.data[0].values)) == pytest.approx(
        dict(zip(data.channel_summary.channel, data.channel_summary.direct_contribution)))
    history = F.plot_roi_history(data.roi_history)
    assert {t.name for t in history.data} == set(CHANNELS)


def test_channel_effectiveness_is_rolling_contribution_over_rolling_spend(data):
    fig = F.plot_channel_effectiveness(data.contributions, data.inputs, window_weeks=4)
    tv = next(t for t in fig.data if t.name == "tv" and t.visible)
    weekly = data.contributions[data.contributions.component == "channel:tv"].groupby("week")["value"].sum()
    spend = data.inputs[(data.inputs.kind == "spend") & (data.inputs.name == "tv")].groupby("week")["value"].sum()
    expected = (weekly.rolling(4, min_periods=1).sum() / spend.rolling(4, min_periods=1).sum().where(lambda s: s > 0))
    np.testing.assert_allclose(np.asarray(tv.y, float), expected.to_numpy(), equal_nan=True)
    assert len(fig.layout.updatemenus[0].buttons) == 2  # per unit of spend / of activity


def test_dag_panels_place_every_channel_and_every_edge(data):
    matrix = F.adjacency_matrix(data.dag_edges, list(CHANNELS))
    assert matrix.loc["tv", "search"] == 0.4 and matrix.to_numpy().sum() == pytest.approx(0.4)
    network = F.plot_dag(data.dag_edges, channels=list(CHANNELS) + ["radio"])
    nodes = network.data[-1]
    assert list(nodes.text) == ["tv", "search", "radio"]
    assert sum(1 for a in network.layout.annotations if a.showarrow) == 1
    heatmap = F.plot_dag_heatmap(data.dag_edges, list(CHANNELS))
    assert np.asarray(heatmap.data[0].z).tolist() == [[0.0, 0.4], [0.0, 0.0]]


def test_plot_contributions_accepts_a_decomposition_or_its_frame():
    decomposition = _decomposition()
    a, b = F.plot_contributions(decomposition), F.plot_contributions(decomposition.to_frame())
    assert [t.name for t in a.data] == [t.name for t in b.data]
    predicted = next(t for t in a.data if t.name == "predicted")
    np.testing.assert_allclose(predicted.y, decomposition.prediction.sum(axis=0))
    with pytest.raises(TypeError):
        F.plot_contributions([1, 2, 3])


def test_budget_panels_mark_current_and_optimal_spend_on_the_curve():
    spend = np.linspace(0, 200, 21)
    points = pd.concat([pd.DataFrame({"channel": c, "spend": spend, "contribution": k * np.sqrt(spend)})
                        for c, k in (("tv", 10.0), ("search", 5.0))])
    allocation = pd.DataFrame({"channel": ["tv", "search"], "current_spend": [100.0, 100.0],
                               "optimal_spend": [150.0, 50.0]})
    fig = F.plot_response_curves(points, allocation)
    optimal_tv = next(t for t in fig.data if t.name == "tv optimal")
    assert optimal_tv.x[0] == 150.0 and optimal_tv.y[0] == pytest.approx(np.interp(150, spend, 10 * np.sqrt(spend)))
    bars = F.plot_budget_allocation(allocation)
    assert list(bars.data[1].y) == [150.0, 50.0]


def test_missing_tables_make_panels_that_say_why(data):
    _, _, panels = build_report(data)
    reasons = {p.number: p.unavailable_reason for p in panels}
    assert reasons[14] == reasons[15] == "not published yet"
    assert all(reason is None for number, reason in reasons.items() if number not in (14, 15))


def test_report_page_is_self_contained_and_carries_the_tables_numbers(data):
    page, summary, panels = build_report(data)
    assert len(panels) == len(PANELS) >= 16
    assert page.count("plotly.js v") == 1, "plotly.js is embedded exactly once"
    assert not [tag for tag in re.findall(r"<script[^>]*>", page) if "src" in tag], "no script is loaded from elsewhere"
    for panel in panels:
        assert f'id="{panel.element_id}"' in page
    drawn = figures_in_html(page)
    assert drawn["panel-06-waterfall-plot"][0]["y"][-1] == pytest.approx(data.contributions["value"].sum())
    numbers = json.loads(page.split("id='mmm-report-numbers'>")[1].split("</script>")[0])
    assert numbers["metrics"]["holdout R² pooled"] == "0.900"
    assert summary.top_channels("total_contribution", 1) == [data.channel_summary.sort_values(
        "total_contribution").channel.iloc[-1]]
    assert "| channel |" in summarize(data).to_markdown()


def test_figures_and_report_import_no_model_code():
    code = ("import sys, mmm_core.report.figures, mmm_core.report.dashboard; "
            "bad = [m for m in ('torch', 'mmm_core.model.estimator', 'mmm_core.model.network', 'dagster', 'duckdb') if m in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_budget_scenarios_get_a_selector_and_fitted_curves_draw_as_lines():
    spend = np.linspace(0, 200, 11)
    points = pd.DataFrame({"channel": "tv", "spend": spend, "contribution": 10 * np.sqrt(spend),
                           "fitted_contribution": 9 * np.sqrt(spend)})
    allocation = pd.DataFrame({"scenario": ["budget_current", "budget_+20pct"], "channel": ["tv", "tv"],
                               "current_spend": [100.0, 100.0], "optimal_spend": [100.0, 120.0],
                               "current_contribution": [90.0, 90.0], "optimal_contribution": [90.0, 98.6]})
    curves = F.plot_response_curves(points, allocation, planning_weeks=13)
    line = next(t for t in curves.data if t.name == "tv")
    np.testing.assert_allclose(line.y, 9 * np.sqrt(spend))  # the fitted curve is the line
    current = next(t for t in curves.data if t.name == "tv current")
    assert (current.x[0], current.y[0]) == (100.0, 90.0)  # the published height, first scenario
    assert "13-week" in curves.layout.xaxis.title.text
    bars = F.plot_budget_allocation(allocation)
    assert [b.label for b in bars.layout.updatemenus[0].buttons] == ["budget_current", "budget_+20pct"]
    assert [t.visible for t in bars.data] == [True, True, False, False]
