"""Run policies shared by assets: one home for retry and concurrency settings."""

import dagster as dg

WAREHOUSE_RETRY = dg.RetryPolicy(max_retries=3, delay=5, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS)
"""Writes to the warehouse retry: a DuckDB file lock held by a stray reader is released eventually."""

TRAINING_POOL = "mmm_training"
"""Concurrency pool of the training assets: two fits never share one machine (limit 1 in dagster.yaml)."""
