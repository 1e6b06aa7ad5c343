"""SIGTERM or Ctrl-C during a refresh: the refresh stops at once, says so, and publishes nothing.

Each refresh is ``python -m mmm_pipeline.run`` in its own process (``RefreshEnv``), as ``make run`` and
``timeout -s TERM make run`` start it. Dagster turns a signal inside a step into an "interrupted" error, and a
step with a ``RetryPolicy`` retries that like any other error: the run trained again from the start and ended
RUN_SUCCESS with exit 0, so the signal was swallowed.
"""

from __future__ import annotations

import signal

import pytest

from tests.reliability.refresh_env import WEEKS, RefreshEnv

STOP_S = 60
"""How long a signalled refresh may take to exit before the test calls it a hang (it takes about a second)."""


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> RefreshEnv:
    env = RefreshEnv.create(tmp_path_factory.mktemp("interruption"))
    env.refresh(WEEKS[0], log="first")
    return env


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_during_training_stops_the_refresh_and_keeps_the_last_publication(env, signum):
    serving_before = env.serving.read_bytes()
    runs_before = {run_id for run_id, _, _ in env.runs()}
    log = f"interrupted-{signum.name}"
    process = env.start(WEEKS[1], epochs=100_000, log=log)  # would train for many minutes
    assert env.kill_when(process, lambda: "fit epoch" in env.log(log), poll_s=0.05, signum=signum, wait=False)
    returncode = env.wait(process, STOP_S, log, f"{signum.name} did not stop the refresh")

    assert returncode != 0, env.log(log)[-3000:]
    assert env.serving.read_bytes() == serving_before  # consumers still see the last complete publication
    assert "interrupted" in env.log(log).splitlines()[-1]
    assert "Traceback" not in env.log(log)
    statuses = [status for run_id, status, _ in env.runs() if run_id not in runs_before]
    assert statuses == ["FAILURE"]  # one run, not retried, not marked success
    assert "STEP_UP_FOR_RETRY" not in env.log(log), "training must not start again after the signal"

    env.refresh(WEEKS[1], log=f"after-{signum.name}")  # nothing left behind blocks the next refresh (pool slot)
    assert "released run" not in env.log(f"after-{signum.name}")  # the interrupted run ended itself
