"""The warehouse's current view on a real DuckDB file: the newest load of each file the CURRENT spec names, a later
file restating an earlier one's (region, week); raw rows of earlier datasets and versions stay as history."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest

from mmm_core.data.io import frame_to_panel, load_panel, validate_dataset
from mmm_core.data.spec import DatasetSpec
from mmm_pipeline.storage import warehouse as wh
from tests.datasets import SPEC, toy_frame, write_dataset

RESTATED_WEEKS = ["2023-03-06", "2023-03-13", "2023-03-20", "2023-03-27"]


def _ingest(db, spec_path) -> list[wh.LoadResult]:
    spec = DatasetSpec.from_yaml(spec_path)
    with duckdb.connect(str(db)) as conn:
        return wh.ingest(conn, spec, validate_dataset(spec)).files


def _current(db, spec_path) -> pd.DataFrame:
    with duckdb.connect(str(db)) as conn:
        return wh.read_current(conn, DatasetSpec.from_yaml(spec_path))


def _sql(db, query):
    with duckdb.connect(str(db), read_only=True) as conn:
        return conn.execute(query).fetchall()


def _restated(frame: pd.DataFrame, region: str = "R1") -> pd.DataFrame:
    rows = frame[(frame.region == region) & frame.week.isin(RESTATED_WEEKS)].copy()
    rows["sales"] = [5001.0, 5002.0, 5003.0, 5004.0]
    return rows.reset_index(drop=True)


def test_switching_datasets_shows_only_the_current_specs_rows_and_switching_back_needs_no_new_load(tmp_path):
    db = tmp_path / "warehouse.duckdb"
    sample = write_dataset(tmp_path / "sample")
    other = toy_frame(n_regions=3, seed=1)
    other["region"] = other["region"].str.replace("R", "S")
    third_party = write_dataset(tmp_path / "third_party", other)

    _ingest(db, sample)
    _ingest(db, third_party)
    assert sorted(_current(db, third_party).region.unique()) == ["S0", "S1", "S2"]
    assert _sql(db, "SELECT DISTINCT region FROM raw_current ORDER BY 1") == [("S0",), ("S1",), ("S2",)]
    assert _sql(db, "SELECT count(*) FROM raw_marketing") == [(120 + 180,)]  # the sample's rows stay as history

    results = _ingest(db, sample)  # every file of the sample is already loaded
    assert [r.load_id for r in results] == [None]
    assert sorted(_current(db, sample).region.unique()) == ["R0", "R1"]
    assert _sql(db, "SELECT count(*) FROM raw_current") == [(120,)]


def test_a_dataset_whose_column_differs_from_an_earlier_datasets_only_by_case_is_ingested(tmp_path):
    db = tmp_path / "warehouse.duckdb"
    _ingest(db, write_dataset(tmp_path / "sample"))  # control "price"
    frame = toy_frame(seed=1).rename(columns={"price": "Price"})
    spec_path = write_dataset(tmp_path / "other", frame, dict(SPEC, controls=["Price"]))
    _ingest(db, spec_path)
    np.testing.assert_array_equal(_current(db, spec_path)["Price"].to_numpy(), frame["Price"].to_numpy())


def test_a_file_re_exported_without_a_region_takes_the_region_out_of_the_current_view(tmp_path):
    db = tmp_path / "warehouse.duckdb"
    spec_path = write_dataset(tmp_path / "in")
    _ingest(db, spec_path)
    frame = toy_frame()
    frame = frame[frame.region == "R0"].reset_index(drop=True)
    frame.loc[frame.week.isin(RESTATED_WEEKS), "sales"] = [5001.0, 5002.0, 5003.0, 5004.0]
    write_dataset(tmp_path / "in", frame)
    _ingest(db, spec_path)

    current = _current(db, spec_path)
    assert list(current.region.unique()) == ["R0"] and len(current) == 60
    restated = current[current.week_date.isin(pd.to_datetime(RESTATED_WEEKS))]
    assert list(restated.sales) == [5001.0, 5002.0, 5003.0, 5004.0]
    assert _sql(db, "SELECT count(*) FROM raw_marketing") == [(120 + 60,)]


@pytest.mark.parametrize("order,winner", [(("main.csv", "corrections.csv"), "corrections"),
                                          (("corrections.csv", "main.csv"), "main")])
def test_a_later_file_in_the_spec_restates_an_earlier_files_weeks(tmp_path, order, winner):
    db = tmp_path / "warehouse.duckdb"
    _ingest(db, write_dataset(tmp_path / "in", name="main.csv", spec=dict(SPEC, files=["main.csv"])))
    spec_path = write_dataset(tmp_path / "in", name="main.csv", spec=dict(SPEC, files=list(order)))
    corrections = _restated(toy_frame())
    corrections.to_csv(tmp_path / "in" / "corrections.csv", index=False)
    _ingest(db, spec_path)  # corrections.csv is the newest load either way: the spec's order decides

    current = _current(db, spec_path)
    assert len(current) == 120
    cells = current[(current.region == "R1") & current.week_date.isin(pd.to_datetime(RESTATED_WEEKS))]
    main = toy_frame().set_index(["region", "week"])
    expected = corrections if winner == "corrections" else main.loc[[("R1", w) for w in RESTATED_WEEKS]]
    np.testing.assert_array_equal(cells.sales.to_numpy(), expected.sales.to_numpy())
    # the warehouse and the core's reading of the same files agree cell for cell
    spec = DatasetSpec.from_yaml(spec_path)
    np.testing.assert_array_equal(frame_to_panel(current, spec).kpi, load_panel(spec).kpi)
    traced = _sql(db, "SELECT DISTINCT source_file FROM raw_current WHERE region = 'R1' "
                      "AND week_date = DATE '2023-03-13'")
    assert traced == [(str(tmp_path / "in" / f"{winner}.csv"),)]


def test_a_file_dropped_from_the_spec_leaves_the_current_view(tmp_path):
    db = tmp_path / "warehouse.duckdb"
    with_corrections = write_dataset(tmp_path / "in", name="main.csv",
                                     spec=dict(SPEC, files=["main.csv", "corrections.csv"]))
    _restated(toy_frame()).to_csv(tmp_path / "in" / "corrections.csv", index=False)
    _ingest(db, with_corrections)
    main_only = write_dataset(tmp_path / "in", name="main.csv", spec=dict(SPEC, files=["main.csv"]))

    results = _ingest(db, main_only)
    assert [r.load_id for r in results] == [None]  # main.csv is unchanged: no new load
    current = _current(db, main_only)
    cells = current[(current.region == "R1") & current.week_date.isin(pd.to_datetime(RESTATED_WEEKS))]
    assert 5001.0 not in set(cells.sales) and len(current) == 120
    assert _sql(db, "SELECT count(*) FROM raw_current WHERE source_file LIKE '%corrections.csv'") == [(0,)]
    assert _sql(db, "SELECT count(*) FROM raw_marketing WHERE source_file LIKE '%corrections.csv'") == [(4,)]


def test_a_control_the_loaded_file_always_had_is_read_when_the_spec_adds_it(tmp_path):
    db = tmp_path / "warehouse.duckdb"
    frame = toy_frame().assign(promo=lambda f: np.arange(len(f)) % 2 * 1.0)
    _ingest(db, write_dataset(tmp_path / "in", frame))  # the spec's controls: [price]
    spec_path = write_dataset(tmp_path / "in", frame, dict(SPEC, controls=["price", "promo"]))

    results = _ingest(db, spec_path)
    assert results[0].load_id is not None  # same bytes, but the newest load lacks promo: read again
    current = _current(db, spec_path)
    np.testing.assert_array_equal(current.promo.to_numpy(), frame.promo.to_numpy())
    # dropping the control again needs nothing new: the newest load has every column the spec reads
    assert [r.load_id for r in _ingest(db, write_dataset(tmp_path / "in", frame))] == [None]


def test_a_spec_change_that_reads_the_file_the_same_way_needs_no_new_load(tmp_path):
    db = tmp_path / "warehouse.duckdb"
    _ingest(db, write_dataset(tmp_path / "in"))
    renamed = dict(SPEC, name="toy, renamed", kpi_unit="EUR", currency="EUR",
                   channels=[{"name": "television", "spend": "tv_spend", "activity": "tv_grps"},
                             {"name": "search", "spend": "search_spend"}])
    spec_path = write_dataset(tmp_path / "in", spec=renamed)
    assert [r.load_id for r in _ingest(db, spec_path)] == [None]
    assert len(_current(db, spec_path)) == 120


def test_a_spec_that_dates_the_week_index_differently_reads_the_unchanged_file_again(tmp_path):
    db = tmp_path / "warehouse.duckdb"
    frame = toy_frame().assign(week=lambda f: f.groupby("region").cumcount())
    _ingest(db, write_dataset(tmp_path / "in", frame, dict(SPEC, week_start="2023-01-02")))
    spec_path = write_dataset(tmp_path / "in", frame, dict(SPEC, week_start="2024-01-01"))
    assert _ingest(db, spec_path)[0].load_id is not None
    assert str(_current(db, spec_path).week_date.min().date()) == "2024-01-01"


def test_a_national_dataset_with_a_corrections_file(tmp_path):
    db = tmp_path / "warehouse.duckdb"
    frame = toy_frame(n_regions=1).drop(columns=["region"])
    spec = {k: v for k, v in SPEC.items() if k != "region_column"}
    spec_path = write_dataset(tmp_path / "in", frame, dict(spec, files=["main.csv", "corrections.csv"]),
                              name="main.csv")
    corrections = frame[frame.week.isin(RESTATED_WEEKS)].assign(sales=[5001.0, 5002.0, 5003.0, 5004.0])
    corrections.to_csv(tmp_path / "in" / "corrections.csv", index=False)
    _ingest(db, spec_path)
    current = _current(db, spec_path)
    assert len(current) == 60
    assert list(current[current.week_date.isin(pd.to_datetime(RESTATED_WEEKS))].sales) == [5001.0, 5002.0,
                                                                                             5003.0, 5004.0]


def test_reading_the_current_view_with_a_spec_it_was_not_built_for_is_refused(tmp_path):
    db = tmp_path / "warehouse.duckdb"
    _ingest(db, write_dataset(tmp_path / "sample"))
    other = write_dataset(tmp_path / "other", toy_frame(n_regions=3, seed=1))
    with pytest.raises(wh.CurrentViewOutOfDate, match="raw_marketing_data"):
        _current(db, other)
    with pytest.raises(wh.CurrentViewOutOfDate, match="raw_marketing_data"):
        _current(tmp_path / "empty.duckdb", other)


def test_a_warehouse_from_before_the_current_loads_table_reads_each_file_once_more_then_reuses_it(tmp_path):
    db = tmp_path / "warehouse.duckdb"
    spec_path = write_dataset(tmp_path / "in")
    _ingest(db, spec_path)
    with duckdb.connect(str(db)) as conn:  # the layout of earlier versions: no read_layout, no raw_current_loads
        conn.execute("ALTER TABLE raw_loads DROP COLUMN read_layout")
        conn.execute("DROP TABLE raw_current_loads")
        conn.execute("CREATE OR REPLACE VIEW raw_current AS SELECT * FROM raw_marketing")
    with pytest.raises(wh.CurrentViewOutOfDate, match="raw_marketing_data"):
        _current(db, spec_path)
    # what an older version read is unknown (it may have read regions or dates differently): read once more
    assert _ingest(db, spec_path)[0].load_id is not None
    assert [r.load_id for r in _ingest(db, spec_path)] == [None]
    assert len(_current(db, spec_path)) == 120
