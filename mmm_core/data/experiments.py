"""Lift tests (geo or national experiments) as data: the file format, its validation, and ``LiftTest``.

An experiments file (CSV or Parquet, named by the dataset spec's ``experiments`` key) has one row per
experiment and test region (one row with region ``all`` for a national test)::

    experiment,channel,region,first_week,last_week,cooldown_weeks,spend_multiplier,spend_change,lift,lift_se
    search_q2,search,north,2024-04-01,2024-05-13,2,0.5,,-41000,9000
    search_q2,search,west,2024-04-01,2024-05-13,2,0.5,,-41000,9000
    tv_boost,tv,all,2024-09-02,2024-09-30,4,,250000,180000,60000

* ``experiment``: an id; the rows of one experiment list its regions and repeat its other fields.
* ``channel``: a channel of the dataset spec. ``region``: a region of the data, or ``all`` (also an empty
  cell) for every region.
* ``first_week``, ``last_week``: the weeks in which the channel's spend was changed (dates of weeks in
  the data; ISO dates, or in the spec's ``date_format``). ``cooldown_weeks`` (optional, default 0): weeks
  after the test over which the lift was still measured (carry-over).
* the spend change, exactly one of: ``spend_multiplier`` (>= 0; the test's spend over the spend the data
  record in the test cells: 0 is a holdout, 1.5 a +50 % test) or ``spend_change`` (currency added over the
  test cells, negative for a cut; converted to a multiplier of the spend the data record there).
* ``lift``: the measured incremental KPI (KPI units) over the test regions and the test plus cool-down
  weeks, of the changed spend over the recorded spend (negative for a holdout or a cut);
  ``lift_se`` (> 0): its standard error.

The data are the reference: the spend the panel records in the test cells is the business-as-usual
level and the test is the change from it. A test that is itself in the data (the panel records the test's
spend) is stated the other way round: from the recorded level back to business as usual (a +50 % test
recorded in the panel: multiplier 1 / 1.5 and the lift negated). A holdout recorded as zero spend cannot be
stated as a multiplier of zero and is refused (``spend in the test cells is zero``).

Every rejection is one ``DataContractError`` naming the file, the column, the 1-based data row and the value.
:func:`file_rows` gives a validated file's cells as written (what the warehouse keeps); they validate to the same
tests.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from mmm_core.data.contract import DataContractError, Panel, canonical_name

ALL_REGIONS = "all"
"""The region value of a national test (every region of the data)."""
REQUIRED_COLUMNS = ("experiment", "channel", "first_week", "last_week", "lift", "lift_se")
OPTIONAL_COLUMNS = ("region", "cooldown_weeks", "spend_multiplier", "spend_change")
FILE_COLUMNS = ("experiment", "channel", "region", "first_week", "last_week", "cooldown_weeks", "spend_multiplier",
                "spend_change", "lift", "lift_se")
"""Every column of an experiments file, in the format's order (the required and the optional ones)."""
NUMBER_COLUMNS = ("cooldown_weeks", "spend_multiplier", "spend_change", "lift", "lift_se")
WEEK_COLUMNS = ("first_week", "last_week")
SPEND_COLUMNS = ("spend_multiplier", "spend_change")
SHARED_FIELDS = ("channel", "first_week", "last_week", "cooldown_weeks", "spend_multiplier", "spend_change",
                 "lift", "lift_se")
"""Fields every row of one experiment repeats."""


@dataclass(frozen=True)
class LiftTest:
    """One experiment: the channel's own spend × ``spend_multiplier`` in ``regions`` over the weeks
    ``first_week`` .. ``last_week`` moved the KPI, summed over those regions and the test weeks plus
    ``cooldown_weeks``, by ``lift`` ± ``lift_se`` (KPI units)."""

    experiment: str
    channel: str
    regions: tuple[str, ...]
    first_week: np.datetime64
    last_week: np.datetime64
    cooldown_weeks: int
    spend_multiplier: float
    lift: float
    lift_se: float

    @property
    def measured_until(self) -> np.datetime64:
        """The last week over which the lift is measured (``last_week`` + ``cooldown_weeks``)."""
        return self.last_week + np.timedelta64(7 * self.cooldown_weeks, "D")

    def cells(self, regions: tuple[str, ...], weeks: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For a panel with ``regions`` and ``weeks`` ``[T]``: (test region indices ``[S]``, test weeks ``[T]``
        bool, measurement weeks ``[T]`` bool). Weeks outside the panel are simply absent."""
        index = {r: i for i, r in enumerate(regions)}
        rows = np.array([index[r] for r in self.regions], dtype=np.int64)
        weeks = np.asarray(weeks, dtype="datetime64[D]")
        test = (weeks >= self.first_week) & (weeks <= self.last_week)
        measured = (weeks >= self.first_week) & (weeks <= self.measured_until)
        return rows, test, measured

    def spend_change(self, panel: Panel) -> float:
        """The test's change of spend in currency: (``spend_multiplier`` - 1) × the spend ``panel`` records in the
        test regions over the test weeks (negative for a cut). ``lift / spend_change`` is the test's incremental
        ROI: the slope of the channel's curve between the two spend levels (a chord), not its ROI."""
        recorded = _recorded_spend(panel, self.channel, self.regions, self.first_week, self.last_week)
        return (self.spend_multiplier - 1.0) * recorded

    def within(self, weeks: np.ndarray) -> bool:
        """Whether every week of the test and its cool-down lies in ``weeks`` (a panel's, consecutive)."""
        weeks = np.asarray(weeks, dtype="datetime64[D]")
        return bool(len(weeks)) and weeks[0] <= self.first_week and self.measured_until <= weeks[-1]


def lift_tests_frame(tests: list[LiftTest] | tuple[LiftTest, ...]) -> pd.DataFrame:
    """One row per experiment (regions joined by ``;``): experiment, channel, regions, n_regions, first_week,
    last_week, cooldown_weeks, spend_multiplier, lift, lift_se."""
    text = lambda values: pd.Series(values, dtype=object)  # noqa: E731  (text even with no tests)
    return pd.DataFrame({
        "experiment": text([t.experiment for t in tests]), "channel": text([t.channel for t in tests]),
        "regions": text([";".join(t.regions) for t in tests]),
        "n_regions": np.array([len(t.regions) for t in tests], dtype=np.int64),
        "first_week": pd.to_datetime([t.first_week for t in tests]),
        "last_week": pd.to_datetime([t.last_week for t in tests]),
        "cooldown_weeks": np.array([t.cooldown_weeks for t in tests], dtype=np.int64),
        "spend_multiplier": np.array([t.spend_multiplier for t in tests], dtype=np.float64),
        "lift": np.array([t.lift for t in tests], dtype=np.float64),
        "lift_se": np.array([t.lift_se for t in tests], dtype=np.float64)})


def read_lift_tests(path: str | Path, panel: Panel, date_format: str | None = None,
                    delimiter: str = ",") -> tuple[LiftTest, ...]:
    """Read and validate an experiments file against ``panel`` (see the module docstring)."""
    from mmm_core.data.io import read_table  # the data files' reader (CSV cells as text, Parquet); io imports us

    return lift_tests_from_frame(read_table(path, delimiter), panel, str(path), date_format)


def lift_tests_from_frame(frame: pd.DataFrame, panel: Panel, file: str = "experiments",
                          date_format: str | None = None) -> tuple[LiftTest, ...]:
    """Validate the rows of an experiments file (cells as read: text or numbers) against ``panel``'s
    channels, regions and weeks; ``file`` names it in errors. Rows of one experiment must agree on every
    field but the region; the result is in order of first appearance."""
    frame = _canonical_columns(frame)
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise DataContractError(f"required column is missing (columns: {list(frame.columns)})", file=file,
                                column=missing[0])
    unknown = [c for c in frame.columns if c not in REQUIRED_COLUMNS + OPTIONAL_COLUMNS]
    if unknown:
        raise DataContractError(f"unknown column; the columns are {list(REQUIRED_COLUMNS + OPTIONAL_COLUMNS)}",
                                file=file, column=unknown[0])
    if not any(c in frame.columns for c in SPEND_COLUMNS):
        raise DataContractError("the spend change is missing: give spend_multiplier or spend_change", file=file,
                                column="spend_multiplier")
    if len(frame) == 0:
        raise DataContractError("the experiments file has no rows", file=file)
    rows = [_row(frame, i, panel, file, date_format) for i in range(len(frame))]
    tests: dict[str, LiftTest] = {}
    seen: dict[str, tuple[int, dict]] = {}
    for i, row in enumerate(rows, start=1):
        name = row["experiment"]
        if name not in seen:
            seen[name] = (i, row)
            continue
        first, ref = seen[name]
        for key in SHARED_FIELDS:
            if not _same(ref[key], row[key]):
                raise DataContractError(f"rows of experiment {name!r} disagree on {key} (row {first} has "
                                        f"{ref[key]!r})", file=file, column=key, row=i, value=_shown(row[key]))
        overlap = set(ref["regions_list"]) & set(row["regions"])
        if overlap or ALL_REGIONS in (ref["region_cell"], row["region_cell"]):
            raise DataContractError(f"experiment {name!r} lists a region twice (or 'all' beside regions)",
                                    file=file, column="region", row=i, value=row["region_cell"])
        ref["regions_list"].extend(row["regions"])
    for name, (i, row) in seen.items():
        regions = tuple(r for r in panel.regions if r in set(row["regions_list"]))
        multiplier = row["spend_multiplier"]
        recorded = _recorded_spend(panel, row["channel"], regions, row["first_week"], row["last_week"])
        if multiplier is None:  # spend_change: a currency amount over the test cells
            if recorded <= 0:
                raise DataContractError("spend_change needs spend in the test cells, and the data record none "
                                        "there; give spend_multiplier", file=file, column="spend_change", row=i,
                                        value=row["spend_change"])
            multiplier = 1.0 + row["spend_change"] / recorded
            if multiplier < 0:
                raise DataContractError(f"spend_change cuts more than the {recorded:.6g} the data record in the "
                                        "test cells", file=file, column="spend_change", row=i,
                                        value=row["spend_change"])
        elif recorded <= 0:
            raise DataContractError("spend in the test cells is zero, so no multiplier of it changes anything "
                                    "(a holdout already in the data: see the README)", file=file,
                                    column="spend_multiplier", row=i, value=multiplier)
        tests[name] = LiftTest(name, row["channel"], regions, row["first_week"], row["last_week"],
                               row["cooldown_weeks"], float(multiplier), row["lift"], row["lift_se"])
    return tuple(tests.values())


def file_rows(frame: pd.DataFrame, date_format: str | None = None) -> pd.DataFrame:
    """The cells of a validated experiments file (as ``read_table`` gives them) in ``FILE_COLUMNS``, as written:
    text as text (a date a Parquet file holds written in ``date_format``, ISO without one, so it reads back the
    same), numbers as float64 (NaN for an empty cell), None/NaN where the file has no such column.
    :func:`lift_tests_from_frame` gives the same tests for these rows as for the file."""
    frame = _canonical_columns(frame)
    rows = range(len(frame))
    out = {}
    for column in FILE_COLUMNS:
        if column in NUMBER_COLUMNS:
            out[column] = np.array([_as_float(_cell(frame, i, column)) for i in rows], dtype=np.float64)
        else:
            written = date_format if column in WEEK_COLUMNS else None
            out[column] = pd.Series([_as_written(frame, i, column, written) for i in rows], dtype=object)
    return pd.DataFrame(out)


def _canonical_columns(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.rename(columns=lambda c: canonical_name(str(c)).strip())


def _as_float(value) -> float:
    """A validated number cell (``_cell``'s value) as a float, NaN for an empty one."""
    return np.nan if value is None else float(value)


def _as_written(frame: pd.DataFrame, i: int, column: str, date_format: str | None) -> str | None:
    """A text cell as written (not stripped; an empty text stays ""), None for a null cell or an absent column;
    a date a Parquet file holds is written the way ``date_format`` reads it."""
    value = frame[column].iloc[i] if column in frame.columns else None
    if _null(value) or value is pd.NaT:
        return None
    if isinstance(value, (pd.Timestamp, dt.date, np.datetime64)):
        return pd.Timestamp(value).strftime(date_format or "%Y-%m-%d")
    return str(value)


def _same(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, float) or isinstance(b, float):
        return bool(np.isclose(a, b, rtol=1e-9, atol=0.0))
    return a == b


def _shown(value):
    return str(value) if isinstance(value, np.datetime64) else value


def _recorded_spend(panel: Panel, channel: str, regions: tuple[str, ...], first_week: np.datetime64,
                    last_week: np.datetime64) -> float:
    """The spend ``panel`` records for ``channel`` in ``regions`` over ``first_week`` .. ``last_week`` (currency)."""
    c = panel.channels.index(channel)
    r = np.array([panel.regions.index(x) for x in regions])
    weeks = (panel.weeks >= first_week) & (panel.weeks <= last_week)
    cells = panel.observed[np.ix_(r, weeks)]
    return float(np.where(cells, panel.spend[np.ix_(r, weeks, [c])][..., 0], 0.0).sum())


def _cell(frame: pd.DataFrame, i: int, column: str):
    """The cell as written, None when the column is absent or the cell empty."""
    if column not in frame.columns:
        return None
    value = frame[column].iloc[i]
    if _null(value):
        return None
    if isinstance(value, str) and not value.strip():
        return None
    return value.strip() if isinstance(value, str) else value


def _null(value) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))


def _number(frame: pd.DataFrame, i: int, column: str, file: str, required: bool = True) -> float | None:
    value = _cell(frame, i, column)
    if value is None:
        if required:
            raise DataContractError("missing value", file=file, column=column, row=i + 1)
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise DataContractError("value is not a number", file=file, column=column, row=i + 1,
                                value=str(value)[:80]) from None
    if not np.isfinite(number):
        raise DataContractError("value is not finite (NaN or infinity)", file=file, column=column, row=i + 1,
                                value=str(value))
    return number


def _week(frame: pd.DataFrame, i: int, column: str, panel: Panel, file: str, date_format: str | None) -> np.datetime64:
    value = _cell(frame, i, column)
    if value is None:
        raise DataContractError("missing value", file=file, column=column, row=i + 1)
    parsed = pd.to_datetime(str(value) if not isinstance(value, pd.Timestamp) else value, errors="coerce",
                            format=date_format)
    if pd.isna(parsed):
        raise DataContractError("not a date" + (f" in the spec's date_format {date_format!r}" if date_format else ""),
                                file=file, column=column, row=i + 1, value=str(value)[:80])
    week = np.datetime64(parsed.date(), "D")
    if not (panel.weeks == week).any():
        raise DataContractError(f"not a week of the data ({panel.weeks[0]} .. {panel.weeks[-1]}, every 7 days)",
                                file=file, column=column, row=i + 1, value=str(value)[:80])
    return week


def _row(frame: pd.DataFrame, i: int, panel: Panel, file: str, date_format: str | None) -> dict:
    """One validated row: its fields, and the regions it names."""
    row_no = i + 1
    name = _cell(frame, i, "experiment")
    if name is None:
        raise DataContractError("missing value", file=file, column="experiment", row=row_no)
    channel = _cell(frame, i, "channel")
    channel = None if channel is None else canonical_name(str(channel))
    if channel not in panel.channels:
        raise DataContractError(f"unknown channel; the channels are {list(panel.channels)}", file=file,
                                column="channel", row=row_no, value=channel)
    region = _cell(frame, i, "region")
    region = ALL_REGIONS if region is None else canonical_name(str(region))
    if region == ALL_REGIONS:
        regions = list(panel.regions)
    elif region in panel.regions:
        regions = [region]
    else:
        raise DataContractError(f"unknown region (use '{ALL_REGIONS}' for a national test)", file=file,
                                column="region", row=row_no, value=region)
    first = _week(frame, i, "first_week", panel, file, date_format)
    last = _week(frame, i, "last_week", panel, file, date_format)
    if last < first:
        raise DataContractError(f"last_week is before first_week ({first})", file=file, column="last_week",
                                row=row_no, value=str(last))
    cooldown = _number(frame, i, "cooldown_weeks", file, required=False) or 0.0
    if cooldown < 0 or cooldown != round(cooldown):
        raise DataContractError("cooldown_weeks must be a whole number >= 0", file=file, column="cooldown_weeks",
                                row=row_no, value=cooldown)
    until = last + np.timedelta64(7 * int(cooldown), "D")
    if until > panel.weeks[-1]:
        raise DataContractError(f"the cool-down runs past the data's last week {panel.weeks[-1]}", file=file,
                                column="cooldown_weeks", row=row_no, value=int(cooldown))
    multiplier = _number(frame, i, "spend_multiplier", file, required=False)
    change = _number(frame, i, "spend_change", file, required=False)
    if (multiplier is None) == (change is None):
        raise DataContractError("give exactly one of spend_multiplier and spend_change", file=file,
                                column="spend_multiplier", row=row_no, value=(multiplier, change))
    if multiplier is not None and (multiplier < 0 or multiplier == 1.0):
        raise DataContractError("spend_multiplier must be >= 0 and not 1 (no change)", file=file,
                                column="spend_multiplier", row=row_no, value=multiplier)
    if change is not None and change == 0:
        raise DataContractError("spend_change is 0 (no change)", file=file, column="spend_change", row=row_no,
                                value=change)
    lift = _number(frame, i, "lift", file)
    se = _number(frame, i, "lift_se", file)
    if se <= 0:
        raise DataContractError("lift_se must be > 0", file=file, column="lift_se", row=row_no, value=se)
    return {"experiment": str(name), "channel": channel, "regions": regions, "regions_list": list(regions),
            "region_cell": region, "first_week": first, "last_week": last, "cooldown_weeks": int(cooldown),
            "spend_multiplier": multiplier, "spend_change": change, "lift": lift, "lift_se": se}
