"""Training on the shortest dataset the contract accepts: 52 weeks go from ingest through the fitted model."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import dagster as dg
import duckdb

from mmm_core.data.contract import MIN_WEEKS
from mmm_core.simulation.config import PRESETS
from mmm_core.simulation.io import write_simulation
from mmm_core.simulation.simulator import simulate
from mmm_pipeline.defs.features.assets import model_features
from mmm_pipeline.defs.ingest.assets import raw_marketing_data
from mmm_pipeline.defs.ingest.checks import current_data_satisfies_contract
from mmm_pipeline.defs.training.assets import mmm_model
from tests.pipeline.conftest import make_resources

START = dt.date(2023, 1, 2)
LAST_WEEK = START + dt.timedelta(weeks=MIN_WEEKS - 1)  # 2023-12-25, a refresh partition


def test_a_dataset_of_the_documented_minimum_trains_with_a_holdout_shrunk_to_fit(tmp_path, instance):
    sim = simulate(replace(PRESETS["tiny"], n_weeks=MIN_WEEKS, start_date=START.isoformat()), seed=3)
    spec_path = write_simulation(sim, tmp_path / "input", name="short")["spec"]
    (tmp_path / "data").mkdir()
    resources = make_resources(tmp_path / "data", spec_path)
    ingest = dg.materialize([raw_marketing_data, current_data_satisfies_contract], resources=resources,
                            instance=instance)
    assert ingest.success

    asked = 26  # a half-year holdout would leave the holdout model 26 weeks: it shrinks to 13
    run_config = {"ops": {"mmm_model": {"config": {"epochs": 3, "holdout_weeks": asked, "ensemble_members": 0}}}}
    result = dg.materialize([model_features, mmm_model], resources=resources, instance=instance,
                            partition_key=LAST_WEEK.isoformat(), run_config=run_config, raise_on_error=False)
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    logs = [e.message for e in instance.all_logs(result.run_id) if e.user_message]
    assert any("holdout shortened from 26 to 13 weeks: the window has 52 weeks" in m for m in logs)
    with duckdb.connect(str(tmp_path / "data" / "warehouse.duckdb"), read_only=True) as conn:
        n_weeks, holdout_start, holdout_r2 = conn.execute(
            "SELECT n_weeks, holdout_start, holdout_r2_within_region FROM model_runs").fetchone()
    assert n_weeks == MIN_WEEKS
    assert holdout_start == LAST_WEEK - dt.timedelta(weeks=12)
    assert holdout_r2 is not None
