"""Only a DuckDB lock is retried; every other error fails the step at once with its own message.

Under a Dagster ``RetryPolicy`` every error was retried three times (~75 s) and then reported as
"Exceeded max_retries of 3": a full disk, a missing folder, a bad spec. The rule now lives in
``mmm_pipeline.policies`` and is applied where DuckDB files are opened (the warehouse and serving resources).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from mmm_pipeline import policies, run
from mmm_pipeline.definitions import defs
from mmm_pipeline.resources import ServingResource, WarehouseResource
from mmm_pipeline.storage import serving
from mmm_pipeline.storage import warehouse as wh
from tests.conftest import REFRESH_WEEKS, Deployment, fast_run_config

DISK_FULL = 'IO Error: Could not write file "warehouse.duckdb.wal": No space left on device'


def lock_error(path: str = "warehouse.duckdb") -> duckdb.IOException:
    """DuckDB's message when another process holds the file (DuckDB 2.0)."""
    return duckdb.IOException(f'IO Error: Could not set lock on file "{path}": Conflicting lock is held in '
                              "/usr/bin/python3 (PID 4242). See also https://duckdb.org/docs/current/connect")


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch):
    """Step retries without delay, lock waits of 10 ms: the rule is tested, not the clock."""
    monkeypatch.setattr(policies, "LOCK_RETRY", dg.RetryPolicy(max_retries=3), raising=False)
    monkeypatch.setattr(policies, "LOCK_WAIT_DELAYS_S", (0.01, 0.01), raising=False)


@dataclass(frozen=True)
class Outcome:
    """What a run did: success, how many times its step started, and its failure's messages (cause last)."""

    success: bool
    attempts: int
    failure: str


def outcome(result: dg.ExecuteInProcessResult) -> Outcome:
    """Read while the run's instance is alive (the result refers to it)."""
    events = result.all_events
    starts = sum(e.event_type in (dg.DagsterEventType.STEP_START, dg.DagsterEventType.STEP_RESTARTED) for e in events)
    parts = []
    for event in events:
        error = event.step_failure_data.error if event.is_step_failure else None
        while error is not None:
            parts.append(error.message)
            error = error.cause
    return Outcome(result.success, starts, "\n".join(parts))


def run_step(body) -> Outcome:
    """Materialise one asset whose body is ``body(attempt)`` inside the lock rule (attempt counts from 0)."""

    @dg.asset
    def step(context) -> None:
        with policies.retry_only_on_lock():
            body(context.retry_number)

    instance = dg.DagsterInstance.ephemeral()
    return outcome(dg.materialize([step], instance=instance, raise_on_error=False))


def test_no_step_of_the_refresh_carries_a_dagster_retry_policy():
    """Dagster retries every error and every interrupt of a step with a RetryPolicy: none may have one."""
    job = defs().resolve_job_def("mmm_refresh")
    assert job.op_retry_policy is None
    assert len(job.nodes) >= 10  # every asset and check step of the refresh
    assert [node.name for node in job.nodes if node.retry_policy or node.definition.retry_policy] == []


def test_a_lock_is_retried_and_the_step_succeeds_when_it_is_released():
    def body(attempt):
        if attempt == 0:
            raise lock_error()

    result = run_step(body)
    assert result.success
    assert result.attempts == 2


@pytest.mark.parametrize("error", [duckdb.IOException(DISK_FULL), OSError(28, "No space left on device"),
                                   ValueError("spec: 'files' must be a list")], ids=["duckdb", "os", "value"])
def test_any_other_error_fails_at_once_with_its_own_message(error):
    def body(attempt):
        raise error

    result = run_step(body)
    assert not result.success
    assert result.attempts == 1
    assert str(error) in result.failure
    assert "max_retries" not in result.failure


def test_a_lock_that_is_never_released_fails_after_the_retries_naming_the_lock():
    def body(attempt):
        raise lock_error()

    result = run_step(body)
    assert not result.success
    assert result.attempts == 1 + policies.LOCK_RETRY.max_retries
    assert "Could not set lock on file" in result.failure


def test_an_interrupt_is_never_retried():
    def body(attempt):
        os.kill(os.getpid(), signal.SIGINT)  # what Ctrl-C (or SIGTERM, which Dagster maps to it) delivers

    result = run_step(body)
    assert not result.success
    assert result.attempts == 1


def test_lock_messages_are_recognised_and_nothing_else():
    assert policies.is_lock_error(lock_error())
    wrapped = RuntimeError("while writing")
    wrapped.__cause__ = lock_error()
    assert policies.is_lock_error(wrapped)
    for other in (duckdb.IOException(DISK_FULL), duckdb.IOException('IO Error: Could not read block 7'),
                  duckdb.IOException('IO Error: Cannot open file "x": No such file or directory'),
                  RuntimeError("Could not set lock on file (not from DuckDB)")):
        assert not policies.is_lock_error(other), other


class FakeConnect:
    """``duckdb.connect`` that raises the given errors in turn, then returns a marker."""

    def __init__(self, *errors: Exception):
        self.errors, self.calls = list(errors), 0

    def __call__(self, **kwargs):
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "connection"


def test_connecting_waits_for_a_lock_only():
    waits: list[float] = []
    connect = FakeConnect(lock_error(), lock_error())
    assert policies.connect_waiting_for_lock("w.duckdb", connect=connect, sleep=waits.append) == "connection"
    assert connect.calls == 3 and waits == [0.01, 0.01]

    waits.clear()
    connect = FakeConnect(duckdb.IOException(DISK_FULL))
    with pytest.raises(duckdb.IOException, match="No space left on device"):
        policies.connect_waiting_for_lock("w.duckdb", connect=connect, sleep=waits.append)
    assert connect.calls == 1 and waits == []

    connect = FakeConnect(*[lock_error()] * 10)
    with pytest.raises(duckdb.IOException, match="Could not set lock"):
        policies.connect_waiting_for_lock("w.duckdb", connect=connect, sleep=waits.append)
    assert connect.calls == 1 + len(policies.LOCK_WAIT_DELAYS_S)


def test_a_warehouse_in_a_missing_folder_fails_at_once(tmp_path, monkeypatch):
    """DuckDBResource retried every IOException on connect for ~100 s, a missing folder included."""
    waits: list[float] = []
    monkeypatch.setattr(policies.time, "sleep", waits.append)
    resource = WarehouseResource(database=str(tmp_path / "missing" / "warehouse.duckdb"))
    with pytest.raises(duckdb.IOException, match="No such file or directory"):
        with resource.get_connection():
            pass
    assert waits == []


class LockHolder:
    """Another process with a read-write connection to a DuckDB file, until ``release``."""

    def __init__(self, path: Path):
        code = "import duckdb, sys; c = duckdb.connect(sys.argv[1]); print('held', flush=True); sys.stdin.read()"
        self.process = subprocess.Popen([sys.executable, "-c", code, str(path)], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True)
        assert self.process.stdout.readline().strip() == "held"

    def release(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.close()
            self.process.wait(timeout=60)


def _warehouse_with_a_published_refresh(path: Path, week: dt.date) -> None:
    with duckdb.connect(str(path)) as conn:
        serving.mark_published(conn, week, "run-1")


@pytest.mark.parametrize("resource", ["warehouse", "serving"])
def test_the_resources_retry_a_real_lock_held_by_another_process(tmp_path, resource):
    """The warehouse connection and the serving build (which attaches the warehouse) follow the one rule."""
    path, week = tmp_path / "warehouse.duckdb", dt.date(2023, 12, 25)
    _warehouse_with_a_published_refresh(path, week)
    holder = LockHolder(path)

    @dg.asset
    def step(context, warehouse: WarehouseResource, serving_copy: ServingResource):
        if context.retry_number == 1:
            holder.release()  # the other process lets go before the retry
        if resource == "warehouse":
            with warehouse.get_connection() as conn:
                conn.execute("CREATE TABLE written AS SELECT 1 AS x")
        else:
            serving_copy.publish(warehouse, week)

    instance = dg.DagsterInstance.ephemeral()
    try:
        result = outcome(dg.materialize(
            [step], instance=instance, raise_on_error=False,
            resources={"warehouse": WarehouseResource(database=str(path)),
                       "serving_copy": ServingResource(root=str(tmp_path / "serving"))}))
    finally:
        holder.release()
    assert result.success, result.failure
    assert result.attempts == 2


def test_make_run_prints_the_real_cause_last_and_does_not_retry(tmp_path, monkeypatch, capsys):
    """A full disk while ingesting: one attempt, and the last line of ``make run`` names the disk."""
    deployment = Deployment.create(tmp_path)
    for name, value in deployment.variables.items():
        monkeypatch.setenv(name, value)

    def disk_full(conn, spec, files, experiments=None):
        raise duckdb.IOException(DISK_FULL)

    monkeypatch.setattr(wh, "ingest", disk_full)
    code = run.main(["--refresh-week", REFRESH_WEEKS[0], "--run-config", json.dumps(fast_run_config())])
    out = capsys.readouterr()
    assert code != 0
    last = [line for line in (out.out + out.err).splitlines() if line.strip()][-1]
    assert "No space left on device" in last, last
    assert "STEP_UP_FOR_RETRY" not in out.out + out.err
