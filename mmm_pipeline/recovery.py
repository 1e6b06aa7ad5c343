"""Recover from a run worker that died without a word (SIGKILL, OOM killer, power loss).

Such a run stays STARTED in the instance and keeps its slot in the ``mmm_training`` pool (limit 1), so
every later refresh would wait for that slot forever. A run launched on this machine (``make run``, or the
default run launcher of ``make ui``) records its worker's pid in its RUN_START event; when that process is
gone, the run is marked failed and its pool slots are freed (a pid reused by another process counts as
alive: the run is left alone). Runs launched elsewhere (Kubernetes) are left to Dagster's run
monitoring, which can ask their launcher.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import dagster as dg

from mmm_pipeline.policies import TRAINING_POOL

UNFINISHED = [dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING]


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def worker_pid(instance: dg.DagsterInstance, run_id: str) -> int | None:
    """The pid that reported the run's RUN_START (its run worker), or None if unknown."""
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.RUN_START, limit=1).records
    event = records[0].event_log_entry.dagster_event if records else None
    return None if event is None else event.pid


def release_dead_runs(instance: dg.DagsterInstance, is_alive: Callable[[int], bool] = pid_alive) -> list[str]:
    """Fail the local runs whose worker process is gone and free every slot a finished run still holds.

    Returns the ids of the runs it touched. Does nothing for runs of a non-local run launcher.
    """
    if not isinstance(instance.run_launcher, dg.DefaultRunLauncher):
        return []
    released = []
    for run in instance.get_runs(filters=dg.RunsFilter(statuses=UNFINISHED)):
        pid = worker_pid(instance, run.run_id)
        if pid is None or is_alive(pid):
            continue
        instance.report_run_failed(run, message=f"run worker (pid {pid}) is gone; marked failed by "
                                                "mmm_pipeline.recovery so that its pool slots are freed")
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        released.append(run.run_id)
    if instance.event_log_storage.supports_global_concurrency_limits:
        holders = instance.event_log_storage.get_concurrency_info(TRAINING_POOL).active_run_ids
        for run_id in sorted(holders - set(released)):
            run = instance.get_run_by_id(run_id)
            if run is None or run.is_finished:
                instance.event_log_storage.free_concurrency_slots_for_run(run_id)
                released.append(run_id)
    return released
