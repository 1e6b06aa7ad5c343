"""Reading one CSV export as text cells, and saying what is wrong with its shape.

Two things real exports do that a plain ``pd.read_csv`` gets wrong or explains badly:

* **No line break after the last row** (Google Meridian's ``geo_all_channels.csv``). Such a file is read
  when its last row is complete. A copy cut off inside its last row is refused when the cut shows:
  the row has fewer fields than the header, it ends inside a quoted value, or its last value is shorter
  than every other value of its column (or, for a number, has fewer decimals than every other). A cut
  that leaves a value looking like the column's other values cannot be seen: ``1034.52`` cut to
  ``1034.5`` in a column of figures with one or two decimals loads as ``1034.5``. A cut exactly at a line
  break leaves a shorter file of complete rows, which is indistinguishable from a shorter export.
* **Another delimiter or decimal mark** (``;``-separated with decimal commas, tab-separated): the spec's
  ``delimiter`` and ``decimal`` say how to read them, and :func:`dialect_hint` names the keys to set
  when the header shows that the file is written another way.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pandas as pd

from mmm_core.data.contract import DataContractError, canonical_name

CANDIDATE_DELIMITERS = (",", ";", "\t", "|")
"""Delimiters :func:`dialect_hint` tries on a header the spec's delimiter does not split into its columns."""
_HINT_BYTES = 1 << 16
"""How much of a file :func:`dialect_hint` reads: the header and the first data row are enough."""


def read_csv_cells(path: Path, delimiter: str = ",") -> pd.DataFrame:
    """Every cell of a UTF-8 CSV as text, one column per header field, in file order.

    Raises DataContractError for a file that ends inside a quoted value, for a header with fewer fields
    than the data rows (pandas would take the first column(s) as the index and shift every name), and for
    a last row without a line break that looks cut off (see the module docstring for what can and cannot
    be seen); pandas' own errors (ParserError, UnicodeDecodeError) pass through for the caller to word.
    """
    file = str(path)
    try:
        frame = pd.read_csv(path, sep=delimiter, dtype=str, keep_default_na=False, encoding="utf-8",
                            skipinitialspace=False)
    except pd.errors.ParserError as exc:
        if "EOF inside string" in str(exc):
            raise DataContractError("file ends inside a quoted value (a quote opened and never closed): cut off "
                                    f"(truncated copy?) or a stray quote; pandas: {exc}", file=file) from exc
        raise
    if not isinstance(frame.index, pd.RangeIndex):
        raise DataContractError(f"the data rows have {frame.index.nlevels} more field(s) than the header: a column "
                                "name is missing from the header", file=file, row="header")
    if len(frame) and not _ends_with_line_break(path):
        _check_last_row(path, frame, delimiter)
    return frame


def _ends_with_line_break(path: Path) -> bool:
    with path.open("rb") as handle:
        handle.seek(-1, 2)
        return handle.read(1) in (b"\n", b"\r")


def _check_last_row(path: Path, frame: pd.DataFrame, delimiter: str) -> None:
    """Refuse a last row (of a file without a final line break) that shows it was cut off."""
    file, row = str(path), len(frame)
    header, last, last_quoted = _first_and_last_records(path, delimiter)
    if len(last) < len(header):
        raise DataContractError(f"the file does not end with a line break and its last row has {len(last)} of "
                                f"{len(header)} fields: it is cut off (truncated copy?)", file=file, row=row)
    if last_quoted or len(frame) < 2:
        return  # a closed quote ends a complete value; one row alone gives nothing to compare with
    column = str(frame.columns[-1])
    values = frame.iloc[:, -1].astype(str)
    value, others = values.iloc[-1], values.iloc[:-1]
    shorter = len(value) < others.str.len().min()
    if shorter or _fewer_decimals(value, others):
        what = "shorter than" if shorter else "has fewer decimals than"
        raise DataContractError(f"the file does not end with a line break and its last value is {what} every other "
                                "value of its column: the row looks cut off (truncated copy?); if it is complete, "
                                "end the file with a line break", file=file, column=column, row=row, value=value)


_PLAIN_NUMBER = re.compile(r"^\s*[+-]?\d*(?:[.,](\d*))?\s*$")


def _fewer_decimals(value: str, others: pd.Series) -> bool:
    """True when every value is a plain number and ``value`` has fewer decimals than each of ``others``."""
    mine, theirs = _decimals(value), [_decimals(o) for o in others]
    return mine is not None and None not in theirs and mine < min(theirs)


def _decimals(text: str) -> int | None:
    """Digits after the decimal mark of a plain number ("12.50" -> 2, "12" -> 0); None if not a plain number."""
    match = _PLAIN_NUMBER.match(text)
    if match is None or not any(ch.isdigit() for ch in text):
        return None
    return len(match.group(1) or "")


def _first_and_last_records(path: Path, delimiter: str) -> tuple[list[str], list[str], bool]:
    """(header fields, last record's fields, whether the last field was quoted), read by the csv module.

    pandas pads a short row with empty cells, so the field count must be read here. Only called for files
    without a final line break (rare), so reading the file once more is affordable.
    """
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            header: list[str] | None = None
            last: list[str] = []
            for record in csv.reader(handle, delimiter=delimiter):
                if header is None:
                    header = record
                elif record:
                    last = record
    except csv.Error as exc:
        raise DataContractError(f"file cannot be parsed: {exc}", file=str(path)) from exc
    with path.open("rb") as handle:
        handle.seek(-1, 2)
        last_quoted = handle.read(1) == b'"'
    return header or [], last, last_quoted


def dialect_hint(path: Path, columns: tuple[str, ...], delimiter: str, decimal: str) -> str:
    """The spec keys to set when the file's header is split by another delimiter than the spec's; "" if none.

    ``columns`` are the spec's column names. A ';'-separated file whose first data row has numbers with a
    decimal comma gets ``decimal: ','`` named too.
    """
    try:
        with path.open("rb") as handle:
            head = handle.read(_HINT_BYTES).decode("utf-8-sig", errors="replace")
    except OSError:
        return ""
    lines = head.splitlines()
    if not lines:
        return ""
    wanted = {canonical_name(c) for c in columns}

    def found(sep: str) -> int:
        return len(wanted & {canonical_name(f.strip().strip('"')) for f in lines[0].split(sep)})

    best = max(CANDIDATE_DELIMITERS, key=found)
    if best == delimiter or found(best) <= found(delimiter):
        return ""
    name, key = ("tab", 'delimiter: "\\t"') if best == "\t" else (repr(best), f"delimiter: {best!r}")
    hint = f"the header looks {name}-separated; set {key}"
    row = lines[1].split(best) if len(lines) > 1 else []
    if decimal == "." and any(re.fullmatch(r'\s*"?[+-]?\d+,\d+"?\s*', cell) for cell in row):
        hint += " and decimal: ','"
    return hint + " in the spec"
