"""Rows for model_runs, model_metrics and experiments from one refresh's fit, and the code/config identity they
carry."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import subprocess
from dataclasses import asdict
from importlib.metadata import version
from pathlib import Path

import pandas as pd

from mmm_core.analysis.backtest import HoldoutFit
from mmm_core.analysis.experiments import experiment_table, leave_one_out
from mmm_core.data.contract import Panel
from mmm_core.data.experiments import LiftTest
from mmm_core.model.estimator import MMM
from mmm_pipeline.storage.locations import PROJECT_ROOT


@functools.cache
def code_version() -> str:
    """Package version plus the git commit when running from a checkout (``0.1.0+g1a2b3c4``)."""
    base = version("mmm")
    try:
        sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=PROJECT_ROOT, capture_output=True,
                             text=True, timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=PROJECT_ROOT,
                               capture_output=True, text=True, timeout=5).stdout.strip()
        return f"{base}+g{sha}" + (".dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return base


def config_hash(config: dict) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:16]


def run_record(fit: HoldoutFit, panel: Panel, refresh_week: dt.date, run_id: str, overrides: dict,
               seed: int, artifact_path: Path) -> pd.DataFrame:
    model = fit.model
    full_config = {"model": asdict(model.model_config_), "train": asdict(model.train_config_)}
    holdout_start = panel.weeks[panel.n_weeks - fit.holdout_weeks]
    return pd.DataFrame([{
        "run_id": run_id, "code_version": code_version(), "config_hash": config_hash(full_config), "seed": seed,
        "window_start": pd.Timestamp(panel.weeks[0]), "window_end": pd.Timestamp(panel.weeks[-1]),
        "holdout_start": pd.Timestamp(holdout_start),
        "n_regions": panel.n_regions, "n_weeks": panel.n_weeks, "n_channels": panel.n_channels,
        "epochs": fit.epochs, "refit_epochs": fit.refit_epochs,
        "train_r2": fit.metric("train", "pooled", "r2"),
        "holdout_r2": fit.metric("holdout", "pooled", "r2"),
        "holdout_r2_within_region": fit.metric("holdout", "within_region", "r2"),
        "holdout_r2_national": fit.metric("holdout", "national", "r2"),
        "holdout_rmse": fit.metric("holdout", "pooled", "rmse"),
        "holdout_mape": fit.metric("holdout", "pooled", "mape"),
        "best_baseline_holdout_r2_within_region": fit.best_baseline("holdout", "within_region"),
        "wall_time_s": fit.seconds, "device": str(getattr(model.train_result_, "device", "cpu")),
        "artifact_path": str(artifact_path),
        "created_at": pd.Timestamp(dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)),
        "config_json": json.dumps({**full_config, "overrides": overrides}, default=str),
    }])


def metrics_rows(fit: HoldoutFit) -> pd.DataFrame:
    return fit.metrics[["split", "series", "view", "metric", "value", "interval"]].copy()


def experiment_rows(model: MMM, panel: Panel, tests: tuple[LiftTest, ...],
                    loo_overrides: dict | None = None) -> pd.DataFrame:
    """The experiments table's rows: every test beside ``model``'s (the published model's) lift for it on ``panel``
    (the refresh window), with the leave-one-out lift when ``loo_overrides`` (the run's ``MMM`` overrides) are given:
    one more fit per test in the window. No tests: no rows, the table's columns."""
    loo = None if loo_overrides is None or not tests else leave_one_out(panel, tests, overrides=loo_overrides)
    return experiment_table(model, panel, tests, loo)
