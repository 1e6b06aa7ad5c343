"""Raw marketing data: every row of the spec's files, kept as ingested (table raw_marketing, view raw_current),
and of its experiments file (table raw_experiments, view raw_current_experiments)."""

import dagster as dg

from mmm_core.data.contract import DataContractError
from mmm_pipeline import keys
from mmm_pipeline.metadata import column_schema
from mmm_pipeline.policies import OWNERS
from mmm_pipeline.resources import DatasetResource, WarehouseResource
from mmm_pipeline.storage import warehouse as wh


@dg.asset(
    name=keys.RAW_MARKETING_DATA, group_name="ingest", kinds={"duckdb"}, owners=OWNERS,
    description="Every row of the spec's data files, kept as ingested and never updated (table raw_marketing, "
                "loads listed in raw_loads). View raw_current is the current spec's dataset: the newest load of "
                "each file the spec names, a file listed later restating an earlier one's region-weeks. "
                "Re-ingesting an unchanged file is a no-op; a spec that reads new columns reads the file again. "
                "The spec's experiments file (lift tests), validated against that dataset, is ingested the same "
                "way in the same transaction (table raw_experiments, view raw_current_experiments): a rejected "
                "experiments file rejects the whole ingest.",
)
def raw_marketing_data(context: dg.AssetExecutionContext, dataset: DatasetResource,
                       warehouse: WarehouseResource) -> dg.MaterializeResult:
    try:
        # A bad spec is bad input too: rejected the same way, never retried.
        spec = dataset.load_spec()
        # Validate every file completely before the first write: a bad file reaches no table. The experiments
        # are validated against the dataset these files make, so they can never name a week the data lack.
        files = dataset.validated_files(spec)
        experiments = dataset.validated_experiments(spec, files)
    except DataContractError as exc:
        raise dg.Failure(description=f"input rejected: {exc}", allow_retries=False,
                         metadata={"file": str(exc.file), "column": str(exc.column), "row": str(exc.row)}) from exc
    ingested, counts = warehouse.ingest(spec, files, experiments)
    results = ingested.files
    for r in [*results, *([ingested.experiments] if ingested.experiments else [])]:
        context.log.info(f"{r.source_file}: {r.note}")
    ignored = {str(f.path): list(f.unused_columns) for f in files if f.unused_columns}
    for path, columns in ignored.items():
        context.log.info(f"{path}: columns the spec does not name are ignored: {columns}")
    return dg.MaterializeResult(metadata={
        "dagster/column_schema": column_schema(wh.raw_columns(spec)),
        "dagster/row_count": counts.get(wh.RAW_TABLE, 0),
        "new_loads": [r.load_id for r in results if r.load_id],
        "unchanged_files": [r.source_file for r in results if not r.load_id],
        "rows_added": sum(r.n_rows for r in results),
        "raw_rows": counts.get(wh.RAW_TABLE, 0),
        "current_rows": counts.get(wh.CURRENT_VIEW, 0),
        "current_loads": [r.current_load_id for r in results],
        "ignored_columns": ignored,
        "spec": dataset.spec_path,
        "experiments": 0 if experiments is None else len(experiments.tests),
        **({} if ingested.experiments is None else {
            "raw_experiments_column_schema": column_schema(wh.raw_experiment_columns()),
            "experiments_file": ingested.experiments.source_file,
            "experiments_load": ingested.experiments.current_load_id,
            "experiments_rows_added": ingested.experiments.n_rows,
        }),
    })
