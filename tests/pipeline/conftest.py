"""Pipeline fixtures: resources on a temporary data folder with a real DuckDB file, and ONE shared refresh.

``published`` runs the ``mmm_refresh`` job in process for both refresh weeks, once per session, in one
throwaway deployment; the refresh and report tests read it. Tests that run more jobs on it (a re-run, a failed
run) must leave every published row as it was, which is what they assert.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from mmm_pipeline.resources import resources_for
from mmm_pipeline.storage.locations import Locations
from mmm_pipeline.storage.tables import PUBLISHED_TABLES
from tests.conftest import REFRESH_WEEKS, Deployment, fast_run_config

RISK_AVERSION = 1.0
"""The shared refresh's last week plans risk-averse budgets with this λ beside the point plans."""


def make_resources(root: Path, spec_path: Path) -> dict:
    """Every resource of the code location on ``root`` (warehouse ``root/warehouse.duckdb``), CPU, one thread."""
    return resources_for(Locations(spec_path=spec_path, warehouse_path=root / "warehouse.duckdb", data_dir=root),
                         device="cpu", threads=1)


@pytest.fixture(scope="module")
def instance():
    """One throwaway Dagster instance per module (creating one takes ~0.6 s; test_ingest has 30 tests). Each test
    has its own data folder, and a test that reads the instance's records reads its own run's (``run_id``)."""
    with dg.instance_for_test() as inst:
        yield inst


@dataclass
class PublishedRefreshes:
    """A deployment in which both refresh weeks were refreshed in process; ``counts`` after each of them."""

    deployment: Deployment
    definitions: dg.Definitions
    instance: dg.DagsterInstance
    results: dict[str, dg.ExecuteInProcessResult] = field(default_factory=dict)
    counts: dict[str, dict[str, int]] = field(default_factory=dict)

    @staticmethod
    def run_config(week: str) -> dict:
        """The shared refreshes' run config: the last week also plans risk-averse budgets (issue 17)."""
        return fast_run_config(risk_aversion=RISK_AVERSION if week == REFRESH_WEEKS[-1] else None)

    def refresh(self, week: str, run_config: dict | None = None, raise_on_error: bool = True):
        job = self.definitions.resolve_job_def("mmm_refresh")
        return job.execute_in_process(partition_key=week, instance=self.instance,
                                      run_config=run_config or self.run_config(week), raise_on_error=raise_on_error)

    def sql(self, query: str, params=()) -> list[tuple]:
        with duckdb.connect(str(self.deployment.serving), read_only=True) as conn:
            return conn.execute(query, list(params)).fetchall()

    def table_counts(self) -> dict[str, int]:
        return {t: self.sql(f'SELECT count(*) FROM "{t}"')[0][0] for t in PUBLISHED_TABLES}


@pytest.fixture(scope="session")
def published(tmp_path_factory) -> Iterator[PublishedRefreshes]:
    deployment = Deployment.create(tmp_path_factory.mktemp("published"))
    from mmm_pipeline.definitions import defs

    with pytest.MonkeyPatch.context() as mp:  # the resources read the deployment's paths once, here
        for name, value in deployment.variables.items():
            mp.setenv(name, value)
        definitions = defs()
    with dg.instance_for_test() as instance:
        shared = PublishedRefreshes(deployment, definitions, instance)
        for week in REFRESH_WEEKS:
            shared.results[week] = shared.refresh(week)
            shared.counts[week] = shared.table_counts()
        yield shared
