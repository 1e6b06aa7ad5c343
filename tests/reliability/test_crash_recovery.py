"""kill -9 of a refresh mid-way: readers keep the previous complete refresh; the next run recovers alone.

Each refresh under test is ``python -m mmm_pipeline.run`` in its own process against a throwaway ``DAGSTER_HOME``
(pool ``mmm_training`` limited to 1, as shipped). Without ``mmm_pipeline.recovery`` the killed run held
that pool slot for ever and the next refresh waited for it, spinning, with no end.
"""

from __future__ import annotations

import dagster as dg
import pytest

from tests.reliability.refresh_env import WEEKS, RefreshEnv


@pytest.fixture
def env(tmp_path) -> RefreshEnv:
    """The previous complete refresh, run in process (set-up only: the refreshes under test run in their own)."""
    env = RefreshEnv.create(tmp_path)
    env.refresh_in_process(WEEKS[0])
    return env


def test_kill_during_training_keeps_the_previous_refresh_and_the_next_run_recovers(env):
    serving_before = env.serving.read_bytes()
    published_before = env.published()
    process = env.start(WEEKS[1], epochs=3000, log="killed")  # long enough to be caught in training
    assert env.kill_when(process, lambda: "fit epoch" in env.log("killed"), poll_s=0.05)
    assert env.serving.read_bytes() == serving_before  # consumers see the previous complete refresh
    assert env.published() == published_before

    env.refresh(WEEKS[1], log="recovery", timeout=240)  # no manual clean-up; would hang on the pool slot before
    assert "released run" in env.log("recovery")
    after = env.published()
    assert [str(r[0]) for r in after["published_refreshes"]] == list(WEEKS)
    assert [r for r in after["model_runs"] if str(r[0]) == WEEKS[0]] == published_before["model_runs"]
    assert env.leftovers() == []
    statuses = sorted(status for _, status, _ in env.runs())
    assert statuses == ["FAILURE", "SUCCESS", "SUCCESS"]  # the killed run is marked failed, not left STARTED


@pytest.mark.slow
@pytest.mark.parametrize("window", ["serving_build", "parquet_export"])
def test_kill_during_publish_is_atomic_and_the_next_run_cleans_up(env, window):
    """An honest race: poll for the publish's temporary file and SIGKILL the moment it appears.

    Whatever instant the kill lands, the serving file is either the previous publication byte for byte or
    a complete new one; leftovers are removed by the next publish. Retried until a kill lands in the window.
    """
    serving_dir = env.data / "serving"
    parquet_dir = serving_dir / "parquet"
    marker = {
        "serving_build": lambda: any(serving_dir.glob(".mmm_serving.duckdb.*.tmp")),
        "parquet_export": lambda: any(parquet_dir.glob(".refresh_week=*.tmp")),
    }[window]
    landed = False
    for attempt in range(4):
        serving_before, published_before = env.serving.read_bytes(), env.published()
        process = env.start(WEEKS[1], seed=attempt, log=f"killed{attempt}")
        if not env.kill_when(process, marker):
            continue  # the publish finished between two polls: try again
        after = env.serving.read_bytes()
        if after == serving_before:
            landed = True
            assert env.published() == published_before
        else:  # the swap happened before the kill: the new file is complete
            published = env.published()
            assert [str(r[0]) for r in published["published_refreshes"]] == list(WEEKS)
            assert {str(r[0]) for r in published["model_runs"]} == set(WEEKS)
            landed = window == "parquet_export"  # the export runs after the swap by design
        if landed:
            break
    assert landed, "no kill landed inside the publish window in 4 attempts"
    assert env.leftovers(), "the killed publish should have left temporary files to clean"
    env.refresh(WEEKS[1], seed=9, log="recovery")
    assert env.leftovers() == []
    published = env.published()
    assert [str(r[0]) for r in published["published_refreshes"]] == list(WEEKS)
    parquet = sorted(p.name for p in parquet_dir.iterdir())
    assert parquet == [f"refresh_week={w}" for w in WEEKS]


def test_the_daemon_also_releases_dead_runs():
    """Under `make ui` no `make run` starts: a sensor, running by default, does the same release every minute."""
    from mmm_pipeline.definitions import defs
    sensor = defs().resolve_sensor_def("dead_runs_released")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    assert sensor.minimum_interval_seconds == 60
