"""The refresh dashboard: written by the pipeline, linked from the materialization, numbers equal to SQL on
the serving file, and every panel drawn in a real (headless) browser without a JavaScript error."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import duckdb
import numpy as np
import pytest

from mmm_core.report.dashboard import ERROR_HOOK, STATUS_SCRIPT, build_panels
from mmm_pipeline.storage.report_data import read_dashboard_data, read_inputs
from mmm_pipeline.storage.serving import SERVING_FILE
from tests.browser import figures_in_html, find_chromium, render, report_status
from tests.conftest import REFRESH_WEEKS

WEEK = REFRESH_WEEKS[-1]  # the tiny preset's last week
OPTIONAL_PANELS = {"panel-14-response-curves": "response_curve_points", "panel-15-budget-allocation": "budget_allocation"}


@pytest.fixture(scope="module")
def refreshed(published):
    """The shared refresh (both weeks, report included): its data folder and the last week's run."""
    return published.deployment.data, published.results[WEEK]


def sql(root: Path, query: str, params=(WEEK,)):
    with duckdb.connect(str(root / "serving" / SERVING_FILE), read_only=True) as conn:
        return conn.execute(query, list(params)).fetchall()


def test_report_is_written_per_refresh_and_linked_from_its_materialization(refreshed):
    root, result = refreshed
    [materialization] = result.asset_materializations_for_node("report")
    metadata = materialization.metadata
    path = Path(metadata["dashboard"].path)
    assert path == root / "reports" / WEEK / "dashboard.html" and path.exists()
    summary = metadata["summary"].md_str
    assert "holdout R² within region" in summary and "top channels by ROI" in summary
    top = sql(root, "SELECT channel FROM channel_summary WHERE refresh_week = ? ORDER BY total_contribution DESC LIMIT 1")
    assert f"top channels by total contribution: {top[0][0]}" in summary
    assert metadata["panels"].value >= 16


def test_report_numbers_equal_sql_on_the_serving_file(refreshed):
    root, _ = refreshed
    page = (root / "reports" / WEEK / "dashboard.html").read_text(encoding="utf-8")
    drawn = figures_in_html(page)

    # panel 4: direct and total contribution per channel, each drawn as its parts (own + mediated, own + induced)
    for group in ("direct", "total"):
        ends: dict[str, float] = {}
        for trace in drawn["panel-04-channel-contributions-plot"]:
            if trace.get("offsetgroup") == group:
                bases = trace.get("base") or [0.0] * len(trace["y"])
                for channel, x, base in zip(trace["y"], trace["x"], bases):
                    ends[channel] = max(ends.get(channel, 0.0), base + x)
        expected = dict(sql(root, f"SELECT channel, {group}_contribution FROM channel_summary WHERE refresh_week = ?"))
        assert ends == pytest.approx(expected, rel=1e-9), group
    # panel 6: the waterfall's total is the summed prediction
    [[total]] = sql(root, "SELECT sum(value) FROM contributions WHERE refresh_week = ?")
    assert drawn["panel-06-waterfall-plot"][0]["y"][-1] == pytest.approx(total, rel=1e-12)
    # panel 2: national predicted KPI per week
    weekly = sql(root, "SELECT week, sum(value) FROM contributions WHERE refresh_week = ? GROUP BY week ORDER BY week")
    predicted = drawn["panel-02-actual-vs-predicted-plot"][1]
    np.testing.assert_allclose(predicted["y"], [v for _, v in weekly], rtol=1e-12)
    # panel 16: ROI per channel
    roi = dict(sql(root, "SELECT channel, roi FROM channel_summary WHERE refresh_week = ?"))
    for trace in drawn["panel-16-roi-history-plot"]:
        if trace.get("mode") == "lines+markers":
            assert trace["y"][-1] == pytest.approx(roi[trace["name"]], rel=1e-12)
    # header: the numbers JSON behind the key-metric cards
    numbers = json.loads(page.split("id='mmm-report-numbers'>")[1].split("</script>")[0])
    [[holdout_r2]] = sql(root, "SELECT holdout_r2 FROM model_runs WHERE refresh_week = ?")
    assert numbers["metrics"]["holdout R² pooled"] == f"{holdout_r2:.3f}"


def test_every_panel_renders_in_headless_chromium_without_errors(refreshed, tmp_path):
    if find_chromium() is None:
        pytest.skip("no chromium binary: `make browser` installs Debian's chromium (apt-get needs root and a network)")
    root, _ = refreshed
    run = render(root / "reports" / WEEK / "dashboard.html", tmp_path)
    status = report_status(run.dom)
    assert status["errors"] == []
    assert status["total"] >= 16
    tables = {r[0] for r in sql(root, "SELECT table_name FROM duckdb_tables()", ())}
    for panel, state in status["panels"].items():
        if panel in OPTIONAL_PANELS and OPTIONAL_PANELS[panel] not in tables:
            assert state == "unavailable", panel
        else:
            assert state == "rendered", f"{panel}: {state}"
    assert run.screenshot is not None and run.screenshot.stat().st_size > 100_000, run.stderr[-2000:]
    # the page reads in panel order: top to bottom, left to right (issue 15, item 22: it read 1, 3, 2)
    reading = sorted(status["positions"], key=lambda panel: tuple(status["positions"][panel]))
    assert reading == sorted(status["positions"]), reading


def test_published_contribution_parts_add_up_to_direct_and_total(refreshed):
    """channel_summary: direct = own + mediated, total = own + induced, in the serving file (issue 15, item 17)."""
    root, _ = refreshed
    rows = sql(root, "SELECT channel, direct_contribution, total_contribution, own_contribution, "
                     "mediated_contribution, induced_contribution, roi_prior_weight FROM channel_summary "
                     "WHERE refresh_week = ?")
    assert rows
    scale = max(abs(r[1]) for r in rows)
    for channel, direct, total, own, mediated, induced, prior in rows:
        assert own + mediated == pytest.approx(direct, abs=1e-9 * scale), channel
        assert own + induced == pytest.approx(total, abs=1e-9 * scale), channel
        assert min(own, mediated, induced) >= -1e-9 * scale and 0.0 <= prior <= 1.0, channel


def test_budget_panels_show_the_published_same_budget_allocation(refreshed):
    root, _ = refreshed
    drawn = figures_in_html((root / "reports" / WEEK / "dashboard.html").read_text(encoding="utf-8"))
    rows = sql(root, "SELECT channel, current_spend, optimal_spend FROM budget_allocation WHERE refresh_week = ? "
                     "AND scope = 'national' AND scenario = 'budget_current' AND objective = 'point'")
    assert rows, "the pipeline publishes a same-budget scenario"
    # the refresh also planned risk-averse budgets; the panels show the point plan
    assert sql(root, "SELECT count(*) FROM budget_allocation WHERE refresh_week = ? AND objective <> 'point'")[0][0]
    optimal = {channel: spend for channel, _, spend in rows}
    bars = [t for t in drawn["panel-15-budget-allocation-plot"] if t["name"] == "optimal" and t.get("visible", True)]
    assert dict(zip(bars[0]["y"], bars[0]["x"])) == pytest.approx(optimal, rel=1e-12)  # horizontal bars
    markers = {t["name"].removesuffix(" optimal"): t["x"][0] for t in drawn["panel-14-response-curves-plot"]
               if t["name"].endswith(" optimal")}
    assert markers == pytest.approx(optimal, rel=1e-12)


def test_a_serving_file_without_curve_tables_makes_panels_14_and_15_say_so(refreshed, tmp_path):
    root, _ = refreshed
    serving = tmp_path / SERVING_FILE
    shutil.copy(root / "serving" / SERVING_FILE, serving)
    with duckdb.connect(str(serving)) as conn:  # as written by a pipeline version before the curve tables
        for table in ("response_curves", "response_curve_points", "budget_scenarios", "budget_allocation"):
            conn.execute(f"DROP VIEW IF EXISTS latest_{table}")
            conn.execute(f"DROP TABLE IF EXISTS {table}")
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as conn:
        inputs = read_inputs(conn, dt.date.fromisoformat(WEEK))
    panels = {p.number: p for p in build_panels(read_dashboard_data(serving, dt.date.fromisoformat(WEEK), inputs))}
    assert "no response_curve_points table" in panels[14].unavailable_reason
    assert "no budget_allocation table" in panels[15].unavailable_reason
    assert all(p.unavailable_reason is None for n, p in panels.items() if n not in (14, 15))


def test_the_browser_check_sees_script_errors_and_undrawn_panels(tmp_path):
    """The status script is not vacuous: a failing page reports its errors and its empty panel."""
    if find_chromium() is None:
        pytest.skip("no chromium binary: `make browser` installs Debian's chromium (apt-get needs root and a network)")
    page = (f"<html><head><script>{ERROR_HOOK}</script></head><body>"
            "<section data-panel='1' id='panel-01-broken' data-available='true'></section>"
            "<pre id='mmm-report-status'></pre><script>console.error('boom'); notDefined();</script>"
            f"<script>{STATUS_SCRIPT}</script></body></html>")
    (tmp_path / "broken.html").write_text(page)
    status = report_status(render(tmp_path / "broken.html", tmp_path / "chromium").dom)
    assert status["panels"] == {"panel-01-broken": "not drawn"}
    assert any("boom" in e for e in status["errors"]) and any("notDefined" in e for e in status["errors"])
