"""The spec's experiments file on its way into the warehouse: validated against the dataset, then kept as read
(table ``raw_experiments``, view ``raw_current_experiments``; ``warehouse.ingest`` calls :func:`ingest_experiments`
in its transaction, and ``warehouse`` reads the current rows back).

The file is validated before anything is written (``mmm_core.data.experiments.lift_tests_from_frame``, against
the panel the validated data files make together), so a bad experiments file rejects the whole ingest. Its rows
are stored as ``mmm_core.data.experiments.file_rows`` gives them: text cells as text (the weeks too, as written,
so the spec's ``date_format`` reads them back), numbers as numbers, an absent column or an empty number as NULL.
Reading the stored rows back through the same validator gives the same tests. ``raw_experiments`` is
append-only with the data files' load rules (``storage.loads``); ``raw_current_experiments`` holds the rows of
the current spec's experiments file's newest load (pointer table ``raw_current_experiments_load``, empty for a
spec without experiments). Both tables exist only once a spec has named an experiments file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from mmm_core.data.experiments import FILE_COLUMNS as FILE_COLUMN_NAMES
from mmm_core.data.experiments import NUMBER_COLUMNS, LiftTest, file_rows, lift_tests_from_frame
from mmm_core.data.io import ValidatedFile, dataset_rows, file_sha256, frame_to_panel, read_table
from mmm_core.data.spec import DatasetSpec
from mmm_pipeline.storage.loads import LOAD_COLUMNS, LoadResult, Loads, table_exists

EXPERIMENTS_TABLE = "raw_experiments"
CURRENT_EXPERIMENTS_VIEW = "raw_current_experiments"
CURRENT_EXPERIMENTS_LOAD_TABLE = "raw_current_experiments_load"

_DESCRIPTIONS = {
    "experiment": "experiment id, as in the file",
    "channel": "channel, as in the file",
    "region": "test region, 'all' or empty for a national test, as in the file",
    "first_week": "first test week as written in the file (read with the spec's date_format)",
    "last_week": "last test week as written in the file",
    "cooldown_weeks": "weeks after the test over which the lift was measured (NULL: 0)",
    "spend_multiplier": "the test's spend over the recorded spend (NULL when spend_change is given)",
    "spend_change": "currency added over the test cells (NULL when spend_multiplier is given)",
    "lift": "measured incremental KPI (KPI units)",
    "lift_se": "standard error of lift",
}
FILE_COLUMNS = tuple((name, "DOUBLE" if name in NUMBER_COLUMNS else "VARCHAR", _DESCRIPTIONS[name])
                     for name in FILE_COLUMN_NAMES)
"""The experiments file's columns as ``raw_experiments`` stores them: (name, SQL type, description), in order."""


@dataclass(frozen=True)
class ValidatedExperiments:
    """The spec's experiments file after validation: its rows in ``FILE_COLUMNS`` (file order) and its tests."""

    path: Path
    file_hash: str
    frame: pd.DataFrame
    tests: tuple[LiftTest, ...]


def raw_experiment_columns() -> list[tuple[str, str, str]]:
    """Every column of ``raw_experiments``: the load columns, then the experiments file's columns."""
    return [*LOAD_COLUMNS, *FILE_COLUMNS]


def validate_experiments(spec: DatasetSpec, files: list[ValidatedFile],
                         allow_outside_paths: bool = False) -> ValidatedExperiments | None:
    """Read the spec's experiments file and validate it against the dataset ``files`` make (validated data
    files, the spec's order); None when the spec names none. Raises ``DataContractError`` naming the file,
    column, row and value."""
    path = spec.resolve_experiments(allow_outside_paths)
    if path is None:
        return None
    panel = frame_to_panel(dataset_rows(files, spec), spec)
    raw = read_table(path, spec.delimiter)
    tests = lift_tests_from_frame(raw, panel, str(path), spec.date_format)
    return ValidatedExperiments(path, file_sha256(path), file_rows(raw, spec.date_format), tests)


def read_layout(spec: DatasetSpec) -> dict:
    """What decides the rows a load stores from an experiments file: how the file is split and how weeks that a
    Parquet file holds as dates are written as text. Stored in ``raw_loads.read_layout``."""
    return {"experiments": {"delimiter": spec.delimiter, "date_format": spec.date_format}}


def load_serves(layout: str | None, spec: DatasetSpec) -> bool:
    """Whether an experiments load (its stored ``read_layout`` JSON) was read the way ``spec`` reads the file."""
    return layout is not None and json.loads(layout) == json.loads(json.dumps(read_layout(spec)))


def ingest_experiments(conn: duckdb.DuckDBPyConnection, spec: DatasetSpec, experiments: ValidatedExperiments | None,
                       loads: Loads) -> LoadResult | None:
    """Append the experiments file as a new load unless its newest load has this content, read the same way, and
    point raw_current_experiments at the load either way; without ``experiments`` (the spec names none) empty
    the pointer, keeping the rows as history. Runs in the caller's transaction."""
    if experiments is None:
        if table_exists(conn, CURRENT_EXPERIMENTS_LOAD_TABLE):
            conn.execute(f"DELETE FROM {CURRENT_EXPERIMENTS_LOAD_TABLE}")
        return None
    _ensure_experiment_tables(conn)
    source = str(experiments.path)
    result = loads.append(source, experiments.file_hash, experiments.frame, read_layout(spec),
                          serves=lambda layout: load_serves(layout, spec), insert=lambda rows: _insert(conn, rows),
                          read_again="same content, read again in the spec's way",
                          detail=f", {len(experiments.tests)} experiments")
    conn.execute(f"DELETE FROM {CURRENT_EXPERIMENTS_LOAD_TABLE}")
    conn.execute(f"INSERT INTO {CURRENT_EXPERIMENTS_LOAD_TABLE} VALUES (?, ?, ?)",
                 [source, result.current_load_id, spec.fingerprint()])
    return result


def _insert(conn: duckdb.DuckDBPyConnection, rows: pd.DataFrame) -> None:
    names = ", ".join(name for name, _, _ in raw_experiment_columns())
    conn.register("incoming_experiments", rows)
    conn.execute(f"INSERT INTO {EXPERIMENTS_TABLE} ({names}) SELECT {names} FROM incoming_experiments")
    conn.unregister("incoming_experiments")


def _ensure_experiment_tables(conn: duckdb.DuckDBPyConnection) -> None:
    load_columns = {name for name, _, _ in LOAD_COLUMNS}
    columns = ", ".join(f"{name} {sql_type}" + (" NOT NULL" if name in load_columns else "")
                        for name, sql_type, _ in raw_experiment_columns())
    conn.execute(f"CREATE TABLE IF NOT EXISTS {EXPERIMENTS_TABLE} ({columns})")
    conn.execute(f"""
        CREATE TABLE IF NOT EXISTS {CURRENT_EXPERIMENTS_LOAD_TABLE} (
            source_file VARCHAR NOT NULL, load_id VARCHAR NOT NULL, spec_fingerprint VARCHAR NOT NULL)""")
    names = ", ".join(f"r.{name}" for name, _, _ in raw_experiment_columns())
    conn.execute(f"""
        CREATE OR REPLACE VIEW {CURRENT_EXPERIMENTS_VIEW} AS
        SELECT {names} FROM {EXPERIMENTS_TABLE} AS r
        JOIN {CURRENT_EXPERIMENTS_LOAD_TABLE} AS c ON r.load_id = c.load_id""")
