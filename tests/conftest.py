"""Shared fixtures: one seeded tiny simulated panel with its ground truth, built once per session; the fast run
config of every pipeline test; and the throwaway deployment the pipeline and reliability tests refresh in.

The ``tiny`` preset has 6 regions x 104 weeks x 3 channels (tv -> search DAG edge, radio spend-only)
x 2 controls, one late-starting region and ~2 % missing region-weeks. Treat the objects as read-only.
The deployment's dataset carries two simulated geo tests (``refresh_lift_tests``).
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from mmm_core.simulation.experiments import SimulatedLiftTests, plan_lift_tests, run_lift_tests
from mmm_core.simulation.simulator import GroundTruth, Simulation, simulate, write_simulation

TINY_SEED = 7
ROOT = Path(__file__).resolve().parents[1]

REFRESH_SEED = 3
"""Seed of the tiny dataset the pipeline refreshes (``Deployment``)."""
REFRESH_WEEKS = ("2023-12-18", "2023-12-25")
"""The last two weeks of the tiny preset: two refresh partitions."""


def fast_run_config(seed: int = 0, epochs: int = 30, holdout_weeks: int = 8, ensemble_members: int = 4,
                    risk_aversion: float | None = None) -> dict:
    """Run config of the ``mmm_refresh`` job that every pipeline test uses: a short fit, an 8-week holdout, a
    small ensemble of short member fits (0: none); ``risk_aversion`` adds the budget plans' risk-averse plans."""
    config = {"ops": {"mmm_model": {"config": {"epochs": epochs, "holdout_weeks": holdout_weeks, "seed": seed,
                                               "ensemble_members": ensemble_members, "ensemble_epochs": 10}}}}
    if risk_aversion is not None:
        config["ops"]["budget_plans"] = {"config": {"risk_aversion": risk_aversion}}
    return config


@functools.cache
def refresh_simulation() -> Simulation:
    return simulate("tiny", seed=REFRESH_SEED)


@functools.cache
def refresh_lift_tests() -> SimulatedLiftTests:
    """Geo tests on the refresh dataset, measured against its truth: ``geo_search`` (``plan_lift_tests`` on search,
    the tiny preset's one always-on channel) and ``late_search``, the same cut in the same region planned to end
    its cool-down with the data's last week: outside the first refresh week's window, inside the second's."""
    sim = refresh_simulation()
    [planned] = plan_lift_tests(sim.panel, ["search"], sim.seed)
    weeks = sim.panel.weeks
    late = replace(planned, experiment="late_search", first_week=weeks[-8], last_week=weeks[-5])
    truth = sim.truth
    return run_lift_tests((planned, late), sim.panel, lambda f: truth.kpi_noiseless_for(truth.own_activity * f),
                          truth.noise_sd[:, None], sim.seed)


@dataclass(frozen=True)
class Deployment:
    """A throwaway deployment: the tiny dataset and its experiments file in ``input/``, a ``DAGSTER_HOME`` with
    the project's ``config/dagster.yaml`` (pool ``mmm_training`` limited to 1, as shipped) and ``MMM_*`` variables
    pointing at ``data/``; ``env`` is what a process of this deployment runs with."""

    root: Path

    @classmethod
    def create(cls, root: Path) -> "Deployment":
        write_simulation(refresh_simulation(), root / "input", name="tiny", lift_tests=refresh_lift_tests().tests)
        (root / "home").mkdir(parents=True)
        (root / "home" / "dagster.yaml").write_text((ROOT / "config" / "dagster.yaml").read_text())
        return cls(root)

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def spec_path(self) -> Path:
        return self.root / "input" / "spec.yaml"

    @property
    def warehouse(self) -> Path:
        return self.data / "warehouse.duckdb"

    @property
    def serving(self) -> Path:
        return self.data / "serving" / "mmm_serving.duckdb"

    @property
    def variables(self) -> dict[str, str]:
        """The deployment's own environment variables."""
        return {"DAGSTER_HOME": str(self.root / "home"), "MMM_DATA_DIR": str(self.data),
                "MMM_SPEC_PATH": str(self.spec_path), "MMM_WAREHOUSE_PATH": str(self.warehouse),
                "MMM_DEVICE": "cpu", "MMM_THREADS": "1"}  # one torch thread: no spinning on a shared 2-core box

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, **self.variables, "PYTHONUNBUFFERED": "1"}


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread():
    """Every in-process fit runs on one torch thread (the pipeline's default, ``MMM_THREADS``) unless its test says
    otherwise: torch's own default on this 2-core box is two, and two threads spin against the other jobs
    beside the suite (fits took 10-20x longer under load)."""
    import torch

    torch.set_num_threads(1)


@pytest.fixture
def deployment(tmp_path) -> Deployment:
    return Deployment.create(tmp_path)


@pytest.fixture(scope="session")
def tiny_simulation() -> Simulation:
    return simulate("tiny", seed=TINY_SEED)


@pytest.fixture(scope="session")
def tiny_panel(tiny_simulation: Simulation):
    return tiny_simulation.panel


@pytest.fixture(scope="session")
def tiny_truth(tiny_simulation: Simulation) -> GroundTruth:
    return tiny_simulation.truth
