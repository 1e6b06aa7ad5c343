"""Typed resources of the code location: each wraps one part of ``mmm_pipeline.storage`` (or the dataset spec)
behind methods, so asset bodies call ``models.save(week, model)`` instead of combining paths themselves.

Paths default to the bundled sample under ``data/`` and can be moved with environment variables
(``MMM_SPEC_PATH``, ``MMM_WAREHOUSE_PATH``, ``MMM_DATA_DIR``; see ``storage.locations``) or in the
Launchpad's resource config.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import dagster as dg
import pandas as pd
from dagster_duckdb import DuckDBResource

from mmm_core.data.contract import Panel
from mmm_core.data.io import ValidatedFile, file_sha256, validate_dataset
from mmm_core.data.spec import DatasetSpec
from mmm_core.model.estimator import MMM
from mmm_core.report.dashboard import DashboardData
from mmm_pipeline.storage import report_data, serving, tables
from mmm_pipeline.storage import warehouse as wh
from mmm_pipeline.storage.artifacts import load_model, save_model_atomically
from mmm_pipeline.storage.locations import Locations
from mmm_pipeline.storage.swap import write_text_atomically

REPORT_FILE = "dashboard.html"


class DatasetResource(dg.ConfigurableResource):
    """Where the input data is described: a dataset spec YAML (see README, "Dataset spec")."""

    spec_path: str
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


class ComputeResource(dg.ConfigurableResource):
    """Where the model trains: ``auto`` takes a GPU when torch sees one. Passed to mmm_core as plain values."""

    device: str = "auto"
    threads: int | None = None
    """torch intra-op threads; None leaves torch's setting (``mmm_core.model.training.TrainConfig.threads``)."""

    def train_overrides(self) -> dict:
        """The ``TrainConfig`` fields this resource sets; unset ones keep the core's defaults."""
        return {"device": self.device, **({} if self.threads is None else {"threads": self.threads})}


class WarehouseResource(DuckDBResource):
    """The working DuckDB warehouse: raw layer and refresh tables. Every method opens one short connection."""

    def ingest(self, spec: DatasetSpec, files: list[ValidatedFile]) -> tuple[list[wh.LoadResult], dict[str, int]]:
        """Append the changed files as new loads (all or none); returns the loads and every table's row count."""
        with self.get_connection() as conn:
            return wh.ingest(conn, spec, files), wh.table_counts(conn)

    def read_current(self, spec: DatasetSpec) -> pd.DataFrame:
        with self.get_connection() as conn:
            return wh.read_current(conn, spec)

    def loaded_hashes(self) -> dict[str, str]:
        """source_file -> hash of its newest load."""
        with self.get_connection() as conn:
            return wh.latest_hashes(conn)

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
    """Fitted models, one folder per refresh week (config.json + weights.safetensors + checksums.json)."""

    root: str

    def path(self, refresh_week: dt.date) -> Path:
        return Path(self.root) / refresh_week.isoformat()

    def save(self, refresh_week: dt.date, model: MMM) -> Path:
        """Swap the refresh's model in atomically; returns its folder."""
        return save_model_atomically(model, self.path(refresh_week))

    def load(self, refresh_week: dt.date) -> MMM:
        """The refresh's model after checking its checksums (raises ``ModelArtifactError`` naming the file)."""
        return load_model(self.path(refresh_week))


class ServingResource(dg.ConfigurableResource):
    """The published copy for SQL consumers (``mmm_serving.duckdb`` + Parquet exports) in one folder."""

    root: str

    @property
    def database_path(self) -> Path:
        return Path(self.root) / serving.SERVING_FILE

    def publish(self, warehouse: WarehouseResource, refresh_week: dt.date) -> serving.Publication:
        """Rebuild the serving copy from every published refresh of ``warehouse`` and export the refresh's
        Parquet folder, both swapped in atomically under the publish lock."""
        return serving.publish(warehouse.database, self.root, refresh_week)

    def dashboard_data(self, refresh_week: dt.date, inputs: pd.DataFrame) -> DashboardData:
        """The dashboard's tables for one published refresh (raises ``report_data.RefreshNotPublished``)."""
        return report_data.read_dashboard_data(self.database_path, refresh_week, inputs)


class ReportStoreResource(dg.ConfigurableResource):
    """Dashboards, one folder per refresh week."""

    root: str

    def path(self, refresh_week: dt.date) -> Path:
        return Path(self.root) / refresh_week.isoformat() / REPORT_FILE

    def write(self, refresh_week: dt.date, page: str) -> Path:
        """Write the refresh's dashboard page; returns its path."""
        return write_text_atomically(self.path(refresh_week), page)


class QualityGatesResource(dg.ConfigurableResource):
    """Thresholds of the model checks. A refresh that fails a blocking gate is never published."""

    min_holdout_r2: float = 0.5
    """Floor of the holdout R² (the view below) of the model's forecast."""
    holdout_r2_view: str = "pooled"
    """'pooled', 'within_region' or 'national' (see model_metrics)."""
    max_additivity_error: float = 1e-6
    """Largest relative gap between the sum of components and the prediction."""
    max_roi_change: float = 0.5
    """Warn (not block) when a channel's ROI moves by more than this fraction since the previous refresh."""


def resources_for(locations: Locations, device: str = "auto", threads: int | None = None) -> dict:
    """Every resource of the code location, bound to one deployment's paths."""
    return {
        "warehouse": WarehouseResource(database=str(locations.warehouse_path)),
        "dataset": DatasetResource(spec_path=str(locations.spec_path)),
        "compute": ComputeResource(device=device, threads=threads),
        "models": ModelStoreResource(root=str(locations.models_dir)),
        "serving": ServingResource(root=str(locations.serving_dir)),
        "reports": ReportStoreResource(root=str(locations.reports_dir)),
        "quality_gates": QualityGatesResource(),
    }


def default_resources() -> dict[str, dg.ConfigurableResource]:
    """The resources of this deployment, from ``MMM_*`` environment variables (paths: ``storage.locations``;
    ``MMM_DEVICE``: training device; ``MMM_THREADS``: torch threads, unset leaves torch's setting)."""
    locations = Locations.from_environment()
    locations.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    threads = os.environ.get("MMM_THREADS")
    return resources_for(locations, device=os.environ.get("MMM_DEVICE", "auto"),
                         threads=int(threads) if threads else None)
