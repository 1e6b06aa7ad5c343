"""Dashboard panels about channels and inputs: DAG network (8), DAG adjacency (9), per-channel detail (11),
scaled inputs (12), ROI across refreshes (16)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from mmm_core.report.figures.style import (
    DEFAULT_STYLE,
    FigureStyle,
    fmt,
    national_components,
    require_columns,
    unavailable_figure,
)


def adjacency_matrix(dag_edges: pd.DataFrame, channels: list[str] | None = None) -> pd.DataFrame:
    """``[channels, channels]`` weights, parent rows and child columns; edges not in the frame are 0."""
    require_columns(dag_edges, ("parent", "child", "weight"), "dag_edges")
    names = list(channels) if channels is not None else list(dict.fromkeys([*dag_edges["parent"], *dag_edges["child"]]))
    matrix = pd.DataFrame(0.0, index=pd.Index(names, name="parent"), columns=pd.Index(names, name="child"))
    for parent, child, weight in dag_edges[["parent", "child", "weight"]].itertuples(index=False):
        matrix.loc[parent, child] = float(weight)
    return matrix


def plot_dag_network(dag_edges: pd.DataFrame, channels: list[str] | None = None,
                     node_size: pd.Series | None = None, style: FigureStyle = DEFAULT_STYLE) -> go.Figure:
    """Panel 8: the learned channel graph; arrows parent → child, width and label by edge weight.

    ``channels`` places every channel (also those without edges) on a circle; ``node_size`` (indexed by
    channel, e.g. total contribution) scales the nodes.
    """
    matrix = adjacency_matrix(dag_edges, channels)
    names = list(matrix.index)
    if not names:
        return unavailable_figure("8 · Channel DAG", "no channels", style)
    angle = np.pi / 2 - 2 * np.pi * np.arange(len(names)) / len(names)
    pos = {n: (float(np.cos(a)), float(np.sin(a))) for n, a in zip(names, angle)}
    colors = style.channel_colors(names)
    fig = go.Figure()
    largest = float(np.abs(matrix.values).max()) or 1.0
    for parent, child, weight in dag_edges[["parent", "child", "weight"]].itertuples(index=False):
        (x0, y0), (x1, y1) = pos[parent], pos[child]
        color = style.color(2) if weight >= 0 else style.color(3)
        fig.add_scatter(x=[x0, x1], y=[y0, y1], mode="lines", showlegend=False, hoverinfo="skip",
                        line={"width": 1 + 6 * abs(weight) / largest, "color": color})
        fig.add_annotation(x=x0 + 0.82 * (x1 - x0), y=y0 + 0.82 * (y1 - y0), ax=x0, ay=y0, xref="x", yref="y",
                           axref="x", ayref="y", showarrow=True, arrowhead=3, arrowsize=1.2, arrowcolor=color,
                           arrowwidth=1 + 3 * abs(weight) / largest, text="")
        fig.add_annotation(x=(x0 + x1) / 2, y=(y0 + y1) / 2, text=f"{weight:.2f}", showarrow=False,
                           bgcolor="rgba(255,255,255,0.8)", font={"size": 12})
    sizes = np.full(len(names), 40.0)
    if node_size is not None:
        raw = node_size.reindex(names).fillna(0.0).clip(lower=0.0).to_numpy(float)
        if raw.max() > 0:
            sizes = 25 + 45 * np.sqrt(raw / raw.max())
    fig.add_scatter(x=[pos[n][0] for n in names], y=[pos[n][1] for n in names], mode="markers+text", text=names,
                    textposition="middle center", name="channels", showlegend=False, cliponaxis=False,
                    marker={"size": sizes, "color": [colors[n] for n in names], "line": {"width": 1, "color": "white"}},
                    hovertext=[f"{n}: parents {', '.join(matrix.index[matrix[n] != 0]) or 'none'}; "
                               f"children {', '.join(matrix.columns[matrix.loc[n] != 0]) or 'none'}" for n in names],
                    hoverinfo="text")
    # room for the largest node (70 px) around the unit circle: nodes are never clipped by the plot area
    fig.update_xaxes(visible=False, range=[-1.6, 1.6], constrain="domain")
    fig.update_yaxes(visible=False, range=[-1.45, 1.45], scaleanchor="x", constrain="domain")
    edges = len(dag_edges)
    return style.apply(fig, "8 · Channel DAG", f"{edges} learned edge{'s' if edges != 1 else ''}; arrow parent → "
                       "child, width and label = weight, node size = total contribution", height=style.height + 60)


def plot_dag_heatmap(dag_edges: pd.DataFrame, channels: list[str] | None = None,
                     style: FigureStyle = DEFAULT_STYLE) -> go.Figure:
    """Panel 9: the adjacency matrix (row = parent, column = child) as a heatmap."""
    matrix = adjacency_matrix(dag_edges, channels)
    if matrix.empty:
        return unavailable_figure("9 · DAG adjacency", "no channels", style)
    bound = float(np.abs(matrix.values).max()) or 1.0
    fig = go.Figure(go.Heatmap(z=matrix.values, x=list(matrix.columns), y=list(matrix.index), zmin=-bound, zmax=bound,
                               colorscale="RdBu", text=[[f"{v:.2f}" if v else "" for v in row] for row in matrix.values],
                               texttemplate="%{text}", hovertemplate="%{y} → %{x}: %{z:.3f}<extra></extra>",
                               colorbar={"title": "weight"}))
    fig.update_xaxes(title_text="child", side="bottom")
    fig.update_yaxes(title_text="parent", autorange="reversed")
    return style.apply(fig, "9 · DAG adjacency matrix", "row = parent, column = child; blank = no edge")


def plot_channel_detail(inputs: pd.DataFrame, contributions: pd.DataFrame, channel_summary: pd.DataFrame,
                        style: FigureStyle = DEFAULT_STYLE) -> go.Figure:
    """Panel 11: one channel at a time (selector): weekly national spend, activity and contribution, with
    the window's spend, contribution and ROI (from ``channel_summary``) in the title."""
    require_columns(inputs, ("week", "kind", "name", "value"), "inputs")
    require_columns(channel_summary, ("channel", "spend", "total_contribution", "roi"), "channel_summary")
    wide = national_components(contributions)
    channels = list(channel_summary["channel"])
    colors = style.channel_colors(channels)
    by_kind = {kind: inputs[inputs["kind"] == kind].pivot_table(index="week", columns="name", values="value",
                                                                aggfunc="sum").reindex(wide.index)
               for kind in ("spend", "activity")}
    fig = make_subplots(rows=3, cols=1, shared_xaxes=True, vertical_spacing=0.06,
                        subplot_titles=(f"spend ({style.currency})", "activity (model input)",
                                        f"direct contribution ({style.kpi_unit})"))
    titles = []
    for i, row in enumerate(channel_summary.itertuples(index=False)):
        c, visible = row.channel, i == 0
        empty = pd.Series(np.nan, index=wide.index)
        fig.add_bar(x=wide.index, y=by_kind["spend"].get(c, empty), name=f"{c} spend", visible=visible,
                    marker_color=colors[c], showlegend=False, row=1, col=1)
        fig.add_scatter(x=wide.index, y=by_kind["activity"].get(c, empty), name=f"{c} activity", visible=visible,
                        mode="lines", line={"color": colors[c]}, showlegend=False, row=2, col=1)
        fig.add_scatter(x=wide.index, y=wide.get(f"channel:{c}", empty), name=f"{c} contribution", visible=visible,
                        mode="lines", line={"color": colors[c], "width": 2}, fill="tozeroy", showlegend=False,
                        row=3, col=1)
        prior = getattr(row, "roi_prior_weight", np.nan)
        prior = "" if prior is None or pd.isna(prior) else f" ({100 * float(prior):.0f}% of it from the ROI prior)"
        titles.append(f"window: spend {fmt(row.spend)} {style.currency}, total contribution "
                      f"{fmt(row.total_contribution)} {style.kpi_unit}, ROI {fmt(row.roi)}{prior}")
    buttons = [{"label": c, "method": "update",
                "args": [{"visible": [j // 3 == i for j in range(3 * len(channels))]},
                         {"title.text": f"11 · Channel detail: {c}", "title.subtitle.text": titles[i]}]}
               for i, c in enumerate(channels)]
    fig.update_layout(updatemenus=[{"buttons": buttons, "direction": "down", "x": 1.0, "xanchor": "right",
                                    "y": 1.04, "yanchor": "bottom"}])
    return style.apply(fig, f"11 · Channel detail: {channels[0]}" if channels else "11 · Channel detail",
                       titles[0] if titles else None, height=style.height + 180)


SMALL_MULTIPLE_COLUMNS = 4
"""Panel 12 draws one small chart per input, this many per row."""


def plot_scaled_inputs(inputs: pd.DataFrame, style: FigureStyle = DEFAULT_STYLE) -> go.Figure:
    """Panel 12: what the model reads, per week: the mean over regions of each scaled input (KPI, channel
    activity, controls; ``scaled_value`` of the ``features`` table), one small chart per input (KPI first,
    then channels, then controls), each with its own y axis."""
    require_columns(inputs, ("week", "kind", "name", "scaled_value"), "inputs")
    shown = inputs[inputs["kind"].isin(("kpi", "activity", "control"))]
    if shown.empty:
        return unavailable_figure("12 · Scaled inputs", "no scaled inputs", style)
    means = shown.groupby(["kind", "name", "week"], sort=False)["scaled_value"].mean()
    kind_order = {"kpi": 0, "activity": 1, "control": 2}
    channel_rank = {c: i for i, c in enumerate(style.channel_order)}  # channels in the report's order
    series = sorted(shown[["kind", "name"]].drop_duplicates().itertuples(index=False, name=None),
                    key=lambda key: (kind_order[key[0]], channel_rank.get(key[1], len(channel_rank))))
    columns = min(SMALL_MULTIPLE_COLUMNS, len(series))
    rows = -(-len(series) // columns)
    titles = [{"kpi": f"KPI ({name})", "activity": f"activity: {name}"}.get(kind, f"control: {name}")
              for kind, name in series]
    fig = make_subplots(rows=rows, cols=columns, subplot_titles=titles, vertical_spacing=min(0.12, 0.5 / rows),
                        horizontal_spacing=0.05)
    colors = style.channel_colors(shown.loc[shown["kind"] == "activity", "name"].unique())
    for i, (kind, name) in enumerate(series):
        values = means.loc[(kind, name)].sort_index()
        color = {"kpi": style.actual_color, "activity": colors.get(name)}.get(kind) or style.color(len(colors) + i)
        fig.add_scatter(x=values.index, y=values, mode="lines", name=f"{kind}: {name}", showlegend=False,
                        line={"color": color, "width": 1.5}, row=i // columns + 1, col=i % columns + 1,
                        hovertemplate=f"{kind}: {name}<br>%{{x|%Y-%m-%d}}: %{{y:.3f}}<extra></extra>")
    fig.update_annotations(font={"size": 11})
    fig.update_xaxes(tickformat="%b %y", nticks=4, tickfont={"size": 9})
    fig.update_yaxes(tickfont={"size": 9}, nticks=4)
    return style.apply(fig, "12 · Scaled inputs",
                       "what the model reads: mean over regions per week (KPI / its region mean, activity / its "
                       "channel mean, controls standardised)", height=110 + 150 * rows)


def plot_roi_history(roi_history: pd.DataFrame, style: FigureStyle = DEFAULT_STYLE) -> go.Figure:
    """Panel 16: each channel's ROI (total contribution / spend) per published refresh."""
    require_columns(roi_history, ("refresh_week", "channel", "roi"), "channel_summary history")
    colors = style.channel_colors(roi_history["channel"].unique())
    fig = go.Figure()
    for channel, rows in roi_history.groupby("channel", sort=False):
        rows = rows.sort_values("refresh_week")
        fig.add_scatter(x=pd.to_datetime(rows["refresh_week"]), y=rows["roi"], name=channel, mode="lines+markers",
                        line={"color": colors[channel]}, marker={"size": 8})
    if style.kpi_unit == style.currency:  # ROI 1 only breaks even when the KPI is money in the spend's currency
        fig.add_hline(y=1, line={"color": "#9E9E9E", "dash": "dash", "width": 1}, annotation_text="break-even")
    weeks = sorted(pd.to_datetime(roi_history["refresh_week"]).unique())
    fig.update_xaxes(title_text="refresh week", tickvals=weeks if len(weeks) <= 20 else None, tickformat="%Y-%m-%d")
    fig.update_yaxes(title_text=f"ROI ({style.kpi_unit} per {style.currency})")
    n = roi_history["refresh_week"].nunique()
    return style.apply(fig, "16 · ROI per channel across refreshes",
                       f"total contribution / spend over each refresh's window; {n} published refresh"
                       f"{'es' if n != 1 else ''} up to this one")
