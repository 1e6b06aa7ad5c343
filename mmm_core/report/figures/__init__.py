"""Plotly figures of the dashboard, one function per panel, built from result tables, never from a model.

Each function takes plain DataFrames with the published tables' columns (``contributions``,
``channel_summary``, ``dag_edges``, ``model_metrics``, ``features``, ...) and an optional
``FigureStyle``, and returns a ``plotly.graph_objects.Figure``. In a notebook::

    from mmm_core.report import figures
    figures.plot_contributions(mmm.decompose(panel))        # a Decomposition or its long frame
    figures.plot_dag(mmm.dag(), channels=list(panel.channels))
    figures.plot_waterfall(mmm.decompose(panel).to_frame())

``mmm_core.report.dashboard`` assembles all panels into one self-contained HTML page.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go

from mmm_core.report.figures.budget import plot_budget_allocation, plot_response_curves
from mmm_core.report.figures.channels import (
    adjacency_matrix,
    plot_channel_detail,
    plot_dag_heatmap,
    plot_dag_network,
    plot_roi_history,
    plot_scaled_inputs,
)
from mmm_core.report.figures.contributions import (
    plot_channel_contributions,
    plot_channel_effectiveness,
    plot_contribution_share,
    plot_contributions_over_time,
    plot_control_effects,
    plot_waterfall,
)
from mmm_core.report.figures.fit import plot_actual_vs_predicted, plot_holdout_scatter, plot_metrics
from mmm_core.report.figures.style import DEFAULT_STYLE, FigureStyle, unavailable_figure

__all__ = [
    "FigureStyle",
    "adjacency_matrix",
    "contributions_frame",
    "plot_actual_vs_predicted",
    "plot_budget_allocation",
    "plot_channel_contributions",
    "plot_channel_detail",
    "plot_channel_effectiveness",
    "plot_contribution_share",
    "plot_contributions",
    "plot_contributions_over_time",
    "plot_control_effects",
    "plot_dag",
    "plot_dag_heatmap",
    "plot_dag_network",
    "plot_holdout_scatter",
    "plot_metrics",
    "plot_response_curves",
    "plot_roi_history",
    "plot_scaled_inputs",
    "plot_waterfall",
    "unavailable_figure",
]


def contributions_frame(decomposition_or_frame: Any) -> pd.DataFrame:
    """The long contributions frame (region, week, component, kind, value) of a ``Decomposition`` or frame."""
    if isinstance(decomposition_or_frame, pd.DataFrame):
        return decomposition_or_frame
    to_frame = getattr(decomposition_or_frame, "to_frame", None)
    if to_frame is None:
        raise TypeError(f"expected a Decomposition or a contributions DataFrame, got {type(decomposition_or_frame)}")
    return to_frame()


def plot_contributions(decomposition_or_frame: Any, actual: pd.DataFrame | None = None,
                       style: FigureStyle = DEFAULT_STYLE) -> go.Figure:
    """Stacked national contributions per week (panel 10) from a ``Decomposition`` or a contributions frame."""
    return plot_contributions_over_time(contributions_frame(decomposition_or_frame), actual=actual, style=style)


def plot_dag(dag_frame: pd.DataFrame, channels: list[str] | None = None,
             style: FigureStyle = DEFAULT_STYLE) -> go.Figure:
    """The channel graph (panel 8) from a parent, child, weight frame (``MMM.dag()`` or ``dag_edges``)."""
    return plot_dag_network(dag_frame, channels=channels, style=style)
