"""The dataset spec refuses itself at load: every broken spec is one DataContractError naming the key or column,
never a TypeError or OSError from deep inside (and never a DuckDB error at ingest)."""

from __future__ import annotations

import unicodedata

import pytest
import yaml

from mmm_core.data.contract import DataContractError
from mmm_core.data.spec import RESERVED_COLUMNS, DatasetSpec
from tests.datasets import SPEC


def _load(tmp_path, **changes) -> DatasetSpec:
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump({**SPEC, **changes}, sort_keys=False, allow_unicode=True))
    return DatasetSpec.from_yaml(path)


def _refused(tmp_path, **changes) -> DataContractError:
    with pytest.raises(DataContractError) as info:
        _load(tmp_path, **changes)
    return info.value


@pytest.mark.parametrize("files", [5, 2.5, True, {"toy.csv": 1}, [5], [None], [""], ["  "], [["toy.csv"]]],
                         ids=repr)
def test_files_that_are_not_file_names_are_refused_naming_the_key(tmp_path, files):
    err = _refused(tmp_path, files=files)
    assert err.column == "files" and "file name" in str(err)


def test_a_nul_byte_in_a_file_name_is_refused_at_load(tmp_path):
    err = _refused(tmp_path, files=["to\0y.csv"])
    assert err.column == "files" and "NUL" in str(err)


def test_a_spec_path_that_is_a_directory_is_refused(tmp_path):
    with pytest.raises(DataContractError) as info:
        DatasetSpec.from_yaml(tmp_path)
    assert "directory" in str(info.value) and info.value.file == str(tmp_path)


def test_a_spec_path_with_a_nul_byte_is_refused(tmp_path):
    with pytest.raises(DataContractError) as info:
        DatasetSpec.from_yaml(str(tmp_path / "spe\0c.yaml"))
    assert "NUL" in str(info.value)


@pytest.mark.parametrize("controls", [["price_index", "Price_Index"], ["price", "PRICE"], ["price", "Sales"]])
def test_two_columns_differing_only_by_case_are_refused(tmp_path, controls):
    # DuckDB folds ASCII letters in identifiers: "price_index" and "Price_Index" would be one column there
    err = _refused(tmp_path, controls=controls)
    assert "differ only by case" in str(err) and err.column == controls[1]


def test_non_ascii_letters_of_different_case_are_two_columns(tmp_path):
    # DuckDB folds ASCII letters only (checked on duckdb 2.0.1): "é" and "É" are two columns there, so two here
    spec = _load(tmp_path, controls=["prix é", "prix É"])
    assert spec.controls == ("prix é", "prix É")


@pytest.mark.parametrize("name", ["week_date", "Week_Date", "LOAD_ID", "load_seq", "Source_File", "FILE_HASH",
                                  "loaded_at", "source_row"])
@pytest.mark.parametrize("role", ["controls", "kpi_column", "channel spend"])
def test_a_column_named_like_the_warehouses_own_is_refused_in_any_case(tmp_path, name, role):
    if role == "controls":
        changes = {"controls": ["price", name]}
    elif role == "kpi_column":
        changes = {"kpi_column": name}
    else:
        changes = {"channels": [{"name": "tv", "spend": name}, {"name": "search", "spend": "search_spend"}]}
    err = _refused(tmp_path, **changes)
    assert "reserved" in str(err) and err.column == name


def test_reserved_names_are_lower_case_and_include_every_load_column():
    assert all(name == name.lower() for name in RESERVED_COLUMNS)
    assert {"load_id", "load_seq", "source_file", "file_hash", "loaded_at", "source_row", "week_date"} <= set(
        RESERVED_COLUMNS)


def test_column_and_channel_names_are_read_as_nfc(tmp_path):
    nfd = unicodedata.normalize("NFD", "prix unitaire é")
    spec = _load(tmp_path, controls=[nfd], channels=[{"name": unicodedata.normalize("NFD", "télé"), "spend": "tv"}])
    assert spec.controls == ("prix unitaire é",) and spec.channels[0].name == "télé"


def test_the_same_column_in_nfc_and_nfd_is_one_column_used_twice(tmp_path):
    err = _refused(tmp_path, controls=["é", unicodedata.normalize("NFD", "é")])
    assert "used twice" in str(err)


# -- how the files are written: date_format, delimiter, decimal ---------------------------------------------------

def test_file_format_keys_are_read(tmp_path):
    spec = _load(tmp_path, date_format="%d/%m/%Y", delimiter=";", decimal=",")
    assert (spec.date_format, spec.delimiter, spec.decimal) == ("%d/%m/%Y", ";", ",")
    assert DatasetSpec.from_dict(spec.to_dict(), base_dir=tmp_path) == spec


def test_file_format_keys_default_to_iso_comma_and_point(tmp_path):
    spec = _load(tmp_path)
    assert (spec.date_format, spec.delimiter, spec.decimal) == (None, ",", ".")


def test_a_tab_delimiter_is_read_from_yaml(tmp_path):
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(SPEC) + 'delimiter: "\\t"\n')
    assert DatasetSpec.from_yaml(tmp_path / "spec.yaml").delimiter == "\t"


@pytest.mark.parametrize("key, value, problem", [
    ("delimiter", 5, "one character"),
    ("delimiter", ";;", "one character"),
    ("delimiter", "", "one character"),
    ("delimiter", '"', "quote"),
    ("delimiter", "\n", "line break"),
    ("delimiter", ".", "decimal"),
    ("decimal", ";", "'.' or ','"),
    ("decimal", 1, "'.' or ','"),
    ("date_format", 5, "text"),
    ("date_format", "%Y-%m", "day, month and year"),
    ("date_format", "dd/mm/yyyy", "day, month and year"),
    ("date_format", "%d/%m/%Y %H:%M", "time of day"),
])
def test_file_format_keys_of_the_wrong_type_or_value_are_refused_naming_the_key(tmp_path, key, value, problem):
    err = _refused(tmp_path, **{key: value})
    assert err.column == key and problem in str(err)


def test_decimal_comma_with_comma_delimiter_is_refused(tmp_path):
    err = _refused(tmp_path, decimal=",")
    assert err.column == "decimal" and "delimiter" in str(err)


def test_date_format_with_an_integer_week_index_is_refused(tmp_path):
    err = _refused(tmp_path, date_format="%d/%m/%Y", week_start="2023-01-02")
    assert err.column == "date_format" and "week_start" in str(err)
