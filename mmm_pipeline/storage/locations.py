"""Where a fresh clone keeps its files, and the environment variables that move them. One home for the defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Locations:
    """Paths of one deployment: the dataset spec, the warehouse file and the data folder."""

    spec_path: Path
    warehouse_path: Path
    data_dir: Path

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def serving_dir(self) -> Path:
        return self.data_dir / "serving"

    @property
    def reports_dir(self) -> Path:
        return self.data_dir / "reports"

    @classmethod
    def from_environment(cls) -> "Locations":
        """``MMM_DATA_DIR`` (default ``data/``), ``MMM_SPEC_PATH`` (default the bundled sample's spec) and
        ``MMM_WAREHOUSE_PATH`` (default ``<data dir>/warehouse.duckdb``)."""
        data = Path(os.environ.get("MMM_DATA_DIR", PROJECT_ROOT / "data"))
        return cls(spec_path=Path(os.environ.get("MMM_SPEC_PATH", data / "sample" / "spec.yaml")),
                   warehouse_path=Path(os.environ.get("MMM_WAREHOUSE_PATH", data / "warehouse.duckdb")),
                   data_dir=data)
