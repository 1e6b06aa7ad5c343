"""``make run``: what it says when it refuses or fails, and the variables it takes.

Before: a rejected input printed a 20-line traceback from ``run.py`` before any Dagster run; a blocked check
printed Dagster's "1 blocking asset check failed" without the check's own description; ``make run`` took
no arguments; and ``DAGSTER_HOME`` was fixed, so every data folder shared the sample's instance.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys

import dagster as dg
import duckdb

from mmm_pipeline import run
from tests.conftest import ROOT

GATE = ("within-region holdout R² 0.21 is below the required 0.35 (best naive baseline: region mean, 0.28); "
        "change quality_gates.min_holdout_skill or MMM_MIN_HOLDOUT_SKILL")


def test_rejected_input_prints_one_line_naming_file_column_and_row(deployment):
    data = deployment.root / "input" / "tiny.csv"
    lines = data.read_text().splitlines(keepends=True)
    header, first = lines[0].rstrip("\n").split(","), lines[1].split(",")
    first[header.index("search_spend")] = "-5"
    data.write_text(lines[0] + ",".join(first) + "".join(lines[2:]))
    out = subprocess.run([sys.executable, "-m", "mmm_pipeline.run"], cwd=ROOT, env=deployment.env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode != 0
    assert "Traceback" not in out.stderr, out.stderr[-3000:]
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("input rejected") and "tiny.csv" in last and "search_spend" in last, last
    assert "refresh week" not in out.stdout  # refused before any Dagster run


def _failure_lines(*assets) -> list[str]:
    """``run.failure_lines`` of a run of ``assets`` (read while its instance is alive: the result refers to it)."""
    instance = dg.DagsterInstance.ephemeral()
    return run.failure_lines(dg.materialize(list(assets), instance=instance, raise_on_error=False))


def test_a_blocked_check_ends_the_report_with_its_description():
    @dg.asset
    def model() -> None:
        pass

    @dg.asset_check(asset=model, blocking=True)
    def forecast_beats_naive() -> dg.AssetCheckResult:
        return dg.AssetCheckResult(passed=False, description=GATE)

    @dg.asset(deps=[model])
    def published() -> None:
        pass

    lines = _failure_lines(model, forecast_beats_naive, published)
    assert lines[-1].startswith("BLOCKED by check model:forecast_beats_naive")
    assert lines[-1].endswith(GATE)
    assert not any("blocking asset check failed" in line for line in lines)


def test_a_failed_step_ends_with_its_innermost_cause():
    @dg.asset
    def writes() -> None:
        try:
            raise duckdb.IOException('IO Error: Could not write file "w.wal": No space left on device')
        except duckdb.IOException as exc:
            raise RuntimeError("while writing the warehouse") from exc

    (line,) = _failure_lines(writes)
    assert line == 'FAILED writes: IOException: IO Error: Could not write file "w.wal": No space left on device'


def test_a_dagster_failure_reports_its_description():
    @dg.asset
    def ingests() -> None:
        raise dg.Failure(description="input rejected: file a.csv, column 'tv', row 3: negative spend",
                         allow_retries=False)

    assert _failure_lines(ingests) == [
        "FAILED ingests: input rejected: file a.csv, column 'tv', row 3: negative spend"]


def _make(*args: str, environ: dict[str, str] | None = None) -> str:
    """What ``make`` would run (dry run: nothing is executed)."""
    env = {k: v for k, v in os.environ.items() if k not in {"DAGSTER_HOME", "MMM_DATA_DIR", "MMM_SPEC_PATH"}}
    env |= {"MAKEFLAGS": ""} | (environ or {})
    return subprocess.run(["make", "-n", *args], cwd=ROOT, capture_output=True, text=True, check=True,
                          env=env).stdout


def _make_variable(name: str, *args: str, environ: dict[str, str] | None = None) -> str:
    out = _make(f"--eval=print-variable: ; echo {name}=$({name})", "print-variable", *args, environ=environ)
    line = next(line for line in out.splitlines() if line.startswith(f"echo {name}="))
    return line.split("=", 1)[1]


def test_make_run_passes_week_and_run_config():
    config = '{"ops": {"mmm_model": {"config": {"epochs": 300}}}}'
    line = next(line for line in _make("run", "WEEK=2024-06-03", f"CONFIG={config}").splitlines()
                if "mmm_pipeline.run" in line)
    argv = shlex.split(line)
    assert argv[argv.index("--refresh-week") + 1] == "2024-06-03"
    assert argv[argv.index("--run-config") + 1] == config


def test_make_spec_sets_the_dataset_spec():
    assert _make_variable("MMM_SPEC_PATH", "SPEC=my/spec.yaml") == str(ROOT / "my" / "spec.yaml")


def test_the_dagster_instance_lives_beside_the_data_folder(tmp_path):
    assert _make_variable("DAGSTER_HOME") == str(ROOT / ".dagster_home")  # the sample's
    mine = tmp_path / "my-data"
    assert _make_variable("DAGSTER_HOME", environ={"MMM_DATA_DIR": str(mine)}) == str(mine / ".dagster_home")
    assert _make_variable("DAGSTER_HOME", f"MMM_DATA_DIR={mine}") == str(mine / ".dagster_home")
    assert _make_variable("DAGSTER_HOME", environ={"MMM_DATA_DIR": str(mine), "DAGSTER_HOME": "/elsewhere"}) \
        == "/elsewhere"  # an explicit one wins
    ui = _make("ui", f"MMM_DATA_DIR={mine}")
    assert f"{mine}/.dagster_home/dagster.yaml" in ui  # `make ui` sets up and uses the same instance


def test_make_clean_never_deletes_an_instance_outside_the_project(tmp_path):
    elsewhere = str(tmp_path / "their-dagster-home")
    assert elsewhere not in _make("clean", environ={"DAGSTER_HOME": elsewhere})
    assert str(tmp_path) not in _make("clean", f"MMM_DATA_DIR={tmp_path}")
