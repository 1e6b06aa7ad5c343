"""Refreshes in their own processes, the way ``make run`` runs them, so that a test can SIGKILL one.

``RefreshEnv`` is the throwaway ``Deployment`` of tests/conftest.py plus a process runner: ``start``
launches ``python -m mmm_pipeline.run`` with the deployment's environment and the fast run config;
``refresh_in_process`` runs the same entry point in the test's own process, for set-up refreshes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from mmm_pipeline.storage.tables import PUBLISHED_TABLES
from tests.conftest import REFRESH_WEEKS as WEEKS  # noqa: F401  (re-exported for the reliability tests)
from tests.conftest import ROOT, Deployment, fast_run_config

VOLATILE = {"run_id", "created_at", "published_at", "wall_time_s", "artifact_path"}
"""Columns that differ between two runs of the same refresh by design (identity and timing)."""


@dataclass(frozen=True)
class RefreshEnv(Deployment):
    """A deployment whose refreshes run as ``make run`` runs them: one process each, killable."""

    def start(self, week: str, seed: int = 0, epochs: int = 30, log: str = "refresh") -> subprocess.Popen:
        out = open(self.root / f"{log}.log", "w")
        cmd = [sys.executable, "-m", "mmm_pipeline.run", "--refresh-week", week,
               "--run-config", json.dumps(fast_run_config(seed, epochs))]
        return subprocess.Popen(cmd, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)

    def refresh(self, week: str, seed: int = 0, log: str = "refresh", timeout: float = 300) -> None:
        """Run one refresh to the end; fail with its log when it does not succeed."""
        rc = self.wait(self.start(week, seed, log=log), timeout, log, f"refresh {week} hung")
        assert rc == 0, f"refresh {week} failed ({rc}):\n{self.log(log)[-4000:]}"

    def refresh_in_process(self, week: str, seed: int = 0) -> None:
        """Run one refresh to the end through the same entry point (``mmm_pipeline.run.main``), in this process:
        for a test's set-up, where nothing will be killed. Spares a fresh interpreter's imports (~20 s here)."""
        from mmm_pipeline import run

        with pytest.MonkeyPatch.context() as mp:  # run.main reads the deployment's paths from the environment
            for name, value in self.variables.items():
                mp.setenv(name, value)
            rc = run.main(["--refresh-week", week, "--run-config", json.dumps(fast_run_config(seed))])
        assert rc == 0, f"refresh {week} failed in process ({rc})"

    def wait(self, process: subprocess.Popen, timeout: float, log: str, problem: str) -> int:
        """``process``'s exit code; killed and failed with ``problem`` and its log when it runs past ``timeout``."""
        try:
            return process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise AssertionError(f"{problem}:\n{self.log(log)[-4000:]}") from None

    def log(self, name: str = "refresh") -> str:
        return (self.root / f"{name}.log").read_text(errors="replace")

    def kill_when(self, process: subprocess.Popen, reached: Callable[[], bool], timeout: float = 300,
                  poll_s: float = 0.002, signum: int = signal.SIGKILL, wait: bool = True) -> bool:
        """Send ``signum`` (SIGKILL) to ``process`` as soon as ``reached()`` holds; False if it ended first.

        ``wait=False`` returns right after sending, so that the caller can watch how the process stops.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if reached():
                os.kill(process.pid, signum)
                if wait:
                    process.wait()
                return True
            if process.poll() is not None:
                return False
            time.sleep(poll_s)
        process.kill()
        process.wait()
        raise AssertionError("the marker never appeared")

    def runs(self) -> list[tuple[str, str, str | None]]:
        """(run id, status, partition) of every run in the deployment's Dagster instance."""
        import dagster as dg

        old = os.environ.get("DAGSTER_HOME")
        os.environ["DAGSTER_HOME"] = self.variables["DAGSTER_HOME"]
        try:
            with dg.DagsterInstance.get() as instance:
                return [(r.run_id, r.status.value, r.tags.get("dagster/partition")) for r in instance.get_runs()]
        finally:
            if old is None:
                del os.environ["DAGSTER_HOME"]
            else:
                os.environ["DAGSTER_HOME"] = old

    def published(self, path: Path | None = None, drop_volatile: bool = True) -> dict[str, list[tuple]]:
        """Every published table's rows, sorted (volatile identity/timing columns left out)."""
        out = {}
        with duckdb.connect(str(path or self.serving), read_only=True) as conn:
            for table in ("published_refreshes", *PUBLISHED_TABLES):
                columns = [r[0] for r in conn.execute(f'DESCRIBE "{table}"').fetchall()]
                keep = [c for c in columns if not (drop_volatile and c in VOLATILE)]
                rows = conn.execute(f'SELECT {", ".join(chr(34) + c + chr(34) for c in keep)} FROM "{table}"').fetchall()
                out[table] = sorted(rows, key=repr)
        return out

    def leftovers(self) -> list[str]:
        """Temporary files and folders an interrupted publish or save could leave."""
        patterns = [(self.data / "serving", ".*.tmp*"), (self.data / "serving" / "parquet", ".*"),
                    (self.data / "models", ".*"), (self.data / "models", "*/.*")]
        return sorted(str(p) for folder, pattern in patterns if folder.exists() for p in folder.glob(pattern))
