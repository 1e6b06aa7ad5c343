"""Dashboard panels about contributions: per channel (4), share (5), waterfall (6), effectiveness over
time (7), stacked over time (10), control effects (13). All values in KPI units, from published rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from mmm_core.report.figures.style import (
    BASE_COMPONENTS,
    DEFAULT_STYLE,
    FigureStyle,
    channel_order,
    control_order,
    fmt,
    national_components,
    require_columns,
    unavailable_figure,
)

SUMMARY_COLUMNS = ("channel", "spend", "direct_contribution", "total_contribution", "share", "roi")


PARTS = ("own_contribution", "mediated_contribution", "induced_contribution")
"""channel_summary's parts: direct = own + mediated, total = own + induced (``decomposition.channel_table``)."""


def plot_channel_contributions(channel_summary: pd.DataFrame, style: FigureStyle = DEFAULT_STYLE) -> go.Figure:
    """Panel 4: each channel's direct and total contribution over the window (KPI units), built from their
    parts where the table has them: direct = own + mediated (activity its DAG parents caused), total = own
    + induced (in its DAG children). A DAG child's total can be below its direct, and the bars show why.
    Each bar's end is labelled with its sum; refreshes published before the parts show two plain bars. With
    an ensemble (``total_contribution_lower`` / ``_upper``), an error bar gives each total's interval."""
    require_columns(channel_summary, SUMMARY_COLUMNS, "channel_summary")
    frame = channel_summary.sort_values("total_contribution")
    has_parts = set(PARTS) <= set(frame.columns) and frame[list(PARTS)].notna().all().all()
    fig = go.Figure()
    y = frame["channel"]
    unit = style.kpi_unit

    def bar(x, base, group, name, color, show=True, label=None, pattern=""):
        fig.add_bar(y=y, x=x, base=base, orientation="h", offsetgroup=group, name=name, legendgroup=name,
                    showlegend=show, marker={"color": color, "pattern": {"shape": pattern}},
                    text=label, textposition="outside" if label is not None else "none", cliponaxis=False,
                    customdata=frame[["direct_contribution", "total_contribution"]].to_numpy(),
                    hovertemplate=f"%{{y}} · {name}: %{{x:,.0f}} {unit}<br>direct %{{customdata[0]:,.0f}}, "
                                  f"total %{{customdata[1]:,.0f}}<extra></extra>")

    if has_parts:
        own = frame["own_contribution"]
        # plotly draws the first offsetgroup lowest: direct below, total above, in each channel's row
        bar(own, None, "direct", "own: from its own spend", style.color(0))
        bar(frame["mediated_contribution"], own, "direct", "+ mediated: caused by its DAG parents (→ direct)",
            "#BDBDBD", label=[f"direct {fmt(v)}" for v in frame["direct_contribution"]], pattern="/")
        bar(own, None, "total", "own: from its own spend", style.color(0), show=False)
        bar(frame["induced_contribution"], own, "total", "+ induced: in its DAG children (→ total)",
            style.color(2), label=[f"total {fmt(v)}" for v in frame["total_contribution"]])
    else:
        bar(frame["direct_contribution"], None, "direct", "direct", style.color(0),
            label=[f"direct {fmt(v)}" for v in frame["direct_contribution"]])
        bar(frame["total_contribution"], None, "total", "total", style.color(1),
            label=[f"total {fmt(v)}" for v in frame["total_contribution"]])
    has_interval = {"total_contribution_lower", "total_contribution_upper"} <= set(frame.columns) and \
        frame[["total_contribution_lower", "total_contribution_upper"]].notna().all().all()
    if has_interval:  # the ensemble's interval of each total, at the channel's row
        level = f"{float(frame['interval'].iloc[0]):.0%} " if "interval" in frame.columns else ""
        total = frame["total_contribution"]
        fig.add_scatter(y=y, x=total, mode="markers", name=f"{level}interval of total",
                        marker={"color": "#212121", "symbol": "line-ns-open", "size": 10},
                        error_x={"type": "data", "array": frame["total_contribution_upper"] - total,
                                 "arrayminus": total - frame["total_contribution_lower"], "color": "#212121"},
                        customdata=frame[["total_contribution_lower", "total_contribution_upper"]].to_numpy(),
                        hovertemplate=f"%{{y}} · total %{{x:,.0f}} {unit}, {level}interval "
                                      f"%{{customdata[0]:,.0f}} – %{{customdata[1]:,.0f}}<extra></extra>")
    fig.update_layout(barmode="group", bargap=0.25)
    columns = ["direct_contribution", "total_contribution"] + (["total_contribution_upper"] if has_interval else [])
    sums = frame[columns].to_numpy(float)
    fig.update_xaxes(title_text=unit, range=[min(0.0, float(sums.min())), 1.22 * float(sums.max())])  # room for labels
    return style.apply(fig, "4 · Direct and total contribution per channel",
                       "window sums. Direct (lower bar) = the channel's term in the decomposition = own + what its "
                       "DAG parents caused in it.<br>Total (upper bar) = KPI lost if its own spend stopped = own + "
                       "what it causes in its DAG children; ROI = total / spend", legend="bottom",
                       height=max(style.height, 130 + 48 * len(frame)))


def plot_contribution_share(channel_summary: pd.DataFrame, style: FigureStyle = DEFAULT_STYLE) -> go.Figure:
    """Panel 5: each channel's share of all channels' direct contribution (donut). A channel with a
    negative contribution cannot be a slice; it is listed under the donut instead."""
    require_columns(channel_summary, SUMMARY_COLUMNS, "channel_summary")
    colors = style.channel_colors(channel_summary["channel"])
    positive = channel_summary[channel_summary["direct_contribution"] > 0]
    negative = channel_summary[channel_summary["direct_contribution"] <= 0]
    if positive.empty:
        return unavailable_figure("5 · Share of media contribution", "no channel has a positive contribution", style)
    fig = go.Figure(go.Pie(labels=positive["channel"], values=positive["direct_contribution"], hole=0.5, sort=False,
                           marker={"colors": [colors[c] for c in positive["channel"]]},
                           textinfo="label+percent", hovertemplate="%{label}: %{value:,.0f} (%{percent})<extra></extra>"))
    if not negative.empty:
        fig.add_annotation(text="not shown (≤ 0): " + ", ".join(negative["channel"]), x=0.5, y=-0.08,
                           xref="paper", yref="paper", showarrow=False)
    return style.apply(fig, "5 · Share of media contribution",
                       "each channel's direct contribution over all channels' (the decomposition's media part), "
                       "window sums")


def plot_waterfall(contributions: pd.DataFrame, style: FigureStyle = DEFAULT_STYLE) -> go.Figure:
    """Panel 6: the KPI over the window built up from baseline, trend, seasonality, each control and each
    channel; the last bar is the total prediction (= sum of every component)."""
    totals = contributions.groupby("component", sort=False)["value"].sum()
    order = ([c for c in BASE_COMPONENTS if c in totals.index]
             + [f"control:{c}" for c in control_order(contributions)]
             + [f"channel:{c}" for c in channel_order(contributions)])
    values = [float(totals[c]) for c in order]
    fig = go.Figure(go.Waterfall(
        x=order + ["predicted KPI"], y=values + [float(totals.sum())],
        measure=["relative"] * len(order) + ["total"], text=[fmt(v) for v in values + [float(totals.sum())]],
        textposition="outside", connector={"line": {"color": "#BDBDBD"}},
        increasing={"marker": {"color": style.color(2)}}, decreasing={"marker": {"color": style.color(3)}},
        totals={"marker": {"color": style.color(0)}}))
    fig.update_yaxes(title_text=style.kpi_unit)
    return style.apply(fig, "6 · Waterfall of the window's predicted KPI",
                       "baseline, trend, seasonality, each control and each channel add up to the prediction")


def plot_contributions_over_time(contributions: pd.DataFrame, actual: pd.DataFrame | None = None,
                                 style: FigureStyle = DEFAULT_STYLE) -> go.Figure:
    """Panel 10: national contribution per week, stacked (baseline, trend, seasonality, controls pooled,
    each channel), with the prediction and, when given, the actual KPI (``actual``: region, week, kpi)."""
    wide = national_components(contributions)
    channels = channel_order(contributions)
    colors = style.channel_colors(channels)
    fig = go.Figure()
    controls = [c for c in wide.columns if c.startswith("control:")]
    groups = [(c, wide[c], style.component_color(c)) for c in BASE_COMPONENTS if c in wide.columns]
    if controls:
        groups.append(("controls", wide[controls].sum(axis=1), style.component_color("controls")))
    groups += [(c, wide[f"channel:{c}"], colors[c]) for c in channels]
    for name, values, color in groups:
        fig.add_bar(x=wide.index, y=values, name=name, marker_color=color, marker_line_width=0)
    fig.add_scatter(x=wide.index, y=wide.sum(axis=1), name="predicted", mode="lines",
                    line={"color": style.predicted_color, "width": 2})
    if actual is not None:
        national_actual = actual.groupby("week", sort=True)["kpi"].sum()
        fig.add_scatter(x=national_actual.index, y=national_actual, name="actual", mode="lines",
                        line={"color": style.actual_color, "width": 1.5, "dash": "dot"})
    fig.update_layout(barmode="relative", bargap=0.05)
    fig.update_yaxes(title_text=style.kpi_unit)
    return style.apply(fig, "10 · Contributions over time (national)",
                       "stacked per week; negative parts are drawn below zero", height=style.height + 60)


def plot_channel_effectiveness(contributions: pd.DataFrame, inputs: pd.DataFrame, window_weeks: int = 4,
                               style: FigureStyle = DEFAULT_STYLE) -> go.Figure:
    """Panel 7: how much KPI a channel returns per unit of input, week by week (national).

    Effectiveness = the channel's national contribution over the trailing ``window_weeks`` / its
    national spend (or activity) over the same weeks; rolling sums keep carry-over beside the spend that
    caused it, and a window without input is blank. ``inputs``:
    region, week, kind ('spend' / 'activity'), name, value, as in the ``features`` table.
    """
    require_columns(inputs, ("week", "kind", "name", "value"), "inputs")
    wide = national_components(contributions)
    channels = channel_order(contributions)
    colors = style.channel_colors(channels)
    fig = go.Figure()
    kinds = [k for k in ("spend", "activity") if (inputs["kind"] == k).any()]
    if not kinds or not channels:
        return unavailable_figure("7 · Channel effectiveness over time", "no spend or activity inputs", style)
    for k, kind in enumerate(kinds):
        national = (inputs[inputs["kind"] == kind].pivot_table(index="week", columns="name", values="value",
                                                               aggfunc="sum").reindex(wide.index))
        for channel in channels:
            denominator = national[channel] if channel in national.columns else pd.Series(np.nan, index=wide.index)
            denominator = denominator.rolling(window_weeks, min_periods=1).sum()
            numerator = wide[f"channel:{channel}"].rolling(window_weeks, min_periods=1).sum()
            ratio = numerator / denominator.where(denominator > 0)
            fig.add_scatter(x=wide.index, y=ratio, name=channel, mode="lines", visible=k == 0,
                            line={"color": colors[channel]}, legendgroup=channel)
    n = len(channels)
    axis_type = {"spend": "linear", "activity": "log"}  # activity units differ by orders of magnitude
    unit = {"spend": f"{style.kpi_unit} per {style.currency} of spend", "activity": f"{style.kpi_unit} per unit of activity"}
    buttons = [{"label": f"per unit of {kind}", "method": "update",
                "args": [{"visible": [j // n == k for j in range(n * len(kinds))]},
                         {"yaxis.title.text": unit[kind], "yaxis.type": axis_type[kind]}]}
               for k, kind in enumerate(kinds)]
    # buttons above the plot on the left, every channel in the legend on the right: they never overlap
    fig.update_layout(updatemenus=[{"type": "buttons", "direction": "right", "buttons": buttons, "x": 0.0,
                                    "xanchor": "left", "y": 1.01, "yanchor": "bottom", "pad": {"t": 0, "b": 0}}])
    fig.update_yaxes(title_text=unit[kinds[0]], type=axis_type[kinds[0]])
    return style.apply(fig, "7 · Channel effectiveness over time",
                       f"national direct contribution per unit of input, {window_weeks}-week rolling sums (carry-over "
                       "included)", height=style.height + 40, legend="right")


def plot_control_effects(contributions: pd.DataFrame, style: FigureStyle = DEFAULT_STYLE) -> go.Figure:
    """Panel 13: national contribution of each control per week, KPI units (window total in the legend)."""
    controls = control_order(contributions)
    title = "13 · Control effects over time (national)"
    if not controls:
        return unavailable_figure(title, "the model has no controls", style)
    wide = national_components(contributions)
    fig = go.Figure()
    for i, name in enumerate(controls):
        values = wide[f"control:{name}"]
        fig.add_scatter(x=wide.index, y=values, name=f"{name} ({fmt(float(values.sum()))})", mode="lines",
                        line={"color": style.color(i + 4)})
    fig.add_hline(y=0, line={"color": "#9E9E9E", "width": 1})
    fig.update_yaxes(title_text=style.kpi_unit)
    return style.apply(fig, title, "contribution of each control per week; legend: window total")
