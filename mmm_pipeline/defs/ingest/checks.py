"""Blocking checks on the raw layer: the current view (and the current experiments) satisfy the contract and are
built from the spec's files."""

import dagster as dg

from mmm_core.data.contract import DataContractError
from mmm_core.data.io import frame_to_panel
from mmm_pipeline import keys
from mmm_pipeline.resources import DatasetResource, WarehouseResource
from mmm_pipeline.storage.warehouse import CurrentViewOutOfDate


@dg.asset_check(asset=keys.RAW_MARKETING_DATA, blocking=True,
                description="The current view satisfies the data contract as a whole (weekly grid, 52+ weeks, no "
                            "negative or missing values, no dead channel) and the current experiments are valid "
                            "against it; unbalanced panels are reported, not failed.")
def current_data_satisfies_contract(dataset: DatasetResource, warehouse: WarehouseResource) -> dg.AssetCheckResult:
    spec = dataset.load_spec()
    try:
        panel = frame_to_panel(warehouse.read_current(spec), spec)
        experiments = warehouse.current_lift_tests(spec, panel)
    except (DataContractError, CurrentViewOutOfDate) as exc:
        return dg.AssetCheckResult(passed=False, description=str(exc), metadata={"error": str(exc)})
    report = panel.balance_report()
    return dg.AssetCheckResult(passed=True, metadata={
        "regions": report["n_regions"], "weeks": report["n_weeks"], "channels": panel.n_channels,
        "first_week": str(panel.weeks[0]), "last_week": str(panel.weeks[-1]),
        "missing_region_weeks": report["missing_region_weeks"],
        "regions_with_gaps": report["regions_with_gaps"],
        "late_start_regions": dg.MetadataValue.json(report["late_start_regions"]),
        "balanced": panel.is_balanced,
        "experiments": len(experiments),
    })


@dg.asset_check(asset=keys.RAW_MARKETING_DATA, blocking=True,
                description="raw_current is built from exactly the files the spec names, in the spec's order "
                            "(a later file restates an earlier one's region-weeks), each at its current content; "
                            "raw_current_experiments from the spec's experiments file at its current content (none "
                            "when the spec names none).")
def every_spec_file_is_loaded(dataset: DatasetResource, warehouse: WarehouseResource) -> dg.AssetCheckResult:
    current = warehouse.current_loads()
    in_view = {load.source_file: load.file_hash for load in current}
    spec = dataset.load_spec()
    on_disk = dataset.file_hashes(spec)
    stale = [path for path, digest in on_disk.items() if in_view.get(path) != digest]
    not_in_spec = [path for path in in_view if path not in on_disk]
    experiments = warehouse.current_experiments_load()
    loaded = None if experiments is None else (experiments.source_file, experiments.file_hash)
    wanted = dataset.experiments_hash(spec)
    if wanted is not None and loaded != wanted:
        stale.append(wanted[0])
    if loaded is not None and (wanted is None or loaded[0] != wanted[0]):
        not_in_spec.append(loaded[0])
    return dg.AssetCheckResult(passed=list(in_view.items()) == list(on_disk.items()) and loaded == wanted, metadata={
        "stale_or_missing_files": stale, "files_not_in_spec": not_in_spec,
        "current_loads": dg.MetadataValue.json([{"precedence": load.precedence, "file": load.source_file,
                                                 "load_id": load.load_id} for load in current]),
        **({} if experiments is None else {"current_experiments_load": dg.MetadataValue.json(
            {"file": experiments.source_file, "load_id": experiments.load_id})}),
    })
