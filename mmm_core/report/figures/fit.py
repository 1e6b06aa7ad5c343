"""Dashboard panels about fit: metrics (1), actual vs predicted over time (2), holdout scatter (3)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from mmm_core.report.figures.style import (
    DEFAULT_STYLE,
    FigureStyle,
    actual_vs_predicted,
    as_week,
    require_columns,
)

VIEWS = ("pooled", "within_region", "national")
BASELINE_SERIES = ("region_mean", "last_4_weeks", "same_week_last_year")
REFIT_NOTE = "published model is refitted on every week, so these weeks are in-sample for it"


def plot_metrics(metrics: pd.DataFrame, national_only: bool = False, style: FigureStyle = DEFAULT_STYLE) -> go.Figure:
    """Panel 1: R² and MAPE of the holdout fit on its training and holdout weeks, per view, beside the
    best naive baseline on the holdout weeks.

    ``metrics``: the ``model_metrics`` rows of one refresh (split, series, view, metric, value).
    ``national_only``: a dataset with one region, whose three views are one series: show the national view.
    """
    require_columns(metrics, ("split", "series", "view", "metric", "value"), "model_metrics")
    views = [v for v in (("national",) if national_only else VIEWS) if v in set(metrics["view"])]
    fig = make_subplots(rows=1, cols=2, subplot_titles=("R² (higher is better)", "MAPE % (lower is better)"),
                        horizontal_spacing=0.1)
    bars = (("model", "train", "model · train", style.color(0)),
            ("model", "holdout", "model · holdout (forecast)", style.color(1)),
            ("baseline", "holdout", "best naive baseline · holdout", "#9E9E9E"))
    for col, metric, scale in ((1, "r2", 1.0), (2, "mape", 100.0)):
        rows = metrics[metrics["metric"] == metric]
        for series, split, name, color in bars:
            chosen = rows[rows["split"] == split]
            values = []
            for view in views:
                at = chosen[chosen["view"] == view]
                if series == "model":
                    v = at.loc[at["series"] == "model", "value"]
                    values.append(float(v.iloc[0]) * scale if len(v) else np.nan)
                else:  # the baseline that did best on this view and metric
                    v = at.loc[at["series"].isin(BASELINE_SERIES), "value"]
                    best = v.max() if metric == "r2" else v.min()
                    values.append(float(best) * scale if len(v) else np.nan)
            fig.add_bar(x=views, y=values, name=name, marker_color=color, legendgroup=name, showlegend=col == 1,
                        text=[f"{v:.3f}" if metric == "r2" else f"{v:.1f}" for v in values], textposition="outside",
                        row=1, col=col)
    fig.update_layout(barmode="group")
    note = "; one region, so pooled and within-region R² equal the national one" if national_only else ""
    return style.apply(fig, "1 · Train vs holdout metrics",
                       f"holdout = forecast of weeks held out of the fit, scored before the published refit{note}",
                       legend="bottom")


FORECAST_COLUMNS = ("region", "week", "forecast", "forecast_lower", "forecast_upper", "interval")
"""``holdout_forecast`` columns panel 2 draws."""


def plot_actual_vs_predicted(actual: pd.DataFrame, contributions: pd.DataFrame, holdout_start=None,
                             style: FigureStyle = DEFAULT_STYLE, forecast: pd.DataFrame | None = None) -> go.Figure:
    """Panel 2: actual and predicted KPI per week, national, with a selector for single regions.

    ``actual``: region, week, kpi; ``contributions``: region, week, component, kind, value (the
    prediction is the sum of components). Only region-weeks present in both are drawn. Weeks from
    ``holdout_start`` on are shaded. ``forecast`` (``holdout_forecast`` rows: region, week, forecast,
    forecast_lower, forecast_upper, interval) adds the holdout model's forecast of those weeks, made before the
    refit, and per region its prediction interval as a band (national: the summed forecast; region intervals do
    not sum to a national one).
    """
    both = actual_vs_predicted(actual, contributions)
    national = both.groupby("week", sort=True)[["actual", "predicted"]].sum()
    sizes = both.groupby("region")["actual"].sum().sort_values(ascending=False)
    # a national dataset's one region is the national series: nothing to pick
    regions = list(sizes.index[: style.max_regions]) if len(sizes) > 1 else []
    series = [("national", national)] + [(r, both[both["region"] == r].set_index("week")) for r in regions]
    if forecast is not None and len(forecast):
        require_columns(forecast, FORECAST_COLUMNS, "holdout_forecast")
        forecast = forecast.assign(week=pd.to_datetime(forecast["week"]))
    else:
        forecast = None
    fig = go.Figure()
    per_view = 2 if forecast is None else 4
    for i, (name, frame) in enumerate(series):
        visible = i == 0
        fig.add_scatter(x=frame.index, y=frame["actual"], name="actual", mode="lines", visible=visible,
                        line={"color": style.actual_color, "width": 2}, legendgroup="actual")
        fig.add_scatter(x=frame.index, y=frame["predicted"], name="predicted", mode="lines", visible=visible,
                        line={"color": style.predicted_color, "width": 2, "dash": "dot"}, legendgroup="predicted")
        if forecast is None:
            continue
        if name == "national" and regions:  # the summed forecast; no band
            rows = forecast.groupby("week", sort=True)[["forecast"]].sum()
            rows["forecast_lower"] = rows["forecast_upper"] = np.nan
        else:
            rows = forecast[forecast["region"] == (name if regions else forecast["region"].iloc[0])].set_index("week")
            rows = rows.sort_index()
        level = f"{float(forecast['interval'].iloc[0]):.0%}"
        fig.add_scatter(x=[*rows.index, *rows.index[::-1]], y=[*rows["forecast_upper"], *rows["forecast_lower"][::-1]],
                        fill="toself", mode="lines", line={"width": 0}, fillcolor=style.color(1), opacity=0.2,
                        name=f"{level} prediction interval", legendgroup="interval", visible=visible, hoverinfo="skip")
        fig.add_scatter(x=rows.index, y=rows["forecast"], name="holdout forecast (before the refit)", mode="lines",
                        visible=visible, line={"color": style.color(1), "width": 2}, legendgroup="forecast")
    _shade_holdout(fig, holdout_start, national.index.max())
    fig.update_yaxes(title_text=style.kpi_unit)
    note = ("" if forecast is None else "; solid in the holdout weeks: the forecast made before the refit, with its "
            "prediction interval per region")
    if not regions:
        return style.apply(fig, "2 · Actual vs predicted KPI per week (national)",
                           f"shaded = holdout weeks; the {REFIT_NOTE}{note}", height=style.height + 40)
    buttons = []
    for i, (name, _) in enumerate(series):
        visible = [j // per_view == i for j in range(per_view * len(series))]
        buttons.append({"label": name, "method": "update", "args": [{"visible": visible}]})
    fig.update_layout(updatemenus=[{"buttons": buttons, "direction": "down", "x": 0.0, "xanchor": "left",
                                    "y": 1.0, "yanchor": "bottom", "showactive": True}])
    more = f" (largest {len(regions)} of {len(sizes)} regions)" if len(sizes) > len(regions) else ""
    return style.apply(fig, f"2 · Actual vs predicted KPI per week (national, or pick a region{more})",
                       f"shaded = holdout weeks; the {REFIT_NOTE}{note}", height=style.height + 40)


def plot_holdout_scatter(actual: pd.DataFrame, contributions: pd.DataFrame, holdout_start=None,
                         style: FigureStyle = DEFAULT_STYLE) -> go.Figure:
    """Panel 3: actual against predicted KPI per region-week of the holdout weeks (every week without one)."""
    both = actual_vs_predicted(actual, contributions)
    start = as_week(holdout_start)
    if start is not None and (pd.to_datetime(both["week"]) >= start).any():
        both = both[pd.to_datetime(both["week"]) >= start]
        which = f"holdout weeks from {start.date()}"
    else:
        which = "all weeks"
    fig = go.Figure()
    fig.add_scatter(x=both["actual"], y=both["predicted"], mode="markers", name="region-week",
                    marker={"color": style.color(0), "size": 7, "opacity": 0.7},
                    customdata=np.stack([both["region"].astype(str), pd.to_datetime(both["week"]).dt.date.astype(str)],
                                        axis=-1),
                    hovertemplate="%{customdata[0]} %{customdata[1]}<br>actual %{x:,.0f}<br>predicted %{y:,.0f}"
                                  "<extra></extra>")
    low = float(min(both["actual"].min(), both["predicted"].min()))
    high = float(max(both["actual"].max(), both["predicted"].max()))
    fig.add_scatter(x=[low, high], y=[low, high], mode="lines", name="actual = predicted",
                    line={"color": "#9E9E9E", "dash": "dash"})
    fig.update_xaxes(title_text=f"actual ({style.kpi_unit})")
    fig.update_yaxes(title_text=f"predicted ({style.kpi_unit})")
    return style.apply(fig, "3 · Holdout weeks: actual vs predicted per region-week",
                       f"{which}; in-sample for the published model, which is refitted on every week")


def _shade_holdout(fig: go.Figure, holdout_start, last_week) -> None:
    start = as_week(holdout_start)
    if start is None or last_week is None or pd.isna(last_week):
        return
    end = pd.Timestamp(last_week) + pd.Timedelta(days=3)
    fig.add_vrect(x0=start - pd.Timedelta(days=3), x1=end, fillcolor="#FFE0B2", opacity=0.35, line_width=0,
                  layer="below", annotation_text="holdout weeks", annotation_position="top left")
