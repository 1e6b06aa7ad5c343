"""End to end, in process: two weekly refreshes on a small simulated panel (the shared ``published`` fixture),
re-run idempotence, a failed run, a refresh blocked by the holdout gate, and a reader that cannot block a
publish."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import duckdb
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus

from mmm_core.analysis.curves import DEFAULT_MULTIPLIERS
from mmm_pipeline.storage import serving
from mmm_pipeline.storage.artifacts import load_model
from tests.conftest import REFRESH_WEEKS as WEEKS
from tests.conftest import refresh_simulation, fast_run_config


def test_two_refreshes_publish_side_by_side(published):
    sim_panel = refresh_simulation().panel
    first, second = published.counts[WEEKS[0]], published.counts[WEEKS[1]]
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
    assert published.sql("SELECT bool_and(converged) FROM budget_scenarios WHERE refresh_week = ?", [WEEKS[0]])[0][0]

    assert second["model_runs"] == 2
    assert published.sql("SELECT count(*) FROM published_refreshes")[0][0] == 2
    # the first refresh is intact beside the second
    assert published.sql("SELECT count(*) FROM contributions WHERE refresh_week = ?", [WEEKS[0]])[0][0] \
        == first["contributions"]
    latest = published.sql("SELECT DISTINCT refresh_week FROM latest_contributions")
    assert [str(r[0]) for r in latest] == [WEEKS[1]]
    parquet = published.deployment.data / "serving" / "parquet" / f"refresh_week={WEEKS[1]}" / "contributions.parquet"
    with duckdb.connect() as conn:
        assert conn.execute(f"SELECT count(*) FROM '{parquet}'").fetchone()[0] == \
            second["contributions"] - first["contributions"]


def test_failed_training_leaves_the_published_refreshes_unchanged(published):
    before = published.table_counts()
    serving_bytes = published.deployment.serving.read_bytes()
    published_before = published.sql("SELECT refresh_week, run_id, published_at FROM published_refreshes ORDER BY 1")
    broken = fast_run_config(holdout_weeks=500)  # longer than the window: training raises
    result = published.refresh(WEEKS[1], run_config=broken, raise_on_error=False)
    assert not result.success
    failed = {e.step_key for e in result.all_events if e.is_step_failure}
    assert "mmm_model" in failed
    assert published.deployment.serving.read_bytes() == serving_bytes
    assert published.table_counts() == before
    assert published.sql("SELECT refresh_week, run_id, published_at FROM published_refreshes ORDER BY 1") \
        == published_before


def test_the_materialization_and_model_runs_carry_one_config_hash(published):
    for week in WEEKS:
        [materialization] = published.results[week].asset_materializations_for_node("mmm_model")
        [[stored]] = published.sql("SELECT config_hash FROM model_runs WHERE refresh_week = ?", [week])
        assert materialization.metadata["config_hash"].value == stored


def test_roi_stability_is_skipped_without_a_previous_refresh_and_compares_with_it_after(published):
    """Dagster shows a planned check that left no evaluation in a successful run as skipped."""
    key = dg.AssetCheckKey(dg.AssetKey("channel_summary"), "roi_stable_since_last_refresh")
    first, second = published.results[WEEKS[0]], published.results[WEEKS[1]]
    assert first.success
    assert key not in {e.asset_check_key for e in first.get_asset_check_evaluations()}
    [record] = [r for r in published.instance.event_log_storage.get_asset_check_execution_history(key, limit=20)
                if r.run_id == first.run_id]
    assert record.status == AssetCheckExecutionRecordStatus.PLANNED
    [evaluation] = [e for e in second.get_asset_check_evaluations() if e.asset_check_key == key]
    assert evaluation.metadata["previous_refresh"].value == WEEKS[0]


def test_a_refresh_that_misses_the_holdout_gate_is_blocked_saying_why_and_nothing_is_published(published):
    """The gate set through the Launchpad's resource config to a perfect forecast (skill 1: R² >= 1)."""
    before = published.table_counts()
    serving_bytes = published.deployment.serving.read_bytes()
    published_before = published.sql("SELECT refresh_week, run_id, published_at FROM published_refreshes ORDER BY 1")
    run_config = fast_run_config(epochs=5)
    run_config["ops"]["mmm_model"]["config"]["refit_full_window"] = False
    run_config["resources"] = {"quality_gates": {"config": {"min_holdout_skill": 1.0}}}
    result = published.refresh(WEEKS[1], run_config=run_config, raise_on_error=False)

    assert not result.success
    [gate] = [e for e in result.get_asset_check_evaluations() if e.check_name == "holdout_forecast_beats_naive"]
    assert not gate.passed
    with duckdb.connect(str(published.deployment.warehouse), read_only=True) as conn:
        within, national = conn.execute("SELECT holdout_r2_within_region, holdout_r2_national FROM model_runs "
                                        "WHERE refresh_week = ? AND run_id = ?", [WEEKS[1], result.run_id]).fetchone()
    for part in (f"within-region: holdout R² {within:.3f} vs best naive baseline ",
                 f"national: holdout R² {national:.3f} vs best naive baseline ",
                 "min_holdout_skill = 1", "resources.quality_gates.config.min_holdout_skill", "MMM_MIN_HOLDOUT_SKILL"):
        assert part in gate.description
    assert gate.metadata["best_baseline_national"].value in gate.description
    executed = {e.step_key for e in result.all_events if e.event_type_value == "STEP_START"}
    assert "serving_tables" not in executed
    assert published.deployment.serving.read_bytes() == serving_bytes
    assert published.table_counts() == before
    assert published.sql("SELECT refresh_week, run_id, published_at FROM published_refreshes ORDER BY 1") \
        == published_before

    # The blocked run's rows and model stay out of what consumers see, also through another week's publish.
    served = published.sql("SELECT run_id, artifact_path FROM model_runs WHERE refresh_week = ?", [WEEKS[1]])
    serving.publish(published.deployment.warehouse, published.deployment.serving.parent, dt.date.fromisoformat(WEEKS[0]))
    assert published.sql("SELECT run_id, artifact_path FROM model_runs WHERE refresh_week = ?", [WEEKS[1]]) == served
    [(published_run, artifact_path)] = served
    assert published_run == published_before[1][1] != result.run_id
    assert load_model(Path(artifact_path)).net_ is not None  # the published model is still on disk, intact
    assert Path(artifact_path).name == published_run


READER = """
import sys, time, duckdb
conn = duckdb.connect(sys.argv[1], read_only=True)
print(conn.execute("SELECT max(refresh_week), max(run_id) FROM latest_model_runs").fetchone()[1], flush=True)
time.sleep(float(sys.argv[2]))
conn.close()
"""


def test_rerun_while_a_reader_holds_the_serving_file_is_not_blocked_and_is_idempotent(published):
    """A reader holds the serving file open; re-running the latest week publishes anyway, replacing its rows
    (never duplicating them), and a new connection sees the new run."""
    serving = published.deployment.serving
    [[old_run]] = published.sql("SELECT run_id FROM latest_model_runs")
    reader = subprocess.Popen([sys.executable, "-c", READER, str(serving), "600"], stdout=subprocess.PIPE, text=True)
    try:
        assert reader.stdout.readline().strip() == old_run  # the reader holds the file open from here
        started = time.perf_counter()
        result = published.refresh(WEEKS[1])
        assert result.success
        assert reader.poll() is None, "the reader should still be holding its connection"
    finally:
        reader.kill()
        reader.wait()
    assert time.perf_counter() - started < 300
    assert published.table_counts() == published.counts[WEEKS[1]]  # re-run: replaces, never duplicates
    assert published.sql("SELECT run_id FROM latest_model_runs") == [(result.run_id,)] != [(old_run,)]
    assert [str(r[0]) for r in published.sql("SELECT refresh_week FROM published_refreshes ORDER BY 1")] == list(WEEKS)
