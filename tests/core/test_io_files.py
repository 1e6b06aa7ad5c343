"""Datasets of several files: a later file in the spec's ``files`` restates an earlier file's (region, week) rows;
within one file a repeated (region, week) is still an error naming that file and row."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mmm_core.data.contract import DataContractError
from mmm_core.data.io import dataset_rows, load_panel, validate_dataset
from mmm_core.data.spec import DatasetSpec
from tests.datasets import SPEC, toy_frame, write_dataset

RESTATED_WEEKS = ["2023-03-06", "2023-03-13", "2023-03-20", "2023-03-27"]


def _corrections() -> pd.DataFrame:
    """Region R1's rows for four weeks, with the KPI and TV spend restated."""
    frame = toy_frame()
    rows = frame[(frame.region == "R1") & frame.week.isin(RESTATED_WEEKS)].copy()
    rows["sales"] = [5001.0, 5002.0, 5003.0, 5004.0]
    rows["tv_spend"] = 77.0
    return rows.reset_index(drop=True)


def _two_files(folder, corrections: pd.DataFrame, order=("main.csv", "corrections.csv")):
    write_dataset(folder, toy_frame(), name="main.csv", spec=dict(SPEC, files=list(order)))
    corrections.to_csv(folder / "corrections.csv", index=False)
    return DatasetSpec.from_yaml(folder / "spec.yaml")


def test_a_later_file_restates_weeks_of_an_earlier_file(tmp_path):
    panel = load_panel(_two_files(tmp_path, _corrections()))
    main = toy_frame()
    r1 = panel.regions.index("R1")
    weeks = [str(w) for w in panel.weeks]
    for value, week in zip([5001.0, 5002.0, 5003.0, 5004.0], RESTATED_WEEKS):
        assert panel.kpi[r1, weeks.index(week)] == value
        assert panel.spend[r1, weeks.index(week), 0] == 77.0
    # every other region-week is the main file's
    untouched = (main.region == "R0") | ~main.week.isin(RESTATED_WEEKS)
    for _, row in main[untouched].iterrows():
        assert panel.kpi[panel.regions.index(row.region), weeks.index(row.week)] == row.sales
    assert panel.is_balanced and panel.n_weeks == 60


def test_the_precedence_follows_the_order_of_files_in_the_spec(tmp_path):
    spec = _two_files(tmp_path, _corrections(), order=("corrections.csv", "main.csv"))
    rows = dataset_rows(validate_dataset(spec), spec)
    assert len(rows) == len(toy_frame())
    restated = rows[(rows.region == "R1") & rows.week_date.isin(pd.to_datetime(RESTATED_WEEKS))]
    main = toy_frame()
    expected = main[(main.region == "R1") & main.week.isin(RESTATED_WEEKS)].sales
    np.testing.assert_array_equal(restated.sales.to_numpy(), expected.to_numpy())


def test_a_duplicate_inside_one_of_several_files_names_that_file_and_row(tmp_path):
    corrections = _corrections()
    corrections = pd.concat([corrections, corrections.iloc[[1]]], ignore_index=True)  # row 5 repeats row 2
    with pytest.raises(DataContractError) as info:
        validate_dataset(_two_files(tmp_path, corrections))
    err = info.value
    assert err.file == str(tmp_path / "corrections.csv") and err.row == 5 and "first seen at row 2" in str(err)


def test_a_week_off_the_grid_of_the_other_files_names_its_own_file_and_row(tmp_path):
    corrections = _corrections()
    corrections["week"] = (pd.to_datetime(corrections["week"]) + pd.Timedelta(days=1)).dt.date.astype(str)
    with pytest.raises(DataContractError) as info:
        validate_dataset(_two_files(tmp_path, corrections))
    err = info.value
    assert "weekly grid" in str(err) and err.file == str(tmp_path / "corrections.csv") and err.row == 1
    assert err.column == "week"


def test_a_file_listed_twice_is_refused_naming_it(tmp_path):
    spec = _two_files(tmp_path, _corrections(), order=("main.csv", "./main.csv"))
    with pytest.raises(DataContractError) as info:
        validate_dataset(spec)
    assert info.value.column == "files" and "main.csv" in str(info.value) and "twice" in str(info.value)
