"""The data contract on files: every rejection names file, column, row and value."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mmm_core.data.contract import MAX_ABS_VALUE, DataContractError
from mmm_core.data.io import load_panel, validate_dataset
from mmm_core.data.spec import DatasetSpec
from tests.datasets import SPEC, toy_frame, write_dataset


def _reject(tmp_path, frame, spec=None, raw_csv: bytes | None = None) -> DataContractError:
    spec_path = write_dataset(tmp_path, frame, spec)
    if raw_csv is not None:
        (tmp_path / "toy.csv").write_bytes(raw_csv)
    with pytest.raises(DataContractError) as info:
        validate_dataset(DatasetSpec.from_yaml(spec_path))
    return info.value


def test_valid_file_loads_into_a_balanced_panel(tmp_path):
    panel = load_panel(write_dataset(tmp_path))
    assert panel.regions == ("R0", "R1")
    assert panel.channels == ("tv", "search")
    assert panel.n_weeks == 60 and panel.is_balanced
    frame = toy_frame()
    # activity comes from tv_grps where the spec names it, spend otherwise
    np.testing.assert_allclose(panel.activity[0, :, 0], frame.loc[frame.region == "R0", "tv_grps"])
    np.testing.assert_allclose(panel.activity[0, :, 1], frame.loc[frame.region == "R0", "search_spend"])
    np.testing.assert_allclose(panel.population, [1000.0, 2000.0])


@pytest.mark.parametrize("column,value,problem", [
    ("tv_spend", "abc", "not a number"),
    ("sales", "", "missing value"),
    ("price", "nan", "not finite"),
    ("search_spend", "inf", "not finite"),
    ("tv_spend", "-3", "negative"),
    ("tv_grps", "-0.5", "negative"),
    ("sales", "-1", "negative"),
    ("week", "not-a-date", "not a date"),
    ("tv_spend", "1e308", "beyond"),
    ("sales", "1e308", "beyond"),
    ("price", "-1e308", "beyond"),
    ("population", "2e15", "beyond"),
])
def test_bad_cell_is_named_by_file_column_row_and_value(tmp_path, column, value, problem):
    frame = toy_frame()
    frame[column] = frame[column].astype(object)
    frame.loc[17, column] = value
    err = _reject(tmp_path, frame)
    assert problem in str(err)
    assert err.column == column and err.row == 18  # 1-based data row
    assert str(tmp_path / "toy.csv") in str(err) and "row 18" in str(err)


def test_largest_accepted_magnitude_loads(tmp_path):
    frame = toy_frame()
    frame.loc[3, "tv_spend"] = MAX_ABS_VALUE
    frame.loc[4, "price"] = -MAX_ABS_VALUE
    panel = load_panel(write_dataset(tmp_path, frame))
    assert panel.spend.max() == MAX_ABS_VALUE


@pytest.mark.parametrize("controls, problem", [("price", "a list of column names"), ([["price"]], "not a column name"),
                                               ([""], "not a column name")])
def test_spec_with_controls_of_the_wrong_type_is_refused_naming_the_key(tmp_path, controls, problem):
    spec = {**SPEC, "controls": controls}
    with pytest.raises(DataContractError) as info:
        DatasetSpec.from_yaml(write_dataset(tmp_path, spec=spec))
    assert info.value.column == "controls" and problem in str(info.value)


def test_missing_column(tmp_path):
    err = _reject(tmp_path, toy_frame().drop(columns=["price"]))
    assert err.column == "price" and "missing column" in str(err)


def test_duplicate_region_week_names_both_rows(tmp_path):
    frame = toy_frame()
    frame = pd.concat([frame, frame.iloc[[5]]], ignore_index=True)
    err = _reject(tmp_path, frame)
    assert "duplicate" in str(err) and err.row == len(frame) and "first seen at row 6" in str(err)


def test_week_off_the_weekly_grid(tmp_path):
    frame = toy_frame()
    frame.loc[30, "week"] = "2023-07-27"  # a Thursday among Mondays
    err = _reject(tmp_path, frame)
    assert "weekly grid" in str(err) and err.row == 31 and err.column == "week"


@pytest.mark.parametrize("date", ["2262-04-12", "9999-12-27", "1066-10-12"])
def test_week_date_outside_the_supported_range(tmp_path, date):
    # found by hypothesis: a date past pandas' nanosecond range overflowed instead of being named
    frame = toy_frame()
    frame["week"] = frame["week"].astype(object)
    frame.loc[1, "week"] = date
    err = _reject(tmp_path, frame)
    assert "outside" in str(err) and err.row == 2 and err.column == "week" and date in str(err)


def test_huge_integer_week_index(tmp_path):
    frame = toy_frame()
    frame["week"] = frame.groupby("region").cumcount()
    frame.loc[3, "week"] = 10**15
    err = _reject(tmp_path, frame, dict(SPEC, week_start="2023-01-02"))
    assert "week index" in str(err) and err.row == 4 and err.column == "week"


def test_csv_cut_off_inside_its_last_row_is_refused(tmp_path):
    # found by hypothesis: a copy cut inside the last number ("2000.0" -> "2") still parses as a row
    data = toy_frame().to_csv(index=False).encode()
    cut = data[:data.rindex(b"\n", 0, len(data) - 1) + 1] + data[data.rindex(b"\n", 0, len(data) - 1) + 1:][:30]
    err = _reject(tmp_path, toy_frame(), raw_csv=cut)
    assert "line break" in str(err) and err.row == len(toy_frame()) and str(tmp_path / "toy.csv") in str(err)


def test_fewer_than_52_weeks(tmp_path):
    err = _reject(tmp_path, toy_frame(n_weeks=40))
    assert "52" in str(err) and err.column == "week"


def test_channel_with_zero_spend_everywhere(tmp_path):
    frame = toy_frame()
    frame["search_spend"] = 0.0
    err = _reject(tmp_path, frame)
    assert err.column == "search_spend" and "zero spend" in str(err)


def test_empty_file_and_header_only(tmp_path):
    assert "empty" in str(_reject(tmp_path, toy_frame(), raw_csv=b""))
    assert "no data rows" in str(_reject(tmp_path, toy_frame(), raw_csv=b"region,week,sales\n"))


def test_non_utf8_bytes(tmp_path):
    good = toy_frame().to_csv(index=False).encode()
    err = _reject(tmp_path, toy_frame(), raw_csv=good.replace(b"R0", b"R\xff0", 1))
    assert "UTF-8" in str(err)


def test_unbalanced_panel_is_valid_and_reported(tmp_path):
    frame = toy_frame()
    frame = frame.drop(index=[0, 1, 2, 70]).reset_index(drop=True)  # R0 starts late; R1 has a gap
    panel = load_panel(write_dataset(tmp_path, frame))
    report = panel.balance_report()
    assert not panel.is_balanced
    assert report["missing_region_weeks"] == 4
    assert report["late_start_regions"] == {"R0": "2023-01-23"}


def test_integer_week_index_with_start_date(tmp_path):
    frame = toy_frame()
    frame["week"] = frame.groupby("region").cumcount()
    spec = dict(SPEC, week_start="2023-01-02")
    panel = load_panel(write_dataset(tmp_path, frame, spec))
    assert str(panel.weeks[0]) == "2023-01-02" and panel.n_weeks == 60


def test_national_series_without_region_column(tmp_path):
    frame = toy_frame(n_regions=1).drop(columns=["region"])
    spec = {k: v for k, v in SPEC.items() if k != "region_column"}
    panel = load_panel(write_dataset(tmp_path, frame, spec))
    assert panel.regions == ("national",)


def test_parquet_input(tmp_path):
    frame = toy_frame()
    frame["week"] = pd.to_datetime(frame["week"])
    frame.to_parquet(tmp_path / "toy.parquet")
    spec = DatasetSpec.from_dict(dict(SPEC, files=["toy.parquet"]), base_dir=tmp_path)
    panel = load_panel(spec)
    assert panel.n_regions == 2 and panel.n_weeks == 60


def test_spec_pointing_outside_its_folder_is_refused(tmp_path):
    spec_path = write_dataset(tmp_path / "data", toy_frame(), dict(SPEC, files=["../../etc/passwd.csv"]))
    with pytest.raises(DataContractError, match="outside"):
        load_panel(spec_path)
    with pytest.raises(DataContractError, match="outside"):
        load_panel(write_dataset(tmp_path / "d2", toy_frame(), dict(SPEC, files=["/etc/passwd.csv"])))


@pytest.mark.parametrize("name", ["unit price", 'say "hi"', "select", "ünïcödé", 'x"; drop table raw;--'])
def test_awkward_column_names_are_fine(tmp_path, name):
    frame = toy_frame().rename(columns={"price": name})
    panel = load_panel(write_dataset(tmp_path, frame, dict(SPEC, controls=[name])))
    assert panel.control_names == (name,)
