"""Core fixtures: ONE short fit of the tiny panel's first 91 weeks, shared by every core test that only needs
*a* fitted model on it (estimator, ensemble, curves, holidays, experiments). Treat it as read-only; a test that
changes the model in place must put it back (as ``test_estimator`` does with the activity ceiling)."""

from __future__ import annotations

import pytest

from mmm_core.model.estimator import MMM

HOLDOUT = 13
"""Weeks held out at the end of the tiny panel: the fit sees the first 91."""
QUICK = {"threads": 1, "epochs": 400, "min_epochs": 150, "patience": 60}
"""A short fit that still stops on validation; one torch thread (two spin on a shared 2-core box)."""


@pytest.fixture(scope="session")
def tiny_train(tiny_panel):
    return tiny_panel.slice_weeks(0, tiny_panel.n_weeks - HOLDOUT)


@pytest.fixture(scope="session")
def tiny_fit(tiny_train) -> MMM:
    """``MMM`` with ``QUICK`` training, fitted on ``tiny_train``."""
    return MMM(overrides={"train": QUICK}).fit(tiny_train)
