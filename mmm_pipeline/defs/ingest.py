"""Raw spend ingestion: the files a dataset spec names → the warehouse's raw layer, plus contract checks."""

import dagster as dg
from dagster_duckdb import DuckDBResource

from mmm_core.data.contract import DataContractError
from mmm_core.data.io import file_sha256, frame_to_panel, validate_dataset
from mmm_pipeline import warehouse as wh
from mmm_pipeline.policies import WAREHOUSE_RETRY
from mmm_pipeline.resources import DatasetResource


@dg.asset(
    group_name="ingest",
    kinds={"duckdb"},
    retry_policy=WAREHOUSE_RETRY,
    description="Every row of the spec's data files, kept as ingested with load id, source file, file hash and "
                "load time (table raw_marketing); raw_current holds the newest value per (region, week).",
)
def raw_marketing_data(context: dg.AssetExecutionContext, dataset: DatasetResource,
                       warehouse: DuckDBResource) -> dg.MaterializeResult:
    try:
        # A bad spec is bad input too: rejected the same way, never retried.
        spec = dataset.load_spec()
        # Validate every file completely before the first write: a bad file reaches no table.
        files = validate_dataset(spec, allow_outside_paths=dataset.allow_outside_paths)
    except DataContractError as exc:
        raise dg.Failure(description=f"input rejected: {exc}", allow_retries=False,
                         metadata={"file": str(exc.file), "column": str(exc.column), "row": str(exc.row)}) from exc
    with warehouse.get_connection() as conn:
        results = wh.ingest(conn, spec, files)
        counts = wh.table_counts(conn)
    for r in results:
        context.log.info(f"{r.source_file}: " + (f"new load {r.load_id}, {r.n_rows} rows" if r.load_id
                                                  else "unchanged since its last load, skipped"))
    return dg.MaterializeResult(metadata={
        "new_loads": [r.load_id for r in results if r.load_id],
        "unchanged_files": [r.source_file for r in results if not r.load_id],
        "rows_added": sum(r.n_rows for r in results),
        "raw_rows": counts.get(wh.RAW_TABLE, 0),
        "current_rows": counts.get(wh.CURRENT_VIEW, 0),
        "spec": dataset.spec_path,
    })


@dg.asset_check(asset=raw_marketing_data, blocking=True,
                description="The current view satisfies the data contract as a whole (weekly grid, 52+ weeks, no "
                            "negative or missing values, no dead channel); unbalanced panels are reported, not failed.")
def current_data_satisfies_contract(dataset: DatasetResource, warehouse: DuckDBResource) -> dg.AssetCheckResult:
    spec = dataset.load_spec()
    with warehouse.get_connection() as conn:
        frame = wh.read_current(conn, spec)
    try:
        panel = frame_to_panel(frame, spec)
    except DataContractError as exc:
        return dg.AssetCheckResult(passed=False, description=str(exc), metadata={"error": str(exc)})
    report = panel.balance_report()
    return dg.AssetCheckResult(passed=True, metadata={
        "regions": report["n_regions"], "weeks": report["n_weeks"], "channels": panel.n_channels,
        "first_week": str(panel.weeks[0]), "last_week": str(panel.weeks[-1]),
        "missing_region_weeks": report["missing_region_weeks"],
        "regions_with_gaps": report["regions_with_gaps"],
        "late_start_regions": dg.MetadataValue.json(report["late_start_regions"]),
        "balanced": panel.is_balanced,
    })


@dg.asset_check(asset=raw_marketing_data, blocking=True,
                description="Every file the spec names is in the warehouse at its current content (hash).")
def every_spec_file_is_loaded(dataset: DatasetResource, warehouse: DuckDBResource) -> dg.AssetCheckResult:
    spec = dataset.load_spec()
    with warehouse.get_connection() as conn:
        loaded = wh.latest_hashes(conn)
    stale = [str(p) for p in spec.resolve_files(dataset.allow_outside_paths)
             if loaded.get(str(p)) != (file_sha256(p) if p.is_file() else None)]
    return dg.AssetCheckResult(passed=not stale, metadata={"stale_or_missing_files": stale,
                                                           "loaded_files": len(loaded)})
