"""The refresh dashboard: every panel of ``mmm_core.report.figures`` in one self-contained HTML page.

``DashboardData`` holds the result tables of one refresh (plain DataFrames, published-table columns);
``build_panels`` turns them into figures, ``Summary`` into the header (HTML) and a markdown digest,
and ``render_html`` into a page that embeds plotly.js once (no CDN: it opens offline). The page's own
script records JavaScript errors and, after load, which panels drew data, in ``#mmm-report-status``.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from mmm_core.report import figures as F
from mmm_core.report.figures.fit import BASELINE_SERIES
from mmm_core.report.figures.style import DEFAULT_STYLE, FigureStyle, fmt, require_columns


@dataclass(frozen=True, eq=False)
class DashboardData:
    """Result tables of one refresh, as the report reads them (columns as in the published tables).

    Attributes:
        refresh_week: ISO date of the refresh. run: its ``model_runs`` row as a dict.
        metrics: ``model_metrics`` rows. contributions: region, week, component, kind, value.
        inputs: the refresh's ``features`` rows: region, week, kind, name, value, scaled_value.
        channel_summary / channel_parameters / dag_edges: the refresh's rows of those tables (channel_summary's
        own/mediated/induced parts and roi_prior_weight are NaN or absent for refreshes published before them).
        roi_history: refresh_week, channel, roi (+ spend, total_contribution) of every refresh up to this one.
        curve_points: national channel, spend, contribution[, fitted_contribution, ratio_to_observed_max,
        contribution_lower, contribution_upper, interval] (or None); the curve is dashed where
        ratio_to_observed_max passes 1 (beyond the training data) and shaded between its member band.
        allocation: national [scenario,] channel, current_spend, optimal_spend[, current_contribution,
        optimal_contribution, beyond_observed_range, prob_beats_current, incremental_response_model_lower,
        incremental_response_model_upper, interval] (or None); the first scenario is the one marked on the
        curves; a flagged optimal spend is labelled beyond the observed range.
        planning_weeks: the window the curves' spend covers.
        holdout_forecast: region, week, forecast, forecast_lower, forecast_upper, interval of the held-out weeks
        (or None: a refresh published before the table existed); drawn in panel 2.
        unavailable: why an optional table is None, by table name (shown in its panel).
    """

    refresh_week: str
    run: dict[str, Any]
    metrics: pd.DataFrame
    contributions: pd.DataFrame
    inputs: pd.DataFrame
    channel_summary: pd.DataFrame
    channel_parameters: pd.DataFrame
    dag_edges: pd.DataFrame
    roi_history: pd.DataFrame
    curve_points: pd.DataFrame | None = None
    allocation: pd.DataFrame | None = None
    planning_weeks: int | None = None
    unavailable: dict[str, str] = field(default_factory=dict)
    holdout_forecast: pd.DataFrame | None = None

    def __post_init__(self) -> None:
        require_columns(self.contributions, ("region", "week", "component", "kind", "value"), "contributions")
        require_columns(self.inputs, ("region", "week", "kind", "name", "value", "scaled_value"), "inputs")
        require_columns(self.channel_summary, ("channel", "spend", "total_contribution", "roi"), "channel_summary")
        if self.contributions.empty:
            raise ValueError(f"refresh {self.refresh_week}: no contributions to report")

    @property
    def actual(self) -> pd.DataFrame:
        """region, week, kpi: the observed KPI the refresh was fitted on."""
        kpi = self.inputs[self.inputs["kind"] == "kpi"]
        return kpi[["region", "week"]].assign(kpi=kpi["value"].to_numpy())

    @property
    def channels(self) -> list[str]:
        return list(self.channel_summary["channel"])

    @property
    def n_regions(self) -> int:
        """Regions in the refresh; 1 for a national dataset (whose pooled, within-region and national
        views are one series, so the panels show one view and no region selector)."""
        return int(self.contributions["region"].nunique())


@dataclass(frozen=True)
class Panel:
    """One dashboard panel: its figure, or why it has none."""

    number: int
    key: str
    figure: go.Figure
    wide: bool = False

    @property
    def element_id(self) -> str:
        return f"panel-{self.number:02d}-{self.key}"

    @property
    def unavailable_reason(self) -> str | None:
        meta = self.figure.layout.meta
        return meta.get("unavailable") if isinstance(meta, dict) else None


PanelBuilder = Callable[[DashboardData, FigureStyle], go.Figure]


def _curves(d: DashboardData, s: FigureStyle) -> go.Figure:
    if d.curve_points is None:
        return F.unavailable_figure("14 · Response curves", d.unavailable.get("response_curve_points", "no curves"), s)
    return F.plot_response_curves(d.curve_points, d.allocation, d.planning_weeks, style=s)


def _allocation(d: DashboardData, s: FigureStyle) -> go.Figure:
    if d.allocation is None:
        return F.unavailable_figure("15 · Current vs optimal budget",
                                    d.unavailable.get("budget_allocation", "no allocation"), s)
    return F.plot_budget_allocation(d.allocation, style=s)


PANELS: tuple[tuple[int, str, bool, PanelBuilder], ...] = (
    (1, "metrics", True, lambda d, s: F.plot_metrics(d.metrics, national_only=d.n_regions == 1, style=s)),
    (2, "actual-vs-predicted", True,
     lambda d, s: F.plot_actual_vs_predicted(d.actual, d.contributions, d.run.get("holdout_start"), style=s,
                                             forecast=d.holdout_forecast)),
    (3, "holdout-scatter", False,
     lambda d, s: F.plot_holdout_scatter(d.actual, d.contributions, d.run.get("holdout_start"), style=s)),
    (4, "channel-contributions", False, lambda d, s: F.plot_channel_contributions(d.channel_summary, style=s)),
    (5, "contribution-share", False, lambda d, s: F.plot_contribution_share(d.channel_summary, style=s)),
    (6, "waterfall", False, lambda d, s: F.plot_waterfall(d.contributions, style=s)),
    (7, "channel-effectiveness", True, lambda d, s: F.plot_channel_effectiveness(d.contributions, d.inputs, style=s)),
    (8, "dag-network", False, lambda d, s: F.plot_dag_network(
        d.dag_edges, d.channels, d.channel_summary.set_index("channel")["total_contribution"], style=s)),
    (9, "dag-heatmap", False, lambda d, s: F.plot_dag_heatmap(d.dag_edges, d.channels, style=s)),
    (10, "contributions-over-time", True,
     lambda d, s: F.plot_contributions_over_time(d.contributions, d.actual, style=s)),
    (11, "channel-detail", True, lambda d, s: F.plot_channel_detail(d.inputs, d.contributions, d.channel_summary, style=s)),
    (12, "scaled-inputs", True, lambda d, s: F.plot_scaled_inputs(d.inputs, style=s)),
    (13, "control-effects", False, lambda d, s: F.plot_control_effects(d.contributions, style=s)),
    (14, "response-curves", False, _curves),
    (15, "budget-allocation", True, _allocation),
    (16, "roi-history", True, lambda d, s: F.plot_roi_history(d.roi_history, style=s)),
)
"""Panels in page order: number, key, wide, builder. Two columns; a wide panel spans both, and between two
wide panels there is an even number of narrow ones, so the grid fills row by row in number order."""


def build_panels(data: DashboardData, style: FigureStyle = DEFAULT_STYLE) -> list[Panel]:
    """Every panel of ``PANELS``; channels keep one colour across panels (``FigureStyle.channel_order``)."""
    style = replace(style, channel_order=tuple(data.channels))
    return [Panel(number, key, builder(data, style), wide) for number, key, wide, builder in PANELS]


DEFINITIONS = (
    "Direct contribution: the channel's term of the decomposition, the KPI from all of its activity, including "
    "activity its DAG parents caused; channels' direct contributions add up to the media part of the prediction, "
    "and 'share' is of their sum. Total contribution: the KPI lost if the channel's own spend stopped (the "
    "model's counterfactual, the same one behind the response curves): its own part plus what it causes in its "
    "DAG children, without what its parents cause in it, so a DAG child can total less than its direct. "
    "ROI = total contribution / spend. ROI from prior: how much of the channel's ROI comes from the "
    "exchangeable-ROI prior rather than the data (0 %: the data show the channel switched off, so its ROI is "
    "measured).")
"""What the words of the channel table and panels 4, 5 and 16 mean; shown under the table."""


@dataclass(frozen=True)
class Metric:
    """One header card: what it is, its value as shown, and its unit (or scale)."""

    label: str
    value: str
    unit: str


@dataclass(frozen=True, eq=False)
class Summary:
    """The header of the report and the digest shown in Dagster: key metrics and the channel table."""

    refresh_week: str
    metrics: tuple[Metric, ...]
    channels: pd.DataFrame
    """channel, spend, direct_contribution, total_contribution, share, roi[, roi_lower, roi_upper, interval,
    roi_prior_weight, parameters], sorted by total contribution."""
    notes: tuple[str, ...] = ()
    kpi_unit: str = DEFAULT_STYLE.kpi_unit
    currency: str = DEFAULT_STYLE.currency

    def top_channels(self, by: str, n: int = 3) -> list[str]:
        return list(self.channels.sort_values(by, ascending=False)["channel"].head(n))

    def to_markdown(self) -> str:
        lines = [f"**Refresh {self.refresh_week}**", ""]
        lines += [f"- {m.label}: **{m.value}** {m.unit}" for m in self.metrics]
        lines += [f"- top channels by total contribution: {', '.join(self.top_channels('total_contribution'))}",
                  f"- top channels by ROI: {', '.join(self.top_channels('roi'))}", ""]
        table = self._display_table()
        lines.append("| " + " | ".join(table.columns) + " |")
        lines.append("|" + "---|" * len(table.columns))
        lines += ["| " + " | ".join(row) + " |" for row in table.itertuples(index=False)]
        lines += [""] + [f"_{note}_" for note in self.notes]
        return "\n".join(lines)

    def to_html(self) -> str:
        cards = "".join(f'<div class="card"><div class="label">{html.escape(m.label)}</div>'
                        f'<div class="value">{html.escape(m.value)}</div>'
                        f'<div class="unit">{html.escape(m.unit)}</div></div>' for m in self.metrics)
        table = self._display_table()
        head = "".join(f"<th>{html.escape(c)}</th>" for c in table.columns)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(v)}</td>" for v in row) + "</tr>"
                       for row in table.itertuples(index=False))
        notes = "".join(f"<p class='note'>{html.escape(n)}</p>" for n in self.notes)
        return (f'<div class="cards">{cards}</div><table class="channels"><thead><tr>{head}</tr></thead>'
                f"<tbody>{body}</tbody></table>{notes}")

    def numbers(self) -> dict[str, Any]:
        """Machine-readable numbers behind the header (embedded in the page as JSON)."""
        return {"refresh_week": self.refresh_week, "metrics": {m.label: m.value for m in self.metrics},
                "units": {m.label: m.unit for m in self.metrics},
                "channels": json.loads(self.channels.to_json(orient="records"))}

    def _display_table(self) -> pd.DataFrame:
        c = self.channels
        table = pd.DataFrame({
            "channel": c["channel"], f"spend ({self.currency})": c["spend"].map(fmt),
            f"direct contribution ({self.kpi_unit})": c["direct_contribution"].map(fmt),
            "share of direct": c["share"].map(_share),
            f"total contribution ({self.kpi_unit})": c["total_contribution"].map(fmt),
            "ROI (total / spend)": c["roi"].map(fmt)})
        if {"roi_lower", "roi_upper", "interval"} <= set(c.columns) and c["roi_lower"].notna().any():
            level = f"{float(c['interval'].dropna().iloc[0]):.0%}"
            table[f"ROI {level} interval"] = [f"{fmt(lo)} – {fmt(hi)}" if pd.notna(lo) else "n/a"
                                               for lo, hi in zip(c["roi_lower"], c["roi_upper"])]
        if "roi_prior_weight" in c.columns:
            table["ROI from prior"] = c["roi_prior_weight"].map(_share)
        for column, label in (("adstock_decay", "adstock decay"), ("hill_slope", "Hill slope")):
            if column in c.columns:
                table[label] = c[column].map(lambda v: f"{v:.2f}")
        return table


def _best_baseline(metrics: pd.DataFrame, view: str) -> float | None:
    """The best naive baseline's holdout R² on ``view`` (``model_metrics`` rows), None without one."""
    rows = metrics[(metrics["split"] == "holdout") & (metrics["metric"] == "r2") & (metrics["view"] == view)
                   & metrics["series"].isin(BASELINE_SERIES)]
    return float(rows["value"].max()) if len(rows) else None


def summarize(data: DashboardData, style: FigureStyle = DEFAULT_STYLE) -> Summary:
    """Header cards (each with its unit or scale), the channel table and its notes, for one refresh."""
    run = data.run
    r2 = "R², 1 = perfect, 0 = the mean"
    n_weeks = int(data.contributions["week"].nunique())
    predicted = float(data.contributions["value"].sum())
    media = float(data.contributions.loc[data.contributions["kind"] == "channel", "value"].sum())
    if data.n_regions == 1:  # one series: pooled, within-region and national R² are the same number
        fit = [Metric("holdout R² national", _num(run.get("holdout_r2_national")), f"{r2} (one region)"),
               Metric("best naive baseline, national", _num(_best_baseline(data.metrics, "national")),
                      "R², same holdout weeks"),
               Metric("holdout MAPE", _pct(run.get("holdout_mape")), "mean |error| / actual, per week"),
               Metric("train R² national", _num(run.get("train_r2")), "R², training weeks")]
    else:
        fit = [Metric("holdout R² pooled", _num(run.get("holdout_r2")), f"{r2} of all region-weeks"),
               Metric("holdout R² within region", _num(run.get("holdout_r2_within_region")),
                      "R², each region against its own mean"),
               Metric("best naive baseline, within region", _num(run.get("best_baseline_holdout_r2_within_region")),
                      "R², same holdout weeks"),
               Metric("holdout R² national", _num(run.get("holdout_r2_national")), "R² of the summed series"),
               Metric("holdout MAPE", _pct(run.get("holdout_mape")), "mean |error| / actual, per region-week"),
               Metric("train R² pooled", _num(run.get("train_r2")), "R², training weeks")]
    totals = [Metric("predicted KPI, window", fmt(predicted), f"{style.kpi_unit} over {n_weeks} weeks"),
              Metric("media contribution, window", fmt(media),
                     f"{style.kpi_unit}, {_share(media / predicted) if predicted else 'n/a'} of predicted KPI")]
    channels = data.channel_summary.sort_values("total_contribution", ascending=False, ignore_index=True)
    if not data.channel_parameters.empty:
        channels = channels.merge(data.channel_parameters[["channel", "adstock_decay", "hill_slope"]],
                                  on="channel", how="left")
    notes = ((f"Window {_day(run.get('window_start'))} to {_day(run.get('window_end'))}; holdout from "
              f"{_day(run.get('holdout_start'))}. Holdout scores are of a forecast made before the published "
              "model was refitted on every week of the window."), DEFINITIONS)
    return Summary(data.refresh_week, tuple(fit + totals), channels, notes, style.kpi_unit, style.currency)


STYLE_CSS = """
body{font-family:Inter,Segoe UI,Helvetica,Arial,sans-serif;margin:0;background:#f5f6f8;color:#212121}
header{background:#fff;padding:16px 28px;border-bottom:1px solid #ddd}
h1{font-size:22px;margin:0 0 4px} .sub{color:#616161;font-size:13px}
.cards{display:flex;flex-wrap:wrap;gap:10px;margin:12px 0}
.card{background:#f5f6f8;border-radius:6px;padding:8px 12px;min-width:130px}
.card .label{font-size:11px;color:#616161}.card .value{font-size:18px;font-weight:600}
.card .unit{font-size:11px;color:#757575}
table.channels{border-collapse:collapse;font-size:12px}
table.channels td,table.channels th{padding:3px 10px;border-bottom:1px solid #e0e0e0;text-align:right}
table.channels td:first-child,table.channels th:first-child{text-align:left}
.note{font-size:12px;color:#616161;margin:6px 0 0;max-width:1100px}
main{display:grid;grid-template-columns:repeat(2,minmax(0,1fr));grid-auto-flow:row;gap:14px;padding:14px 28px}
section.panel{background:#fff;border:1px solid #e0e0e0;border-radius:6px;padding:6px;min-width:0}
section.wide{grid-column:1 / -1}
section.unavailable h3{font-size:15px;font-weight:normal;margin:10px 8px}
section.unavailable .reason{padding:24px;color:#757575;font-size:14px}
#mmm-report-status{font-size:12px;color:#757575;padding:0 28px 24px;white-space:pre-wrap;font-family:inherit}
"""

ERROR_HOOK = """window.__mmmErrors=[];
window.addEventListener('error',function(e){window.__mmmErrors.push(String(e.message||e.type))});
window.addEventListener('unhandledrejection',function(e){window.__mmmErrors.push('unhandled rejection: '+String(e.reason))});
(function(){var original=console.error;console.error=function(){
 window.__mmmErrors.push('console.error: '+Array.prototype.map.call(arguments,String).join(' '));
 return original.apply(console,arguments);};})();"""

STATUS_SCRIPT = """(function(){
function size(t){var n=0;['x','y','z','values','labels'].forEach(function(k){var v=t[k];if(v&&v.length>n){n=v.length;}});return n;}
function check(){
 var out={errors:window.__mmmErrors.slice(),panels:{}};
 document.querySelectorAll('section[data-panel]').forEach(function(p){
  if(p.dataset.available==='false'){out.panels[p.id]='unavailable';return;}
  var gd=p.querySelector('.js-plotly-plot'),n=0;
  if(gd&&gd._fullData){gd._fullData.forEach(function(t){n+=size(t);});}
  var drawn=!!(gd&&gd._fullLayout&&gd.querySelector('.main-svg'));
  out.panels[p.id]=drawn&&n>0?'rendered':(drawn?'empty':'not drawn');
 });
 out.positions={};  // where each panel sits on the page: [top, left] in CSS pixels (reading order check)
 document.querySelectorAll('section[data-panel]').forEach(function(p){
  var r=p.getBoundingClientRect();out.positions[p.id]=[Math.round(r.top+window.scrollY),Math.round(r.left)];});
 var states=Object.keys(out.panels).map(function(k){return out.panels[k];});
 out.rendered=states.filter(function(s){return s==='rendered';}).length;
 out.unavailable=states.filter(function(s){return s==='unavailable';}).length;
 out.total=states.length;
 var el=document.getElementById('mmm-report-status');
 el.setAttribute('data-json',JSON.stringify(out));el.setAttribute('data-done','true');
 el.textContent=out.total+' panels: '+out.rendered+' drawn with data, '+out.unavailable+' not available, '
  +(out.total-out.rendered-out.unavailable)+' failed; '+out.errors.length+' script errors'
  +(out.errors.length?': '+out.errors.join(' | '):'');
}
window.addEventListener('load',function(){setTimeout(check,300);});
})();"""


def render_html(panels: list[Panel], summary: Summary, title: str = "MMM dashboard", subtitle: str = "") -> str:
    """One self-contained page: plotly.js inlined once in <head>, every figure as a div + newPlot call."""
    sections = []
    for panel in panels:
        classes = "panel" + (" wide" if panel.wide else "")
        reason = panel.unavailable_reason
        if reason is not None:
            figure_title = panel.figure.layout.title.text or panel.key
            sections.append(f'<section id="{panel.element_id}" class="{classes} unavailable" data-panel="{panel.number}"'
                            f' data-available="false"><h3>{html.escape(figure_title)}</h3>'
                            f'<div class="reason">Not available: {html.escape(reason)}</div></section>')
            continue
        div = panel.figure.to_html(full_html=False, include_plotlyjs=False, div_id=f"{panel.element_id}-plot",
                                   config={"responsive": True, "displaylogo": False})
        sections.append(f'<section id="{panel.element_id}" class="{classes}" data-panel="{panel.number}" '
                        f'data-available="true">{div}</section>')
    numbers = json.dumps(summary.numbers()).replace("</", "<\\/")
    return (f"<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{STYLE_CSS}</style><script>{ERROR_HOOK}</script>"
            f"<script type='text/javascript'>{get_plotlyjs()}</script></head><body>"
            f"<header><h1>{html.escape(title)}</h1><div class='sub'>{html.escape(subtitle)}</div>{summary.to_html()}"
            f"</header><main>{''.join(sections)}</main>"
            f"<script type='application/json' id='mmm-report-numbers'>{numbers}</script>"
            f"<pre id='mmm-report-status'>rendering…</pre><script>{STATUS_SCRIPT}</script></body></html>")


def build_report(data: DashboardData, style: FigureStyle = DEFAULT_STYLE) -> tuple[str, Summary, list[Panel]]:
    """The page, its summary and its panels for one refresh."""
    panels = build_panels(data, style)
    summary = summarize(data, style)
    run = data.run
    subtitle = (f"{run.get('n_regions')} regions × {run.get('n_weeks')} weeks × {run.get('n_channels')} channels · "
                f"{_epochs(run)} · run {run.get('run_id')} · code {run.get('code_version')} · every number from the "
                "published tables of this refresh; actual KPI and inputs from the features the model was fitted on")
    page = render_html(panels, summary, title=f"MMM dashboard — refresh {data.refresh_week}", subtitle=subtitle)
    return page, summary, panels


def write_report(page: str, path: str | Path) -> Path:
    """Write the page (UTF-8) to ``path``, creating its folder. The pipeline writes its dashboards through
    its one atomic swap instead (``mmm_pipeline.storage.swap``), so a reader never sees half a report."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path


def _epochs(run: dict[str, Any]) -> str:
    """Both fits of a refresh: the holdout fit (scored) and the refit on every week (published)."""
    def count(key: str) -> str:
        value = run.get(key)
        return "?" if value is None or pd.isna(value) else str(int(value))
    return f"holdout fit {count('epochs')} epochs, refit {count('refit_epochs')} epochs"


def _share(value) -> str:
    return "n/a" if value is None or pd.isna(value) else f"{100 * float(value):.1f}%"


def _num(value) -> str:
    return "n/a" if value is None or not np.isfinite(float(value)) else f"{float(value):.3f}"


def _pct(value) -> str:
    return "n/a" if value is None or not np.isfinite(float(value)) else f"{100 * float(value):.1f}%"


def _day(value) -> str:
    return "?" if value is None or pd.isna(value) else str(pd.Timestamp(value).date())
