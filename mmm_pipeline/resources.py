"""Typed resources of the code location, and the defaults a fresh clone runs with.

Paths default to the bundled sample under ``data/`` and can be moved with environment variables
(``MMM_SPEC_PATH``, ``MMM_WAREHOUSE_PATH``, ``MMM_DATA_DIR``) or in the Launchpad's resource config.
"""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
from dagster_duckdb import DuckDBResource

from mmm_core.data.spec import DatasetSpec

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def data_dir() -> Path:
    return Path(os.environ.get("MMM_DATA_DIR", PROJECT_ROOT / "data"))


class DatasetResource(dg.ConfigurableResource):
    """Where the input data is described: a dataset spec YAML (see README, "Dataset spec")."""

    spec_path: str
    allow_outside_paths: bool = False
    """Let the spec name files outside its own folder (off: a spec is data and cannot redirect reads)."""

    def load_spec(self) -> DatasetSpec:
        return DatasetSpec.from_yaml(self.spec_path)


class ComputeResource(dg.ConfigurableResource):
    """Where the model trains: ``auto`` takes a GPU when torch sees one. Passed to mmm_core as plain values."""

    device: str = "auto"
    threads: int = 0
    """torch intra-op threads; 0 = torch's default (all cores)."""


class ArtifactStoreResource(dg.ConfigurableResource):
    """Folders for model artefacts, reports and the published serving copy."""

    root: str

    @property
    def models_dir(self) -> Path:
        return Path(self.root) / "models"

    @property
    def serving_dir(self) -> Path:
        return Path(self.root) / "serving"

    @property
    def reports_dir(self) -> Path:
        return Path(self.root) / "reports"


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


def default_resources() -> dict[str, dg.ConfigurableResource]:
    root = data_dir()
    warehouse = Path(os.environ.get("MMM_WAREHOUSE_PATH", root / "warehouse.duckdb"))
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    return {
        "warehouse": DuckDBResource(database=str(warehouse)),
        "dataset": DatasetResource(spec_path=os.environ.get("MMM_SPEC_PATH", str(root / "sample" / "spec.yaml"))),
        "compute": ComputeResource(device=os.environ.get("MMM_DEVICE", "auto")),
        "artifacts": ArtifactStoreResource(root=str(root)),
        "quality_gates": QualityGatesResource(),
    }
