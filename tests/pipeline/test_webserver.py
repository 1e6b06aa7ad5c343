"""The real thing, headless: dagster-webserver + dagster-daemon on 127.0.0.1, a refresh launched over GraphQL."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import duckdb
import pytest

from tests.conftest import REFRESH_WEEKS, fast_run_config

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
WEEK = REFRESH_WEEKS[-1]

LAUNCH = """
mutation($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on InvalidSubsetError { message }
  }
}"""
LOCATIONS = """
{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus
    locationOrLoadError { __typename ... on PythonError { message } } } } } }"""
STATUS = 'query($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }'


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def graphql(port: int, query: str, variables: dict) -> dict:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/graphql",
                                     data=json.dumps({"query": query, "variables": variables}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def wait_until_up(port: int, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"dagster-webserver exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=5):
                return
        except OSError:
            time.sleep(1)
    raise TimeoutError("dagster-webserver did not come up")


def wait_for_code_location(port: int, timeout: float = 180) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        entries = graphql(port, LOCATIONS, {})["data"]["workspaceOrError"]["locationEntries"]
        entry = next((e for e in entries if e["name"] == "mmm_pipeline"), None)
        if entry and entry["loadStatus"] == "LOADED":
            assert entry["locationOrLoadError"]["__typename"] == "RepositoryLocation", entry
            return
        time.sleep(1)
    raise TimeoutError("code location mmm_pipeline did not load")


def test_refresh_launched_through_graphql_publishes(deployment):
    tmp_path = deployment.root
    env = {**deployment.env, "PATH": f"{BIN}:{os.environ['PATH']}"}
    port = free_port()
    logs = {name: open(tmp_path / f"{name}.log", "w") for name in ("webserver", "daemon")}
    webserver = subprocess.Popen([str(BIN / "dagster-webserver"), "-h", "127.0.0.1", "-p", str(port),
                                  "-w", "workspace.yaml"], cwd=ROOT, env=env, stdout=logs["webserver"],
                                 stderr=subprocess.STDOUT)
    daemon = subprocess.Popen([str(BIN / "dagster-daemon"), "run", "-w", "workspace.yaml"], cwd=ROOT, env=env,
                              stdout=logs["daemon"], stderr=subprocess.STDOUT)
    try:
        wait_until_up(port, webserver)
        wait_for_code_location(port)
        params = {
            "selector": {"repositoryLocationName": "mmm_pipeline", "repositoryName": "__repository__",
                         "jobName": "mmm_refresh"},
            "runConfigData": {"execution": {"config": {"in_process": {}}}, **fast_run_config()},
            "executionMetadata": {"tags": [{"key": "dagster/partition", "value": WEEK}]},
        }
        launched = graphql(port, LAUNCH, {"params": params})["data"]["launchRun"]
        assert launched["__typename"] == "LaunchRunSuccess", launched
        run_id = launched["run"]["runId"]
        status, deadline = None, time.time() + 420
        while time.time() < deadline and status not in ("SUCCESS", "FAILURE", "CANCELED"):
            time.sleep(2)
            status = graphql(port, STATUS, {"id": run_id})["data"]["runOrError"]["status"]
        assert status == "SUCCESS", (tmp_path / "daemon.log").read_text()[-3000:]
        with duckdb.connect(str(deployment.serving), read_only=True) as conn:
            assert str(conn.execute("SELECT max(refresh_week) FROM published_refreshes").fetchone()[0]) == WEEK
            assert conn.execute("SELECT count(*) FROM latest_channel_summary").fetchone()[0] == 3
    finally:
        for process in (daemon, webserver):
            process.send_signal(signal.SIGTERM)
        for process in (daemon, webserver):
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                pytest.fail(f"{process.args[0]} did not stop on SIGTERM")
        for log in logs.values():
            log.close()
