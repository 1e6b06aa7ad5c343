"""SQL for the DuckDB warehouse: the raw layer (every ingested row, kept) and its current view.

Functions take an open DuckDB connection, so callers keep connections short (``resources.WarehouseResource``)
and tests can call them on a file in ``tmp_path``. Every identifier that comes from user data is
quoted with :func:`quote_ident`; values always travel as parameters or registered frames.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb
import pandas as pd

from mmm_core.data.io import ValidatedFile
from mmm_core.data.spec import DatasetSpec

RAW_TABLE = "raw_marketing"
LOADS_TABLE = "raw_loads"
CURRENT_VIEW = "raw_current"


RAW_LOAD_COLUMNS = (
    ("load_id", "VARCHAR", "L<seq>-<hash prefix>, one per ingested file version"),
    ("load_seq", "INTEGER", "load order"),
    ("source_file", "VARCHAR", "absolute path of the file"),
    ("file_hash", "VARCHAR", "SHA-256 of the file's bytes"),
    ("loaded_at", "TIMESTAMP", "UTC load time"),
    ("source_row", "INTEGER", "1-based data row in the file"),
    ("week_date", "DATE", "the row's week as a date (derived from the week column)"),
)
"""The columns ``raw_marketing`` adds to the spec's own: (name, SQL type, description), in table order."""


def raw_columns(spec: DatasetSpec) -> list[tuple[str, str, str]]:
    """Every column of ``raw_marketing`` for ``spec``: the load columns, then the spec's columns as in the file."""
    return [*RAW_LOAD_COLUMNS, *((c, _sql_type(spec, c), "as in the data file") for c in spec.columns)]


def quote_ident(name: str) -> str:
    """A SQL identifier for any column name (spaces, quotes, unicode, keywords such as ``select``)."""
    return '"' + str(name).replace('"', '""') + '"'


@dataclass(frozen=True)
class LoadResult:
    """What one ingestion did per file: a new load, or nothing because the file is unchanged."""

    source_file: str
    file_hash: str
    load_id: str | None  # None: unchanged since its latest load, nothing written
    n_rows: int


def _sql_type(spec: DatasetSpec, column: str) -> str:
    if column == spec.region_column:
        return "VARCHAR"
    if column == spec.week_column:
        return "BIGINT" if spec.week_start is not None else "DATE"
    return "DOUBLE"


def _ensure_tables(conn: duckdb.DuckDBPyConnection) -> None:
    conn.execute(f"""
        CREATE TABLE IF NOT EXISTS {LOADS_TABLE} (
            load_id VARCHAR PRIMARY KEY, load_seq INTEGER NOT NULL, source_file VARCHAR NOT NULL,
            file_hash VARCHAR NOT NULL, spec_fingerprint VARCHAR NOT NULL, loaded_at TIMESTAMP NOT NULL,
            n_rows INTEGER NOT NULL)""")
    columns = ", ".join(f"{name} {sql_type} NOT NULL" for name, sql_type, _ in RAW_LOAD_COLUMNS)
    conn.execute(f"CREATE TABLE IF NOT EXISTS {RAW_TABLE} ({columns})")


def _ensure_columns(conn: duckdb.DuckDBPyConnection, spec: DatasetSpec, frame: pd.DataFrame) -> None:
    """Add the spec's data columns the raw table lacks (a spec may gain a control later)."""
    existing = {row[0]: row[1] for row in conn.execute(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ?", [RAW_TABLE]).fetchall()}
    for column in spec.columns:
        wanted = _sql_type(spec, column)
        if column not in existing:
            conn.execute(f"ALTER TABLE {RAW_TABLE} ADD COLUMN {quote_ident(column)} {wanted}")
        elif existing[column] != wanted:
            raise ValueError(f"column {column!r} is {existing[column]} in {RAW_TABLE} but the spec now makes it "
                             f"{wanted}; rename the column or start a new warehouse")


def latest_hashes(conn: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """source_file -> hash of its newest load."""
    _ensure_tables(conn)
    rows = conn.execute(f"""
        SELECT source_file, arg_max(file_hash, load_seq) FROM {LOADS_TABLE} GROUP BY source_file""").fetchall()
    return dict(rows)


def ingest(conn: duckdb.DuckDBPyConnection, spec: DatasetSpec, files: list[ValidatedFile],
           now: dt.datetime | None = None) -> list[LoadResult]:
    """Append every changed file as a new load, in one transaction (all files or none).

    A file whose content hash equals its newest load is skipped: re-ingesting is a no-op. Rows are
    stored as ingested (the file's own column names and values), with load metadata and the row's
    1-based position in its file, so any published number can be traced back to a file row.
    """
    now = now or dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    results: list[LoadResult] = []
    conn.execute("BEGIN TRANSACTION")
    try:
        previous = latest_hashes(conn)
        next_seq = conn.execute(f"SELECT coalesce(max(load_seq), 0) + 1 FROM {LOADS_TABLE}").fetchone()[0]
        for vf in files:
            source = str(vf.path)
            if previous.get(source) == vf.file_hash:
                results.append(LoadResult(source, vf.file_hash, None, 0))
                continue
            load_id = f"L{next_seq:06d}-{vf.file_hash[:10]}"
            _ensure_columns(conn, spec, vf.frame)
            frame = vf.frame.copy()
            frame["load_id"] = load_id
            frame["load_seq"] = next_seq
            frame["source_file"] = source
            frame["file_hash"] = vf.file_hash
            frame["loaded_at"] = pd.Timestamp(now)
            frame["source_row"] = range(1, len(frame) + 1)
            # Registered frames carry the user's column names verbatim; each is quoted in the SELECT.
            conn.register("incoming_rows", frame)
            names = ["load_id", "load_seq", "source_file", "file_hash", "loaded_at", "source_row", "week_date",
                     *spec.columns]
            select = ", ".join(
                f"CAST({quote_ident(c)} AS DATE)" if c in ("week_date",) or
                (c == spec.week_column and spec.week_start is None) else quote_ident(c) for c in names)
            conn.execute(f"INSERT INTO {RAW_TABLE} ({', '.join(map(quote_ident, names))}) "
                         f"SELECT {select} FROM incoming_rows")
            conn.unregister("incoming_rows")
            conn.execute(f"INSERT INTO {LOADS_TABLE} VALUES (?, ?, ?, ?, ?, ?, ?)",
                         [load_id, next_seq, source, vf.file_hash, spec.fingerprint(), now, len(frame)])
            results.append(LoadResult(source, vf.file_hash, load_id, len(frame)))
            next_seq += 1
        create_current_view(conn, spec)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return results


def create_current_view(conn: duckdb.DuckDBPyConnection, spec: DatasetSpec) -> None:
    """``raw_current``: the newest value per (region, week) over all loads."""
    region = quote_ident(spec.region_column) if spec.region_column else "'national'"
    conn.execute(f"""
        CREATE OR REPLACE VIEW {CURRENT_VIEW} AS
        SELECT * FROM {RAW_TABLE}
        QUALIFY row_number() OVER (PARTITION BY {region}, week_date ORDER BY load_seq DESC) = 1""")


def read_current(conn: duckdb.DuckDBPyConnection, spec: DatasetSpec) -> pd.DataFrame:
    """The current view as a frame in the form ``mmm_core.data.io.frame_to_panel`` takes (spec columns + week_date)."""
    cols = ", ".join(quote_ident(c) for c in (*spec.columns, "week_date"))
    order = (quote_ident(spec.region_column) + ", " if spec.region_column else "") + "week_date"
    frame = conn.execute(f"SELECT {cols} FROM {CURRENT_VIEW} ORDER BY {order}").df()
    frame["week_date"] = pd.to_datetime(frame["week_date"])
    return frame


def table_counts(conn: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Row count of every table and view in the main schema."""
    names = [r[0] for r in conn.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' ORDER BY 1").fetchall()]
    return {n: conn.execute(f"SELECT count(*) FROM {quote_ident(n)}").fetchone()[0] for n in names}
