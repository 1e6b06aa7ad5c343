"""The spec's experiments file on its way into the warehouse: validated against the dataset, and its rows in the
layout of table ``raw_experiments`` (``warehouse`` writes and reads them).

The file is validated before anything is written (``mmm_core.data.experiments.lift_tests_from_frame``, against
the panel the validated data files make together), so a bad experiments file rejects the whole ingest. Its rows
are stored as ``mmm_core.data.experiments.file_rows`` gives them: text cells as text (the weeks too, as written,
so the spec's ``date_format`` reads them back), numbers as numbers, an absent column or an empty number as NULL.
Reading the stored rows back through the same validator gives the same tests.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from mmm_core.data.experiments import FILE_COLUMNS as FILE_COLUMN_NAMES
from mmm_core.data.experiments import NUMBER_COLUMNS, LiftTest, file_rows, lift_tests_from_frame
from mmm_core.data.io import ValidatedFile, dataset_rows, file_sha256, frame_to_panel, read_table
from mmm_core.data.spec import DatasetSpec

_DESCRIPTIONS = {
    "experiment": "experiment id, as in the file",
    "channel": "channel, as in the file",
    "region": "test region, 'all' or empty for a national test, as in the file",
    "first_week": "first test week as written in the file (read with the spec's date_format)",
    "last_week": "last test week as written in the file",
    "cooldown_weeks": "weeks after the test over which the lift was measured (NULL: 0)",
    "spend_multiplier": "the test's spend over the recorded spend (NULL when spend_change is given)",
    "spend_change": "currency added over the test cells (NULL when spend_multiplier is given)",
    "lift": "measured incremental KPI (KPI units)",
    "lift_se": "standard error of lift",
}
FILE_COLUMNS = tuple((name, "DOUBLE" if name in NUMBER_COLUMNS else "VARCHAR", _DESCRIPTIONS[name])
                     for name in FILE_COLUMN_NAMES)
"""The experiments file's columns as ``raw_experiments`` stores them: (name, SQL type, description), in order."""


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
    return ValidatedExperiments(path, file_sha256(path), file_rows(raw, spec.date_format), tests)


def read_layout(spec: DatasetSpec) -> dict:
    """What decides the rows a load stores from an experiments file: how the file is split and how weeks that a
    Parquet file holds as dates are written as text. Stored in ``raw_loads.read_layout``."""
    return {"experiments": {"delimiter": spec.delimiter, "date_format": spec.date_format}}


def load_serves(layout: str | None, spec: DatasetSpec) -> bool:
    """Whether an experiments load (its stored ``read_layout`` JSON) was read the way ``spec`` reads the file."""
    return layout is not None and json.loads(layout) == json.loads(json.dumps(read_layout(spec)))
