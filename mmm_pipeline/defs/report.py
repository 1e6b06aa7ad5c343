"""The refresh dashboard: one self-contained HTML page per published refresh, linked from the Dagster UI."""

import datetime as dt

import dagster as dg
from dagster_duckdb import DuckDBResource

from mmm_core.report.figures import FigureStyle
from mmm_core.report.dashboard import build_report, write_report
from mmm_pipeline.defs.publish import serving_tables
from mmm_pipeline.partitions import weekly_refresh
from mmm_pipeline.report_data import (
    RefreshNotPublished,
    read_dashboard_data,
    read_inputs,
)
from mmm_pipeline.resources import ArtifactStoreResource, DatasetResource
from mmm_pipeline.serving import SERVING_FILE

REPORT_FILE = "dashboard.html"


@dg.asset(
    partitions_def=weekly_refresh, deps=[serving_tables], group_name="serving", kinds={"plotly", "html"},
    description="data/reports/<refresh_week>/dashboard.html: 16 interactive panels (fit, contributions, DAG, "
                "channels, response curves, budget, ROI history) built from the published tables of the refresh; "
                "plotly.js is embedded, so the file opens offline.",
)
def report(context: dg.AssetExecutionContext, warehouse: DuckDBResource, dataset: DatasetResource,
           artifacts: ArtifactStoreResource) -> dg.MaterializeResult:
    refresh_week = dt.date.fromisoformat(context.partition_key)
    spec = dataset.load_spec()
    with warehouse.get_connection() as conn:
        inputs = read_inputs(conn, refresh_week)
    try:
        data = read_dashboard_data(artifacts.serving_dir / SERVING_FILE, refresh_week, inputs)
    except RefreshNotPublished as err:
        raise dg.Failure(str(err), allow_retries=False) from err
    page, summary, panels = build_report(data, FigureStyle(kpi_unit=spec.kpi_unit, currency=spec.currency))
    path = write_report(page, artifacts.reports_dir / refresh_week.isoformat() / REPORT_FILE)
    missing = {p.key: p.unavailable_reason for p in panels if p.unavailable_reason}
    return dg.MaterializeResult(metadata={
        "dashboard": dg.MetadataValue.path(str(path)),
        "summary": dg.MetadataValue.md(summary.to_markdown()),
        "panels": len(panels),
        "panels_not_available": dg.MetadataValue.json(missing),
        "size_mb": round(path.stat().st_size / 1e6, 2),
    })
