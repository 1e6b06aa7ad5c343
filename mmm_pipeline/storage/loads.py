"""The raw layer's loads: table ``raw_loads`` and the one rule for writing a file's rows as a load.

Every raw table (``raw_marketing`` for the data files, ``raw_experiments`` for the experiments file) is
append-only: one load per file version read, ``load_id`` ``L<seq>-<hash prefix>``, listed in ``raw_loads``
with the JSON of what decided its stored rows (``read_layout``). A file whose newest load has the same content
and was read the way the spec reads it now is not read again. :class:`Loads` applies that rule for one ingest,
inside the caller's transaction, so a rejected ingest leaves no load behind.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass

import duckdb
import pandas as pd

from mmm_core.data.spec import DatasetSpec

LOADS_TABLE = "raw_loads"

LOAD_COLUMNS = (
    ("load_id", "VARCHAR", "L<seq>-<hash prefix>, one per ingested file version"),
    ("load_seq", "INTEGER", "load order"),
    ("source_file", "VARCHAR", "absolute path of the file"),
    ("file_hash", "VARCHAR", "SHA-256 of the file's bytes"),
    ("loaded_at", "TIMESTAMP", "UTC load time"),
    ("source_row", "INTEGER", "1-based data row in the file"),
)
"""The columns every raw table adds to a file's own: (name, SQL type, description), in table order."""


@dataclass(frozen=True)
class LoadResult:
    """What one ingestion did per file: a new load, or nothing because its newest load already serves the spec."""

    source_file: str
    file_hash: str
    load_id: str | None  # None: the newest load has this content and every column the spec reads; nothing written
    n_rows: int
    current_load_id: str  # the load the current view takes this file's rows from (load_id, or the reused newest)
    note: str  # why a load was or was not written, for the run log


@dataclass(frozen=True)
class _NewestLoad:
    load_id: str
    file_hash: str
    read_layout: str | None


class Loads:
    """The loads of one ingest: each file's newest load before it, and the next ``load_seq``.

    Open it inside the ingest's transaction; every :meth:`append` writes its rows and its ``raw_loads`` line there.
    """

    def __init__(self, conn: duckdb.DuckDBPyConnection, spec: DatasetSpec, now: dt.datetime):
        _ensure_loads_table(conn)
        self.conn, self.spec, self.now = conn, spec, now
        rows = conn.execute(f"""
            SELECT source_file, load_id, file_hash, read_layout FROM {LOADS_TABLE}
            QUALIFY row_number() OVER (PARTITION BY source_file ORDER BY load_seq DESC) = 1""").fetchall()
        self._newest = {source: _NewestLoad(*rest) for source, *rest in rows}
        self._next_seq = conn.execute(f"SELECT coalesce(max(load_seq), 0) + 1 FROM {LOADS_TABLE}").fetchone()[0]

    def append(self, source_file: str, file_hash: str, frame: pd.DataFrame, layout: dict,
               serves: Callable[[str | None], bool], insert: Callable[[pd.DataFrame], None], read_again: str,
               detail: str = "") -> LoadResult:
        """Write ``frame`` (a file's rows, file order) as a new load of ``source_file``, unless its newest load
        has ``file_hash`` and ``serves(its read_layout)``: then nothing is written and that load stays current.

        ``insert`` writes the rows with the :data:`LOAD_COLUMNS` added to its raw table; ``layout`` is what
        decided them (``raw_loads.read_layout``). ``read_again`` says, for the run log, why the same content is
        read again; ``detail`` is added to the note of a new load.
        """
        previous = self._newest.get(source_file)
        if previous is not None and previous.file_hash == file_hash:
            if serves(previous.read_layout):
                return LoadResult(source_file, file_hash, None, 0, previous.load_id,
                                  f"unchanged since load {previous.load_id}, skipped")
            note = read_again
        else:
            note = "new file" if previous is None else "changed content"
        load_seq, load_id = self._next_seq, f"L{self._next_seq:06d}-{file_hash[:10]}"
        insert(frame.assign(load_id=load_id, load_seq=load_seq, source_file=source_file, file_hash=file_hash,
                            loaded_at=pd.Timestamp(self.now), source_row=range(1, len(frame) + 1)))
        self.conn.execute(f"INSERT INTO {LOADS_TABLE} (load_id, load_seq, source_file, file_hash, spec_fingerprint, "
                          "loaded_at, n_rows, read_layout) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                          [load_id, load_seq, source_file, file_hash, self.spec.fingerprint(), self.now, len(frame),
                           json.dumps(layout, sort_keys=True)])
        self._next_seq += 1
        return LoadResult(source_file, file_hash, load_id, len(frame), load_id,
                          f"{note}: new load {load_id}, {len(frame)} rows{detail}")


def table_exists(conn: duckdb.DuckDBPyConnection, table: str) -> bool:
    """Whether ``table`` (or a view of that name) exists in the main schema."""
    return conn.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'main' "
                        "AND table_name = ?", [table]).fetchone()[0] > 0


def _ensure_loads_table(conn: duckdb.DuckDBPyConnection) -> None:
    conn.execute(f"""
        CREATE TABLE IF NOT EXISTS {LOADS_TABLE} (
            load_id VARCHAR PRIMARY KEY, load_seq INTEGER NOT NULL, source_file VARCHAR NOT NULL,
            file_hash VARCHAR NOT NULL, spec_fingerprint VARCHAR NOT NULL, loaded_at TIMESTAMP NOT NULL,
            n_rows INTEGER NOT NULL, read_layout VARCHAR)""")
    if not _column_exists(conn, LOADS_TABLE, "read_layout"):  # a warehouse written before layouts were recorded
        conn.execute(f"ALTER TABLE {LOADS_TABLE} ADD COLUMN read_layout VARCHAR")


def _column_exists(conn: duckdb.DuckDBPyConnection, table: str, column: str) -> bool:
    return conn.execute("SELECT count(*) FROM information_schema.columns WHERE table_schema = 'main' "
                        "AND table_name = ? AND column_name = ?", [table, column]).fetchone()[0] > 0
