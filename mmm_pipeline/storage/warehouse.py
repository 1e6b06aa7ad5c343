"""SQL for the DuckDB warehouse: the raw layer (every ingested row, kept) and its current view.

``raw_marketing`` is append-only: one load per file version read, rows as ingested. The current view,
``raw_current``, is the dataset the CURRENT spec describes, built from the warehouse alone: the newest load of
each file the spec names (table ``raw_current_loads``, rewritten by every ingest, in the spec's ``files``
order), one row per (region, week), a file listed later in the spec winning where several hold the same
(region, week) (the rule of ``mmm_core.data.io.dataset_rows``). Rows of files the spec no longer names, and of
older versions of its files, stay in ``raw_marketing`` as history and leave the current view.

Loads are listed in ``raw_loads`` (``storage.loads``: one rule for every raw table). The spec's experiments file
(lift tests) is ingested by the same call, in the same transaction, with the same rules
(``storage.experiments``: tables ``raw_experiments``, ``raw_current_experiments``); its current rows are read
back here, checked against the same ingest as the data files.

Functions take an open DuckDB connection, so callers keep connections short (``resources.WarehouseResource``)
and tests can call them on a file in ``tmp_path``. Every identifier that comes from user data is
quoted with :func:`quote_ident`; values always travel as parameters or registered frames.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

import duckdb
import pandas as pd

from mmm_core.data.contract import Panel
from mmm_core.data.experiments import LiftTest, lift_tests_from_frame
from mmm_core.data.io import ValidatedFile, frame_to_panel
from mmm_core.data.spec import DatasetSpec, column_key
from mmm_pipeline.storage import experiments as ex
from mmm_pipeline.storage.experiments import CURRENT_EXPERIMENTS_LOAD_TABLE, CURRENT_EXPERIMENTS_VIEW
from mmm_pipeline.storage.experiments import raw_experiment_columns  # noqa: F401  (the ingest asset's schema)
from mmm_pipeline.storage.loads import LOAD_COLUMNS, LOADS_TABLE, LoadResult, Loads, table_exists

RAW_TABLE = "raw_marketing"
CURRENT_VIEW = "raw_current"
CURRENT_LOADS_TABLE = "raw_current_loads"
INGEST_ASSET = "raw_marketing_data"
"""The Dagster asset that runs :func:`ingest` (named in errors that ask for it; storage never imports dagster)."""


RAW_LOAD_COLUMNS = (*LOAD_COLUMNS, ("week_date", "DATE", "the row's week as a date (derived from the week column)"))
"""The columns ``raw_marketing`` adds to the spec's own: (name, SQL type, description), in table order."""


def raw_columns(spec: DatasetSpec) -> list[tuple[str, str, str]]:
    """Every column of ``raw_marketing`` for ``spec``: the load columns, then the spec's columns as in the file."""
    return [*RAW_LOAD_COLUMNS, *((c, _sql_type(spec, c), "as in the data file") for c in spec.columns)]


def quote_ident(name: str) -> str:
    """A SQL identifier for any column name (spaces, quotes, unicode, keywords such as ``select``)."""
    return '"' + str(name).replace('"', '""') + '"'


class CurrentViewOutOfDate(RuntimeError):
    """``raw_current`` was built for another spec (other files, or a spec with another fingerprint), or never built."""


@dataclass(frozen=True)
class Ingested:
    """What one ingestion did: per data file (the spec's order), and for the experiments file (None: the spec
    names none)."""

    files: list[LoadResult]
    experiments: LoadResult | None = None


@dataclass(frozen=True)
class CurrentLoad:
    """One file of the current view: its place in the spec's ``files`` (1 = first; higher wins) and its load."""

    precedence: int
    source_file: str
    load_id: str
    file_hash: str
    spec_fingerprint: str  # of the spec the view was built for (not necessarily the one that read the load)


READ_NEUTRAL_SPEC_KEYS = ("name", "kpi_unit", "currency", "files", "kpi_column", "population_column", "channels",
                         "controls", "experiments")
"""Spec keys that do not change the rows a load stores from a data file (names, units, which column plays which
role, the experiments file); :func:`read_layout` keeps every other key, so a spec key added later counts as
changing them."""


def read_layout(spec: DatasetSpec) -> dict:
    """What decides the rows a load stores from a file: every spec key but :data:`READ_NEUTRAL_SPEC_KEYS` (the
    week and region columns, ``week_start``, how dates and numbers are written), plus the columns read."""
    layout = {key: value for key, value in spec.to_dict().items() if key not in READ_NEUTRAL_SPEC_KEYS}
    layout["columns"] = sorted(spec.columns)
    return json.loads(json.dumps(layout, sort_keys=True))  # as stored in raw_loads.read_layout


def load_serves(layout: str | None, spec: DatasetSpec) -> bool:
    """Whether a load (its stored ``read_layout`` JSON) holds every column ``spec`` reads, read the same way, so
    an unchanged file need not be read again (a spec that adds a control the file always had needs it). A load
    written before layouts were recorded (None) never serves: its file is read once more by today's reader."""
    if layout is None:
        return False
    stored, wanted = json.loads(layout), read_layout(spec)
    stored_columns, wanted_columns = set(stored.pop("columns")), set(wanted.pop("columns"))
    return stored == wanted and wanted_columns <= stored_columns


def _sql_type(spec: DatasetSpec, column: str) -> str:
    if column == spec.region_column:
        return "VARCHAR"
    if column == spec.week_column:
        return "BIGINT" if spec.week_start is not None else "DATE"
    return "DOUBLE"


def _ensure_tables(conn: duckdb.DuckDBPyConnection) -> None:
    columns = ", ".join(f"{name} {sql_type} NOT NULL" for name, sql_type, _ in RAW_LOAD_COLUMNS)
    conn.execute(f"CREATE TABLE IF NOT EXISTS {RAW_TABLE} ({columns})")
    conn.execute(f"""
        CREATE TABLE IF NOT EXISTS {CURRENT_LOADS_TABLE} (
            precedence INTEGER NOT NULL, source_file VARCHAR NOT NULL, load_id VARCHAR NOT NULL,
            spec_fingerprint VARCHAR NOT NULL)""")


def _ensure_columns(conn: duckdb.DuckDBPyConnection, spec: DatasetSpec) -> None:
    """Add the spec's data columns the raw table lacks (a spec may gain a control, another dataset other columns).

    DuckDB matches identifiers without regard to ASCII case, so a dataset's ``Price`` is stored in the column an
    earlier dataset created as ``price`` (and read back under either name).
    """
    existing = {column_key(row[0]): row[1] for row in conn.execute(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = 'main' "
        "AND table_name = ?", [RAW_TABLE]).fetchall()}
    for column in spec.columns:
        wanted = _sql_type(spec, column)
        have = existing.get(column_key(column))
        if have is None:
            conn.execute(f"ALTER TABLE {RAW_TABLE} ADD COLUMN {quote_ident(column)} {wanted}")
        elif have != wanted:
            raise ValueError(f"column {column!r} is {have} in {RAW_TABLE} but the spec now makes it "
                             f"{wanted}; rename the column or start a new warehouse")


def ingest(conn: duckdb.DuckDBPyConnection, spec: DatasetSpec, files: list[ValidatedFile],
           now: dt.datetime | None = None, experiments: ex.ValidatedExperiments | None = None) -> Ingested:
    """Append every file that needs it as a new load and point the current view at ``spec``'s files (and
    ``raw_current_experiments`` at its ``experiments`` file, validated against ``files``), in one transaction
    (all or nothing).

    ``files`` are the spec's files in its ``files`` order. A file is skipped when its newest load has the same
    content hash and holds every column the spec reads, read the same way (:func:`load_serves`): re-ingesting
    is a no-op, while a spec that adds a column the file always had reads the file again. Rows are stored as
    ingested (the file's own column names and values), with load metadata and the row's 1-based position in
    its file, so any published number can be traced back to a file row. The current view is rebuilt even
    when nothing was written: switching back to a dataset whose files are all loaded switches the view.
    The experiments file follows the same rules (a no-op when unchanged); a spec without one empties
    ``raw_current_experiments`` and keeps the rows as history.
    """
    now = now or dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    conn.execute("BEGIN TRANSACTION")
    try:
        _ensure_tables(conn)
        loads = Loads(conn, spec, now)
        results = [loads.append(str(vf.path), vf.file_hash, vf.frame, read_layout(spec),
                                serves=lambda layout: load_serves(layout, spec),
                                insert=lambda rows: _insert_rows(conn, spec, rows),
                                read_again="same content, read again: the spec reads columns (or reads them in a "
                                           "way) its newest load lacks")
                   for vf in files]
        _set_current_loads(conn, spec, [r.current_load_id for r in results], [r.source_file for r in results])
        create_current_view(conn, spec)
        experiments_result = ex.ingest_experiments(conn, spec, experiments, loads)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return Ingested(results, experiments_result)


def _insert_rows(conn: duckdb.DuckDBPyConnection, spec: DatasetSpec, rows: pd.DataFrame) -> None:
    """Insert one data file's rows, with their load columns, into raw_marketing."""
    _ensure_columns(conn, spec)
    # Registered frames carry the user's column names verbatim; each is quoted in the SELECT.
    conn.register("incoming_rows", rows)
    names = [*(name for name, _, _ in RAW_LOAD_COLUMNS), *spec.columns]
    select = ", ".join(
        f"CAST({quote_ident(c)} AS DATE)" if c in ("week_date",) or
        (c == spec.week_column and spec.week_start is None) else quote_ident(c) for c in names)
    conn.execute(f"INSERT INTO {RAW_TABLE} ({', '.join(map(quote_ident, names))}) SELECT {select} FROM incoming_rows")
    conn.unregister("incoming_rows")


def _set_current_loads(conn: duckdb.DuckDBPyConnection, spec: DatasetSpec, load_ids: list[str],
                       source_files: list[str]) -> None:
    """Replace raw_current_loads with the spec's files, in its ``files`` order (precedence 1, 2, ...)."""
    conn.execute(f"DELETE FROM {CURRENT_LOADS_TABLE}")
    fingerprint = spec.fingerprint()
    for precedence, (load_id, source) in enumerate(zip(load_ids, source_files), start=1):
        conn.execute(f"INSERT INTO {CURRENT_LOADS_TABLE} VALUES (?, ?, ?, ?)",
                     [precedence, source, load_id, fingerprint])


def create_current_view(conn: duckdb.DuckDBPyConnection, spec: DatasetSpec) -> None:
    """``raw_current``: the load columns and the spec's columns of the loads in raw_current_loads, one row per
    (region, week), taken from the file with the highest precedence (listed last in the spec) that has it."""
    region = f"r.{quote_ident(spec.region_column)}" if spec.region_column else "'national'"
    columns = ", ".join(f"r.{quote_ident(c)} AS {quote_ident(c)}"  # the spec's spelling (see _ensure_columns)
                        for c in (*(name for name, _, _ in RAW_LOAD_COLUMNS), *spec.columns))
    conn.execute(f"""
        CREATE OR REPLACE VIEW {CURRENT_VIEW} AS
        SELECT {columns} FROM {RAW_TABLE} AS r JOIN {CURRENT_LOADS_TABLE} AS c ON r.load_id = c.load_id
        QUALIFY row_number() OVER (PARTITION BY {region}, r.week_date ORDER BY c.precedence DESC) = 1""")


def current_loads(conn: duckdb.DuckDBPyConnection) -> list[CurrentLoad]:
    """The files the current view is built from, by precedence (empty before the first ingest)."""
    if not table_exists(conn, CURRENT_LOADS_TABLE):
        return []
    rows = conn.execute(f"""
        SELECT c.precedence, c.source_file, c.load_id, l.file_hash, c.spec_fingerprint
        FROM {CURRENT_LOADS_TABLE} AS c JOIN {LOADS_TABLE} AS l ON c.load_id = l.load_id
        ORDER BY c.precedence""").fetchall()
    return [CurrentLoad(*row) for row in rows]


def check_current_view_is_for(conn: duckdb.DuckDBPyConnection, spec: DatasetSpec) -> list[CurrentLoad]:
    """The current loads, after checking that the last ingest was of ``spec`` (same files in the same order,
    same fingerprint); raises :class:`CurrentViewOutOfDate` saying to run the ingest asset otherwise."""
    loads = current_loads(conn)
    if not loads:
        raise CurrentViewOutOfDate(f"{CURRENT_VIEW} holds no dataset yet: materialise {INGEST_ASSET} first")
    built_for = [load.source_file for load in loads]
    wanted = [str(p) for p in spec.resolve_files(allow_outside=True)]  # paths only: nothing is read here
    if built_for != wanted or {load.spec_fingerprint for load in loads} != {spec.fingerprint()}:
        raise CurrentViewOutOfDate(
            f"{CURRENT_VIEW} was built for another spec (files {built_for}, spec fingerprint "
            f"{loads[0].spec_fingerprint}); the spec now names {wanted} (fingerprint {spec.fingerprint()}): "
            f"materialise {INGEST_ASSET} first")
    return loads


def read_current(conn: duckdb.DuckDBPyConnection, spec: DatasetSpec) -> pd.DataFrame:
    """The current view as a frame in the form ``mmm_core.data.io.frame_to_panel`` takes (spec columns + week_date).

    Raises :class:`CurrentViewOutOfDate` when the view was built for another spec (the ingest has not run since
    the spec changed), rather than handing over another dataset's rows.
    """
    check_current_view_is_for(conn, spec)
    cols = ", ".join(f"{quote_ident(c)} AS {quote_ident(c)}" for c in (*spec.columns, "week_date"))
    order = (quote_ident(spec.region_column) + ", " if spec.region_column else "") + "week_date"
    frame = conn.execute(f"SELECT {cols} FROM {CURRENT_VIEW} ORDER BY {order}").df()
    frame["week_date"] = pd.to_datetime(frame["week_date"])
    return frame


def current_experiments_load(conn: duckdb.DuckDBPyConnection) -> CurrentLoad | None:
    """The load raw_current_experiments is built from (precedence 1), or None (no experiments ingested for the
    current spec)."""
    if not table_exists(conn, CURRENT_EXPERIMENTS_LOAD_TABLE):
        return None
    row = conn.execute(f"""
        SELECT c.source_file, c.load_id, l.file_hash, c.spec_fingerprint
        FROM {CURRENT_EXPERIMENTS_LOAD_TABLE} AS c JOIN {LOADS_TABLE} AS l ON c.load_id = l.load_id""").fetchone()
    return None if row is None else CurrentLoad(1, *row)


def read_current_experiments(conn: duckdb.DuckDBPyConnection, spec: DatasetSpec) -> tuple[str, pd.DataFrame] | None:
    """(the experiments file, its current rows in ``storage.experiments.FILE_COLUMNS``, file order), or None when
    ``spec`` names no experiments file. Raises :class:`CurrentViewOutOfDate` when the last ingest was not of
    ``spec`` (it checks the data files' view too: both are written by one ingest)."""
    check_current_view_is_for(conn, spec)
    wanted = spec.resolve_experiments(allow_outside=True)  # the path only: nothing is read here
    if wanted is None:
        return None
    load = current_experiments_load(conn)
    if load is None or load.source_file != str(wanted) or load.spec_fingerprint != spec.fingerprint():
        held = load.source_file if load else "none"
        raise CurrentViewOutOfDate(f"{CURRENT_EXPERIMENTS_VIEW} does not hold the spec's experiments file {wanted} "
                                   f"(it holds {held}): materialise {INGEST_ASSET} first")
    columns = ", ".join(name for name, _, _ in ex.FILE_COLUMNS)
    frame = conn.execute(f"SELECT {columns} FROM {CURRENT_EXPERIMENTS_VIEW} ORDER BY source_row").df()
    return load.source_file, frame


def current_lift_tests(conn: duckdb.DuckDBPyConnection, spec: DatasetSpec,
                       panel: Panel | None = None) -> tuple[LiftTest, ...]:
    """The current experiments (none when ``spec`` names no file), validated as at ingest against the current
    dataset (``panel``: ``raw_current``'s, built here when not given). Only these rows are ever trained on: older
    loads and files the spec no longer names stay history."""
    current = read_current_experiments(conn, spec)
    if current is None:
        return ()
    source_file, frame = current
    panel = panel if panel is not None else frame_to_panel(read_current(conn, spec), spec)
    return lift_tests_from_frame(frame, panel, source_file, spec.date_format)


def table_counts(conn: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Row count of every table and view in the main schema."""
    names = [r[0] for r in conn.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' ORDER BY 1").fetchall()]
    return {n: conn.execute(f"SELECT count(*) FROM {quote_ident(n)}").fetchone()[0] for n in names}
