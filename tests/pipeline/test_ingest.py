"""Ingestion into a real DuckDB file: rows kept as ingested, idempotent loads, bad files write nothing."""

from __future__ import annotations

import io
from pathlib import Path

import duckdb
import pandas as pd
import pytest

import dagster as dg
from mmm_pipeline.defs.ingest.assets import raw_marketing_data
from mmm_pipeline.defs.ingest.checks import current_data_satisfies_contract, every_spec_file_is_loaded
from tests.datasets import EXPERIMENTS_CSV, SPEC, toy_frame, write_dataset, write_experiments
from tests.pipeline.conftest import make_resources

ASSETS = [raw_marketing_data, current_data_satisfies_contract, every_spec_file_is_loaded]


def _ingest(tmp_path, spec_path, instance, raise_on_error=True):
    return dg.materialize(ASSETS, resources=make_resources(tmp_path, spec_path), instance=instance,
                          raise_on_error=raise_on_error)


def _query(tmp_path, sql):
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as conn:
        return conn.execute(sql).fetchall()


def test_raw_table_holds_exactly_the_file_rows(tmp_path, instance):
    spec_path = write_dataset(tmp_path / "in")
    result = _ingest(tmp_path, spec_path, instance)
    assert result.success
    frame = toy_frame()
    assert _query(tmp_path, "SELECT count(*) FROM raw_marketing")[0][0] == len(frame)
    got = _query(tmp_path, 'SELECT region, week, sales, tv_spend, source_row, source_file, file_hash '
                           'FROM raw_marketing ORDER BY source_row')
    assert [g[0] for g in got] == list(frame.region)
    assert [str(g[1]) for g in got] == list(frame.week)
    assert [g[2] for g in got] == pytest.approx(list(frame.sales))
    assert [g[4] for g in got] == list(range(1, len(frame) + 1))
    assert got[0][5].endswith("toy.csv") and len(got[0][6]) == 64
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks == {"current_data_satisfies_contract": True, "every_spec_file_is_loaded": True}


def test_reingesting_an_unchanged_file_is_a_no_op(tmp_path, instance):
    spec_path = write_dataset(tmp_path / "in")
    _ingest(tmp_path, spec_path, instance)
    _ingest(tmp_path, spec_path, instance)
    assert _query(tmp_path, "SELECT count(*), count(DISTINCT load_id) FROM raw_marketing")[0] == (120, 1)


def test_changed_file_is_a_new_load_and_current_view_takes_newest(tmp_path, instance):
    spec_path = write_dataset(tmp_path / "in")
    _ingest(tmp_path, spec_path, instance)
    frame = toy_frame()
    frame.loc[0, "sales"] = 4242.0
    write_dataset(tmp_path / "in", frame)
    _ingest(tmp_path, spec_path, instance)
    assert _query(tmp_path, "SELECT count(*), count(DISTINCT load_id) FROM raw_marketing")[0] == (240, 2)
    assert _query(tmp_path, "SELECT count(*) FROM raw_current")[0][0] == 120
    assert _query(tmp_path, "SELECT sales FROM raw_current WHERE region = 'R0' AND week = DATE '2023-01-02'")[0][0] == 4242.0


def test_bad_file_is_rejected_by_name_and_nothing_reaches_the_warehouse(tmp_path, instance):
    spec_path = write_dataset(tmp_path / "in")
    _ingest(tmp_path, spec_path, instance)
    frame = toy_frame()
    frame["tv_spend"] = frame["tv_spend"].astype(object)
    frame.loc[41, "tv_spend"] = "n/a"
    write_dataset(tmp_path / "in", frame)
    result = _ingest(tmp_path, spec_path, instance, raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    message = str(failure.step_failure_data.error)
    assert "toy.csv" in message and "'tv_spend'" in message and "row 42" in message and "n/a" in message
    # the first good load is intact, and no row of the bad file was written
    assert _query(tmp_path, "SELECT count(*), count(DISTINCT load_id) FROM raw_marketing")[0] == (120, 1)


@pytest.mark.parametrize("name", ["unit price", "select", 'x"; drop table raw_marketing;--'])
def test_user_column_names_are_quoted(tmp_path, instance, name):
    frame = toy_frame().rename(columns={"price": name})
    spec_path = write_dataset(tmp_path / "in", frame, dict(SPEC, controls=[name]))
    assert _ingest(tmp_path, spec_path, instance).success
    quoted = '"' + name.replace('"', '""') + '"'
    assert _query(tmp_path, f"SELECT sum({quoted}) FROM raw_marketing")[0][0] == pytest.approx(frame[name].sum())


def _set(column, row, value):
    def mutate(frame):
        frame[column] = frame[column].astype(object)
        frame.loc[row - 1, column] = value
        return frame
    return mutate


BROKEN_FILES = [
    # (id, mutate the toy frame, expected column, expected row)
    ("missing_column", lambda f: f.drop(columns=["price"]), "price", "header"),
    ("non_numeric", _set("tv_spend", 7, "12,5"), "tv_spend", 7),
    ("nan", _set("price", 9, "NaN"), "price", 9),
    ("inf", _set("search_spend", 11, "inf"), "search_spend", 11),
    ("negative_spend", _set("tv_spend", 13, "-1"), "tv_spend", 13),
    ("negative_activity", _set("tv_grps", 14, "-2"), "tv_grps", 14),
    ("negative_kpi", _set("sales", 15, "-3"), "sales", 15),
    ("duplicate_key", lambda f: pd.concat([f, f.iloc[[4]]], ignore_index=True), "region", 121),
    ("off_grid_date", _set("week", 20, "2023-05-17"), "week", 20),
    ("too_few_weeks", lambda f: f[f.week < "2023-09-01"].reset_index(drop=True), "week", "all rows"),
    ("dead_channel", lambda f: f.assign(search_spend=0.0), "search_spend", "all rows"),
]


@pytest.mark.parametrize("mutate,column,row", [b[1:] for b in BROKEN_FILES], ids=[b[0] for b in BROKEN_FILES])
def test_each_rejection_names_file_column_row_and_writes_nothing(tmp_path, instance, mutate, column, row):
    spec_path = write_dataset(tmp_path / "in", mutate(toy_frame()))
    result = _ingest(tmp_path, spec_path, instance, raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    message = str(failure.step_failure_data.error)
    assert "toy.csv" in message and f"column '{column}'" in message and f"row {row}" in message, message
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as conn:
        tables = {r[0] for r in conn.execute("SELECT table_name FROM information_schema.tables").fetchall()}
        if "raw_marketing" in tables:
            assert conn.execute("SELECT count(*) FROM raw_marketing").fetchone()[0] == 0


def test_empty_file_is_rejected_and_writes_nothing(tmp_path, instance):
    spec_path = write_dataset(tmp_path / "in")
    (tmp_path / "in" / "toy.csv").write_bytes(b"")
    result = _ingest(tmp_path, spec_path, instance, raise_on_error=False)
    assert not result.success
    message = str(next(e for e in result.all_events if e.is_step_failure).step_failure_data.error)
    assert "toy.csv" in message and "empty" in message
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as conn:
        assert not conn.execute("SELECT count(*) FROM information_schema.tables "
                                "WHERE table_name = 'raw_marketing'").fetchone()[0]


def test_switching_the_spec_to_another_dataset_checks_and_serves_only_that_dataset(tmp_path, instance):
    _ingest(tmp_path, write_dataset(tmp_path / "sample"), instance)
    other = toy_frame(n_regions=3, seed=1)
    other["region"] = other["region"].str.replace("R", "S")
    result = _ingest(tmp_path, write_dataset(tmp_path / "third_party", other), instance)
    contract = next(e for e in result.get_asset_check_evaluations()
                    if e.check_name == "current_data_satisfies_contract")
    assert contract.passed and contract.metadata["regions"].value == 3
    assert _query(tmp_path, "SELECT DISTINCT region FROM raw_current ORDER BY 1") == [("S0",), ("S1",), ("S2",)]
    files = next(e for e in result.get_asset_check_evaluations() if e.check_name == "every_spec_file_is_loaded")
    assert files.passed and [load["file"] for load in files.metadata["current_loads"].value] == \
        [str(tmp_path / "third_party" / "toy.csv")]


def test_a_spec_that_adds_a_control_the_unchanged_file_always_had_reads_it(tmp_path, instance):
    frame = toy_frame().assign(promo=lambda f: (f.index % 3 == 0) * 1.0)
    assert _ingest(tmp_path, write_dataset(tmp_path / "in", frame), instance).success
    result = _ingest(tmp_path, write_dataset(tmp_path / "in", frame, dict(SPEC, controls=["price", "promo"])),
                     instance)
    assert result.success
    assert _query(tmp_path, "SELECT sum(promo) FROM raw_current")[0][0] == frame.promo.sum()
    assert _query(tmp_path, "SELECT count(DISTINCT load_id) FROM raw_marketing")[0][0] == 2


def test_a_corrections_file_listed_after_the_main_file_restates_its_weeks(tmp_path, instance):
    spec_path = write_dataset(tmp_path / "in", name="main.csv", spec=dict(SPEC, files=["main.csv", "fixes.csv"]))
    frame = toy_frame()
    fixes = frame[(frame.region == "R1") & (frame.week >= "2023-10-02")].assign(sales=1234.5)  # the last 14 weeks
    fixes.to_csv(tmp_path / "in" / "fixes.csv", index=False)
    result = _ingest(tmp_path, spec_path, instance)
    assert result.success
    assert _query(tmp_path, "SELECT count(*), sum(CASE WHEN sales = 1234.5 THEN 1 ELSE 0 END) FROM raw_current") == \
        [(120, len(fixes))]


def test_columns_the_spec_does_not_name_are_listed_on_the_materialisation_and_not_stored(tmp_path, instance):
    spec_path = write_dataset(tmp_path / "in", toy_frame().assign(notes="exported by the ad server"))
    result = _ingest(tmp_path, spec_path, instance)
    metadata = result.asset_materializations_for_node("raw_marketing_data")[0].metadata
    assert {Path(k).name: v for k, v in metadata["ignored_columns"].data.items()} == {"toy.csv": ["notes"]}
    assert "notes" not in [r[0] for r in _query(tmp_path, "DESCRIBE raw_marketing")]


# -- the experiments file: ingested with the data, validated against it, all or nothing --------------------------

def _raw_state(tmp_path) -> dict[str, list[tuple]]:
    """Every row of the raw layer's tables (what a rejected ingest must leave as it was)."""
    tables = ("raw_marketing", "raw_loads", "raw_current_loads", "raw_experiments", "raw_current_experiments_load")
    return {t: sorted(map(str, _query(tmp_path, f"SELECT * FROM {t}"))) for t in tables}


def test_the_experiments_file_is_kept_as_read_with_its_load(tmp_path, instance):
    spec_path = write_experiments(write_dataset(tmp_path / "in").parent)
    result = _ingest(tmp_path, spec_path, instance)
    rows = _query(tmp_path, "SELECT source_row, experiment, channel, region, first_week, cooldown_weeks, "
                            "spend_multiplier, spend_change, lift, source_file, load_id FROM raw_current_experiments "
                            "ORDER BY source_row")
    assert [r[:9] for r in rows] == [
        (1, "search_cut", "search", "R0", "2023-06-05", 2.0, 0.5, None, -120.0),
        (2, "search_cut", "search", "R1", "2023-06-05", 2.0, 0.5, None, -120.0),
        (3, "tv_boost", "tv", "all", "2023-09-04", None, None, 100.0, 300.5)]
    assert rows[0][9].endswith("experiments.csv")
    assert _query(tmp_path, f"SELECT n_rows FROM raw_loads WHERE load_id = '{rows[0][10]}'") == [(3,)]
    metadata = result.asset_materializations_for_node("raw_marketing_data")[0].metadata
    assert metadata["experiments"].value == 2 and metadata["experiments_rows_added"].value == 3
    checks = {e.check_name: (e.passed, e.metadata) for e in result.get_asset_check_evaluations()}
    assert checks["current_data_satisfies_contract"][0] and checks["current_data_satisfies_contract"][1][
        "experiments"].value == 2
    assert checks["every_spec_file_is_loaded"][0]
    # unchanged: a no-op; changed: a new load the current view takes, the old rows kept as history
    _ingest(tmp_path, spec_path, instance)
    assert _query(tmp_path, "SELECT count(*), count(DISTINCT load_id) FROM raw_experiments") == [(3, 1)]
    write_experiments(tmp_path / "in", EXPERIMENTS_CSV.replace("300.5", "280"))
    _ingest(tmp_path, spec_path, instance)
    assert _query(tmp_path, "SELECT count(*), count(DISTINCT load_id) FROM raw_experiments") == [(6, 2)]
    assert _query(tmp_path, "SELECT lift FROM raw_current_experiments WHERE experiment = 'tv_boost'") == [(280.0,)]
    assert _query(tmp_path, "SELECT count(DISTINCT load_id) FROM raw_marketing") == [(1,)]  # data file not re-read


def test_a_spec_that_drops_its_experiments_file_trains_on_none_and_keeps_the_rows_as_history(tmp_path, instance):
    from mmm_core.data.spec import DatasetSpec
    from mmm_pipeline.storage import warehouse as wh

    write_dataset(tmp_path / "in")
    _ingest(tmp_path, write_experiments(tmp_path / "in"), instance)
    spec_path = write_dataset(tmp_path / "in")  # the same data, the spec without experiments
    result = _ingest(tmp_path, spec_path, instance)
    assert result.success and _query(tmp_path, "SELECT count(DISTINCT load_id) FROM raw_marketing") == [(1,)]
    assert _query(tmp_path, "SELECT count(*) FROM raw_current_experiments") == [(0,)]
    assert _query(tmp_path, "SELECT count(*) FROM raw_experiments") == [(3,)]
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as conn:
        assert wh.current_lift_tests(conn, DatasetSpec.from_yaml(spec_path)) == ()
    assert {e.check_name: e.passed for e in result.get_asset_check_evaluations()} == \
        {"current_data_satisfies_contract": True, "every_spec_file_is_loaded": True}


def test_a_spec_without_experiments_creates_no_experiment_tables(tmp_path, instance):
    result = _ingest(tmp_path, write_dataset(tmp_path / "in"), instance)
    tables = {r[0] for r in _query(tmp_path, "SELECT table_name FROM information_schema.tables")}
    assert tables == {"raw_marketing", "raw_loads", "raw_current_loads", "raw_current"}
    assert result.asset_materializations_for_node("raw_marketing_data")[0].metadata["experiments"].value == 0


BAD_EXPERIMENTS = [
    # (id, the bad line in place of the tv_boost row, column, its row in the file)
    ("unknown_channel", "tv_boost,radio,all,2023-09-04,2023-09-25,,1.5,,300,100", "channel", 3),
    ("week_outside_the_data", "tv_boost,tv,all,2024-03-04,2024-03-25,,1.5,,300,100", "first_week", 3),
    ("cooldown_past_the_data", "tv_boost,tv,R1,2024-01-29,2024-02-12,2,1.5,,300,100", "cooldown_weeks", 3),
]


@pytest.mark.parametrize("line,column,row", [b[1:] for b in BAD_EXPERIMENTS], ids=[b[0] for b in BAD_EXPERIMENTS])
def test_a_bad_experiments_file_rejects_the_whole_ingest_by_name_and_writes_nothing(tmp_path, instance, line,
                                                                                   column, row):
    spec_path = write_experiments(write_dataset(tmp_path / "in").parent)
    assert _ingest(tmp_path, spec_path, instance).success
    before = _raw_state(tmp_path)
    frame = toy_frame()
    frame.loc[0, "sales"] = 4242.0  # a changed data file, which alone would be a new load
    write_dataset(tmp_path / "in", frame)
    write_experiments(tmp_path / "in", EXPERIMENTS_CSV.splitlines()[0] + "\n" +
                      "\n".join(EXPERIMENTS_CSV.splitlines()[1:3]) + f"\n{line}\n")
    result = _ingest(tmp_path, spec_path, instance, raise_on_error=False)
    assert not result.success
    failures = [e for e in result.all_events if e.is_step_failure]
    assert len(failures) == 1
    message = str(failures[0].step_failure_data.error)
    assert "experiments.csv" in message and f"column '{column}'" in message and f"row {row}" in message, message
    assert _raw_state(tmp_path) == before  # neither the changed data file nor the experiments reached a table


def test_a_parquet_experiments_file_with_date_cells_reads_back_from_the_warehouse_as_the_same_tests(tmp_path):
    """Weeks a Parquet file holds as dates are stored as text the spec's date_format reads: the stored rows
    validate to exactly the tests the file gave at ingest."""
    from mmm_core.data.io import validate_dataset
    from mmm_core.data.spec import DatasetSpec
    from mmm_pipeline.storage import experiments as ex
    from mmm_pipeline.storage import warehouse as wh

    frame = toy_frame()
    frame["week"] = pd.to_datetime(frame["week"]).dt.strftime("%d/%m/%Y")
    folder = tmp_path / "in"
    write_dataset(folder, frame, dict(SPEC, date_format="%d/%m/%Y"))
    tests = pd.read_csv(io.StringIO(EXPERIMENTS_CSV))
    tests["first_week"], tests["last_week"] = pd.to_datetime(tests["first_week"]), pd.to_datetime(tests["last_week"])
    tests.to_parquet(folder / "experiments.parquet", index=False)
    spec = DatasetSpec.from_yaml(write_experiments(folder, EXPERIMENTS_CSV, "unused.csv"))
    spec = DatasetSpec.from_dict(dict(spec.to_dict(), experiments="experiments.parquet"), base_dir=folder)
    files = validate_dataset(spec)
    validated = ex.validate_experiments(spec, files)
    assert [t.experiment for t in validated.tests] == ["search_cut", "tv_boost"]
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as conn:
        wh.ingest(conn, spec, files, experiments=validated)
        assert conn.execute("SELECT DISTINCT first_week FROM raw_experiments ORDER BY 1").fetchall() == \
            [("04/09/2023",), ("05/06/2023",)]
        assert wh.current_lift_tests(conn, spec) == validated.tests
