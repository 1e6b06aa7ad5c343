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


# -- a CSV whose last row has no line break (issue 15, item 8) ----------------------------------------------------

def _csv_without_final_newline(frame: pd.DataFrame, **to_csv) -> bytes:
    data = frame.to_csv(index=False, **to_csv).encode()
    assert data.endswith(b"\n")
    return data[:-1]


def _load_raw(tmp_path, raw: bytes, spec=None):
    spec_path = write_dataset(tmp_path, toy_frame(), spec)
    (tmp_path / "toy.csv").write_bytes(raw)
    return validate_dataset(DatasetSpec.from_yaml(spec_path))


def test_csv_without_a_final_line_break_loads_when_its_last_row_is_complete(tmp_path):
    frame = toy_frame()
    files = _load_raw(tmp_path, _csv_without_final_newline(frame))
    assert len(files[0].frame) == len(frame)
    np.testing.assert_allclose(files[0].frame["population"], frame["population"])
    np.testing.assert_allclose(files[0].frame["sales"], frame["sales"])


def test_meridian_shaped_export_without_a_final_line_break_loads(tmp_path):
    # Google Meridian's geo_all_channels.csv: an unnamed index column first, no line break after the last row
    frame = toy_frame()
    raw = frame.to_csv(index=True).encode().rstrip(b"\n")
    assert raw.startswith(b",region,week,")
    files = _load_raw(tmp_path, raw)
    assert len(files[0].frame) == len(frame)


def _last_line_cut(frame: pd.DataFrame, keep: int) -> bytes:
    """The CSV of ``frame`` cut ``keep`` characters into its last row."""
    data = frame.to_csv(index=False).encode()
    start = data.rindex(b"\n", 0, len(data) - 1) + 1
    return data[:start + keep]


def test_csv_cut_off_before_the_last_field_of_its_last_row_is_refused(tmp_path):
    # found by hypothesis: a copy cut inside the last row (here after its third field) still parses as a row
    frame = toy_frame()
    last = frame.to_csv(index=False).splitlines()[-1]
    cut = _last_line_cut(frame, len(",".join(last.split(",")[:3])))
    err = _reject(tmp_path, frame, raw_csv=cut)
    assert "3 of 8 fields" in str(err) and "cut off" in str(err)
    assert err.row == len(frame) and str(tmp_path / "toy.csv") in str(err)


def test_csv_cut_off_inside_a_quoted_last_value_is_refused(tmp_path):
    frame = toy_frame()
    frame["note"] = "a note"
    raw = frame.to_csv(index=False, quoting=1).encode()  # every field quoted
    err = _reject(tmp_path, frame, raw_csv=raw[:-4])
    assert "inside a quoted value" in str(err) and "cut off" in str(err)


@pytest.mark.parametrize("kept", ["2", "20", "200", "2000", "2000."])
def test_csv_cut_inside_a_last_value_shorter_than_its_column_is_refused(tmp_path, kept):
    # every population is written "1000.0" or "2000.0": a shorter last value is a cut, not a number
    frame = toy_frame()
    data = frame.to_csv(index=False).encode()
    assert data.endswith(b",2000.0\n")
    err = _reject(tmp_path, frame, raw_csv=data[:-len(b"2000.0\n")] + kept.encode())
    assert "cut off" in str(err) and err.column == "population" and err.row == len(frame)
    assert err.value == kept


def test_csv_cut_inside_a_number_of_a_ragged_column_is_not_detectable(tmp_path):
    # The limit of what can be caught: sales are written with 1 or 2 decimals and 5 to 7 characters, so
    # "1034.5" (cut from "1034.52") looks like any other sales figure and the row loads as it is.
    frame = toy_frame()[["region", "week", "tv_spend", "tv_grps", "search_spend", "price", "population", "sales"]]
    frame.loc[0, "sales"] = 999.5
    frame.loc[len(frame) - 1, "sales"] = 1034.52
    data = frame.to_csv(index=False).encode()
    files = _load_raw(tmp_path, data[:-len(b"2\n")])
    assert files[0].frame["sales"].iloc[-1] == 1034.5


def test_header_with_fewer_fields_than_every_row_is_refused(tmp_path):
    # pandas would silently take the first column as the index and shift every name by one
    frame = toy_frame()
    data = frame.to_csv(index=True).encode()
    raw = data[data.index(b",") + 1:]  # the index column's (empty) name removed from the header only
    err = _reject(tmp_path, frame, raw_csv=raw)
    assert "header" in str(err) and "fields" in str(err)


# -- day-first dates, ';' and tab separated files, decimal commas (issue 15, item 11) ---------------------------

def _day_first(frame: pd.DataFrame, fmt: str = "%d/%m/%Y") -> pd.DataFrame:
    frame = frame.copy()
    frame["week"] = pd.to_datetime(frame["week"]).dt.strftime(fmt)
    return frame


@pytest.mark.parametrize("fmt", ["%d/%m/%Y", "%d.%m.%Y", "%d-%m-%Y"])
def test_day_first_dates_are_named_as_day_first(tmp_path, fmt):
    err = _reject(tmp_path, _day_first(toy_frame(), fmt))
    assert "day-first" in str(err) and f"date_format: '{fmt}'" in str(err) and err.column == "week"
    assert isinstance(err.row, int) and int(err.value[:2]) > 12


@pytest.mark.parametrize("fmt", ["%d/%m/%Y", "%d.%m.%Y"])
def test_day_first_dates_load_with_the_specs_date_format(tmp_path, fmt):
    panel = load_panel(write_dataset(tmp_path, _day_first(toy_frame(), fmt), dict(SPEC, date_format=fmt)))
    assert str(panel.weeks[0]) == "2023-01-02" and panel.n_weeks == 60 and panel.is_balanced


def test_a_date_not_in_the_specs_date_format_is_named(tmp_path):
    frame = _day_first(toy_frame())
    frame.loc[7, "week"] = "2023-02-20"
    err = _reject(tmp_path, frame, dict(SPEC, date_format="%d/%m/%Y"))
    assert "not a date" in str(err) and "%d/%m/%Y" in str(err) and err.row == 8


def test_month_first_dates_still_load(tmp_path):
    panel = load_panel(write_dataset(tmp_path, _day_first(toy_frame(), "%m/%d/%Y")))
    assert str(panel.weeks[0]) == "2023-01-02" and panel.n_weeks == 60


def _write_csv(tmp_path, frame, spec=None, **to_csv) -> tuple:
    spec_path = write_dataset(tmp_path, frame, spec)
    frame.to_csv(tmp_path / "toy.csv", index=False, **to_csv)
    return spec_path


def test_semicolon_file_with_decimal_commas_is_named_with_the_keys_to_set(tmp_path):
    spec_path = _write_csv(tmp_path, toy_frame(), sep=";", decimal=",")
    with pytest.raises(DataContractError) as info:
        validate_dataset(DatasetSpec.from_yaml(spec_path))
    assert "';'-separated" in str(info.value) and "delimiter: ';'" in str(info.value)
    assert "decimal: ','" in str(info.value)


def test_tab_separated_file_is_named_with_the_key_to_set(tmp_path):
    spec_path = _write_csv(tmp_path, toy_frame(), sep="\t")
    with pytest.raises(DataContractError) as info:
        validate_dataset(DatasetSpec.from_yaml(spec_path))
    assert "tab-separated" in str(info.value) and 'delimiter: "\\t"' in str(info.value)
    assert "decimal" not in str(info.value)


def test_semicolon_file_with_decimal_commas_loads_with_the_specs_keys(tmp_path):
    frame = toy_frame()
    spec_path = _write_csv(tmp_path, frame, dict(SPEC, delimiter=";", decimal=","), sep=";", decimal=",")
    assert b"," in (tmp_path / "toy.csv").read_bytes()
    panel = load_panel(spec_path)
    np.testing.assert_allclose(panel.kpi[0], frame.loc[frame.region == "R0", "sales"])
    np.testing.assert_allclose(panel.controls[1, :, 0], frame.loc[frame.region == "R1", "price"])


def test_tab_separated_file_loads_with_the_specs_delimiter(tmp_path):
    frame = toy_frame()
    panel = load_panel(_write_csv(tmp_path, frame, dict(SPEC, delimiter="\t"), sep="\t"))
    np.testing.assert_allclose(panel.kpi[0], frame.loc[frame.region == "R0", "sales"])


def test_a_decimal_comma_where_the_spec_says_point_is_named(tmp_path):
    spec_path = _write_csv(tmp_path, toy_frame(), dict(SPEC, delimiter=";"), sep=";", decimal=",")
    err = _reject_spec(spec_path)
    assert "not a number" in str(err) and "decimal: ','" in str(err) and err.row == 1


def test_a_point_in_a_decimal_comma_file_is_refused_as_a_thousands_separator(tmp_path):
    frame = toy_frame()
    frame["sales"] = frame["sales"].map(lambda v: f"{v:.2f}".replace(".", ","))
    frame.loc[4, "sales"] = "1.034,50"
    err = _reject_spec(_write_csv(tmp_path, frame, dict(SPEC, delimiter=";", decimal=","), sep=";"))
    assert err.column == "sales" and err.row == 5 and "thousands" in str(err)


def _reject_spec(spec_path) -> DataContractError:
    with pytest.raises(DataContractError) as info:
        validate_dataset(DatasetSpec.from_yaml(spec_path))
    return info.value


# -- unicode names: one region, one column, whatever the normal form (issue 15, item 14) -------------------------

def _nfd(text: str) -> str:
    import unicodedata
    return unicodedata.normalize("NFD", text)


def test_a_region_written_in_nfc_and_nfd_is_one_region(tmp_path):
    frame = toy_frame()
    r0 = frame.region == "R0"
    frame.loc[r0, "region"] = "Zürich"
    frame.loc[r0 & (frame.index % 2 == 1), "region"] = _nfd("Zürich")
    assert frame.region.nunique() == 3
    panel = load_panel(write_dataset(tmp_path, frame))
    assert panel.regions == ("R1", "Zürich") and panel.is_balanced


def test_one_region_week_in_nfc_and_nfd_is_a_duplicate(tmp_path):
    frame = toy_frame()
    frame.loc[frame.region == "R0", "region"] = "Zürich"
    extra = frame.iloc[[3]].assign(region=_nfd("Zürich"))
    err = _reject(tmp_path, pd.concat([frame, extra], ignore_index=True))
    assert "duplicate" in str(err) and "first seen at row 4" in str(err)


def test_a_column_written_in_nfd_matches_the_specs_nfc_name(tmp_path):
    frame = toy_frame().rename(columns={"price": _nfd("prix é")})
    panel = load_panel(write_dataset(tmp_path, frame, dict(SPEC, controls=["prix é"])))
    assert panel.control_names == ("prix é",)


# -- columns the spec does not name (issue 15, item 15) -----------------------------------------------------------

def test_columns_the_spec_does_not_name_are_ignored_and_listed(tmp_path, caplog):
    frame = toy_frame()
    frame["notes"] = "x"
    frame["load_id"] = 7
    spec_path = write_dataset(tmp_path, frame)
    with caplog.at_level("INFO", logger="mmm_core.data.io"):
        files = validate_dataset(DatasetSpec.from_yaml(spec_path))
    assert files[0].unused_columns == ("notes", "load_id")
    assert "notes" not in files[0].frame.columns and "load_id" not in files[0].frame.columns
    assert any("'notes'" in r.getMessage() and "toy.csv" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("name", ["x" * 300 + ".csv", "a/" * 3000 + "x.csv"], ids=["long name", "long path"])
def test_a_file_name_the_file_system_refuses_is_a_contract_error(tmp_path, name):
    # an OSError ("File name too long") escaped from the existence check and was retried as a crash
    err = _reject(tmp_path, toy_frame(), dict(SPEC, files=[name]))
    assert "too long" in str(err) and err.file.endswith("x.csv")


def test_a_missing_column_names_the_header_column_that_differs_only_by_case(tmp_path):
    err = _reject(tmp_path, toy_frame(), dict(SPEC, controls=["Price"]))
    assert err.column == "Price" and "missing column" in str(err) and "'price'" in str(err) and "case" in str(err)
