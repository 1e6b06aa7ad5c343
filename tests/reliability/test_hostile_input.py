"""Hostile input, fuzzed: every broken file or spec ends in a clean ingest or one clear DataContractError.

Two levels. ``mmm_core``: loading the spec and ``validate_dataset`` raise nothing but ``DataContractError``,
and that error names the file (and, for a broken cell, its column and row). Pipeline: the ingest asset
either succeeds and the warehouse gains exactly the file's rows, or it fails with ``dagster.Failure``
("input rejected: ...") and the warehouse is byte-for-byte the same as before (same rows, same loads).
The default suite runs a few dozen examples per property; ``make test-slow`` runs hundreds.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from hypothesis import HealthCheck, given, settings

from mmm_core.data.contract import DataContractError
from mmm_core.data.io import validate_dataset
from mmm_core.data.spec import DatasetSpec
from mmm_pipeline.defs.ingest.assets import raw_marketing_data
from mmm_pipeline.resources import DatasetResource, WarehouseResource
from tests.reliability import hostile

FAST = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
THOROUGH = settings(max_examples=600, deadline=None, suppress_health_check=list(HealthCheck))
FAST_INGEST = settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
THOROUGH_INGEST = settings(max_examples=250, deadline=None, suppress_health_check=list(HealthCheck))


def _validate(case: hostile.Case, folder: Path):
    """(validated files, None) or (None, DataContractError); any other exception escapes and fails the test."""
    spec_path = case.write(folder)
    try:
        spec = DatasetSpec.from_yaml(spec_path)
        return validate_dataset(spec), None
    except DataContractError as exc:
        return None, exc


def check_contract(case: hostile.Case) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        files, error = _validate(case, Path(tmp) / "in")
    if error is None:
        assert sum(len(f.frame) for f in files) == case.n_rows, case.broken
        if case.broken == "truncate":
            # the base frame's last column is written "1000.0"/"2000.0" everywhere, so any cut inside the
            # last row shows; only a cut at a line break (a shorter file of complete rows) may load
            full, kept = case.notes["full"], case.raw
            assert kept.endswith(b"\n") or full[len(kept):len(kept) + 1] == b"\n", (case.broken, kept[-40:])
        if case.broken == "nfd_region":
            assert {r for f in files for r in f.frame["region"]} == {"Zürich", "R1"}
        return
    if case.broken in ("no_final_newline", "nfd_region"):
        raise AssertionError(f"{case.broken}: a valid file was refused: {error}")
    if case.broken in ("semicolon_decimal_comma", "tab"):
        assert "-separated; set delimiter" in str(error), str(error)
    assert error.file is not None, f"{case.broken}: error names no file: {error}"
    assert str(error) and "Traceback" not in str(error)
    if case.cell is not None and error.column == case.cell[0] and isinstance(error.row, int):
        # a rejection of the broken cell's column points at that cell, or at an earlier row it clashes with
        assert error.row <= case.cell[1] or "duplicate" in error.problem or "grid" in error.problem, (case.broken, error)
    if case.cell is not None and case.cell[0] in hostile.NUMERIC and case.raw is None:
        column, row = case.cell
        value = case.frame.loc[row - 1, column]
        # pandas writes a bare carriage return unquoted, so in a CSV that cell ends the line: the file's rows
        # are no longer the frame's, and the error rightly names the row where the file breaks
        splits_the_row = case.suffix == ".csv" and "\r" in str(value)
        if _is_bad_number(value, column) and not splits_the_row:
            assert (error.column, error.row) == (column, row), (case.broken, str(error))


def _is_bad_number(value, column: str) -> bool:
    try:
        number = float(str(value).strip())
    except ValueError:
        return True
    if number != number or number in (float("inf"), float("-inf")):
        return True
    return column in hostile.NONNEGATIVE and number < 0


@FAST
@given(case=hostile.any_case)
def test_validation_raises_only_data_contract_errors(case):
    check_contract(case)


@pytest.mark.slow
@THOROUGH
@given(case=hostile.any_case)
def test_validation_raises_only_data_contract_errors_thoroughly(case):
    check_contract(case)


# -- the ingest asset and the warehouse ------------------------------------------------------------------

def _warehouse_state(path: Path) -> tuple:
    """Everything ingestion can change: row count and a digest of every raw row and load."""
    if not path.exists():
        return ()
    with duckdb.connect(str(path), read_only=True) as conn:
        tables = [r[0] for r in conn.execute("SELECT table_name FROM duckdb_tables() ORDER BY 1").fetchall()]
        state = []
        for table in tables:
            rows = conn.execute(f'SELECT * FROM "{table}"').fetchall()
            digest = hashlib.sha256(repr(sorted(map(repr, rows))).encode()).hexdigest()
            state.append((table, len(rows), digest))
        views = conn.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal ORDER BY 1").fetchall()
    return tuple(state), tuple(views)


def _run_ingest(spec_path: Path, warehouse: Path) -> dg.MaterializeResult:
    context = dg.build_asset_context()
    return raw_marketing_data(context, dataset=DatasetResource(spec_path=str(spec_path)),
                              warehouse=WarehouseResource(database=str(warehouse)))


@pytest.fixture(scope="module")
def loaded_warehouse(tmp_path_factory) -> Path:
    """A warehouse holding one good load of the base frame (the state every hostile ingest starts from)."""
    root = tmp_path_factory.mktemp("wh")
    spec_path = hostile.Case(hostile.base_frame(), hostile._spec(), "good").write(root / "good")
    _run_ingest(spec_path, root / "warehouse.duckdb")
    return root / "warehouse.duckdb"


def check_ingest(case: hostile.Case, template: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        warehouse = tmp / "warehouse.duckdb"
        shutil.copy(template, warehouse)
        before = _warehouse_state(warehouse)
        with duckdb.connect(str(warehouse), read_only=True) as conn:
            raw_before = conn.execute("SELECT count(*) FROM raw_marketing").fetchone()[0]
        spec_path = case.write(tmp / "in")
        try:
            result = _run_ingest(spec_path, warehouse)
        except dg.Failure as failure:
            assert failure.description.startswith("input rejected: "), failure.description
            assert "file " in failure.description, failure.description
            assert _warehouse_state(warehouse) == before, f"{case.broken}: a rejected file changed the warehouse"
            return
        added = result.metadata["rows_added"]
        added = getattr(added, "value", added)
        with duckdb.connect(str(warehouse), read_only=True) as conn:
            raw_after = conn.execute("SELECT count(*) FROM raw_marketing").fetchone()[0]
            new_rows = conn.execute("SELECT count(*), min(source_row), max(source_row) FROM raw_marketing "
                                    "WHERE load_seq = (SELECT max(load_seq) FROM raw_loads)").fetchone()
        assert raw_after - raw_before == added
        if added:  # a new load holds exactly the file's rows, numbered 1..n
            assert new_rows == (case.n_rows, 1, case.n_rows), (case.broken, new_rows)


@FAST_INGEST
@given(case=hostile.any_case)
def test_ingest_is_all_or_nothing(case, loaded_warehouse):
    check_ingest(case, loaded_warehouse)


@pytest.mark.slow
@THOROUGH_INGEST
@given(case=hostile.any_case)
def test_ingest_is_all_or_nothing_thoroughly(case, loaded_warehouse):
    check_ingest(case, loaded_warehouse)


@pytest.mark.parametrize("name", hostile.HOSTILE_NAMES)
def test_every_hostile_column_name_ingests_verbatim(tmp_path, name):
    """A control named like SQL (or with quotes, spaces, unicode) is stored under exactly that name."""
    frame = hostile.base_frame().rename(columns={"price": name})
    case = hostile.Case(frame, hostile._rename(hostile._spec(), "price", name), name)
    _run_ingest(case.write(tmp_path / "in"), tmp_path / "warehouse.duckdb")
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as conn:
        quoted = '"' + name.replace('"', '""') + '"'
        total = conn.execute(f"SELECT sum({quoted}), count(*) FROM raw_marketing").fetchone()
        tables = {r[0] for r in conn.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    assert total == (pytest.approx(frame[name].sum()), len(frame))
    assert {"raw_marketing", "raw_loads"} <= tables


def test_the_spec_refuses_every_column_name_the_warehouse_adds():
    """The raw table's own columns are among the core's reserved names, so no spec column can collide with one."""
    from mmm_core.data.spec import RESERVED_COLUMNS
    from mmm_pipeline.storage.warehouse import RAW_LOAD_COLUMNS
    assert {name.lower() for name, _, _ in RAW_LOAD_COLUMNS} <= set(RESERVED_COLUMNS)
