"""Hypothesis strategies for hostile dataset files: one small valid toy dataset, then one breakage.

A case is a ``Case`` (the frame or raw bytes to write, the spec, and what was broken) so that a test can
say what a rejection must name. The base frame is 2 regions x 53 weeks: just above the 52-week minimum,
so dropping or duplicating a row exercises the cross-row rules too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import yaml
from hypothesis import strategies as st

from tests.datasets import SPEC, toy_frame

NUMERIC = ("sales", "tv_spend", "tv_grps", "search_spend", "price", "population")
NONNEGATIVE = ("sales", "tv_spend", "tv_grps", "search_spend", "population")
HOSTILE_NAMES = ["unit price", "select", 'x"; drop table raw_marketing;--', "prix unitaire €", "価格", "from",
                 "a'b", "tab\there", "  padded  ", "CamelCase", "x\\y", "drop", "1st", "%s", "{price}"]
HOSTILE_TEXT = ["abc", "", " ", "NaN", "nan", "-nan", "inf", "-inf", "Infinity", "1e400", "-1e400", "-1", "-0.0001",
                "1,5", "0x10", "TRUE", "None", "null", "1e308", "1.7976931348623157e308", "12 34", "١٢٣", "½",
                "'; drop table raw_marketing;--", "\"", "é", "\u0000", "9" * 400, "+5", " 7 ", "5e-324"]
HOSTILE_WEEKS = ["2023-13-01", "2023-02-30", "", "yesterday", "2023-01-09T00:00:00+05:00", "2023-01-09 12:00",
                 "1e10", "0001-01-01", "9999-12-31", "2023-01-10", "2023/01/09", "09.01.2023", "2023-W02",
                 "'; drop table raw_marketing;--", "2262-04-12", "1677-09-21", "17", "-1"]
HOSTILE_REGIONS = ["", " ", "national", "R0", "x\"; drop table raw_marketing;--", "Zürich", "東京", "a" * 500,
                   "NULL", "\u200b"]


@dataclass
class Case:
    """One dataset on disk to be: ``frame`` written as ``suffix`` (or ``raw`` bytes as is) plus ``spec``."""

    frame: pd.DataFrame
    spec: dict
    broken: str
    suffix: str = ".csv"
    raw: bytes | None = None
    cell: tuple[str, int] | None = None  # (column, 1-based row) of a single broken cell, if that is the breakage
    notes: dict = field(default_factory=dict)

    def write(self, folder: Path) -> Path:
        """Write the data file and spec.yaml into ``folder``; return the spec path."""
        folder.mkdir(parents=True, exist_ok=True)
        name = f"data{self.suffix}"
        path = folder / name
        if self.raw is not None:
            path.write_bytes(self.raw)
        elif self.suffix == ".parquet":
            write_parquet(self.frame, path)
        else:
            self.frame.to_csv(path, index=False)
        spec = dict(self.spec, files=[name])
        (folder / "spec.yaml").write_text(yaml.safe_dump(spec, sort_keys=False, allow_unicode=True))
        return folder / "spec.yaml"

    @property
    def n_rows(self) -> int:
        """Data rows the written file holds: the frame's, or for raw CSV bytes the non-empty lines after the
        header (the base frame has no quoted line breaks)."""
        if self.raw is None:
            return len(self.frame)
        return sum(1 for line in self.raw.replace(b"\r\n", b"\n").split(b"\n")[1:] if line.strip())


def write_parquet(frame: pd.DataFrame, path: Path) -> None:
    """Parquet with the frame's types where Arrow takes them, text otherwise; duplicate names are kept."""
    arrays = []
    for i in range(frame.shape[1]):
        column = frame.iloc[:, i]
        try:
            arrays.append(pa.array(column, from_pandas=True))
        except (pa.ArrowInvalid, pa.ArrowTypeError):  # mixed numbers and text: every cell as text
            arrays.append(pa.array(column.astype(str)))
    pq.write_table(pa.Table.from_arrays(arrays, names=[str(c) for c in frame.columns]), path)


def base_frame() -> pd.DataFrame:
    return toy_frame(n_regions=2, n_weeks=53, seed=1)


def _spec() -> dict:
    return {k: (list(v) if isinstance(v, list) else v) for k, v in SPEC.items() if k != "files"}


def _rename(spec: dict, old: str, new: str) -> dict:
    """The spec with column ``old`` renamed to ``new`` in whichever role it has."""
    spec = yaml.safe_load(yaml.safe_dump(spec))
    for key in ("week_column", "region_column", "kpi_column", "population_column"):
        if spec.get(key) == old:
            spec[key] = new
    for ch in spec["channels"]:
        for key in ("spend", "activity"):
            if ch.get(key) == old:
                ch[key] = new
    spec["controls"] = [new if c == old else c for c in spec.get("controls", [])]
    return spec


@st.composite
def broken_cell(draw) -> Case:
    frame = base_frame()
    column = draw(st.sampled_from(NUMERIC + ("week", "region")))
    row = draw(st.integers(1, len(frame)))
    pool = HOSTILE_WEEKS if column == "week" else HOSTILE_REGIONS if column == "region" else HOSTILE_TEXT
    value = draw(st.sampled_from(pool) | st.text(max_size=12))
    frame[column] = frame[column].astype(object)
    frame.loc[row - 1, column] = value
    return Case(frame, _spec(), f"cell {column} row {row} = {value!r}", cell=(column, row),
                suffix=draw(st.sampled_from([".csv", ".parquet"])))


@st.composite
def broken_number(draw) -> Case:
    """A typed (Parquet) numeric cell set to NaN, infinity, a negative or a huge number."""
    frame = base_frame()
    column = draw(st.sampled_from(NUMERIC))
    row = draw(st.integers(1, len(frame)))
    value = draw(st.sampled_from([math.nan, math.inf, -math.inf, -1.0, -1e-300, 1e308, 1.7976931348623157e308,
                                  5e-324, 0.0]))
    frame.loc[row - 1, column] = value
    return Case(frame, _spec(), f"number {column} row {row} = {value!r}", cell=(column, row), suffix=".parquet")


@st.composite
def broken_shape(draw) -> Case:
    """Rows or columns missing, extra or duplicated."""
    frame = base_frame()
    spec = _spec()
    kind = draw(st.sampled_from(["drop_column", "extra_column", "duplicate_row", "drop_rows", "header_only",
                                 "duplicate_header", "shuffle_rows"]))
    if kind == "drop_column":
        frame = frame.drop(columns=[draw(st.sampled_from(list(frame.columns)))])
    elif kind == "extra_column":
        frame[draw(st.sampled_from(HOSTILE_NAMES + ["load_id", "source_row"]))] = draw(st.sampled_from(["x", 1.0, ""]))
    elif kind == "duplicate_row":
        i = draw(st.integers(0, len(frame) - 1))
        frame = pd.concat([frame, frame.iloc[[i]]], ignore_index=True)
    elif kind == "drop_rows":
        n = draw(st.integers(1, len(frame) - 1))
        frame = frame.drop(index=draw(st.lists(st.integers(0, len(frame) - 1), min_size=1, max_size=n))).reset_index(drop=True)
    elif kind == "header_only":
        frame = frame.iloc[:0]
    elif kind == "duplicate_header":
        frame = frame.rename(columns={"price": "sales"})
    elif kind == "shuffle_rows":
        frame = frame.sample(frac=1.0, random_state=draw(st.integers(0, 10))).reset_index(drop=True)
    return Case(frame, spec, kind, suffix=draw(st.sampled_from([".csv", ".parquet"])))


@st.composite
def broken_bytes(draw) -> Case:
    """A CSV damaged at the byte level: empty, truncated, non-UTF-8, NUL bytes, another encoding."""
    frame = base_frame()
    data = frame.to_csv(index=False).encode()
    kind = draw(st.sampled_from(["empty", "truncate", "latin1", "invalid_utf8", "nul", "bom", "crlf", "garbage",
                                 "parquet_truncated", "no_final_newline", "semicolon_decimal_comma", "tab",
                                 "nfd_region"]))
    suffix = ".csv"
    notes: dict = {"full": data}
    if kind == "empty":
        data = b""
    elif kind == "truncate":
        data = data[:draw(st.integers(0, len(data) - 1))]
    elif kind == "no_final_newline":  # Google Meridian's export: valid, must load with every row
        data = data.rstrip(b"\n")
    elif kind == "semicolon_decimal_comma":
        data = frame.to_csv(index=False, sep=";", decimal=",").encode()
    elif kind == "tab":
        data = frame.to_csv(index=False, sep="\t").encode()
    elif kind == "nfd_region":  # one region written in NFD on some rows: still one region
        import unicodedata
        frame.loc[frame.region == "R0", "region"] = "Zürich"
        nfd = frame.copy()
        picked = draw(st.lists(st.sampled_from(list(frame.index[frame.region == "Zürich"])), max_size=10))
        nfd.loc[picked, "region"] = unicodedata.normalize("NFD", "Zürich")
        data = nfd.to_csv(index=False).encode()
    elif kind == "latin1":
        frame.loc[draw(st.integers(0, len(frame) - 1)), "region"] = "Zürich"
        data = frame.to_csv(index=False).encode("latin-1")
    elif kind == "invalid_utf8":
        at = draw(st.integers(0, len(data) - 1))
        data = data[:at] + draw(st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\x80"])) + data[at:]
    elif kind == "nul":
        at = draw(st.integers(0, len(data) - 1))
        data = data[:at] + b"\x00" + data[at:]
    elif kind == "bom":
        data = b"\xef\xbb\xbf" + data
    elif kind == "crlf":
        data = data.replace(b"\n", b"\r\n")
    elif kind == "garbage":
        data = draw(st.binary(min_size=1, max_size=200))
    elif kind == "parquet_truncated":
        import io
        buffer = io.BytesIO()
        frame.to_parquet(buffer, index=False)
        full = buffer.getvalue()
        data = full[:draw(st.integers(0, len(full) - 1))]
        suffix = ".parquet"
    return Case(frame, _spec(), kind, raw=data, suffix=suffix, notes=notes)


@st.composite
def hostile_names(draw) -> Case:
    """Valid data whose columns carry hostile names (renamed in the file and the spec alike): must ingest."""
    frame = base_frame()
    spec = _spec()
    targets = draw(st.lists(st.sampled_from(list(frame.columns)), min_size=1, max_size=3, unique=True))
    names = draw(st.lists(st.sampled_from(HOSTILE_NAMES) | st.text(min_size=1, max_size=10).filter(
        lambda s: s.strip() and s not in frame.columns), min_size=len(targets), max_size=len(targets), unique=True))
    for old, new in zip(targets, names):
        frame = frame.rename(columns={old: new})
        spec = _rename(spec, old, new)
    return Case(frame, spec, f"renamed {dict(zip(targets, names))}", suffix=draw(st.sampled_from([".csv", ".parquet"])))


@st.composite
def broken_spec(draw) -> Case:
    """Valid data under a spec that is wrong: missing keys, wrong types, unknown columns, reused columns."""
    frame = base_frame()
    spec = _spec()
    kind = draw(st.sampled_from(["no_channels", "channel_not_mapping", "unknown_column", "reused_column",
                                 "reserved_column", "bad_week_start", "files_not_list", "number_as_column",
                                 "unknown_key", "empty_column_name", "duplicate_channel", "reserved_any_case",
                                 "columns_differing_by_case", "bad_file_format"]))
    if kind == "no_channels":
        spec["channels"] = []
    elif kind == "channel_not_mapping":
        spec["channels"] = ["tv_spend"]
    elif kind == "unknown_column":
        spec["controls"] = ["price", draw(st.sampled_from(HOSTILE_NAMES))]
    elif kind == "reused_column":
        spec["controls"] = ["price", "sales"]
    elif kind == "reserved_column":
        frame = frame.rename(columns={"price": "load_id"})
        spec["controls"] = ["load_id"]
    elif kind == "bad_week_start":
        spec["week_start"] = draw(st.sampled_from(["not a date", 17, "2023-02-30", [1]]))
    elif kind == "files_not_list":
        spec["name"] = {"nested": True}
    elif kind == "number_as_column":
        spec["kpi_column"] = 12
    elif kind == "unknown_key":
        spec["drop table"] = "x"
    elif kind == "empty_column_name":
        spec["controls"] = [" "]
    elif kind == "duplicate_channel":
        spec["channels"] = spec["channels"] + [spec["channels"][0]]
    elif kind == "reserved_any_case":
        name = draw(st.sampled_from(["Week_Date", "LOAD_ID", "Source_Row", "file_HASH"]))
        frame = frame.rename(columns={"price": name})
        spec["controls"] = [name]
    elif kind == "columns_differing_by_case":
        frame["Price"] = frame["price"]
        spec["controls"] = ["price", "Price"]
    elif kind == "bad_file_format":
        key, value = draw(st.sampled_from([("delimiter", 5), ("delimiter", ";;"), ("delimiter", '"'),
                                           ("decimal", ","), ("decimal", ";"), ("date_format", "%Y"),
                                           ("date_format", 7), ("date_format", "%d/%m/%Y %H")]))
        spec[key] = value
    return Case(frame, spec, f"spec: {kind}")


any_case = st.one_of(broken_cell(), broken_number(), broken_shape(), broken_bytes(), hostile_names(), broken_spec())
