"""The refresh dashboard: one self-contained HTML page per published refresh, linked from the Dagster UI."""

import datetime as dt

import dagster as dg

from mmm_core.report.dashboard import build_report
from mmm_core.report.figures import FigureStyle
from mmm_pipeline import keys
from mmm_pipeline.partitions import weekly_refresh
from mmm_pipeline.policies import OWNERS
from mmm_pipeline.resources import DatasetResource, ReportStoreResource, ServingResource, WarehouseResource
from mmm_pipeline.storage.report_data import RefreshNotPublished


@dg.asset(
    name=keys.REPORT, partitions_def=weekly_refresh, deps=[keys.SERVING_TABLES], group_name="serving",
    kinds={"plotly", "html"}, owners=OWNERS,
    description="<refresh_week>/dashboard.html in the report store: 16 interactive panels (fit, contributions, "
                "DAG, channels, response curves, budget, ROI history) built from the published tables of the "
                "refresh; plotly.js is embedded, so the file opens offline.",
)
def report(context: dg.AssetExecutionContext, warehouse: WarehouseResource, dataset: DatasetResource,
           serving: ServingResource, reports: ReportStoreResource) -> dg.MaterializeResult:
    refresh_week = dt.date.fromisoformat(context.partition_key)
    spec = dataset.load_spec()
    try:
        data = serving.dashboard_data(refresh_week, warehouse.read_inputs(refresh_week))
    except RefreshNotPublished as err:
        raise dg.Failure(str(err), allow_retries=False) from err
    page, summary, panels = build_report(data, FigureStyle(kpi_unit=spec.kpi_unit, currency=spec.currency))
    path = reports.write(refresh_week, page)
    missing = {p.key: p.unavailable_reason for p in panels if p.unavailable_reason}
    return dg.MaterializeResult(metadata={
        "dashboard": dg.MetadataValue.path(str(path)),
        "summary": dg.MetadataValue.md(summary.to_markdown()),
        "panels": len(panels),
        "panels_not_available": dg.MetadataValue.json(missing),
        "size_mb": round(path.stat().st_size / 1e6, 2),
    })
