"""Dashboard panels about spend decisions: response curves with current and optimal spend (14), current vs
optimal budget per scenario (15). Inputs: the published curve and allocation tables of one refresh.

Where the tables carry ``ratio_to_observed_max`` (activity used over the highest weekly activity the model was
trained on, ``mmm_core.analysis.observed_range``), the part of a curve beyond the observed range is dashed and
an optimal spend beyond it is labelled: there the model extrapolates. Where they carry intervals over the
ensemble members, each curve gets its band and the budget panel says how often its allocation beats the current
one."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from mmm_core.report.figures.style import DEFAULT_STYLE, FigureStyle, fmt, require_columns

CURVE_COLUMNS = ("channel", "spend", "contribution")
ALLOCATION_COLUMNS = ("channel", "current_spend", "optimal_spend")
RANGE_COLUMNS = ("ratio_to_observed_max", "beyond_observed_range")
BAND_COLUMNS = ("contribution_lower", "contribution_upper")
BEYOND_LABEL = "beyond observed range"


def plot_response_curves(curve_points: pd.DataFrame, allocation: pd.DataFrame | None = None,
                         planning_weeks: int | None = None, style: FigureStyle = DEFAULT_STYLE) -> go.Figure:
    """Panel 14: each channel's contribution against its spend over the planning window (other channels at
    their current spend), with the current (●) and optimal (◆) spend of one budget scenario marked.

    ``curve_points``: channel, spend, contribution (the model at each spend) and optionally
    fitted_contribution (a fitted curve, drawn as the line; the model's points become markers) and
    ratio_to_observed_max (the line is dashed past the spend where it reaches 1), contribution_lower /
    contribution_upper and interval (a shaded band over the ensemble members).
    ``allocation``: channel, current_spend, optimal_spend, optionally current_contribution and
    optimal_contribution (marker heights; else read off the curve), and scenario (the first one is used).
    """
    require_columns(curve_points, CURVE_COLUMNS, "response curve points")
    channels = list(curve_points["channel"].unique())
    colors = style.channel_colors(channels)
    marks, scenario = _first_scenario(allocation)
    fitted = "fitted_contribution" in curve_points.columns
    flagged = "ratio_to_observed_max" in curve_points.columns
    banded = set(BAND_COLUMNS) <= set(curve_points.columns) and curve_points["contribution_lower"].notna().any()
    any_beyond = False
    fig = go.Figure()
    for channel in channels:
        points = curve_points[curve_points["channel"] == channel].sort_values("spend")
        if banded:
            band = points.dropna(subset=list(BAND_COLUMNS))
            fig.add_scatter(x=[*band["spend"], *band["spend"][::-1]],
                            y=[*band["contribution_upper"], *band["contribution_lower"][::-1]], fill="toself",
                            mode="lines", line={"width": 0}, fillcolor=colors[channel], opacity=0.18,
                            name=f"{channel} band", legendgroup=channel, showlegend=False, hoverinfo="skip")
        line = points["fitted_contribution"] if fitted else points["contribution"]
        limit = _spend_at_observed_max(points) if flagged else np.inf
        x, y = points["spend"].to_numpy(float), line.to_numpy(float)
        inside = x <= limit
        if not inside.all():
            any_beyond = True
            at_limit = float(np.interp(limit, x, y))
            fig.add_scatter(x=[limit, *x[~inside]], y=[at_limit, *y[~inside]], mode="lines",
                            name=f"{channel} {BEYOND_LABEL}", legendgroup=channel, showlegend=False,
                            line={"color": colors[channel], "width": 2, "dash": "dash"},
                            hovertemplate=f"{channel} ({BEYOND_LABEL}): spend %{{x:,.0f}}, "
                                          f"contribution %{{y:,.0f}}<extra></extra>")
            x, y = np.append(x[inside], limit), np.append(y[inside], at_limit)
        fig.add_scatter(x=x, y=y, mode="lines", name=channel, legendgroup=channel,
                        line={"color": colors[channel], "width": 2})
        if fitted:
            fig.add_scatter(x=points["spend"], y=points["contribution"], mode="markers", name=f"{channel} model",
                            legendgroup=channel, showlegend=False, marker={"color": colors[channel], "size": 5},
                            hovertemplate=f"{channel} (model): spend %{{x:,.0f}}, contribution %{{y:,.0f}}<extra></extra>")
        if marks is None or channel not in marks.index:
            continue
        for label, symbol in (("current", "circle"), ("optimal", "diamond")):
            spend = float(marks.loc[channel, f"{label}_spend"])
            if not np.isfinite(spend):
                continue
            height = marks.loc[channel].get(f"{label}_contribution", np.nan)
            if not np.isfinite(height):
                height = float(np.interp(spend, points["spend"], line))
            fig.add_scatter(x=[spend], y=[float(height)], mode="markers", name=f"{channel} {label}",
                            legendgroup=channel, showlegend=False,
                            marker={"symbol": symbol, "size": 13, "color": colors[channel],
                                    "line": {"width": 1.5, "color": "black" if label == "optimal" else "white"}},
                            hovertemplate=f"{channel} {label}: spend %{{x:,.0f}}, contribution %{{y:,.0f}}<extra></extra>")
    window = f"{planning_weeks}-week planning window" if planning_weeks else "planning window"
    fig.update_xaxes(title_text=f"spend over the {window} ({style.currency})")
    fig.update_yaxes(title_text=f"contribution ({style.kpi_unit})")
    subtitle = "line: fitted curve, dots: model; " if fitted else ""
    subtitle += "● current spend, ◆ optimal spend" + (f" ({scenario})" if scenario else "")
    if banded:
        level = curve_points["interval"].dropna() if "interval" in curve_points.columns else pd.Series(dtype=float)
        subtitle += f"; shaded: {f'{float(level.iloc[0]):.0%} ' if len(level) else ''}band over the ensemble members"
    if any_beyond:
        subtitle += "; dashed: beyond the highest activity observed in training (extrapolation)"
    return style.apply(fig, "14 · Response curves", subtitle)


def _spend_at_observed_max(points: pd.DataFrame) -> float:
    """Spend at which a curve's ratio_to_observed_max reaches 1 (the ratio grows in proportion to spend);
    infinite when no point uses activity."""
    ratio = points["ratio_to_observed_max"].to_numpy(float)
    used = np.isfinite(ratio) & (ratio > 0)
    return float(np.median(points["spend"].to_numpy(float)[used] / ratio[used])) if used.any() else np.inf


def plot_budget_allocation(allocation: pd.DataFrame, style: FigureStyle = DEFAULT_STYLE) -> go.Figure:
    """Panel 15: current and optimal spend per channel as horizontal bars (one row per channel, largest
    current spend on top), labelled with the spend and, for the optimal bar, its change in %; one budget
    scenario at a time when ``allocation`` has a ``scenario`` column (selector; the first shown first). An optimal
    spend flagged ``beyond_observed_range`` is labelled so. With ``prob_beats_current`` (and
    ``incremental_response_model_lower`` / ``_upper``, ``interval``: the scenario's ``budget_scenarios`` row,
    repeated per channel) the subtitle gives the share of ensemble members in which the allocation beats the
    current one and the interval of its gain."""
    require_columns(allocation, ALLOCATION_COLUMNS, "budget allocation")
    frames = ([(str(s), rows) for s, rows in allocation.groupby("scenario", sort=False)]
              if "scenario" in allocation.columns else [("", allocation)])
    fig = go.Figure()
    subtitles = []
    for i, (scenario, frame) in enumerate(frames):
        frame = frame.sort_values("current_spend")  # plotly puts the first category at the bottom
        change = (frame["optimal_spend"] / frame["current_spend"].where(frame["current_spend"] > 0) - 1) * 100
        beyond = (frame["beyond_observed_range"].fillna(False).astype(bool) if "beyond_observed_range" in frame.columns
                  else pd.Series(False, index=frame.index))
        fig.add_bar(y=frame["channel"], x=frame["current_spend"], orientation="h", name="current",
                    marker_color="#9E9E9E", text=[fmt(v) for v in frame["current_spend"]], textposition="outside",
                    cliponaxis=False, visible=i == 0, legendgroup="current", showlegend=i == 0)
        fig.add_bar(y=frame["channel"], x=frame["optimal_spend"], orientation="h", name="optimal",
                    marker_color=style.color(0), cliponaxis=False,
                    text=[(f"{fmt(v)} ({c:+.0f}%)" if np.isfinite(c) else fmt(v)) + (f" ⚠ {BEYOND_LABEL}" if b else "")
                          for v, c, b in zip(frame["optimal_spend"], change, beyond)], textposition="outside",
                    visible=i == 0,
                    legendgroup="optimal", showlegend=i == 0)
        subtitle = (f"{scenario + ': ' if scenario else ''}total current {fmt(float(frame['current_spend'].sum()))}, "
                    f"optimal {fmt(float(frame['optimal_spend'].sum()))} {style.currency}")
        if {"current_contribution", "optimal_contribution"} <= set(frame.columns):
            gain = float(frame["optimal_contribution"].sum() - frame["current_contribution"].sum())
            subtitle += f"; contribution {'+' if gain >= 0 else ''}{fmt(gain)} {style.kpi_unit} (on the curves)"
        if beyond.any():
            subtitle += f"; ⚠ {int(beyond.sum())} beyond the highest activity observed in training"
        subtitle += _member_odds(frame, style)
        subtitles.append(subtitle)
    if len(frames) > 1:
        buttons = [{"label": scenario, "method": "update",
                    "args": [{"visible": [j // 2 == i for j in range(2 * len(frames))]},
                             {"title.subtitle.text": subtitles[i]}]} for i, (scenario, _) in enumerate(frames)]
        fig.update_layout(updatemenus=[{"buttons": buttons, "direction": "down", "x": 0.0, "xanchor": "left",
                                        "y": 1.01, "yanchor": "bottom"}])
    largest = float(allocation[["current_spend", "optimal_spend"]].max().max())
    fig.update_layout(barmode="group", bargap=0.25, bargroupgap=0.05)
    fig.update_xaxes(title_text=f"spend ({style.currency})", range=[0.0, 1.25 * largest if largest > 0 else 1.0])
    n_channels = allocation["channel"].nunique()
    return style.apply(fig, "15 · Current vs optimal budget", subtitles[0],
                       height=max(style.height, 150 + 44 * n_channels))


def _member_odds(frame: pd.DataFrame, style: FigureStyle) -> str:
    """"; beats the current allocation in 81 % of ensemble members (model gain, 90 %: a to b)", or "" without
    the columns or values."""
    if "prob_beats_current" not in frame.columns or frame["prob_beats_current"].isna().all():
        return ""
    row = frame.iloc[0]
    text = f"; beats the current allocation in {float(row['prob_beats_current']):.0%} of ensemble members"
    if {"incremental_response_model_lower", "incremental_response_model_upper", "interval"} <= set(frame.columns):
        text += (f" (model gain, {float(row['interval']):.0%}: {fmt(float(row['incremental_response_model_lower']))} "
                 f"to {fmt(float(row['incremental_response_model_upper']))} {style.kpi_unit})")
    return text


def _first_scenario(allocation: pd.DataFrame | None) -> tuple[pd.DataFrame | None, str | None]:
    if allocation is None:
        return None, None
    require_columns(allocation, ALLOCATION_COLUMNS, "budget allocation")
    if "scenario" not in allocation.columns:
        return allocation.set_index("channel"), None
    scenario = allocation["scenario"].iloc[0]
    return allocation[allocation["scenario"] == scenario].set_index("channel"), str(scenario)
