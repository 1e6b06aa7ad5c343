"""Shared look and small frame helpers of the dashboard figures (``mmm_core.report.figures``).

Every figure function takes plain DataFrames with the published tables' column names (see
``README.md``, "Published tables") and a ``FigureStyle``; none of them sees a model.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go

BASE_COMPONENTS = ("baseline", "trend", "seasonality")


@dataclass(frozen=True)
class FigureStyle:
    """How the figures look and are labelled; one frozen object shared by every panel.

    ``kpi_unit`` and ``currency`` only label axes (the numbers are never converted). ``max_regions``
    caps the region selector of the actual-vs-predicted panel (largest regions by KPI first).
    """

    template: str = "plotly_white"
    height: int = 420
    font_family: str = "Inter, Segoe UI, Helvetica, Arial, sans-serif"
    palette: tuple[str, ...] = ("#4C78A8", "#F58518", "#54A24B", "#E45756", "#72B7B2", "#EECA3B", "#B279A2",
                                "#FF9DA6", "#9D755D", "#BAB0AC", "#1F77B4", "#2CA02C", "#D62728", "#9467BD",
                                "#8C564B", "#E377C2", "#17BECF", "#BCBD22")
    component_colors: tuple[tuple[str, str], ...] = (("baseline", "#9E9E9E"), ("trend", "#616161"),
                                                     ("seasonality", "#BDBDBD"), ("controls", "#795548"))
    """Colours of the non-channel parts of the stacked contributions (pairs, so the style stays hashable)."""
    actual_color: str = "#212121"
    predicted_color: str = "#E45756"
    kpi_unit: str = "KPI units"
    currency: str = "currency units"
    max_regions: int = 50

    channel_order: tuple[str, ...] = ()
    """Every channel in one fixed order, so a channel has the same colour in every panel (set by the report)."""

    def component_color(self, name: str) -> str:
        return dict(self.component_colors).get(name, "#9E9E9E")

    def color(self, index: int) -> str:
        return self.palette[index % len(self.palette)]

    def channel_colors(self, channels: Iterable[str]) -> dict[str, str]:
        """One stable colour per channel: by position in ``channel_order`` when set, else in the given order."""
        names = list(dict.fromkeys([*self.channel_order, *channels]))
        return {name: self.color(i) for i, name in enumerate(names)}

    def apply(self, fig: go.Figure, title: str, subtitle: str | None = None, height: int | None = None,
              legend: str = "top") -> go.Figure:
        """Template, title (+ subtitle), font, margins, height and legend place: the common layout of panels.

        ``legend``: 'top' (one row between title and plot), 'bottom' (under the plot) or 'right'.
        """
        places = {"top": {"orientation": "h", "yanchor": "bottom", "y": 1.01, "xanchor": "right", "x": 1.0},
                  "bottom": {"orientation": "h", "yanchor": "top", "y": -0.12, "xanchor": "left", "x": 0.0},
                  "right": {"orientation": "v", "yanchor": "top", "y": 1.0, "xanchor": "left", "x": 1.02}}
        head = {"text": title, "x": 0.01, "xanchor": "left", "y": 0.98, "yanchor": "top", "yref": "container",
                "font": {"size": 15}}
        if subtitle:
            head["subtitle"] = {"text": subtitle, "font": {"size": 11, "color": "#616161"}}
        fig.update_layout(template=self.template, title=head, height=height or self.height,
                          font={"family": self.font_family, "size": 12},
                          margin={"l": 60, "r": 20, "t": 105 if subtitle else 80, "b": 80 if legend == "bottom" else 50},
                          legend=places[legend])
        return fig


DEFAULT_STYLE = FigureStyle()
"""The style every figure function uses unless given one (frozen, so one shared instance is safe)."""


def unavailable_figure(title: str, reason: str, style: FigureStyle = DEFAULT_STYLE) -> go.Figure:
    """An empty panel that says why it is empty (used when an input table is absent)."""
    fig = go.Figure()
    fig.add_annotation(text=f"Not available: {reason}", x=0.5, y=0.5, xref="paper", yref="paper",
                       showarrow=False, font={"size": 14})
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    fig.update_layout(meta={"unavailable": reason})  # read by mmm_core.report.dashboard: the panel says why it is empty
    return style.apply(fig, title, height=220)


def require_columns(frame: pd.DataFrame, columns: Iterable[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{what}: frame lacks columns {missing} (has {list(frame.columns)})")


def component_group(component: str, kind: str) -> str:
    """The stacked-chart group of a contribution component: base parts and channels by name, controls pooled."""
    return "controls" if kind == "control" else component.removeprefix("channel:")


def channel_order(contributions: pd.DataFrame) -> list[str]:
    """Channel names in the order they appear in the contributions frame."""
    names = contributions.loc[contributions["kind"] == "channel", "component"].drop_duplicates()
    return [n.removeprefix("channel:") for n in names]


def control_order(contributions: pd.DataFrame) -> list[str]:
    names = contributions.loc[contributions["kind"] == "control", "component"].drop_duplicates()
    return [n.removeprefix("control:") for n in names]


def national_components(contributions: pd.DataFrame) -> pd.DataFrame:
    """``[weeks, components]`` national (summed over regions) contribution per week, KPI units."""
    require_columns(contributions, ("week", "component", "value"), "contributions")
    wide = contributions.pivot_table(index="week", columns="component", values="value", aggfunc="sum", sort=False)
    return wide.sort_index()


def prediction_by_region_week(contributions: pd.DataFrame) -> pd.DataFrame:
    """region, week, predicted: the sum of every component per region-week (the model's prediction)."""
    require_columns(contributions, ("region", "week", "value"), "contributions")
    return (contributions.groupby(["region", "week"], sort=True, observed=True)["value"].sum()
            .rename("predicted").reset_index())


def actual_vs_predicted(actual: pd.DataFrame, contributions: pd.DataFrame) -> pd.DataFrame:
    """region, week, actual, predicted over the region-weeks both frames have (inner join)."""
    require_columns(actual, ("region", "week", "kpi"), "actual")
    merged = actual[["region", "week", "kpi"]].rename(columns={"kpi": "actual"}).merge(
        prediction_by_region_week(contributions), on=["region", "week"], how="inner")
    return merged.sort_values(["region", "week"], ignore_index=True)


def as_week(value) -> pd.Timestamp | None:
    if value is None or pd.isna(value):
        return None
    return pd.Timestamp(value)


def fmt(value: float, digits: int = 3) -> str:
    """Compact human number: 12.3M, 4.56k, 0.912."""
    if value is None or not np.isfinite(value):
        return "n/a"
    magnitude = abs(value)
    for bound, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if magnitude >= bound:
            return f"{value / bound:.{digits}g}{suffix}"
    return f"{value:.{digits}g}"
