"""Typed resources of the code location: each wraps one part of ``mmm_pipeline.storage`` (or the dataset spec)
behind methods, so asset bodies call ``models.save(week, model)`` instead of combining paths themselves.

Paths default to the bundled sample under ``data/`` and can be moved with environment variables
(``MMM_SPEC_PATH``, ``MMM_WAREHOUSE_PATH``, ``MMM_DATA_DIR``; see ``storage.locations``) or in the
Launchpad's resource config.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
from dagster_duckdb import DuckDBResource
from pydantic import ConfigDict

from mmm_core.data.contract import Panel
from mmm_core.data.experiments import LiftTest
from mmm_core.data.io import ValidatedFile, file_sha256, validate_dataset
from mmm_core.data.spec import DatasetSpec
from mmm_core.model.ensemble import Ensemble
from mmm_core.model.estimator import MMM
from mmm_core.report.dashboard import DashboardData
from mmm_pipeline.policies import connect_waiting_for_lock, retry_only_on_lock
from mmm_pipeline.storage import experiments, report_data, serving, tables
from mmm_pipeline.storage import warehouse as wh
from mmm_pipeline.storage.artifacts import current_model_dir, load_ensemble, load_model, save_run_model
from mmm_pipeline.storage.locations import Locations
from mmm_pipeline.storage.swap import write_text_atomically

REPORT_FILE = "dashboard.html"
FIELD_DOCSTRINGS = ConfigDict(use_attribute_docstrings=True)
"""Pydantic setting that makes each field's docstring its description in the Launchpad."""


class DatasetResource(dg.ConfigurableResource):
    """Where the input data is described: a dataset spec YAML (see README, "Dataset spec")."""

    model_config = FIELD_DOCSTRINGS
    spec_path: str
    """Path of the dataset spec (YAML) that names the data files and their columns (env ``MMM_SPEC_PATH``)."""
    allow_outside_paths: bool = False
    """Let the spec name files outside its own folder (off: a spec is data and cannot redirect reads)."""

    def load_spec(self) -> DatasetSpec:
        return DatasetSpec.from_yaml(self.spec_path)

    def validated_files(self, spec: DatasetSpec) -> list[ValidatedFile]:
        """Every file the spec names, read and validated completely (raises ``DataContractError``)."""
        return validate_dataset(spec, allow_outside_paths=self.allow_outside_paths)

    def file_hashes(self, spec: DatasetSpec) -> dict[str, str | None]:
        """Path -> SHA-256 of every file the spec names (None when it is missing), resolved with the same rule."""
        return {str(p): file_sha256(p) if p.is_file() else None
                for p in spec.resolve_files(self.allow_outside_paths)}

    def validated_experiments(self, spec: DatasetSpec,
                              files: list[ValidatedFile]) -> experiments.ValidatedExperiments | None:
        """The spec's experiments file, read and validated against the dataset of ``files`` (raises
        ``DataContractError``); None when the spec names none."""
        return experiments.validate_experiments(spec, files, allow_outside_paths=self.allow_outside_paths)

    def experiments_hash(self, spec: DatasetSpec) -> tuple[str, str | None] | None:
        """(path, SHA-256 or None when missing) of the spec's experiments file; None when the spec names none."""
        path = spec.resolve_experiments(self.allow_outside_paths)
        return None if path is None else (str(path), file_sha256(path) if path.is_file() else None)


TRAINING_THREADS = 1
"""torch threads of a pipeline fit. One thread degrades gracefully on a shared machine: on 2 cores it is as fast
as two when the machine is quiet (sample panel; 10-20 % slower on the 190-region benchmark panel) and 3.4x
faster when two other processes compete for the cores, where two threads spin in OpenMP barriers (up to 100x
slower in a bad draw; ``benchmarks/threads_benchmark.py``, figures in the README)."""

TRAINING_WORKERS = 2
"""Fits of a refresh trained side by side (``ComputeResource.workers``). Independent fits on one torch thread
each use two cores where two torch threads on one fit do not (its operations are too small to split), and a
thread that waits for its core does not spin as an OpenMP thread does (figures in the README)."""


class ComputeResource(dg.ConfigurableResource):
    """Where the model trains: ``auto`` takes a GPU when torch sees one. Passed to mmm_core as plain values."""

    model_config = FIELD_DOCSTRINGS
    device: str = "auto"
    """'auto' (a GPU when torch sees one), 'cpu' or 'cuda' (env ``MMM_DEVICE``)."""
    threads: int | None = TRAINING_THREADS
    """torch intra-op threads (env ``MMM_THREADS``; ``auto`` or None: torch's own setting, one per core). Default 1:
    see ``TRAINING_THREADS``."""

    workers: int = TRAINING_WORKERS
    """Fits trained side by side on threads (env ``MMM_WORKERS``): the holdout model beside the refit, then the
    ensemble's members (``mmm_core.model.parallel``); each fit is the same model whatever the count. See
    ``TRAINING_WORKERS``."""

    def train_overrides(self) -> dict:
        """The ``TrainConfig`` fields this resource sets; unset ones keep the core's defaults."""
        return {"device": self.device, **({} if self.threads is None else {"threads": self.threads})}


class WarehouseResource(DuckDBResource):
    """The working DuckDB warehouse: raw layer and refresh tables. Every method opens one short connection."""

    @contextmanager
    def get_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """One read-write connection. A lock held by another process is waited for (~100 s), then retried as a
        step; any other error (missing folder, full disk) fails at once (``policies``: retry a lock only)."""
        with retry_only_on_lock():
            conn = connect_waiting_for_lock(self.database, config={"custom_user_agent": "dagster",
                                                                   **self.connection_config})
            try:
                yield conn
            finally:
                conn.close()

    def ingest(self, spec: DatasetSpec, files: list[ValidatedFile],
               experiments_file: experiments.ValidatedExperiments | None = None) -> tuple[wh.Ingested, dict[str, int]]:
        """Append the files that need it as new loads and point raw_current at the spec's files and
        raw_current_experiments at its experiments file (all or none); returns what happened per file and every
        table's row count."""
        with self.get_connection() as conn:
            return wh.ingest(conn, spec, files, experiments=experiments_file), wh.table_counts(conn)

    def read_current(self, spec: DatasetSpec) -> pd.DataFrame:
        """The spec's current rows (raises ``warehouse.CurrentViewOutOfDate`` if ingest has not run for it)."""
        with self.get_connection() as conn:
            return wh.read_current(conn, spec)

    def current_loads(self) -> list[wh.CurrentLoad]:
        """The files raw_current is built from, with their loads, by precedence."""
        with self.get_connection() as conn:
            return wh.current_loads(conn)

    def current_experiments_load(self) -> wh.CurrentLoad | None:
        """The experiments file raw_current_experiments is built from, with its load (None: no experiments)."""
        with self.get_connection() as conn:
            return wh.current_experiments_load(conn)

    def current_lift_tests(self, spec: DatasetSpec, panel: Panel | None = None) -> tuple[LiftTest, ...]:
        """The current load's experiments, validated against the current dataset (``panel``: raw_current's, read
        here when not given); () when the spec names none. Raises ``warehouse.CurrentViewOutOfDate`` when the
        ingest has not run for the spec."""
        with self.get_connection() as conn:
            return wh.current_lift_tests(conn, spec, panel)

    def write(self, refresh_week: dt.date, frames: dict[str, pd.DataFrame]) -> dict[str, int]:
        """Replace the refresh's rows of each table (``storage.tables``); returns the rows written per table."""
        with self.get_connection() as conn:
            return {name: tables.replace_partition(conn, name, refresh_week, frame) for name, frame in frames.items()}

    def read(self, table: str, refresh_week: dt.date) -> pd.DataFrame:
        with self.get_connection() as conn:
            return tables.read_partition(conn, table, refresh_week)

    def previous_refresh(self, table: str, refresh_week: dt.date) -> dt.date | None:
        with self.get_connection() as conn:
            return tables.previous_refresh(conn, table, refresh_week)

    def read_panel(self, spec: DatasetSpec, refresh_week: dt.date) -> Panel:
        """The refresh's window panel as training fitted it (raises ``tables.MissingRefreshData``)."""
        with self.get_connection() as conn:
            return tables.read_panel(conn, spec, refresh_week)

    def read_inputs(self, refresh_week: dt.date) -> pd.DataFrame:
        """The refresh's KPI, spend, activity and controls for the dashboard."""
        with self.get_connection() as conn:
            return report_data.read_inputs(conn, refresh_week)

    def mark_published(self, refresh_week: dt.date, run_id: str) -> None:
        with self.get_connection() as conn:
            serving.mark_published(conn, refresh_week, run_id)


class ModelStoreResource(dg.ConfigurableResource):
    """Fitted models: per refresh week one folder per training run (config.json + weights.safetensors +
    checksums.json) and a ``current`` pointer to the newest (``storage.artifacts``)."""

    model_config = FIELD_DOCSTRINGS
    root: str
    """Folder that holds one model folder per refresh week (``$MMM_DATA_DIR/models``)."""

    def path(self, refresh_week: dt.date) -> Path:
        """The refresh week's folder (its runs' artefacts and the ``current`` pointer)."""
        return Path(self.root) / refresh_week.isoformat()

    def save(self, refresh_week: dt.date, model: MMM | Ensemble, run_id: str) -> Path:
        """Save the run's model atomically and make it the week's current one; returns the run's folder."""
        return save_run_model(model, self.path(refresh_week), run_id)

    def load(self, refresh_week: dt.date) -> MMM:
        """The week's current model after checking its checksums (raises ``ModelArtifactError`` naming the file)."""
        return load_model(current_model_dir(self.path(refresh_week)))

    def load_ensemble(self, refresh_week: dt.date) -> Ensemble | None:
        """The week's current model with its members (None when the run refitted none), checksums checked."""
        return load_ensemble(current_model_dir(self.path(refresh_week)))


class ServingResource(dg.ConfigurableResource):
    """The published copy for SQL consumers (``mmm_serving.duckdb`` + Parquet exports) in one folder."""

    model_config = FIELD_DOCSTRINGS
    root: str
    """Folder of the serving file and the Parquet exports (``$MMM_DATA_DIR/serving``)."""

    @property
    def database_path(self) -> Path:
        return Path(self.root) / serving.SERVING_FILE

    def publish(self, warehouse: WarehouseResource, refresh_week: dt.date) -> serving.Publication:
        """Rebuild the serving copy from every published refresh of ``warehouse`` and export the refresh's
        Parquet folder, both swapped in atomically under the publish lock. The warehouse is attached read-only:
        while another refresh writes it, that lock is retried as a step (``policies.retry_only_on_lock``)."""
        with retry_only_on_lock():
            return serving.publish(warehouse.database, self.root, refresh_week)

    def dashboard_data(self, refresh_week: dt.date, inputs: pd.DataFrame) -> DashboardData:
        """The dashboard's tables for one published refresh (raises ``report_data.RefreshNotPublished``)."""
        return report_data.read_dashboard_data(self.database_path, refresh_week, inputs)


class ReportStoreResource(dg.ConfigurableResource):
    """Dashboards, one folder per refresh week."""

    model_config = FIELD_DOCSTRINGS
    root: str
    """Folder of the dashboards, one sub-folder per refresh week (``$MMM_DATA_DIR/reports``)."""

    def path(self, refresh_week: dt.date) -> Path:
        return Path(self.root) / refresh_week.isoformat() / REPORT_FILE

    def write(self, refresh_week: dt.date, page: str) -> Path:
        """Write the refresh's dashboard page; returns its path."""
        return write_text_atomically(self.path(refresh_week), page)


class QualityGatesResource(dg.ConfigurableResource):
    """Thresholds of the model checks. A refresh that fails a blocking gate is never published.

    Each field is set in the Launchpad (``resources.quality_gates.config.<field>``) or, for a deployment, by
    the environment variable ``MMM_<FIELD>`` (``MMM_MIN_HOLDOUT_SKILL``, ``MMM_MAX_ADDITIVITY_ERROR``,
    ``MMM_MAX_ROI_CHANGE``, ``MMM_MAX_ROI_INTERVAL_RATIO``, ``MMM_MAX_EXPERIMENT_Z``; read by
    ``default_resources``).
    """

    model_config = FIELD_DOCSTRINGS
    min_holdout_skill: float = 0.1
    """Share of the variance that the best naive baseline (region mean, last 4 weeks, same week last year)
    leaves unexplained in the holdout weeks that the model's forecast must explain, within-region and
    nationally: R² >= baseline + min_holdout_skill * (1 - baseline) (``gates.ForecastVerdict``). 0 = as good
    as naive; a negative value lets a forecast worse than naive through."""
    max_additivity_error: float = 1e-6
    """Largest relative gap between the sum of components and the prediction."""
    max_roi_change: float = 0.5
    """Warn (not block) when a channel's ROI moves by more than this fraction since the previous refresh."""
    max_roi_interval_ratio: float = 3.0
    """Warn (not block) when a channel's ROI interval spans more than this factor (roi_upper / roi_lower): the
    data do not pin its ROI, so acting on it needs an experiment."""
    max_experiment_z: float = 3.0
    """Warn (not block) when an experiment's measured lift and the model's lift for it differ by more than this
    many of the experiment's standard errors (|z| in the experiments table): the experiment contradicts the rest
    of the data, or the model."""

    @staticmethod
    def environment_variable(field: str) -> str:
        """The environment variable that sets ``field`` for a deployment (``MMM_`` + its name in capitals)."""
        return f"MMM_{field.upper()}"

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> "QualityGatesResource":
        """The gates with each ``MMM_<FIELD>`` that is set; unset ones keep their defaults."""
        values = {}
        for field in cls.model_fields:
            name = cls.environment_variable(field)
            if environ.get(name, "").strip():
                try:
                    values[field] = float(environ[name])
                except ValueError:
                    raise ValueError(f"environment variable {name}={environ[name]!r} is not a number") from None
        return cls(**values)

    def how_to_change(self, field: str) -> str:
        """The sentence a blocked check ends with: where ``field`` is set and what it is now."""
        return (f"The gate is {field} = {getattr(self, field):g}: change it in the Launchpad "
                f"(resources.quality_gates.config.{field}) or with the environment variable "
                f"{self.environment_variable(field)}.")


def resources_for(locations: Locations, device: str = "auto", threads: int | None = TRAINING_THREADS,
                  quality_gates: QualityGatesResource | None = None, workers: int = TRAINING_WORKERS) -> dict:
    """Every resource of the code location, bound to one deployment's paths (gates: their defaults unless given)."""
    return {
        "warehouse": WarehouseResource(database=str(locations.warehouse_path)),
        "dataset": DatasetResource(spec_path=str(locations.spec_path)),
        "compute": ComputeResource(device=device, threads=threads, workers=workers),
        "models": ModelStoreResource(root=str(locations.models_dir)),
        "serving": ServingResource(root=str(locations.serving_dir)),
        "reports": ReportStoreResource(root=str(locations.reports_dir)),
        "quality_gates": quality_gates or QualityGatesResource(),
    }


def threads_from_environment(value: str) -> int | None:
    """``MMM_THREADS``: unset or blank -> ``TRAINING_THREADS``; ``auto`` -> None (torch's setting); else a positive int."""
    return None if value.strip().lower() == "auto" else _count("MMM_THREADS", value, TRAINING_THREADS, " or 'auto'")


def workers_from_environment(value: str) -> int:
    """``MMM_WORKERS``: unset or blank -> ``TRAINING_WORKERS``; else a positive int."""
    return _count("MMM_WORKERS", value, TRAINING_WORKERS)


def _count(variable: str, value: str, default: int, alternatives: str = "") -> int:
    """A positive whole number from environment variable ``variable``'s ``value`` (blank: ``default``)."""
    value = value.strip()
    if not value:
        return default
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"environment variable {variable}={value!r} is not a positive whole number{alternatives}")
    return int(value)


def default_resources() -> dict[str, dg.ConfigurableResource]:
    """The resources of this deployment, from ``MMM_*`` environment variables (paths: ``storage.locations``;
    ``MMM_DEVICE``: training device; ``MMM_THREADS``: torch threads, unset 1, ``auto`` torch's setting;
    ``MMM_WORKERS``: fits side by side, unset ``TRAINING_WORKERS``; quality
    gates: ``QualityGatesResource.from_environment``)."""
    locations = Locations.from_environment()
    locations.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    return resources_for(locations, device=os.environ.get("MMM_DEVICE", "auto"),
                         threads=threads_from_environment(os.environ.get("MMM_THREADS", "")),
                         workers=workers_from_environment(os.environ.get("MMM_WORKERS", "")),
                         quality_gates=QualityGatesResource.from_environment())
