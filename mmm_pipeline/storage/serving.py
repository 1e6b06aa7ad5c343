"""Publish refresh outputs for SQL consumers without ever letting them touch the working warehouse.

DuckDB locks a database file per process: while the pipeline writes the warehouse nobody else can
open it, and a reader holding it would make the pipeline's writes fail. So consumers read a
*serving copy*: a new DuckDB file built from the warehouse and swapped in over the previous one
(:mod:`mmm_pipeline.storage.swap`). A reader's open connection keeps the file it opened; a new
connection sees the new refresh. A reader never sees a mix, and cannot block a publish.
Parquet exports per refresh (``parquet/refresh_week=YYYY-MM-DD/<table>.parquet``) are swapped in as a
whole folder the same way.

Publishes are serialised by an exclusive ``flock`` on ``serving/.publish.lock`` (released by the kernel
when a publisher dies, even by SIGKILL). Whoever holds the lock first deletes the temporary files a
killed publisher left behind (``.mmm_serving.duckdb.*.tmp``, ``parquet/.refresh_week=*.tmp`` / ``.old``):
while the lock is held, no other publisher can own them.
"""

from __future__ import annotations

import datetime as dt
import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb

from mmm_pipeline.storage.swap import remove, remove_stale_temporaries, staged
from mmm_pipeline.storage.tables import PUBLISHED_TABLES, TABLES, ensure_table, table_columns
from mmm_pipeline.storage.warehouse import quote_ident

SERVING_FILE = "mmm_serving.duckdb"
SERVING_STORAGE_VERSION = "v1.0.0"
"""DuckDB storage format of the serving file: v1.0.0 (storage version 64) is read by every DuckDB client since
0.10 (February 2024), CLI, JDBC/ODBC and BI connectors included. The library's own default format
(2.x) is unreadable for clients before 2.0 ("can only read versions between 64 and 68"), and the serving
file is for those clients; the working warehouse keeps the default."""
PARQUET_DIR = "parquet"
LOCK_FILE = ".publish.lock"


@dataclass(frozen=True)
class PublishResult:
    serving_path: Path
    parquet_dir: Path
    refresh_weeks: list[str]
    row_counts: dict[str, int]


@dataclass(frozen=True)
class Publication:
    """What one publish did: the serving copy, the refresh's Parquet folder, and the stale files it removed."""

    serving: PublishResult
    parquet_path: Path
    removed_stale: list[Path]


def mark_published(conn: duckdb.DuckDBPyConnection, refresh_week: dt.date, run_id: str) -> None:
    """Record in the warehouse that this refresh passed its checks and may be served."""
    ensure_table(conn, "published_refreshes")
    conn.execute("BEGIN TRANSACTION")
    conn.execute("DELETE FROM published_refreshes WHERE refresh_week = ?", [refresh_week])
    conn.execute("INSERT INTO published_refreshes VALUES (?, ?, ?)",
                 [refresh_week, run_id, dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)])
    conn.execute("COMMIT")


@contextmanager
def publish_lock(serving_dir: str | Path) -> Iterator[list[Path]]:
    """Hold the publish lock of ``serving_dir``; yields the stale temporary paths it removed on entry."""
    serving_dir = Path(serving_dir)
    serving_dir.mkdir(parents=True, exist_ok=True)
    with open(serving_dir / LOCK_FILE, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # blocks while another publish runs; freed if its process dies
        try:
            yield remove_stale_publish_temporaries(serving_dir)
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def remove_stale_publish_temporaries(serving_dir: str | Path) -> list[Path]:
    """Delete what an interrupted publish left behind. Call only while holding :func:`publish_lock`."""
    serving_dir = Path(serving_dir)
    return [*remove_stale_temporaries(serving_dir, SERVING_FILE),
            *remove_stale_temporaries(serving_dir / PARQUET_DIR)]


def publish(warehouse_path: str | Path, serving_dir: str | Path, refresh_week: dt.date) -> Publication:
    """Rebuild the serving copy and export the refresh's Parquet folder, under the publish lock.

    The lock orders concurrent publishes (each build starts after its own ``mark_published``, so the last swap
    has every marked refresh) and lets the holder delete what a killed publish left behind. The caller must
    hold no connection to the warehouse (it is attached read-only).
    """
    with publish_lock(serving_dir) as stale:
        result = build_serving_copy(warehouse_path, serving_dir, refresh_week=refresh_week)
        parquet = export_parquet(result.serving_path, result.parquet_dir, refresh_week)
    return Publication(result, parquet, stale)


def build_serving_copy(warehouse_path: str | Path, serving_dir: str | Path,
                       tables: tuple[str, ...] = PUBLISHED_TABLES, refresh_week: dt.date | None = None) -> PublishResult:
    """Rebuild the serving file with every published refresh and swap it in.

    ``refresh_week``'s rows come from the warehouse; every other refresh keeps the rows the previous serving
    file has for it. The warehouse's rows of an earlier week may be newer than what was published: a re-run
    of that week writes its tables before its gates judge it, and a blocked re-run must not reach consumers
    through the next week's publish. Weeks the previous file lacks (first publish, a deleted serving
    folder, ``refresh_week=None``) come from the warehouse. The caller must hold no connection to the
    warehouse (it is attached read-only here).
    """
    serving_dir = Path(serving_dir)
    final = serving_dir / SERVING_FILE
    counts: dict[str, int] = {}
    with staged(final) as tmp:
        try:
            with duckdb.connect(str(tmp), config={"storage_compatibility_version": SERVING_STORAGE_VERSION}) as conn:
                conn.execute(f"ATTACH {_sql_string(str(warehouse_path))} AS wh (READ_ONLY)")
                conn.execute("CREATE TABLE published_refreshes AS SELECT * FROM wh.published_refreshes")
                kept = _attach_previous(conn, final, refresh_week)
                for table in tables:
                    columns = TABLES[table].types
                    conn.execute(f"CREATE TABLE {quote_ident(table)} ("
                                 + ", ".join(f"{quote_ident(c)} {t}" for c, t in columns.items()) + ")")
                    from_previous = kept if table_columns(conn, table, "prev") else []
                    _copy_rows(conn, table, "prev", "refresh_week IN (SELECT * FROM kept_weeks)" if from_previous
                               else "false")
                    _copy_rows(conn, table, "wh", "refresh_week IN (SELECT refresh_week FROM published_refreshes)"
                               + (" AND refresh_week NOT IN (SELECT * FROM kept_weeks)" if from_previous else ""))
                    conn.execute(f"CREATE VIEW {quote_ident('latest_' + table)} AS SELECT * FROM {quote_ident(table)} "
                                 "WHERE refresh_week = (SELECT max(refresh_week) FROM published_refreshes)")
                    counts[table] = conn.execute(f"SELECT count(*) FROM {quote_ident(table)}").fetchone()[0]
                weeks = [str(r[0]) for r in conn.execute(
                    "SELECT refresh_week FROM published_refreshes ORDER BY 1").fetchall()]
                conn.execute("DROP TABLE kept_weeks")
                for name in ("wh", *(["prev"] if kept is not None else [])):
                    conn.execute(f"DETACH {name}")
                conn.execute("CHECKPOINT")
        finally:
            remove(Path(str(tmp) + ".wal"))
    return PublishResult(final, serving_dir / PARQUET_DIR, weeks, counts)


def _attach_previous(conn: duckdb.DuckDBPyConnection, final: Path, refresh_week: dt.date | None) -> list | None:
    """Attach the previous serving file as ``prev`` and fill table ``kept_weeks`` with the published weeks
    whose rows it keeps (all it serves except ``refresh_week``); None when there is nothing to keep."""
    conn.execute("CREATE TEMP TABLE kept_weeks (refresh_week DATE)")
    if refresh_week is None or not final.exists():
        return None
    conn.execute(f"ATTACH {_sql_string(str(final))} AS prev (READ_ONLY)")
    if not table_columns(conn, "published_refreshes", "prev"):
        return []
    conn.execute("INSERT INTO kept_weeks SELECT refresh_week FROM prev.published_refreshes "
                 "WHERE refresh_week <> ? AND refresh_week IN (SELECT refresh_week FROM published_refreshes)",
                 [refresh_week])
    return [r[0] for r in conn.execute("SELECT * FROM kept_weeks").fetchall()]


def _copy_rows(conn: duckdb.DuckDBPyConnection, table: str, source: str, where: str) -> None:
    """Insert ``source.table``'s rows matching ``where`` by column name: a file written by an older version
    may lack newer columns (NULL here)."""
    shared = [c for c in table_columns(conn, table, source) if c in TABLES[table].types]
    if shared:
        names = ", ".join(quote_ident(c) for c in shared)
        conn.execute(f"INSERT INTO {quote_ident(table)} ({names}) SELECT {names} "
                     f"FROM {source}.{quote_ident(table)} WHERE {where}")


def export_parquet(serving_path: str | Path, parquet_dir: str | Path, refresh_week: dt.date,
                   tables: tuple[str, ...] = PUBLISHED_TABLES) -> Path:
    """Write one refresh's rows of every published table as Parquet, swapped in as a whole folder."""
    target = Path(parquet_dir) / f"refresh_week={refresh_week.isoformat()}"
    with staged(target) as staging:
        staging.mkdir()
        with duckdb.connect(str(serving_path), read_only=True) as conn:
            for table in tables:
                out = staging / f"{table}.parquet"
                conn.execute(f"COPY (SELECT * FROM {quote_ident(table)} "
                             f"WHERE refresh_week = DATE '{refresh_week.isoformat()}') "
                             f"TO {_sql_string(str(out))} (FORMAT parquet)")
    return target


def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"
