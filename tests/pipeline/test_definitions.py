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
from mmm_pipeline.storage.tables import CURVE_TABLES, DECOMPOSITION_TABLES, TABLES

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

SNAPSHOT = Path(__file__).with_name("asset_graph.json")
"""The designed asset graph. After a deliberate change: UPDATE_SNAPSHOT=1 pytest tests/pipeline/test_definitions.py"""


@pytest.fixture(scope="module")
def definitions() -> dg.Definitions:
    return defs()


def _partitions(partitions_def) -> str | None:
    if partitions_def is None:
        return None
    first = partitions_def.get_first_partition_window().start
    return f"{type(partitions_def).__name__} {partitions_def.cron_schedule} from {first.date()} ({first:%A})"


def graph_snapshot(definitions: dg.Definitions) -> dict:
    """Every asset (deps, partitions, group, kinds, owners, table columns) and every check (its blocking flag)."""
    graph = definitions.resolve_asset_graph()
    assets = {}
    for key in sorted(graph.get_all_asset_keys()):
        node = graph.get(key)
        schema = node.metadata.get("dagster/column_schema")
        assets[key.to_user_string()] = {
            "deps": sorted(p.to_user_string() for p in node.parent_keys),
            "partitions": _partitions(node.partitions_def),
            "group": node.group_name,
            "kinds": sorted(node.kinds),
            "owners": list(node.owners),
            "columns": None if schema is None else [c.name for c in schema.columns],
        }
    checks = {f"{k.asset_key.to_user_string()}:{k.name}": {"blocking": graph.get(k).blocking,
                                                           "partitions": _partitions(graph.get(k).partitions_def)}
              for k in sorted(graph.asset_check_keys, key=lambda k: (k.asset_key.to_user_string(), k.name))}
    return {"assets": assets, "checks": checks}


def test_asset_graph_matches_the_snapshot_exactly(definitions):
    got = graph_snapshot(definitions)
    if os.environ.get("UPDATE_SNAPSHOT"):
        SNAPSHOT.write_text(json.dumps(got, indent=2, ensure_ascii=False) + "\n")
    assert got == json.loads(SNAPSHOT.read_text())


def test_refresh_assets_are_weekly_monday_partitions(definitions):
    graph = definitions.resolve_asset_graph()
    for key in graph.get_all_asset_keys() - {dg.AssetKey("raw_marketing_data")}:
        partitions = graph.get(key).partitions_def
        assert isinstance(partitions, dg.TimeWindowPartitionsDefinition), key
        assert partitions.get_first_partition_window().start.weekday() == 0  # Monday


def test_table_assets_show_the_registry_columns(definitions):
    """Each table asset's catalog schema is its table in storage.tables: same columns, order, types, descriptions."""
    graph = definitions.resolve_asset_graph()
    for table in (*DECOMPOSITION_TABLES, *CURVE_TABLES, "features", "model_runs"):
        key = {"features": "model_features", "model_runs": "mmm_model"}.get(table, table)
        schema = graph.get(dg.AssetKey(key)).metadata["dagster/column_schema"]
        assert [(c.name, c.type, c.description) for c in schema.columns] == \
            [(c.name, c.sql_type, c.description) for c in TABLES[table].columns], table
        assert all(c.description for c in schema.columns), table


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


def test_storage_never_imports_dagster():
    """mmm_pipeline.storage is plain Python (the one guard that mmm_core stays free of dagster is in tests/core)."""
    code = ("import pkgutil, importlib, sys, mmm_pipeline.storage as storage, mmm_pipeline.gates; "
            "[importlib.import_module(m.name) for m in pkgutil.iter_modules(storage.__path__, 'mmm_pipeline.storage.')]; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'dagster' or m.startswith('dagster_')))")
    out = subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, capture_output=True, text=True).stdout
    assert out.strip() == "[]"


def test_the_storage_guard_sees_a_dagster_import():
    """The guard above is not vacuous: importing the resources (which wrap storage in dagster) is caught."""
    code = "import sys, mmm_pipeline.resources; print('dagster' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, capture_output=True, text=True).stdout
    assert out.strip() == "True"


def test_asset_modules_never_import_each_other():
    """Stages share keys (mmm_pipeline.keys), tables (storage.tables) and helpers, never another asset module."""
    import ast
    defs_dir = ROOT / "mmm_pipeline" / "defs"
    for path in defs_dir.rglob("*.py"):
        own_stage = path.relative_to(defs_dir).parts[0]
        for node in ast.walk(ast.parse(path.read_text())):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else \
                [a.name for a in node.names] if isinstance(node, ast.Import) else []
            for name in names:
                parts = name.split(".")
                if parts[:2] == ["mmm_pipeline", "defs"]:
                    assert len(parts) > 3 and parts[2] == own_stage and parts[3] == "config", \
                        f"{path.relative_to(ROOT)} imports {name}: only its own stage's config module is allowed"


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
