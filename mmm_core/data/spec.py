"""The dataset spec: which file(s) hold the data and which column means what.

A spec is a small YAML file next to the data::

    name: sample
    files: [sample.csv]              # CSV or Parquet, relative to the spec's folder
    week_column: week                # a date (any weekday, 7-day steps) ...
    week_start: null                 # ... or an integer week index 0, 1, ... plus this start date
    region_column: region            # optional: absent means one national series
    kpi_column: revenue
    kpi_unit: EUR                    # informational: what one KPI unit is
    currency: EUR                    # informational: spend currency
    population_column: population    # optional: region size, used to scale media per capita
    channels:
      - name: tv
        spend: tv_spend              # required
        activity: tv_grps            # optional: impressions / GRPs / clicks; the model uses it if given
    controls: [price_index, promo]
    date_format: null                # optional: how week dates are written, e.g. '%d/%m/%Y' (default: ISO)
    delimiter: ","                   # optional: the CSV field separator, e.g. ";" or "\t"
    decimal: "."                     # optional: the CSV decimal mark, "." or ","
    experiments: experiments.csv     # optional: lift tests (``data/experiments.py`` has the format)

Column, channel and control names are read in Unicode NFC (the files' headers and region names too), so a
name typed on a Mac (NFD) and the same name typed elsewhere (NFC) are one name.

Paths are resolved against the spec's own folder; a file outside that folder is refused unless the
caller allows it explicitly (a spec is data, and data should not point a pipeline at /etc/passwd).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import string
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mmm_core.data.contract import DataContractError, canonical_name

RESERVED_COLUMNS = ("load_id", "load_seq", "source_file", "file_hash", "loaded_at", "source_row", "week_date")
"""Names the warehouse adds to every raw row: the one list of them (``mmm_pipeline.storage.warehouse``'s load
columns must be among these; a test checks it). Lower case; a dataset column may not use them in any case,
since the warehouse folds ASCII case (see :func:`column_key`)."""

_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)
_DATE_PROBE = dt.datetime(2023, 11, 27, 13, 45, 30)
"""A date whose day (27), month (11) and year cannot be mistaken for one another, with a time of day."""


def column_key(name: str) -> str:
    """A column name as DuckDB compares identifiers: ASCII letters folded to lower case, nothing else.

    Checked on duckdb 2.0.1: ``price``/``Price`` are one column there, ``é``/``É`` and ``ß``/``SS`` are two.
    Two spec columns with one key would be one warehouse column, so the spec refuses them.
    """
    return name.translate(_ASCII_LOWER)


@dataclass(frozen=True)
class ChannelSpec:
    """One media channel: its name and the columns holding spend (currency) and activity."""

    name: str
    spend: str
    activity: str | None = None

    def __post_init__(self) -> None:
        for key in ("name", "spend", "activity"):
            value = getattr(self, key)
            if isinstance(value, str):
                object.__setattr__(self, key, canonical_name(value))

    @property
    def model_column(self) -> str:
        """The column the model reads: activity where given, spend otherwise."""
        return self.activity or self.spend


@dataclass(frozen=True)
class DatasetSpec:
    """What the columns of a region-week dataset mean. See the module docstring for the YAML form."""

    files: tuple[str, ...]
    week_column: str
    kpi_column: str
    channels: tuple[ChannelSpec, ...]
    controls: tuple[str, ...] = ()
    region_column: str | None = None
    population_column: str | None = None
    week_start: dt.date | None = None
    name: str = "dataset"
    kpi_unit: str = "KPI units"
    currency: str = "currency units"
    date_format: str | None = None
    """How the week column's dates are written (``strptime`` codes, e.g. ``'%d/%m/%Y'``); None: ISO dates, or
    anything pandas reads unambiguously (numeric dates such as 01/03/2023 are then read month-first)."""
    delimiter: str = ","
    """The CSV field separator, one character (``";"``, ``"\\t"``, ``"|"``). Parquet files ignore it."""
    decimal: str = "."
    """The decimal mark of numbers written as text, ``"."`` or ``","`` (then a ``.`` in a number is refused: it
    would be a thousands separator, which is not supported)."""
    experiments: str | None = None
    """An experiments file (lift tests; CSV or Parquet, format in ``data.experiments``), relative to the spec's
    folder like the data files; None: no experiments."""
    base_dir: Path = field(default=Path("."), compare=False)

    def __post_init__(self) -> None:
        src = f"spec {self.name!r}"
        self._check_files(src)
        if self.experiments is not None and (not isinstance(self.experiments, str) or not self.experiments.strip()
                                             or "\0" in self.experiments):
            raise DataContractError("experiments must be a file name, e.g. experiments.csv", file=src,
                                    column="experiments", value=str(self.experiments))
        if not self.channels:
            raise DataContractError("the spec names no channels", file=src, column="channels")
        for key in ("week_column", "kpi_column", "region_column", "population_column"):
            if isinstance(getattr(self, key), str):
                object.__setattr__(self, key, canonical_name(getattr(self, key)))
        object.__setattr__(self, "controls", tuple(canonical_name(c) if isinstance(c, str) else c
                                                   for c in self.controls))
        names = [c.name for c in self.channels]
        if len(set(names)) != len(names):
            raise DataContractError("duplicate channel name", file=src, column="channels", value=names)
        used: dict[str, tuple[str, str]] = {}  # column_key -> (column as written, role)
        for role, col in self.column_roles():
            if not isinstance(col, str) or not col.strip():
                raise DataContractError(f"the {role} column name is empty or not text", file=src, value=col)
            key = column_key(col)
            if key in RESERVED_COLUMNS:
                raise DataContractError(f"column name is reserved by the warehouse, in any case "
                                        f"({', '.join(RESERVED_COLUMNS)}); rename the column", file=src, column=col)
            if key in used and used[key][0] == col:
                raise DataContractError(f"column used twice in the spec (as {used[key][1]} and as {role})",
                                        file=src, column=col)
            if key in used:
                raise DataContractError(f"columns {used[key][0]!r} ({used[key][1]}) and {col!r} ({role}) differ only "
                                        "by case, and the warehouse (DuckDB) does not tell such names apart; "
                                        "rename one", file=src, column=col)
            used[key] = (col, role)
        self._check_file_format(src)

    def _check_files(self, src: str) -> None:
        if not self.files:
            raise DataContractError("the spec names no data files", file=src, column="files")
        for f in self.files:
            if not isinstance(f, str) or not f.strip():
                raise DataContractError("files must be a list of file names, e.g. [sales.csv]", file=src,
                                        column="files", value=f if isinstance(f, (str, int, float)) else str(f))
            if "\0" in f:
                raise DataContractError("a file name contains a NUL byte", file=src, column="files", value=f)

    def _check_file_format(self, src: str) -> None:
        """date_format, delimiter and decimal: the right type, and values that can describe a file."""
        fmt = self.date_format
        if fmt is not None:
            if not isinstance(fmt, str):
                raise DataContractError("date_format must be text, e.g. '%d/%m/%Y'", file=src, column="date_format",
                                        value=str(fmt))
            if self.week_start is not None:
                raise DataContractError("date_format describes week dates, but the spec's week_start says the week "
                                        "column is an integer index; drop one of them", file=src,
                                        column="date_format", value=fmt)
            try:
                probe = dt.datetime.strptime(_DATE_PROBE.strftime(fmt), fmt)
            except ValueError:
                probe = None
            if probe is None or probe.date() != _DATE_PROBE.date():
                raise DataContractError("date_format must name day, month and year in strptime codes, e.g. "
                                        "'%d/%m/%Y' or '%d.%m.%y'", file=src, column="date_format", value=fmt)
            if probe.time() != dt.time(0):
                raise DataContractError("date_format has a time of day; a week is a date", file=src,
                                        column="date_format", value=fmt)
        sep = self.delimiter
        if not isinstance(sep, str) or len(sep) != 1:
            raise DataContractError('delimiter must be one character, e.g. ";" or "\\t" (tab)', file=src,
                                    column="delimiter", value=str(sep))
        if sep in "\r\n":
            raise DataContractError("delimiter cannot be a line break", file=src, column="delimiter", value=sep)
        if sep in "\"'" or sep.isalnum():
            raise DataContractError("delimiter cannot be a quote, letter or digit", file=src, column="delimiter",
                                    value=sep)
        if self.decimal not in (".", ","):
            raise DataContractError("decimal must be '.' or ','", file=src, column="decimal", value=str(self.decimal))
        if sep == self.decimal:
            key = "decimal" if self.decimal != "." else "delimiter"
            raise DataContractError(f"the decimal mark {self.decimal!r} is also the delimiter; a decimal-comma file "
                                    "is usually ';'-separated (delimiter: \";\")", file=src, column=key, value=sep)

    def column_roles(self) -> list[tuple[str, str]]:
        """Every column the spec names, with its role, in file order of importance."""
        roles: list[tuple[str, str]] = [("week", self.week_column), ("kpi", self.kpi_column)]
        if self.region_column:
            roles.append(("region", self.region_column))
        if self.population_column:
            roles.append(("population", self.population_column))
        for ch in self.channels:
            roles.append((f"spend of {ch.name}", ch.spend))
            if ch.activity:
                roles.append((f"activity of {ch.name}", ch.activity))
        roles.extend((f"control {c}", c) for c in self.controls)
        return roles

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(col for _, col in self.column_roles())

    @property
    def numeric_columns(self) -> tuple[str, ...]:
        skip = {self.week_column, self.region_column}
        return tuple(col for col in self.columns if col not in skip)

    def resolve_experiments(self, allow_outside: bool = False) -> Path | None:
        """Absolute path of the experiments file (None when the spec names none); refused outside the spec's folder."""
        if self.experiments is None:
            return None
        return self._resolve((self.experiments,), allow_outside, "experiments")[0]

    def resolve_files(self, allow_outside: bool = False) -> list[Path]:
        """Absolute paths of the data files; refuses paths that leave the spec's folder."""
        return self._resolve(self.files, allow_outside, "files")

    def _resolve(self, names: tuple[str, ...], allow_outside: bool, key: str) -> list[Path]:
        base = self.base_dir.resolve()
        out = []
        for f in names:
            path = (base / f).resolve()
            if not allow_outside and base != path and base not in path.parents:
                raise DataContractError("data file lies outside the spec's folder; refused "
                                        "(set allow_outside_paths to permit it)", file=str(f), column=key)
            out.append(path)
        return out

    # -- (de)serialisation ------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("base_dir")
        d["files"] = list(self.files)
        d["controls"] = list(self.controls)
        d["channels"] = [{k: v for k, v in asdict(c).items() if v is not None} for c in self.channels]
        d["week_start"] = self.week_start.isoformat() if self.week_start else None
        # the file-format keys appear only when set, so a spec without them keeps its fingerprint
        for key, default in (("date_format", None), ("delimiter", ","), ("decimal", "."), ("experiments", None)):
            if d[key] == default:
                d.pop(key)
        return d

    def fingerprint(self) -> str:
        """Stable hash of the spec's meaning (not its location)."""
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()[:16]

    def to_yaml(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text(yaml.safe_dump(self.to_dict(), sort_keys=False))
        return path

    @classmethod
    def from_dict(cls, d: dict[str, Any], base_dir: str | Path = ".", source: str = "spec") -> "DatasetSpec":
        if not isinstance(d, dict):
            raise DataContractError("a spec must be a YAML mapping", file=source)
        known = {"files", "week_column", "kpi_column", "channels", "controls", "region_column",
                 "population_column", "week_start", "name", "kpi_unit", "currency", "date_format", "delimiter",
                 "decimal", "experiments"}
        unknown = set(d) - known
        if unknown:
            raise DataContractError(f"unknown spec keys {sorted(unknown)}", file=source)
        for key in ("files", "week_column", "kpi_column", "channels"):
            if key not in d or d[key] in (None, "", []):
                raise DataContractError("required spec key is missing", file=source, column=key)
        files = d["files"]
        if isinstance(files, str):
            files = (files,)
        elif isinstance(files, (list, tuple)):
            files = tuple(files)  # each entry is checked in __post_init__
        else:
            raise DataContractError(f"files must be a list of file names, e.g. [sales.csv], got "
                                    f"{type(files).__name__}", file=source, column="files", value=str(files))
        channels = []
        for i, ch in enumerate(d["channels"], start=1):
            if not isinstance(ch, dict) or "name" not in ch or "spend" not in ch:
                raise DataContractError("each channel needs 'name' and 'spend'", file=source, column="channels",
                                        row=i, value=ch)
            extra = set(ch) - {"name", "spend", "activity"}
            if extra:
                raise DataContractError(f"unknown channel keys {sorted(extra)}", file=source, column="channels", row=i)
            channels.append(ChannelSpec(str(ch["name"]), str(ch["spend"]),
                                        None if ch.get("activity") is None else str(ch["activity"])))
        week_start = d.get("week_start")
        if week_start is not None and not isinstance(week_start, dt.date):
            try:
                week_start = dt.date.fromisoformat(str(week_start))
            except ValueError as exc:
                raise DataContractError("week_start is not an ISO date", file=source, column="week_start",
                                        value=week_start) from exc
        controls = d.get("controls") or ()
        if not isinstance(controls, (list, tuple)):
            raise DataContractError(f"controls must be a list of column names, e.g. [{controls}], got "
                                    f"{type(controls).__name__}", file=source, column="controls", value=str(controls))
        for control in controls:
            if not isinstance(control, (str, int, float)) or not str(control).strip():
                raise DataContractError("a control is not a column name", file=source, column="controls",
                                        value=str(control))
        return cls(
            files=files, week_column=str(d["week_column"]), kpi_column=str(d["kpi_column"]),
            channels=tuple(channels), controls=tuple(str(c) for c in controls),
            region_column=None if d.get("region_column") is None else str(d["region_column"]),
            population_column=None if d.get("population_column") is None else str(d["population_column"]),
            week_start=week_start, name=str(d.get("name", "dataset")),
            kpi_unit=str(d.get("kpi_unit", "KPI units")), currency=str(d.get("currency", "currency units")),
            date_format=d.get("date_format"), delimiter=d.get("delimiter", ","), decimal=d.get("decimal", "."),
            experiments=None if d.get("experiments") is None else d["experiments"], base_dir=Path(base_dir),
        )

    @classmethod
    def from_yaml(cls, path: str | Path) -> "DatasetSpec":
        if "\0" in str(path):
            raise DataContractError("the spec path contains a NUL byte", file=repr(str(path)))
        path = Path(path)
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise DataContractError("spec file not found", file=str(path)) from exc
        except IsADirectoryError as exc:
            raise DataContractError("the spec path is a directory, not a YAML file", file=str(path)) from exc
        except OSError as exc:
            raise DataContractError(f"spec file cannot be read: {exc.strerror or exc}", file=str(path)) from exc
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise DataContractError(f"spec is not valid UTF-8 YAML: {exc}", file=str(path)) from exc
        return cls.from_dict(raw, base_dir=path.parent, source=str(path))
