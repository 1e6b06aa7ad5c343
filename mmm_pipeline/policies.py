"""Policies shared by assets: one home for retry, concurrency and ownership settings.

Retries. Only one failure of this pipeline can succeed when tried again: a DuckDB file lock held by another
process (a second refresh writing the warehouse, a person with the warehouse open in a DuckDB client). Every
other error (bad input, a missing model folder, a full disk, a diverged fit) fails the same way on every
attempt, and a retried training costs minutes. So the rule is: retry a lock, nothing else.

Dagster's ``RetryPolicy`` cannot say that: under one, Dagster retries every exception a step raises *and
every interrupt* (SIGTERM, Ctrl-C become ``DagsterExecutionInterruptedError``, which it retries too, so a
signalled refresh trained again and ended RUN_SUCCESS). Steps therefore carry no ``RetryPolicy``; the
resources that open DuckDB files wait for a lock (:func:`connect_waiting_for_lock`) and, when it outlasts
that wait, ask Dagster to retry the step (:func:`retry_only_on_lock`). An interrupt fails the run at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import dagster as dg
import duckdb

LOCK_MESSAGES = ("Could not set lock on file", "Conflicting lock")
"""What DuckDB's ``IOException`` says when another process holds the file's lock (and nothing else says)."""

LOCK_WAIT_DELAYS_S = tuple(0.1 * 2**i for i in range(10))
"""Waits between connection attempts while a lock is held: 0.1 s doubling, ~100 s in all (as
``DuckDBResource`` waits, but for a lock only: it also waited ~100 s on a missing folder or a full disk)."""

LOCK_RETRY = dg.RetryPolicy(max_retries=3, delay=5, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS)
"""Step retries when a lock outlasts :data:`LOCK_WAIT_DELAYS_S`: 3 more attempts, ~5, 10, 20 s apart. Never
given to Dagster as a step's ``retry_policy`` (see the module docstring); :func:`retry_only_on_lock` asks
for these retries itself."""

OWNERS = ["team:marketing-science"]
"""Owners shown in the asset catalog for every asset of the code location."""

TRAINING_POOL = "mmm_training"
"""Concurrency pool of the training assets: two fits never share one machine (limit 1 in dagster.yaml)."""


def is_lock_error(exc: BaseException | None) -> bool:
    """Whether ``exc``, or what it was raised from (``raise ... from``), is DuckDB's "another process holds the lock".

    Not every ``duckdb.IOException``: "No space left on device" and "No such file or directory" are
    IOExceptions too, and no retry helps them.
    """
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, duckdb.IOException) and any(m in str(exc) for m in LOCK_MESSAGES):
            return True
        exc = exc.__cause__
    return False


def connect_waiting_for_lock(database: str, *, read_only: bool = False, config: dict[str, Any] | None = None,
                             connect: Callable[..., duckdb.DuckDBPyConnection] | None = None,
                             sleep: Callable[[float], None] | None = None) -> duckdb.DuckDBPyConnection:
    """``duckdb.connect``, tried again while another process holds the file's lock (:data:`LOCK_WAIT_DELAYS_S`).

    Any other error is raised at once; a lock still held after the last wait is raised as it is (inside
    :func:`retry_only_on_lock`, that asks for a step retry).
    """
    connect, sleep = connect or duckdb.connect, sleep or time.sleep
    for delay in LOCK_WAIT_DELAYS_S:
        try:
            return connect(database=database, read_only=read_only, config=config or {})
        except duckdb.IOException as exc:
            if not is_lock_error(exc):
                raise
        sleep(delay)
    return connect(database=database, read_only=read_only, config=config or {})  # a lock still held: raised


@contextmanager
def retry_only_on_lock() -> Iterator[None]:
    """Turn a DuckDB lock error raised inside the block into a step retry (:data:`LOCK_RETRY`).

    Every other exception, and any interrupt, passes through unchanged: with no ``RetryPolicy`` on the step
    it fails the step at once with its own message. Use it around code that opens DuckDB files; outside a
    Dagster step it only re-raises.
    """
    try:
        yield
    except Exception as exc:
        step = _current_step()
        if step is None or not is_lock_error(exc):
            raise
        raise dg.RetryRequested(max_retries=LOCK_RETRY.max_retries,
                                seconds_to_wait=LOCK_RETRY.calculate_delay(step.retry_number + 1)) from exc


def _current_step() -> dg.OpExecutionContext | None:
    try:
        return dg.OpExecutionContext.get()
    except dg.DagsterInvariantViolationError:
        return None
