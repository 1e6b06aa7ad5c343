"""The data contract: the ``Panel`` every other module works on, and the one error type for bad input.

A panel is one KPI observed per region and week, with per-channel spend and activity and a set of
control variables. Arrays are dense ``[regions, weeks, ...]`` on a consecutive weekly grid; region-weeks
that the input lacks (unbalanced panels: a region starting late, a gap) are kept as zeros with
``observed == False`` so that models can mask them instead of treating them as data.

Reading files and dataset specs lives in ``spec.py`` and ``io.py``; this module has no I/O.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field, fields, replace
from typing import Any

import numpy as np
import pandas as pd

# Canonical column names of the long (one row per region-week) form of a panel.
REGION = "region"
WEEK = "week"
KPI = "kpi"
NATIONAL_REGION = "national"
"""Region name used when a dataset has no region column (one national series)."""

MAX_ABS_VALUE = 1e15
"""Largest magnitude a number in a data file may have. KPI, spend, activity and population in any unit
stay far below it (world output is about 1e14 USD a year); beyond it the model's float arithmetic
overflows or loses every digit (a spend of 1e308 was published with an ROI of 4e-301)."""
MIN_WEEKS = 52
"""A yearly seasonality cannot be estimated from less than one year of weeks."""


def canonical_name(text: str) -> str:
    """A region, channel, control or column name in the one form the project compares: Unicode NFC.

    "Zürich" typed on a Mac (NFD: ``u`` + combining diaeresis) and elsewhere (NFC: ``ü``) look the same and
    must be one region; NFC is the form most text is already in, so most names pass unchanged.
    """
    return unicodedata.normalize("NFC", text)


class DataContractError(ValueError):
    """Input data that breaks the contract.

    The message always says where: the file, the column, the row (1-based data row, header excluded,
    as a spreadsheet user counts it after the header) and the offending value, whichever apply.
    The same fields are kept as attributes so callers (asset checks, tests) can read them.
    """

    def __init__(self, problem: str, *, file: str | None = None, column: str | None = None,
                 row: int | str | None = None, value: Any = None):
        self.problem = problem
        self.file = file
        self.column = column
        self.row = row
        self.value = value
        where = []
        if file is not None:
            where.append(f"file {file!s}")
        if column is not None:
            where.append(f"column {column!r}")
        if row is not None:
            where.append(f"row {row}")
        message = (", ".join(where) + ": " if where else "") + problem
        if value is not None:
            message += f" (value: {value!r})"
        super().__init__(message)


def _first_bad(mask: np.ndarray) -> tuple[int, ...] | None:
    idx = np.argwhere(mask)
    return tuple(int(i) for i in idx[0]) if len(idx) else None


@dataclass(frozen=True, eq=False)
class Panel:
    """A validated region × week panel (KPI units, spend currency, activity units are the input's).

    Attributes:
        regions: region names, length R.
        weeks: week start dates, ``datetime64[D]``, length T, consecutive 7-day steps.
        channels: media channel names, length C.
        control_names: control variable names, length K (may be 0).
        kpi: ``[R, T]`` KPI per region-week (e.g. revenue, conversions), >= 0.
        spend: ``[R, T, C]`` media spend in currency, >= 0.
        activity: ``[R, T, C]`` media activity (impressions, GRPs, clicks) the model reads; equal to
            ``spend`` for channels without an activity column. >= 0.
        controls: ``[R, T, K]`` control variables in their own units.
        observed: ``[R, T]`` bool; False where the input had no row for that region-week (all values
            there are 0 and must be masked, never used as data).
        population: ``[R]`` optional population (or any size measure) per region.
    """

    regions: tuple[str, ...]
    weeks: np.ndarray
    channels: tuple[str, ...]
    control_names: tuple[str, ...]
    kpi: np.ndarray
    spend: np.ndarray
    activity: np.ndarray
    controls: np.ndarray
    observed: np.ndarray = field(default=None)  # type: ignore[assignment]
    population: np.ndarray | None = None

    def __post_init__(self) -> None:
        self._normalise_and_check_structure()
        self._validate_weeks()
        self._validate_values()

    def _normalise_and_check_structure(self) -> None:
        """Normalise dtypes (once: the panel is frozen), then check shapes and names: what every panel
        satisfies, input or derived (``derive``)."""
        set_ = object.__setattr__
        set_(self, "regions", tuple(canonical_name(str(r)) for r in self.regions))
        set_(self, "channels", tuple(canonical_name(str(c)) for c in self.channels))
        set_(self, "control_names", tuple(canonical_name(str(k)) for k in self.control_names))
        set_(self, "weeks", np.asarray(self.weeks, dtype="datetime64[D]"))
        for name in ("kpi", "spend", "activity", "controls"):
            set_(self, name, np.asarray(getattr(self, name), dtype=np.float64))
        R, T, C, K = len(self.regions), len(self.weeks), len(self.channels), len(self.control_names)
        if self.observed is None:
            set_(self, "observed", np.ones((R, T), dtype=bool))
        else:
            set_(self, "observed", np.asarray(self.observed, dtype=bool))
        if self.population is not None:
            set_(self, "population", np.asarray(self.population, dtype=np.float64))
        self._validate_shapes(R, T, C, K)
        self._validate_names()

    # -- validators -------------------------------------------------------------------------
    def _validate_shapes(self, R: int, T: int, C: int, K: int) -> None:
        expected = {"kpi": (R, T), "spend": (R, T, C), "activity": (R, T, C), "controls": (R, T, K),
                    "observed": (R, T)}
        for name, shape in expected.items():
            if getattr(self, name).shape != shape:
                raise DataContractError(f"array {name} has shape {getattr(self, name).shape}, expected {shape}")
        if self.population is not None and self.population.shape != (R,):
            raise DataContractError(f"population has shape {self.population.shape}, expected ({R},)")
        if R == 0 or C == 0:
            raise DataContractError("a panel needs at least one region and one channel")

    def _validate_names(self) -> None:
        for kind, names in (("region", self.regions), ("channel", self.channels), ("control", self.control_names)):
            seen: set[str] = set()
            for n in names:
                if n in seen:
                    raise DataContractError(f"duplicate {kind} name", value=n)
                seen.add(n)

    def _validate_weeks(self) -> None:
        if len(self.weeks) < MIN_WEEKS:
            raise DataContractError(f"{len(self.weeks)} weeks; at least {MIN_WEEKS} are needed", column=WEEK)
        steps = np.diff(self.weeks).astype(int)
        bad = np.flatnonzero(steps != 7)
        if len(bad):
            raise DataContractError("weeks are not consecutive 7-day steps", column=WEEK,
                                    value=str(self.weeks[bad[0] + 1]))

    def _validate_values(self) -> None:
        checks = [("kpi", self.kpi), ("spend", self.spend), ("activity", self.activity), ("controls", self.controls)]
        for name, arr in checks:
            where = _first_bad(~np.isfinite(arr))
            if where is not None:
                raise DataContractError(f"{name} is not finite", column=self._column_of(name, where),
                                        row=self._row_of(where), value=float(arr[where]))
            if name == "controls":
                continue
            where = _first_bad(arr < 0)
            if where is not None:
                raise DataContractError(f"{name} is negative", column=self._column_of(name, where),
                                        row=self._row_of(where), value=float(arr[where]))
        observed_spend = np.where(self.observed[..., None], self.spend, 0.0)
        for c, channel in enumerate(self.channels):
            if not observed_spend[..., c].any():
                raise DataContractError("channel has zero spend in every region-week", column=channel)

    def _column_of(self, name: str, where: tuple[int, ...]) -> str:
        if name in ("spend", "activity"):
            return f"{self.channels[where[2]]} ({name})"
        if name == "controls":
            return self.control_names[where[2]]
        return name

    def _row_of(self, where: tuple[int, ...]) -> str:
        return f"region {self.regions[where[0]]!r}, week {self.weeks[where[1]]}"

    # -- views ------------------------------------------------------------------------------
    @property
    def n_regions(self) -> int:
        return len(self.regions)

    @property
    def n_weeks(self) -> int:
        return len(self.weeks)

    @property
    def n_channels(self) -> int:
        return len(self.channels)

    @property
    def n_controls(self) -> int:
        return len(self.control_names)

    @property
    def is_balanced(self) -> bool:
        return bool(self.observed.all())

    def slice_weeks(self, start: int, stop: int | None = None) -> "Panel":
        """Weeks ``[start, stop)`` of the panel (positions, like Python slicing)."""
        s = slice(start, stop)
        return replace(self, weeks=self.weeks[s], kpi=self.kpi[:, s], spend=self.spend[:, s],
                       activity=self.activity[:, s], controls=self.controls[:, s], observed=self.observed[:, s])

    def window(self, last_week: Any, n_weeks: int) -> "Panel":
        """The ``n_weeks`` weeks ending with ``last_week`` (inclusive), or fewer at the panel's start.

        Raises when ``last_week`` is not a week of the panel: a refresh for a week the data does not
        reach yet must fail loudly, not silently train on older data.
        """
        last = np.datetime64(last_week, "D")
        hits = np.flatnonzero(self.weeks == last)
        if not len(hits):
            raise DataContractError(f"week {last} is not in the data (weeks {self.weeks[0]} .. {self.weeks[-1]})",
                                    column=WEEK, value=str(last))
        stop = int(hits[0]) + 1
        return self.slice_weeks(max(0, stop - n_weeks), stop)

    def replace(self, **changes: Any) -> "Panel":
        """A copy with some arrays replaced, validated again as input (e.g. corrected data)."""
        return replace(self, **changes)

    def derive(self, **changes: Any) -> "Panel":
        """A copy with some arrays replaced, for a panel the code builds from this validated one (future
        weeks appended for a planning window, a channel switched off): shapes and names are checked, the
        input rules (weeks, values, a channel with no spend) are not; they are about data files, and a
        scenario may break them on purpose."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        unknown = set(changes) - set(values)
        if unknown:
            raise TypeError(f"Panel has no fields {sorted(unknown)}")
        derived = object.__new__(Panel)
        for name, value in {**values, **changes}.items():
            object.__setattr__(derived, name, value)
        derived._normalise_and_check_structure()
        return derived

    def balance_report(self) -> dict[str, Any]:
        """How unbalanced the panel is: missing region-weeks and late-starting regions."""
        missing = ~self.observed
        first_obs = np.argmax(self.observed, axis=1)
        late = {self.regions[r]: str(self.weeks[first_obs[r]]) for r in range(self.n_regions) if first_obs[r] > 0}
        return {
            "n_regions": self.n_regions,
            "n_weeks": self.n_weeks,
            "missing_region_weeks": int(missing.sum()),
            "regions_with_gaps": int(missing.any(axis=1).sum()),
            "late_start_regions": late,
        }

    def to_frame(self) -> pd.DataFrame:
        """Long form: one row per observed region-week with columns region, week, kpi,
        ``spend_<channel>``, ``activity_<channel>`` and one column per control."""
        r_idx, t_idx = np.nonzero(self.observed)
        data: dict[str, Any] = {
            REGION: np.asarray(self.regions, dtype=object)[r_idx],
            WEEK: pd.to_datetime(self.weeks[t_idx]),
            KPI: self.kpi[r_idx, t_idx],
        }
        for c, ch in enumerate(self.channels):
            data[f"spend_{ch}"] = self.spend[r_idx, t_idx, c]
            data[f"activity_{ch}"] = self.activity[r_idx, t_idx, c]
        for k, name in enumerate(self.control_names):
            data[name] = self.controls[r_idx, t_idx, k]
        if self.population is not None:
            data["population"] = self.population[r_idx]
        return pd.DataFrame(data)
