"""Pipeline fixtures: resources pointing at a temporary data folder and a real DuckDB file."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest
from dagster_duckdb import DuckDBResource

from mmm_pipeline.resources import ArtifactStoreResource, ComputeResource, DatasetResource


def make_resources(root: Path, spec_path: Path) -> dict:
    return {
        "warehouse": DuckDBResource(database=str(root / "warehouse.duckdb")),
        "dataset": DatasetResource(spec_path=str(spec_path)),
        "compute": ComputeResource(device="cpu", threads=1),
        "artifacts": ArtifactStoreResource(root=str(root)),
    }


@pytest.fixture
def instance():
    with dg.instance_for_test() as inst:
        yield inst
