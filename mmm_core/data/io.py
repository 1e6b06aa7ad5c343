"""Read dataset files named by a spec, validate them against the contract, and build a Panel.

Every rejection is a :class:`DataContractError` naming the file, the column, the row (1-based data
row, header excluded) and the offending value. Validation happens on the whole file before anything
is returned, so a caller that writes only validated frames never writes part of a bad file.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from mmm_core.data.contract import MAX_ABS_VALUE, MIN_WEEKS, NATIONAL_REGION, DataContractError, Panel
from mmm_core.data.spec import DatasetSpec

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
    """

    path: Path
    file_hash: str
    frame: pd.DataFrame


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV (UTF-8) or Parquet file with every cell as it is written (CSV cells as text)."""
    path = Path(path)
    kind = SUPPORTED_SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise DataContractError(f"unsupported file type {path.suffix!r} (use .csv or .parquet)", file=str(path))
    if not path.is_file():
        raise DataContractError("data file not found", file=str(path))
    if path.stat().st_size == 0:
        raise DataContractError("file is empty", file=str(path))
    try:
        if kind == "csv":
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8", skipinitialspace=False)
        else:
            frame = pd.read_parquet(path)
    except UnicodeDecodeError as exc:
        raise DataContractError(f"file is not valid UTF-8 (byte {exc.start})", file=str(path)) from exc
    except pd.errors.EmptyDataError as exc:
        raise DataContractError("file is empty", file=str(path)) from exc
    except (pd.errors.ParserError, ValueError, OSError) as exc:
        raise DataContractError(f"file cannot be parsed: {exc}", file=str(path)) from exc
    if len(frame) == 0:
        raise DataContractError("file has a header but no data rows", file=str(path))
    if kind == "csv" and not _ends_with_line_break(path):
        # A cut-off upload can end inside a number ("2000.0" -> "2") and still parse: refuse rather than
        # ingest a row that may be partial. Every CSV writer we know of ends the last row with a newline.
        raise DataContractError("file does not end with a line break, so its last row may be cut off "
                                "(truncated copy?); if the row is complete, add a newline at the end",
                                file=str(path), row=len(frame))
    return frame


def _ends_with_line_break(path: Path) -> bool:
    with path.open("rb") as handle:
        handle.seek(-1, 2)
        return handle.read(1) in (b"\n", b"\r")


def _to_number(values: pd.Series, file: str, column: str, nonnegative: bool) -> np.ndarray:
    """Column → float64, or an error naming the first bad row."""
    if pd.api.types.is_bool_dtype(values):
        raise DataContractError("boolean values where numbers are expected", file=file, column=column, row=1)
    if pd.api.types.is_numeric_dtype(values):
        numbers = values.to_numpy(dtype=np.float64, na_value=np.nan)
        text = None
    else:
        text = values.astype(object)
        stripped = text.map(lambda v: v.strip() if isinstance(v, str) else v)
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


def _parse_weeks(values: pd.Series, spec: DatasetSpec, file: str) -> tuple[pd.Series, pd.Series]:
    """Return (week column as parsed, week start date) for every row."""
    col = spec.week_column
    if spec.week_start is not None:
        idx = _to_number(values, file, col, nonnegative=True)
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
        try:
            parsed = pd.to_datetime(text, errors="coerce", format="mixed")
        except (ValueError, TypeError, OverflowError) as exc:
            # pandas refuses some columns as a whole (a time zone beside naive dates): name the first such row
            i = _first_zoned_row(text)
            raise DataContractError(f"week dates mix time zones or formats ({exc})", file=file, column=col,
                                    row=i + 1, value=str(values.iloc[i])[:80]) from exc
    bad = np.flatnonzero(parsed.isna().to_numpy())
    if len(bad):
        i = int(bad[0])
        raise DataContractError("not a date", file=file, column=col, row=i + 1, value=str(values.iloc[i])[:80])
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
    raw = read_table(path)
    columns = [str(c) for c in raw.columns]
    raw.columns = columns
    if len(set(columns)) != len(columns):
        dup = next(c for c in columns if columns.count(c) > 1)
        raise DataContractError("column appears twice in the header", file=file, column=dup)
    for role, col in spec.column_roles():
        if col not in raw.columns:
            raise DataContractError(f"missing column (the spec's {role})", file=file, column=col, row="header")

    out = pd.DataFrame(index=raw.index)
    if spec.region_column:
        regions = raw[spec.region_column]
        empty = regions.isna() | (regions.astype(str).str.strip() == "")
        if empty.any():
            raise DataContractError("missing region", file=file, column=spec.region_column,
                                    row=int(np.flatnonzero(empty.to_numpy())[0]) + 1)
        out[spec.region_column] = regions.astype(str).str.strip()
    week_values, week_dates = _parse_weeks(raw[spec.week_column], spec, file)
    out[spec.week_column] = week_values
    nonnegative = {spec.kpi_column, *(c.spend for c in spec.channels),
                   *(c.activity for c in spec.channels if c.activity)}
    if spec.population_column:
        nonnegative.add(spec.population_column)
    for col in spec.numeric_columns:
        out[col] = _to_number(raw[col], file, col, nonnegative=col in nonnegative)
    out["week_date"] = week_dates.to_numpy(dtype="datetime64[ns]")
    _check_keys(out, spec, file)
    return ValidatedFile(path=path, file_hash=file_sha256(path), frame=out)


def _region_key(frame: pd.DataFrame, spec: DatasetSpec) -> pd.Series:
    if spec.region_column:
        return frame[spec.region_column]
    return pd.Series(NATIONAL_REGION, index=frame.index)


def _check_keys(frame: pd.DataFrame, spec: DatasetSpec, file: str, row_offset: int = 0) -> None:
    """Duplicate (region, week) rows and dates off the weekly grid."""
    dates = frame["week_date"]
    first = dates.min()
    off = ((dates - first).dt.days % 7) != 0
    if off.any():
        i = int(np.flatnonzero(off.to_numpy())[0])
        raise DataContractError(f"week is off the weekly grid that starts {first.date()} (7-day steps)",
                                file=file, column=spec.week_column, row=i + 1 + row_offset,
                                value=str(dates.iloc[i].date()))
    keys = pd.DataFrame({"region": _region_key(frame, spec).to_numpy(), "week": dates.to_numpy()})
    dup = keys.duplicated(keep="first").to_numpy()
    if dup.any():
        i = int(np.flatnonzero(dup)[0])
        first_i = int(np.flatnonzero((keys == keys.iloc[i]).all(axis=1).to_numpy())[0])
        raise DataContractError(f"duplicate (region, week); first seen at row {first_i + 1 + row_offset}",
                                file=file, column=spec.region_column or spec.week_column,
                                row=i + 1 + row_offset,
                                value=f"{keys.iloc[i]['region']}, {dates.iloc[i].date()}")


def validate_dataset(spec: DatasetSpec, allow_outside_paths: bool = False) -> list[ValidatedFile]:
    """Validate every file of a spec, then the rules that span files (grid, duplicates, 52 weeks, spend)."""
    files = [validate_file(p, spec) for p in spec.resolve_files(allow_outside=allow_outside_paths)]
    check_combined(files, spec)
    return files


def check_combined(files: list[ValidatedFile], spec: DatasetSpec) -> None:
    """Rules over the union of files: the weekly grid, duplicate keys, at least 52 weeks, no dead channel."""
    names = ", ".join(str(f.path) for f in files)
    combined = pd.concat([f.frame for f in files], ignore_index=True)
    if len(files) > 1:
        _check_keys(combined, spec, names)
    n_weeks = combined["week_date"].nunique()
    span = (combined["week_date"].max() - combined["week_date"].min()).days // 7 + 1
    if span < MIN_WEEKS:
        raise DataContractError(f"only {n_weeks} distinct weeks ({span} on the grid); at least {MIN_WEEKS} are needed",
                                file=names, column=spec.week_column, row="all rows")
    for ch in spec.channels:
        if not (combined[ch.spend] > 0).any():
            raise DataContractError(f"channel {ch.name!r} has zero spend in every row", file=names,
                                    column=ch.spend, row="all rows")


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
    return frame_to_panel(pd.concat([f.frame for f in files], ignore_index=True), spec)
