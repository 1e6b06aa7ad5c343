"""The spec's experiments file on its way into the warehouse: validated against the dataset, and its rows in the
layout of table ``raw_experiments`` (``warehouse`` writes and reads them).

The file is validated before anything is written (``mmm_core.data.experiments.lift_tests_from_frame``, against
the panel the validated data files make together), so a bad experiments file rejects the whole ingest. Its rows
are stored as read: text cells as text (the weeks too, as written, so the spec's ``date_format`` reads them
back), numbers as numbers, an absent column or an empty number as NULL. Reading the stored rows back through
the same validator gives the same tests.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from mmm_core.data.contract import canonical_name
from mmm_core.data.experiments import LiftTest, lift_tests_from_frame
from mmm_core.data.io import ValidatedFile, dataset_rows, file_sha256, frame_to_panel, read_table
from mmm_core.data.spec import DatasetSpec

FILE_COLUMNS = (
    ("experiment", "VARCHAR", "experiment id, as in the file"),
    ("channel", "VARCHAR", "channel, as in the file"),
    ("region", "VARCHAR", "test region, 'all' or empty for a national test, as in the file"),
    ("first_week", "VARCHAR", "first test week as written in the file (read with the spec's date_format)"),
    ("last_week", "VARCHAR", "last test week as written in the file"),
    ("cooldown_weeks", "DOUBLE", "weeks after the test over which the lift was measured (NULL: 0)"),
    ("spend_multiplier", "DOUBLE", "the test's spend over the recorded spend (NULL when spend_change is given)"),
    ("spend_change", "DOUBLE", "currency added over the test cells (NULL when spend_multiplier is given)"),
    ("lift", "DOUBLE", "measured incremental KPI (KPI units)"),
    ("lift_se", "DOUBLE", "standard error of lift"),
)
"""The experiments file's columns as ``raw_experiments`` stores them: (name, SQL type, description), in order."""
WEEK_COLUMNS = ("first_week", "last_week")


@dataclass(frozen=True)
class ValidatedExperiments:
    """The spec's experiments file after validation: its rows in ``FILE_COLUMNS`` (file order) and its tests."""

    path: Path
    file_hash: str
    frame: pd.DataFrame
    tests: tuple[LiftTest, ...]


def validate_experiments(spec: DatasetSpec, files: list[ValidatedFile],
                         allow_outside_paths: bool = False) -> ValidatedExperiments | None:
    """Read the spec's experiments file and validate it against the dataset ``files`` make (validated data
    files, the spec's order); None when the spec names none. Raises ``DataContractError`` naming the file,
    column, row and value."""
    path = spec.resolve_experiments(allow_outside_paths)
    if path is None:
        return None
    panel = frame_to_panel(dataset_rows(files, spec), spec)
    raw = read_table(path, spec.delimiter)
    tests = lift_tests_from_frame(raw, panel, str(path), spec.date_format)
    return ValidatedExperiments(path, file_sha256(path), stored_rows(raw, spec), tests)


def read_layout(spec: DatasetSpec) -> dict:
    """What decides the rows a load stores from an experiments file: how the file is split and how weeks that a
    Parquet file holds as dates are written as text. Stored in ``raw_loads.read_layout``."""
    return {"experiments": {"delimiter": spec.delimiter, "date_format": spec.date_format}}


def load_serves(layout: str | None, spec: DatasetSpec) -> bool:
    """Whether an experiments load (its stored ``read_layout`` JSON) was read the way ``spec`` reads the file."""
    return layout is not None and json.loads(layout) == json.loads(json.dumps(read_layout(spec)))


def stored_rows(raw: pd.DataFrame, spec: DatasetSpec) -> pd.DataFrame:
    """The rows of a validated experiments file (``read_table``'s cells) in ``FILE_COLUMNS``."""
    raw = raw.rename(columns=lambda c: canonical_name(str(c)).strip())
    out = {}
    for name, sql_type, _ in FILE_COLUMNS:
        cells = raw[name].tolist() if name in raw.columns else [None] * len(raw)
        if sql_type == "DOUBLE":
            out[name] = np.array([_number(c) for c in cells], dtype=np.float64)
        else:
            out[name] = pd.Series([_text(c, spec.date_format if name in WEEK_COLUMNS else None) for c in cells],
                                  dtype=object)
    return pd.DataFrame(out)


def _missing(cell) -> bool:
    return cell is None or (isinstance(cell, float) and np.isnan(cell)) or cell is pd.NaT


def _number(cell) -> float:
    """A number cell as the validator reads it (NaN for an empty cell); validation has refused anything else."""
    if _missing(cell) or (isinstance(cell, str) and not cell.strip()):
        return np.nan
    return float(cell)


def _text(cell, date_format: str | None) -> str | None:
    """A text cell as read; a date a Parquet file holds is written the way the spec reads weeks."""
    if _missing(cell):
        return None
    if isinstance(cell, (pd.Timestamp, dt.date, np.datetime64)):
        return pd.Timestamp(cell).strftime(date_format or "%Y-%m-%d")
    return str(cell)


def lift_tests_from_rows(frame: pd.DataFrame, panel, file: str, date_format: str | None) -> tuple[LiftTest, ...]:
    """The tests of stored rows (``FILE_COLUMNS``, file order), validated against ``panel`` as at ingest."""
    return lift_tests_from_frame(frame[[c for c, _, _ in FILE_COLUMNS]], panel, file, date_format)
