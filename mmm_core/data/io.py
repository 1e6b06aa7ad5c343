"""Read dataset files named by a spec, validate them against the contract, and build a Panel.

Every rejection is a :class:`DataContractError` naming the file, the column, the row (1-based data
row, header excluded) and the offending value. Validation happens on the whole file before anything
is returned, so a caller that writes only validated frames never writes part of a bad file.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from mmm_core.data.contract import (MAX_ABS_VALUE, MIN_WEEKS, NATIONAL_REGION, DataContractError, Panel,
                                    canonical_name)
from mmm_core.data.csv_reader import dialect_hint, read_csv_cells
from mmm_core.data.experiments import LiftTest, read_lift_tests
from mmm_core.data.spec import DatasetSpec, column_key

logger = logging.getLogger(__name__)

MIN_WEEK_DATE, MAX_WEEK_DATE = "1900-01-01", "2200-12-31"
"""Accepted range of week dates (inside the nanosecond timestamps that pandas and the warehouse use)."""
MAX_WEEK_INDEX = 10_000
"""Largest integer week index (about 190 years of weeks after ``week_start``)."""

SUPPORTED_SUFFIXES = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


@dataclass(frozen=True)
class ValidatedFile:
    """One data file after validation.

    ``frame`` keeps the file's own column names, one row per input row in input order, with numeric
    columns as float64, the region column as text, the week column as parsed (a date, or the integer
    index when the spec has ``week_start``) and an extra ``week_date`` column holding the week's date.
    Column and region names are in Unicode NFC.

    ``unused_columns`` are the file's columns that the spec does not name, in file order: real exports
    carry more columns than a model uses, so they are ignored (not stored), and listed here and in the log.
    """

    path: Path
    file_hash: str
    frame: pd.DataFrame
    unused_columns: tuple[str, ...] = ()


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_table(path: str | Path, delimiter: str = ",") -> pd.DataFrame:
    """Read a CSV (UTF-8, fields split by ``delimiter``) or Parquet file with every cell as it is written
    (CSV cells as text); see :mod:`mmm_core.data.csv_reader` for what a CSV's shape may be."""
    path = Path(path)
    kind = SUPPORTED_SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise DataContractError(f"unsupported file type {path.suffix!r} (use .csv or .parquet)", file=str(path))
    try:
        size = path.stat().st_size if path.is_file() else None
    except OSError as exc:  # e.g. "File name too long": the spec names a path this file system cannot hold
        raise DataContractError(f"data file cannot be opened: {exc.strerror or exc}", file=str(path)) from exc
    if size is None:
        raise DataContractError("data file not found", file=str(path))
    if size == 0:
        raise DataContractError("file is empty", file=str(path))
    try:
        if kind == "csv":
            frame = read_csv_cells(path, delimiter)
        else:
            frame = pd.read_parquet(path)
    except DataContractError:
        raise
    except UnicodeDecodeError as exc:
        raise DataContractError(f"file is not valid UTF-8 (byte {exc.start})", file=str(path)) from exc
    except pd.errors.EmptyDataError as exc:
        raise DataContractError("file is empty", file=str(path)) from exc
    except (pd.errors.ParserError, ValueError, OSError) as exc:
        raise DataContractError(f"file cannot be parsed: {exc}", file=str(path)) from exc
    if len(frame) == 0:
        raise DataContractError("file has a header but no data rows", file=str(path))
    return frame


_DECIMAL_COMMA = re.compile(r"[+-]?\d+,\d+")
"""A number written with a decimal comma ("1,5"): named in the error when the spec's decimal mark is '.'."""


def _to_number(values: pd.Series, file: str, column: str, nonnegative: bool, decimal: str = ".") -> np.ndarray:
    """Column → float64, or an error naming the first bad row.

    ``decimal`` is the spec's decimal mark for numbers written as text: with "," the value "1,5" is 1.5 and
    a "." is refused (it would be a thousands separator, as in "1.234,5", which is not supported).
    """
    if pd.api.types.is_bool_dtype(values):
        raise DataContractError("boolean values where numbers are expected", file=file, column=column, row=1)
    if pd.api.types.is_numeric_dtype(values):
        numbers = values.to_numpy(dtype=np.float64, na_value=np.nan)
        text = None
    else:
        text = values.astype(object)
        stripped = text.map(lambda v: v.strip() if isinstance(v, str) else v)
        if decimal == ",":
            stripped = _decimal_comma_to_point(stripped, file, column)
        numbers = pd.to_numeric(stripped, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    bad = np.flatnonzero(~np.isfinite(numbers))
    if len(bad):
        i = int(bad[0])
        raw = values.iloc[i] if text is None else text.iloc[i]
        shown = None if raw is None else str(raw)[:80]
        if raw is None or (isinstance(raw, str) and raw.strip() == "") or (text is None and np.isnan(numbers[i])):
            problem = "missing value"
        elif text is not None and np.isnan(numbers[i]) and str(raw).strip().lower() not in ("nan", "+nan", "-nan"):
            problem = "value is not a number"
            if decimal == "." and _DECIMAL_COMMA.fullmatch(str(raw).strip()):
                problem += "; it looks like a decimal comma: set decimal: ',' in the spec"
        else:
            problem = "value is not finite (NaN or infinity)"
        raise DataContractError(problem, file=file, column=column, row=i + 1, value=shown)
    huge = np.flatnonzero(np.abs(numbers) > MAX_ABS_VALUE)
    if len(huge):
        i = int(huge[0])
        raise DataContractError(f"value is beyond ±{MAX_ABS_VALUE:.0e}, too large for the model's float arithmetic "
                                "(check the unit or the export)", file=file, column=column, row=i + 1,
                                value=float(numbers[i]))
    if nonnegative:
        neg = np.flatnonzero(numbers < 0)
        if len(neg):
            i = int(neg[0])
            raise DataContractError("value is negative", file=file, column=column, row=i + 1, value=float(numbers[i]))
    return numbers


def _decimal_comma_to_point(text: pd.Series, file: str, column: str) -> pd.Series:
    """Cells written with a decimal comma, rewritten with a point; a cell holding a "." is refused."""
    has_point = text.map(lambda v: isinstance(v, str) and "." in v).to_numpy(dtype=bool)
    if has_point.any():
        i = int(np.flatnonzero(has_point)[0])
        raise DataContractError("a '.' in a number, but the spec's decimal mark is ','; thousands separators are "
                                "not supported (write 1234,5, not 1.234,5)", file=file, column=column, row=i + 1,
                                value=str(text.iloc[i])[:80])
    return text.map(lambda v: v.replace(",", ".") if isinstance(v, str) else v)


_NUMERIC_DATE = re.compile(r"^(\d{1,2})([./-])(\d{1,2})\2(\d{4}|\d{2})$")
"""A date written as three numbers, day and month first in either order: 03/01/2022, 17.01.22."""


def _refuse_day_first(text: pd.Series, file: str, column: str) -> None:
    """Refuse numeric dates whose first number is above 12, naming the date_format to set.

    They are day-first, and without a date_format pandas reads each date on its own: 17/01/2022 as
    17 January, but 03/01/2022 as 3 March, so the weeks fall off the weekly grid for no visible reason.
    """
    if pd.api.types.is_numeric_dtype(text):
        return
    text = text.astype(str)
    distinct = pd.Series(text.unique())  # a few hundred weeks, however many regions share them
    parts = distinct.str.extract(_NUMERIC_DATE.pattern)
    day_first = distinct[pd.to_numeric(parts[0], errors="coerce") > 12]
    if len(day_first):
        i = int(np.flatnonzero(text.isin(day_first).to_numpy())[0])
        sep, first, year = _NUMERIC_DATE.match(text.iloc[i]).group(2, 1, 4)
        fmt = f"%d{sep}%m{sep}{'%Y' if len(year) == 4 else '%y'}"
        raise DataContractError(f"week dates are day-first (there is no month {int(first)}); without a "
                                f"date_format, dates such as 03{sep}01{sep}2022 would be read month-first; "
                                f"set date_format: '{fmt}' in the spec", file=file, column=column, row=i + 1,
                                value=text.iloc[i][:80])


def _parse_weeks(values: pd.Series, spec: DatasetSpec, file: str) -> tuple[pd.Series, pd.Series]:
    """Return (week column as parsed, week start date) for every row."""
    col = spec.week_column
    if spec.week_start is not None:
        idx = _to_number(values, file, col, nonnegative=True, decimal=spec.decimal)
        frac = np.flatnonzero(idx != np.round(idx))
        if len(frac):
            raise DataContractError("week index is not a whole number", file=file, column=col,
                                    row=int(frac[0]) + 1, value=float(idx[frac[0]]))
        too_late = np.flatnonzero(idx > MAX_WEEK_INDEX)
        if len(too_late):
            raise DataContractError(f"week index above {MAX_WEEK_INDEX} (beyond {MAX_WEEK_DATE})", file=file,
                                    column=col, row=int(too_late[0]) + 1, value=float(idx[too_late[0]]))
        as_int = pd.Series(idx.astype(np.int64), index=values.index)
        dates = pd.Timestamp(spec.week_start) + pd.to_timedelta(as_int * 7, unit="D")
        return as_int, pd.Series(dates.to_numpy(dtype="datetime64[ns]"), index=values.index)
    if pd.api.types.is_datetime64_any_dtype(values):
        parsed = values
    else:
        text = values.astype(str).str.strip() if values.dtype == object else values
        if spec.date_format is None:
            _refuse_day_first(text, file, col)
        try:
            parsed = pd.to_datetime(text, errors="coerce", format=spec.date_format or "mixed")
        except (ValueError, TypeError, OverflowError) as exc:
            # pandas refuses some columns as a whole (a time zone beside naive dates): name the first such row
            i = _first_zoned_row(text)
            raise DataContractError(f"week dates mix time zones or formats ({exc})", file=file, column=col,
                                    row=i + 1, value=str(values.iloc[i])[:80]) from exc
    bad = np.flatnonzero(parsed.isna().to_numpy())
    if len(bad):
        i = int(bad[0])
        problem = "not a date" + (f" in the spec's date_format {spec.date_format!r}" if spec.date_format else "")
        raise DataContractError(problem, file=file, column=col, row=i + 1, value=str(values.iloc[i])[:80])
    parsed = parsed.dt.tz_localize(None) if getattr(parsed.dt, "tz", None) is not None else parsed
    dates = parsed.dt.normalize()
    # Timestamps are stored in nanoseconds (range 1677-2262); refuse implausible years before converting.
    outside = ((dates < pd.Timestamp(MIN_WEEK_DATE)) | (dates > pd.Timestamp(MAX_WEEK_DATE))).to_numpy()
    if outside.any():
        i = int(np.flatnonzero(outside)[0])
        raise DataContractError(f"week date outside {MIN_WEEK_DATE}..{MAX_WEEK_DATE}", file=file, column=col,
                                row=i + 1, value=str(values.iloc[i])[:80])
    if (dates != parsed).any():
        i = int(np.flatnonzero((dates != parsed).to_numpy())[0])
        raise DataContractError("week date has a time of day", file=file, column=col, row=i + 1,
                                value=str(values.iloc[i]))
    return dates, dates


def _first_zoned_row(values: pd.Series) -> int:
    """Position of the first value that parses alone to a zoned timestamp (or not at all); 0 if none does."""
    for i, value in enumerate(values):
        try:
            if pd.Timestamp(value).tzinfo is not None:
                return i
        except (ValueError, TypeError, OverflowError):
            return i
    return 0


def validate_file(path: str | Path, spec: DatasetSpec) -> ValidatedFile:
    """Read one file and check every rule that can be checked within it."""
    path = Path(path)
    file = str(path)
    try:
        raw = read_table(path, delimiter=spec.delimiter)
    except DataContractError as exc:
        problem = _with_dialect_hint(exc.problem, path, spec)
        if problem == exc.problem:
            raise
        raise DataContractError(problem, file=exc.file, column=exc.column, row=exc.row, value=exc.value) from exc
    columns = [canonical_name(str(c)) for c in raw.columns]
    raw.columns = columns
    if len(set(columns)) != len(columns):
        dup = next(c for c in columns if columns.count(c) > 1)
        raise DataContractError("column appears twice in the header", file=file, column=dup)
    for role, col in spec.column_roles():
        if col not in raw.columns:
            problem = f"missing column (the spec's {role})"
            same_but_case = [c for c in columns if column_key(c) == column_key(col)]
            if same_but_case:
                problem += f"; the header has {same_but_case[0]!r}, which differs only by case"
            raise DataContractError(_with_dialect_hint(problem, path, spec), file=file, column=col, row="header")
    named = set(spec.columns)
    unused = tuple(c for c in columns if c not in named)
    if unused:
        logger.info("%s: %d column(s) the spec does not name are ignored: %s", file, len(unused),
                    ", ".join(map(repr, unused)))

    out = pd.DataFrame(index=raw.index)
    if spec.region_column:
        regions = raw[spec.region_column]
        empty = regions.isna() | (regions.astype(str).str.strip() == "")
        if empty.any():
            raise DataContractError("missing region", file=file, column=spec.region_column,
                                    row=int(np.flatnonzero(empty.to_numpy())[0]) + 1)
        out[spec.region_column] = regions.astype(str).str.strip().map(canonical_name)
    week_values, week_dates = _parse_weeks(raw[spec.week_column], spec, file)
    out[spec.week_column] = week_values
    nonnegative = {spec.kpi_column, *(c.spend for c in spec.channels),
                   *(c.activity for c in spec.channels if c.activity)}
    if spec.population_column:
        nonnegative.add(spec.population_column)
    for col in spec.numeric_columns:
        out[col] = _to_number(raw[col], file, col, nonnegative=col in nonnegative, decimal=spec.decimal)
    out["week_date"] = week_dates.to_numpy(dtype="datetime64[ns]")
    _check_keys(out, spec, file)
    return ValidatedFile(path=path, file_hash=file_sha256(path), frame=out, unused_columns=unused)


def _with_dialect_hint(problem: str, path: Path, spec: DatasetSpec) -> str:
    """``problem``, led by the spec keys to set when the CSV's header shows another delimiter than the spec's
    (a ';'-separated or tab-separated export read as ',': "missing column" says nothing of the cause)."""
    if SUPPORTED_SUFFIXES.get(path.suffix.lower()) != "csv":
        return problem
    hint = dialect_hint(path, spec.columns, spec.delimiter, spec.decimal)
    return f"{hint} (read with delimiter {spec.delimiter!r}: {problem})" if hint else problem


def _region_key(frame: pd.DataFrame, spec: DatasetSpec) -> pd.Series:
    if spec.region_column:
        return frame[spec.region_column]
    return pd.Series(NATIONAL_REGION, index=frame.index)


def _check_keys(frame: pd.DataFrame, spec: DatasetSpec, file: str) -> None:
    """Duplicate (region, week) rows and dates off the weekly grid, within one file."""
    _check_grid(frame, spec, file, frame["week_date"].min())
    dates = frame["week_date"]
    keys = pd.DataFrame({"region": _region_key(frame, spec).to_numpy(), "week": dates.to_numpy()})
    dup = keys.duplicated(keep="first").to_numpy()
    if dup.any():
        i = int(np.flatnonzero(dup)[0])
        first_i = int(np.flatnonzero((keys == keys.iloc[i]).all(axis=1).to_numpy())[0])
        raise DataContractError(f"duplicate (region, week); first seen at row {first_i + 1}",
                                file=file, column=spec.region_column or spec.week_column, row=i + 1,
                                value=f"{keys.iloc[i]['region']}, {dates.iloc[i].date()}")


def _check_grid(frame: pd.DataFrame, spec: DatasetSpec, file: str, first: pd.Timestamp) -> None:
    """Every week of ``frame`` lies a whole number of weeks from ``first`` (one file's, or the dataset's first week)."""
    dates = frame["week_date"]
    off = ((dates - first).dt.days % 7) != 0
    if off.any():
        i = int(np.flatnonzero(off.to_numpy())[0])
        raise DataContractError(f"week is off the weekly grid that starts {first.date()} (7-day steps)",
                                file=file, column=spec.week_column, row=i + 1, value=str(dates.iloc[i].date()))


def validate_dataset(spec: DatasetSpec, allow_outside_paths: bool = False) -> list[ValidatedFile]:
    """Validate every file of a spec, then the rules that span files (one grid, 52 weeks, spend; see
    :func:`dataset_rows` for rows that several files hold)."""
    paths = spec.resolve_files(allow_outside=allow_outside_paths)
    for i, path in enumerate(paths):
        if path in paths[:i]:
            raise DataContractError("file is listed twice in the spec's files", file=str(path), column="files",
                                    value=spec.files[i])
    files = [validate_file(p, spec) for p in paths]
    check_combined(files, spec)
    return files


def check_combined(files: list[ValidatedFile], spec: DatasetSpec) -> None:
    """Rules over the files together: one weekly grid, then on :func:`dataset_rows` at least 52 weeks and no
    dead channel. A (region, week) in several files is no error: the later file restates it."""
    names = ", ".join(str(f.path) for f in files)
    if len(files) > 1:
        first = min(f.frame["week_date"].min() for f in files)
        for f in files:
            _check_grid(f.frame, spec, str(f.path), first)
    combined = dataset_rows(files, spec)
    n_weeks = combined["week_date"].nunique()
    span = (combined["week_date"].max() - combined["week_date"].min()).days // 7 + 1
    if span < MIN_WEEKS:
        raise DataContractError(f"only {n_weeks} distinct weeks ({span} on the grid); at least {MIN_WEEKS} are needed",
                                file=names, column=spec.week_column, row="all rows")
    for ch in spec.channels:
        if not (combined[ch.spend] > 0).any():
            raise DataContractError(f"channel {ch.name!r} has zero spend in every row", file=names,
                                    column=ch.spend, row="all rows")


def dataset_rows(files: list[ValidatedFile], spec: DatasetSpec) -> pd.DataFrame:
    """The dataset the files make together, in ``ValidatedFile.frame``'s form: one row per (region, week).

    Precedence: where several files hold a row for the same (region, week), the file listed LATER in the spec's
    ``files`` wins, so a corrections file listed after the main export restates the weeks it holds and leaves
    the others alone. The warehouse's ``raw_current`` view applies the same rule to the files' newest loads.
    """
    combined = pd.concat([f.frame for f in files], ignore_index=True)
    if len(files) == 1:
        return combined
    keys = pd.DataFrame({"region": _region_key(combined, spec).to_numpy(), "week": combined["week_date"].to_numpy()})
    return combined[~keys.duplicated(keep="last").to_numpy()].reset_index(drop=True)


def frame_to_panel(frame: pd.DataFrame, spec: DatasetSpec) -> Panel:
    """A validated long frame (spec column names + ``week_date``) → dense Panel on the weekly grid.

    Region-weeks absent from the frame become ``observed == False``. Population is taken per region as
    the mean over its rows (it is a size measure, expected constant).
    """
    regions_col = _region_key(frame, spec).astype(str)
    regions = tuple(sorted(regions_col.unique()))
    dates = pd.to_datetime(frame["week_date"])
    start, end = dates.min(), dates.max()
    weeks = pd.date_range(start, end, freq="7D").to_numpy(dtype="datetime64[D]")
    r_idx = pd.Index(regions).get_indexer(regions_col)
    t_idx = ((dates - start).dt.days // 7).to_numpy()
    R, T = len(regions), len(weeks)

    def dense(cols: list[str]) -> np.ndarray:
        arr = np.zeros((R, T, len(cols)))
        if cols:
            arr[r_idx, t_idx] = frame[cols].to_numpy(dtype=np.float64)
        return arr

    observed = np.zeros((R, T), dtype=bool)
    observed[r_idx, t_idx] = True
    population = None
    if spec.population_column:
        population = frame.groupby(r_idx)[spec.population_column].mean().reindex(range(R)).to_numpy()
    return Panel(
        regions=regions, weeks=weeks,
        channels=tuple(c.name for c in spec.channels), control_names=tuple(spec.controls),
        kpi=dense([spec.kpi_column])[..., 0],
        spend=dense([c.spend for c in spec.channels]),
        activity=dense([c.model_column for c in spec.channels]),
        controls=dense(list(spec.controls)),
        observed=observed, population=population,
    )


def load_panel(spec: DatasetSpec | str | Path, allow_outside_paths: bool = False) -> Panel:
    """Read, validate and assemble the dataset a spec describes (a notebook's one-liner)."""
    if not isinstance(spec, DatasetSpec):
        spec = DatasetSpec.from_yaml(spec)
    files = validate_dataset(spec, allow_outside_paths=allow_outside_paths)
    return frame_to_panel(dataset_rows(files, spec), spec)


def load_lift_tests(spec: DatasetSpec | str | Path, panel: Panel,
                    allow_outside_paths: bool = False) -> tuple[LiftTest, ...]:
    """The spec's experiments, validated against ``panel`` (its dataset; ``data.experiments``); () when the spec
    names no experiments file."""
    if not isinstance(spec, DatasetSpec):
        spec = DatasetSpec.from_yaml(spec)
    path = spec.resolve_experiments(allow_outside_paths)
    if path is None:
        return ()
    return read_lift_tests(path, panel, spec.date_format, spec.delimiter)
