"""Blocking checks on the raw layer: the current view satisfies the contract, and every spec file is loaded."""

import dagster as dg

from mmm_core.data.contract import DataContractError
from mmm_core.data.io import frame_to_panel
from mmm_pipeline import keys
from mmm_pipeline.resources import DatasetResource, WarehouseResource


@dg.asset_check(asset=keys.RAW_MARKETING_DATA, blocking=True,
                description="The current view satisfies the data contract as a whole (weekly grid, 52+ weeks, no "
                            "negative or missing values, no dead channel); unbalanced panels are reported, not failed.")
def current_data_satisfies_contract(dataset: DatasetResource, warehouse: WarehouseResource) -> dg.AssetCheckResult:
    spec = dataset.load_spec()
    try:
        panel = frame_to_panel(warehouse.read_current(spec), spec)
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


@dg.asset_check(asset=keys.RAW_MARKETING_DATA, blocking=True,
                description="Every file the spec names is in the warehouse at its current content (hash).")
def every_spec_file_is_loaded(dataset: DatasetResource, warehouse: WarehouseResource) -> dg.AssetCheckResult:
    loaded = warehouse.loaded_hashes()
    stale = [path for path, digest in dataset.file_hashes(dataset.load_spec()).items() if loaded.get(path) != digest]
    return dg.AssetCheckResult(passed=not stale, metadata={"stale_or_missing_files": stale,
                                                           "loaded_files": len(loaded)})
