"""The experiments table: each lift test beside the model's own lift for it, and how well the model predicts
an experiment it has not seen (leave one experiment out).

    table = experiment_table(mmm, panel, tests)                          # measured vs model lift, z, used
    table = experiment_table(mmm, panel, tests, leave_one_out(panel, tests, overrides=...))

The z-score ``(model_lift - lift) / lift_se`` says whether the model and an experiment agree: beyond about 3
the experiment contradicts the rest of the data (or the model), which is news for the analyst. The
leave-one-out lift is the closest thing to ground truth a real dataset has: the model fitted on everything
but experiment e, asked for e's lift.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from mmm_core.data.contract import Panel
from mmm_core.data.experiments import LiftTest, lift_tests_frame
from mmm_core.model.calibration import usable
from mmm_core.model.estimator import MMM
from mmm_core.model.network import ModelConfig
from mmm_core.model.training import TrainConfig

TABLE_COLUMNS = ("experiment", "channel", "regions", "n_regions", "first_week", "last_week", "cooldown_weeks",
                 "spend_multiplier", "lift", "lift_se", "model_lift", "z", "used", "loo_lift", "loo_z")
"""Columns of ``experiment_table``, in order."""


def leave_one_out(panel: Panel, tests: tuple[LiftTest, ...], model_config: ModelConfig | None = None,
                  train_config: TrainConfig | None = None,
                  overrides: dict[str, dict[str, Any]] | None = None) -> pd.DataFrame:
    """Per test in ``panel`` (``calibration.usable``): experiment, loo_lift (KPI units: the lift of a model
    fitted on ``panel`` with every other test) and loo_z (``(loo_lift - lift) / lift_se``). One fit per test."""
    inside = usable(tests, panel)
    rows = []
    for test in inside:
        others = tuple(t for t in inside if t is not test)
        model = MMM(model_config, train_config, overrides).fit(panel, lift_tests=others)
        lift = float(model.lift_tests(panel, (test,))["model_lift"].iloc[0])
        rows.append((test.experiment, lift, (lift - test.lift) / test.lift_se))
    return pd.DataFrame(rows, columns=["experiment", "loo_lift", "loo_z"])


def experiment_table(model: MMM, panel: Panel, tests: tuple[LiftTest, ...],
                     loo: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per test (``TABLE_COLUMNS``): the test as stated (regions joined by ``;``), the model's lift and
    z-score for the tests inside ``panel`` (NaN for the others), used (the model trained on it), and the
    leave-one-out lift and z from ``loo`` (NaN without it). No tests: no rows, the columns (``model`` unused)."""
    table = lift_tests_frame(tests)
    if not tests:  # nothing to ask the model (which may be None)
        return table.assign(model_lift=np.nan, z=np.nan, used=False, loo_lift=np.nan, loo_z=np.nan)[list(TABLE_COLUMNS)]
    scored = model.lift_tests(panel, tests)[["experiment", "model_lift", "z", "used"]]
    table = table.merge(scored, on="experiment", how="left")
    table["used"] = table["used"].astype("boolean").fillna(False).astype(bool)
    if loo is None:
        loo = pd.DataFrame({"experiment": pd.Series([], dtype=object), "loo_lift": [], "loo_z": []})
    table = table.merge(loo.astype({"experiment": object}), on="experiment", how="left")
    for column in ("model_lift", "z", "loo_lift", "loo_z"):
        table[column] = table[column].astype(np.float64)
    return table[list(TABLE_COLUMNS)]
