"""The code location loads, its asset graph is the designed one, and the deployment example parses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
import yaml

from mmm_pipeline.definitions import defs

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

EXPECTED_ASSETS = {
    "raw_marketing_data": set(),
    "model_features": {"raw_marketing_data"},
    "mmm_model": {"model_features"},
    "contributions": {"mmm_model"},
    "channel_summary": {"mmm_model"},
    "dag_edges": {"mmm_model"},
    "channel_parameters": {"mmm_model"},
    "response_curves": {"mmm_model"},
    "response_curve_points": {"mmm_model"},
    "budget_scenarios": {"mmm_model"},
    "budget_allocation": {"mmm_model"},
    "serving_tables": {"mmm_model", "contributions", "channel_summary", "dag_edges", "channel_parameters",
                       "response_curves", "response_curve_points", "budget_scenarios", "budget_allocation"},
    "report": {"serving_tables"},
}


@pytest.fixture(scope="module")
def definitions() -> dg.Definitions:
    return defs()


def test_asset_graph_has_the_expected_keys_and_dependencies(definitions):
    graph = definitions.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert EXPECTED_ASSETS.keys() <= keys
    for key, parents in EXPECTED_ASSETS.items():
        got = {p.to_user_string() for p in graph.get(dg.AssetKey(key)).parent_keys}
        assert parents <= got, f"{key}: parents {got}"


def test_refresh_assets_are_weekly_monday_partitions(definitions):
    graph = definitions.resolve_asset_graph()
    for key in EXPECTED_ASSETS.keys() - {"raw_marketing_data"}:
        partitions = graph.get(dg.AssetKey(key)).partitions_def
        assert isinstance(partitions, dg.TimeWindowPartitionsDefinition), key
        assert partitions.get_first_partition_window().start.weekday() == 0  # Monday


def test_blocking_checks_guard_publishing(definitions):
    checks = {(c.asset_key.to_user_string(), c.name): c for c in definitions.resolve_asset_graph().asset_check_keys}
    names = {name for _, name in checks}
    assert {"current_data_satisfies_contract", "every_spec_file_is_loaded", "holdout_r2_above_floor",
            "model_outputs_are_finite", "decomposition_sums_to_prediction", "roi_stable_since_last_refresh"} <= names


def test_training_sits_in_a_pool_and_asks_kubernetes_for_a_gpu(definitions):
    node = definitions.resolve_asset_graph().get(dg.AssetKey("mmm_model"))
    assets_def = node.assets_def
    op = assets_def.node_def
    assert op.pool == "mmm_training"
    pod = json.loads(op.tags["dagster-k8s/config"])  # Dagster stores tag values as JSON strings
    assert pod["container_config"]["resources"]["limits"]["nvidia.com/gpu"] == "1"


def test_weekly_schedule_ships_running_monday_six(definitions):
    schedule = definitions.resolve_schedule_def("mmm_refresh_schedule")
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    assert schedule.cron_schedule == "0 6 * * 1"


def test_mmm_core_imports_without_dagster():
    code = "import sys, mmm_core.model.estimator, mmm_core.data.io, mmm_core.simulate.simulator; " \
           "bad = [m for m in sys.modules if m.split('.')[0] in ('dagster', 'duckdb', 'mmm_pipeline')]; " \
           "assert not bad, bad"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_deploy_example_files_parse():
    for path in (ROOT / "deploy" / "k8s").glob("*.yaml"):
        assert isinstance(yaml.safe_load(path.read_text()), dict), path
    values = yaml.safe_load((ROOT / "deploy/k8s/values.yaml").read_text())
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    assert values["postgresql"]["enabled"] is True
    executor = yaml.safe_load((ROOT / "deploy/k8s/executor.yaml").read_text())
    assert "k8s" in executor["execution"]["config"]


@pytest.mark.parametrize("command", [
    [str(BIN / "dagster"), "definitions", "validate", "-w", "workspace.yaml"],
    [str(BIN / "dg"), "check", "defs"],
], ids=["dagster-definitions-validate", "dg-check-defs"])
def test_code_location_loads_from_the_command_line(command, tmp_path):
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path), "PATH": f"{BIN}:{os.environ['PATH']}"}
    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
