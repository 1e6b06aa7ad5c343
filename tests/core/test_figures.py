"""Dashboard figures draw exactly the numbers of the tables they are given, and the page is self-contained."""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from mmm_core.report import figures as F
from mmm_core.model.decomposition import build_decomposition
from mmm_core.report.dashboard import PANELS, DashboardData, build_panels, build_report, summarize
from mmm_core.report.figures.style import fmt
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
    # tv -> search: tv induces 20 % of its direct in search; 10 % of search's direct is activity tv caused
    summary["own_contribution"] = summary["direct_contribution"] * [1.0, 0.9]
    summary["mediated_contribution"] = summary["direct_contribution"] - summary["own_contribution"]
    summary["induced_contribution"] = summary["direct_contribution"] * [0.2, 0.0]
    summary["total_contribution"] = summary["own_contribution"] + summary["induced_contribution"]
    summary["share"] = summary["direct_contribution"] / summary["direct_contribution"].sum()
    summary["roi"] = summary["total_contribution"] / summary["spend"]
    summary["direct_roi"] = summary["direct_contribution"] / summary["spend"]
    summary["roi_prior_weight"] = [0.0, 0.5]
    metrics = pd.DataFrame([(split, series, view, metric, v)
                            for split in ("train", "holdout") for series in ("model", "region_mean")
                            for view in ("pooled", "within_region", "national") for metric, v in (("r2", 0.8), ("mape", 0.1))],
                           columns=["split", "series", "view", "metric", "value"])
    history = pd.concat([summary.assign(refresh_week=pd.Timestamp(w)) for w in ("2024-05-06", "2024-05-13")])
    return DashboardData(
        refresh_week="2024-05-13",
        run={"holdout_start": WEEKS[15], "window_start": WEEKS[0], "window_end": WEEKS[-1], "holdout_r2": 0.9,
             "holdout_r2_within_region": 0.5, "holdout_r2_national": 0.7, "holdout_mape": 0.05, "train_r2": 0.95,
             "best_baseline_holdout_r2_within_region": 0.1, "n_regions": 2, "n_weeks": 20, "n_channels": 2,
             "epochs": 641, "refit_epochs": 842},
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


def test_actual_vs_predicted_adds_the_holdout_forecast_with_its_band_per_region(data):
    held = data.actual[pd.to_datetime(data.actual["week"]) >= pd.Timestamp(data.run["holdout_start"])]
    forecast = held.assign(forecast=held["kpi"] * 1.1, forecast_lower=held["kpi"] * 0.9,
                           forecast_upper=held["kpi"] * 1.3, interval=0.9).drop(columns="kpi")
    fig = F.plot_actual_vs_predicted(data.actual, data.contributions, data.run["holdout_start"], forecast=forecast)
    buttons = fig.layout.updatemenus[0].buttons
    for b in buttons:  # actual, predicted, band, forecast per view
        assert sum(b.args[0]["visible"]) == 4
    national = fig.data[:4]
    assert national[3].name == "holdout forecast (before the refit)"
    np.testing.assert_allclose(national[3].y, forecast.groupby("week")["forecast"].sum().to_numpy())
    region = buttons[1].label  # the first region view: traces 4..7
    band, line = fig.data[4 + 2], fig.data[4 + 3]
    rows = forecast[forecast.region == region].sort_values("week")
    assert band.name == "90% prediction interval" and band.fill == "toself"
    np.testing.assert_allclose(band.y, [*rows.forecast_upper, *rows.forecast_lower[::-1]])
    np.testing.assert_allclose(line.y, rows.forecast)
    assert "forecast made before the refit" in fig.layout.title.subtitle.text


def test_holdout_scatter_shows_only_holdout_region_weeks(data):
    fig = F.plot_holdout_scatter(data.actual, data.contributions, data.run["holdout_start"])
    assert len(fig.data[0].x) == len(REGIONS) * 5  # weeks 15..19
    assert "in-sample" in fig.layout.title.subtitle.text


def _bar_ends(fig, group: str) -> dict[str, float]:
    """Where each channel's bar of an offset group ends (base + length, stacked parts summed)."""
    ends: dict[str, float] = {}
    for trace in fig.data:
        if trace.offsetgroup == group:
            for channel, x, base in zip(trace.y, trace.x, trace.base if trace.base is not None else [0.0] * len(trace.y)):
                ends[channel] = max(ends.get(channel, 0.0), float(base) + float(x))
    return ends


def test_channel_panels_show_the_summary_numbers(data):
    bars = F.plot_channel_contributions(data.channel_summary)
    summary = data.channel_summary.set_index("channel")
    assert _bar_ends(bars, "total") == pytest.approx(summary.total_contribution.to_dict())
    assert _bar_ends(bars, "direct") == pytest.approx(summary.direct_contribution.to_dict())
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
    assert dict(zip(bars.data[1].y, bars.data[1].x)) == {"tv": 150.0, "search": 50.0}


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


# -- issue 15, items 17 and 22: one definition per word, units, layout ---------------------------------------
def test_panel_4_builds_direct_and_total_from_parts_that_add_up(data):
    """direct = own + mediated (lower bar), total = own + induced (upper bar): search, a DAG child, totals less
    than its direct and the bars show why; a refresh published before the parts shows two plain bars."""
    fig = F.plot_channel_contributions(data.channel_summary)
    parts = {(t.offsetgroup, t.name): dict(zip(t.y, t.x)) for t in fig.data}
    own = parts[("direct", "own: from its own spend")]
    mediated = next(v for (group, name), v in parts.items() if group == "direct" and "mediated" in name)
    induced = next(v for (group, name), v in parts.items() if group == "total" and "induced" in name)
    summary = data.channel_summary.set_index("channel")
    for channel in CHANNELS:
        assert own[channel] + mediated[channel] == pytest.approx(summary.direct_contribution[channel])
        assert own[channel] + induced[channel] == pytest.approx(summary.total_contribution[channel])
    assert summary.total_contribution["search"] < summary.direct_contribution["search"]
    assert "own" in fig.layout.title.subtitle.text and "DAG children" in fig.layout.title.subtitle.text
    old = F.plot_channel_contributions(data.channel_summary.drop(columns=list(F.contributions.PARTS)))
    assert _bar_ends(old, "total") == pytest.approx(summary.total_contribution.to_dict())


def test_the_channel_table_names_which_contribution_each_number_is_and_shows_the_roi_prior(data):
    summary = summarize(data)
    table = summary._display_table().set_index("channel")
    columns = list(table.columns)
    assert columns[:5] == ["spend (currency units)", "direct contribution (KPI units)", "share of direct",
                           "total contribution (KPI units)", "ROI (total / spend)"]
    assert table.loc["search", "ROI from prior"] == "50.0%" and table.loc["tv", "ROI from prior"] == "0.0%"
    definitions = " ".join(summary.notes)
    assert "can total less than its direct" in definitions and "ROI from prior" in definitions
    assert "ROI from prior" in summary.to_markdown() and "ROI from prior" in summary.to_html()


def test_header_cards_carry_their_units(data):
    style = F.FigureStyle(kpi_unit="EUR", currency="EUR")
    summary = summarize(data, style)
    assert all(m.unit for m in summary.metrics), summary.metrics
    cards = {m.label: m for m in summary.metrics}
    assert cards["predicted KPI, window"].unit == f"EUR over {len(WEEKS)} weeks"
    assert cards["media contribution, window"].unit.startswith("EUR, ")
    assert cards["holdout R² pooled"].unit.startswith("R²")
    assert '<div class="unit">EUR over 20 weeks</div>' in summary.to_html()


def test_the_summary_line_shows_both_fits_epochs(data):
    page, _, _ = build_report(data)
    assert "holdout fit 641 epochs, refit 842 epochs" in page


def test_panels_fill_the_two_column_grid_in_number_order():
    """No holes: an even number of narrow panels between wide ones, and the grid keeps page order (no
    'dense' packing), so the page reads 1, 2, 3, ... and never 1, 3, 2."""
    from mmm_core.report.dashboard import STYLE_CSS

    assert [number for number, *_ in PANELS] == list(range(1, len(PANELS) + 1))
    run = 0
    for _, key, wide, _ in PANELS:
        if wide:
            assert run % 2 == 0, f"an odd run of narrow panels ends before {key}"
            run = 0
        else:
            run += 1
    assert run % 2 == 0
    assert "dense" not in STYLE_CSS


def test_a_national_dataset_shows_one_view_and_no_region_selector(data):
    north = lambda frame: frame[frame["region"] == "north"]  # noqa: E731
    national = dataclasses.replace(data, contributions=north(data.contributions), inputs=north(data.inputs))
    panels = {p.number: p.figure for p in build_panels(national)}
    assert {tuple(t.x) for t in panels[1].data} == {("national",)}
    assert not panels[2].layout.updatemenus and len(panels[2].data) == 2
    labels = [m.label for m in summarize(national).metrics]
    assert sum("R²" in label and "holdout" in label for label in labels) == 1, labels
    # several regions keep the three views and the selector
    several = {p.number: p.figure for p in build_panels(data)}
    assert {tuple(t.x) for t in several[1].data} == {("pooled", "within_region", "national")}
    assert several[2].layout.updatemenus


def test_panel_7_keeps_its_buttons_off_a_legend_that_lists_every_channel(data):
    fig = F.plot_channel_effectiveness(data.contributions, data.inputs)
    legend = fig.layout.legend
    assert legend.orientation == "v" and legend.x >= 1.0  # right of the plot
    menu = fig.layout.updatemenus[0]
    assert menu.x == 0.0 and menu.xanchor == "left"  # above the plot, on the left
    assert {t.name for t in fig.data if t.visible and t.showlegend is not False} == set(CHANNELS)


def test_panel_8_leaves_room_for_its_largest_node(data):
    fig = F.plot_dag_network(data.dag_edges, list(CHANNELS), data.channel_summary.set_index("channel")["total_contribution"])
    nodes = fig.data[-1]
    assert nodes.cliponaxis is False
    assert max(nodes.y) == pytest.approx(1.0) and fig.layout.yaxis.range[1] >= 1.4


def test_panel_12_draws_one_small_chart_per_input(data):
    fig = F.plot_scaled_inputs(data.inputs)
    n_inputs = data.inputs[data.inputs.kind.isin(("kpi", "activity", "control"))].groupby(["kind", "name"]).ngroups
    assert len(fig.data) == n_inputs and len({t.yaxis for t in fig.data}) == n_inputs
    assert [a.text for a in fig.layout.annotations][:1] == ["KPI (kpi)"]


def test_panel_15_labels_horizontal_bars_outside_them(data):
    allocation = pd.DataFrame({"channel": list(CHANNELS), "current_spend": [100.0, 50.0], "optimal_spend": [120.0, 30.0]})
    fig = F.plot_budget_allocation(allocation)
    assert all(t.orientation == "h" and t.textposition == "outside" and t.cliponaxis is False for t in fig.data)
    optimal = next(t for t in fig.data if t.name == "optimal")
    assert dict(zip(optimal.y, optimal.text)) == {"tv": "120 (+20%)", "search": "30 (-40%)"}
    assert fig.layout.xaxis.range[1] >= 1.2 * 120.0  # room for the labels


# -- issue 16, item 5: plans beyond the observed range say so ----------------------------------------------
def test_curves_dash_beyond_the_observed_range_and_budget_bars_flag_it():
    spend = np.linspace(0, 200, 11)
    ratio = spend / 120.0  # the busiest window week reaches the highest observed activity at spend 120
    points = pd.DataFrame({"channel": "tv", "spend": spend, "contribution": 10 * np.sqrt(spend),
                           "fitted_contribution": 9 * np.sqrt(spend), "ratio_to_observed_max": ratio,
                           "beyond_observed_range": ratio > 1})
    fig = F.plot_response_curves(points)
    solid = next(t for t in fig.data if t.name == "tv")
    dashed = next(t for t in fig.data if t.name == "tv beyond observed range")
    assert max(solid.x) == pytest.approx(120.0) and min(dashed.x) == pytest.approx(120.0)
    assert max(dashed.x) == 200.0 and dashed.line.dash == "dash" and solid.line.dash in (None, "solid")
    assert solid.y[-1] == pytest.approx(np.interp(120.0, spend, 9 * np.sqrt(spend)))
    assert "beyond the highest activity observed" in fig.layout.title.subtitle.text
    allocation = pd.DataFrame({"channel": ["tv", "search"], "current_spend": [100.0, 100.0],
                               "optimal_spend": [150.0, 50.0], "ratio_to_observed_max": [1.5, 0.4],
                               "beyond_observed_range": [True, False]})
    optimal = next(t for t in F.plot_budget_allocation(allocation).data if t.name == "optimal")
    labels = dict(zip(optimal.y, optimal.text))
    assert "beyond observed range" in labels["tv"] and "beyond" not in labels["search"]


def _with_intervals(summary: pd.DataFrame) -> pd.DataFrame:
    out = summary.copy()
    for column in ("total_contribution", "roi"):
        out[f"{column}_lower"], out[f"{column}_upper"] = 0.8 * out[column], 1.3 * out[column]
    return out.assign(interval=0.9)


def test_contribution_panel_and_channel_table_show_the_ensembles_intervals_when_published(data):
    plain = F.plot_channel_contributions(data.channel_summary)
    assert not [t for t in plain.data if t.type == "scatter"]
    summary = _with_intervals(data.channel_summary)
    fig = F.plot_channel_contributions(summary)
    [bars] = [t for t in fig.data if t.type == "scatter"]
    assert bars.name == "90% interval of total"
    order = list(bars.y)
    expected = summary.set_index("channel").loc[order]
    np.testing.assert_allclose(bars.x, expected["total_contribution"])
    np.testing.assert_allclose(np.asarray(bars.x) + np.asarray(bars.error_x.array), expected["total_contribution_upper"])
    np.testing.assert_allclose(np.asarray(bars.x) - np.asarray(bars.error_x.arrayminus), expected["total_contribution_lower"])
    table = summarize(dataclasses.replace(data, channel_summary=summary))._display_table().set_index("channel")
    roi = summary.set_index("channel")
    for channel in CHANNELS:
        assert table.loc[channel, "ROI 90% interval"] == (f"{fmt(roi.loc[channel, 'roi_lower'])} – "
                                                          f"{fmt(roi.loc[channel, 'roi_upper'])}")
    assert "ROI 90% interval" not in summarize(data)._display_table().columns


def test_curves_shade_the_members_band_and_budget_says_how_often_it_beats_the_current_allocation():
    spend = np.linspace(0, 200, 5)
    points = pd.DataFrame({"channel": "tv", "spend": spend, "contribution": 10 * np.sqrt(spend),
                           "contribution_lower": 8 * np.sqrt(spend), "contribution_upper": 13 * np.sqrt(spend),
                           "interval": 0.9})
    fig = F.plot_response_curves(points)
    [band] = [t for t in fig.data if t.name == "tv band"]
    assert band.fill == "toself"
    np.testing.assert_allclose(band.x, [*spend, *spend[::-1]])
    np.testing.assert_allclose(band.y, [*(13 * np.sqrt(spend)), *(8 * np.sqrt(spend))[::-1]])
    assert "90% band over the ensemble members" in fig.layout.title.subtitle.text
    plain = F.plot_response_curves(points.drop(columns=["contribution_lower", "contribution_upper", "interval"]))
    assert not [t for t in plain.data if t.name == "tv band"] and "band" not in plain.layout.title.subtitle.text
    allocation = pd.DataFrame({"scenario": "budget_current", "channel": ["tv", "search"],
                               "current_spend": [100.0, 100.0], "optimal_spend": [150.0, 50.0],
                               "prob_beats_current": 0.75, "incremental_response_model_lower": -20.0,
                               "incremental_response_model_upper": 300.0, "interval": 0.9})
    subtitle = F.plot_budget_allocation(allocation).layout.title.subtitle.text
    assert f"beats the current allocation in 75% of ensemble members (model gain, 90%: {fmt(-20.0)} to" in subtitle
    without = F.plot_budget_allocation(allocation.assign(prob_beats_current=np.nan)).layout.title.subtitle.text
    assert "ensemble" not in without
