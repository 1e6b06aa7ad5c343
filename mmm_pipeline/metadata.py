"""Dagster metadata generated from the one table registry (``storage.tables``): column schemas and row counts.

The asset catalog shows each table's columns with their types and descriptions; asset descriptions say what a
table is for and leave the columns to this schema.
"""

from __future__ import annotations

from collections.abc import Iterable

import dagster as dg

from mmm_pipeline.storage.tables import TABLES


def column_schema(columns: Iterable[tuple[str, str, str]]) -> dg.TableSchema:
    return dg.TableSchema(columns=[dg.TableColumn(name=name, type=sql_type, description=description)
                                   for name, sql_type, description in columns])


def table_schema(table: str) -> dg.TableSchema:
    """The registry's columns of ``table`` (name, SQL type, description), in table order."""
    return column_schema((c.name, c.sql_type, c.description) for c in TABLES[table].columns)


def table_metadata(table: str, row_count: int) -> dict:
    """``dagster/column_schema`` and ``dagster/row_count`` of one refresh's rows of ``table``."""
    return {"dagster/column_schema": table_schema(table), "dagster/row_count": int(row_count)}


def table_asset_spec(table: str, **kwargs) -> dg.AssetSpec:
    """An AssetSpec for a registry table: its description and column schema come from the registry."""
    return dg.AssetSpec(table, description=TABLES[table].description,
                        metadata={"dagster/column_schema": table_schema(table)}, **kwargs)
