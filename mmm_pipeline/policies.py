"""Policies shared by assets: one home for retry, concurrency and ownership settings."""

from contextlib import contextmanager

import dagster as dg
import duckdb

WAREHOUSE_RETRY = dg.RetryPolicy(max_retries=3, delay=5, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS)
"""Writes to the warehouse retry: a DuckDB file lock held by a stray reader is released eventually."""

OWNERS = ["team:marketing-science"]
"""Owners shown in the asset catalog for every asset of the code location."""

TRAINING_POOL = "mmm_training"
"""Concurrency pool of the training assets: two fits never share one machine (limit 1 in dagster.yaml)."""


@contextmanager
def retry_only_on_lock():
    """Let WAREHOUSE_RETRY retry only what a retry can fix: a DuckDB file lock (``duckdb.IOException``).

    Any other error (bad config, a diverged fit, a contract violation) fails the step at once: the same
    inputs and seed would fail the same way, and a retried training costs minutes.
    """
    try:
        yield
    except (duckdb.IOException, dg.Failure):
        raise
    except Exception as exc:
        raise dg.Failure(description=f"{type(exc).__name__}: {exc}", allow_retries=False) from exc
