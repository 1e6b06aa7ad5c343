"""End to end, in process: two weekly refreshes on a small simulated panel (the shared ``published`` fixture),
re-run idempotence, a failed run, and a reader that cannot block a publish."""

from __future__ import annotations

import subprocess
import sys
import time

import duckdb

from mmm_core.analysis.curves import DEFAULT_MULTIPLIERS
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
