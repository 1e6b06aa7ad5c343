"""End to end, in process: two weekly refreshes on a small simulated panel, idempotence, failure, readers."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from mmm_core.analysis.curves import DEFAULT_MULTIPLIERS
from mmm_core.simulate.simulator import PRESETS, simulate, write_simulation
from mmm_pipeline.definitions import defs
from mmm_pipeline.serving import SERVING_FILE

WEEKS = ("2023-12-18", "2023-12-25")  # the tiny preset's last two weeks
FAST = {"ops": {"mmm_model": {"config": {"epochs": 40, "holdout_weeks": 8}},
                "model_features": {"config": {"window_weeks": 104}}}}


@pytest.fixture(scope="module")
def sample_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("tiny")
    write_simulation(simulate(PRESETS["tiny"], seed=3), out / "input", name="tiny")
    return out


@pytest.fixture
def pipeline(sample_dir, tmp_path, monkeypatch):
    """Definitions bound to a fresh data folder (real DuckDB files, real artefacts)."""
    monkeypatch.setenv("MMM_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("MMM_SPEC_PATH", str(sample_dir / "input" / "spec.yaml"))
    monkeypatch.setenv("MMM_WAREHOUSE_PATH", str(tmp_path / "warehouse.duckdb"))
    monkeypatch.setenv("MMM_DEVICE", "cpu")
    with dg.instance_for_test() as instance:
        yield defs(), instance, tmp_path


def refresh(definitions, instance, week, run_config=FAST, raise_on_error=True):
    job = definitions.resolve_job_def("mmm_refresh")
    return job.execute_in_process(partition_key=week, instance=instance, run_config=run_config,
                                  raise_on_error=raise_on_error)


def serving_rows(root: Path, sql: str):
    with duckdb.connect(str(root / "serving" / SERVING_FILE), read_only=True) as conn:
        return conn.execute(sql).fetchall()


def table_counts(root: Path) -> dict[str, int]:
    tables = ("model_runs", "model_metrics", "contributions", "channel_summary", "dag_edges", "channel_parameters",
              "response_curves", "response_curve_points", "budget_scenarios", "budget_allocation")
    return {t: serving_rows(root, f"SELECT count(*) FROM {t}")[0][0] for t in tables}


def test_two_refreshes_publish_side_by_side_and_rerun_is_idempotent(pipeline):
    definitions, instance, root = pipeline
    sim_panel = simulate(PRESETS["tiny"], seed=3).panel
    assert refresh(definitions, instance, WEEKS[0]).success
    first = table_counts(root)
    # one run row; contributions: every observed region-week × (baseline, trend, seasonality, controls, channels)
    components = 3 + sim_panel.n_controls + sim_panel.n_channels
    observed_in_window = int(sim_panel.observed[:, :-1].sum())
    assert first["model_runs"] == 1
    assert first["contributions"] == observed_in_window * components
    assert first["channel_summary"] == sim_panel.n_channels
    # curves: national + per region-channel; 3 default scenarios × (national, region) scopes
    n_curves = sim_panel.n_channels * (1 + sim_panel.n_regions)
    assert first["response_curves"] == n_curves
    assert first["response_curve_points"] == n_curves * len(DEFAULT_MULTIPLIERS)
    assert first["budget_scenarios"] == 3 * 2
    assert first["budget_allocation"] == 3 * n_curves
    assert serving_rows(root, "SELECT bool_and(converged) FROM budget_scenarios")[0][0]

    assert refresh(definitions, instance, WEEKS[1]).success
    second = table_counts(root)
    assert serving_rows(root, "SELECT count(*) FROM published_refreshes")[0][0] == 2
    # the first refresh is intact beside the second
    assert serving_rows(root, f"SELECT count(*) FROM contributions WHERE refresh_week = DATE '{WEEKS[0]}'")[0][0] \
        == first["contributions"]
    latest = serving_rows(root, "SELECT DISTINCT refresh_week FROM latest_contributions")
    assert [str(r[0]) for r in latest] == [WEEKS[1]]

    assert refresh(definitions, instance, WEEKS[1]).success  # re-run: replaces, never duplicates
    assert table_counts(root) == second
    parquet = root / "serving" / "parquet" / f"refresh_week={WEEKS[1]}" / "contributions.parquet"
    with duckdb.connect() as conn:
        assert conn.execute(f"SELECT count(*) FROM '{parquet}'").fetchone()[0] == \
            second["contributions"] - first["contributions"]


def test_failed_training_leaves_the_published_refresh_unchanged(pipeline):
    definitions, instance, root = pipeline
    assert refresh(definitions, instance, WEEKS[0]).success
    before = table_counts(root)
    serving_bytes = (root / "serving" / SERVING_FILE).read_bytes()
    broken = {"ops": {**FAST["ops"], "mmm_model": {"config": {"epochs": 40, "holdout_weeks": 500}}}}
    result = refresh(definitions, instance, WEEKS[1], run_config=broken, raise_on_error=False)
    assert not result.success
    failed = {e.step_key for e in result.all_events if e.is_step_failure}
    assert "mmm_model" in failed
    assert (root / "serving" / SERVING_FILE).read_bytes() == serving_bytes
    assert table_counts(root) == before
    assert [str(r[0]) for r in serving_rows(root, "SELECT refresh_week FROM published_refreshes")] == [WEEKS[0]]


READER = """
import sys, time, duckdb
conn = duckdb.connect(sys.argv[1], read_only=True)
print(conn.execute("SELECT max(refresh_week) FROM published_refreshes").fetchone()[0], flush=True)
time.sleep(float(sys.argv[2]))
conn.close()
"""


def test_reader_holding_the_serving_file_cannot_block_a_refresh(pipeline):
    definitions, instance, root = pipeline
    assert refresh(definitions, instance, WEEKS[0]).success
    serving = root / "serving" / SERVING_FILE
    reader = subprocess.Popen([sys.executable, "-c", READER, str(serving), "600"], stdout=subprocess.PIPE, text=True)
    try:
        assert reader.stdout.readline().strip() == WEEKS[0]  # the reader holds the file open from here
        started = time.perf_counter()
        assert refresh(definitions, instance, WEEKS[1]).success
        assert reader.poll() is None, "the reader should still be holding its connection"
    finally:
        reader.kill()
        reader.wait()
    # a new connection sees the new refresh
    assert str(serving_rows(root, "SELECT max(refresh_week) FROM published_refreshes")[0][0]) == WEEKS[1]
    assert time.perf_counter() - started < 300
