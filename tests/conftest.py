"""Shared fixtures: one seeded tiny simulated panel with its ground truth, built once per session.

The ``tiny`` preset has 6 regions x 104 weeks x 3 channels (tv -> search DAG edge, radio spend-only)
x 2 controls, one late-starting region and ~2 % missing region-weeks. Treat the objects as read-only.
"""

from __future__ import annotations

import pytest

from mmm_core.simulate.simulator import GroundTruth, Simulation, simulate

TINY_SEED = 7


@pytest.fixture(scope="session")
def tiny_simulation() -> Simulation:
    return simulate("tiny", seed=TINY_SEED)


@pytest.fixture(scope="session")
def tiny_panel(tiny_simulation: Simulation):
    return tiny_simulation.panel


@pytest.fixture(scope="session")
def tiny_truth(tiny_simulation: Simulation) -> GroundTruth:
    return tiny_simulation.truth
