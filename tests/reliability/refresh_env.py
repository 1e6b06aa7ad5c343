"""Refreshes in their own processes, the way ``make run`` runs them, so that a test can SIGKILL one.

``RefreshEnv`` is a throwaway deployment: the tiny simulated dataset, a ``DAGSTER_HOME`` with the
project's ``config/dagster.yaml`` (pool ``mmm_training`` limited to 1, as shipped) and ``MMM_*``
variables pointing at a temporary data folder. ``start`` launches ``python -m mmm_pipeline.run``.
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

from mmm_core.simulate.simulator import PRESETS, simulate, write_simulation
from mmm_pipeline.serving import PUBLISHED_TABLES, SERVING_FILE

ROOT = Path(__file__).resolve().parents[2]
WEEKS = ("2023-12-18", "2023-12-25")  # the tiny preset's last two weeks
VOLATILE = {"run_id", "created_at", "published_at", "wall_time_s", "artifact_path"}
"""Columns that differ between two runs of the same refresh by design (identity and timing)."""


def run_config(seed: int = 0, epochs: int = 30) -> dict:
    return {"ops": {"mmm_model": {"config": {"epochs": epochs, "holdout_weeks": 8, "seed": seed}}}}


@dataclass
class RefreshEnv:
    root: Path

    @classmethod
    def create(cls, root: Path) -> "RefreshEnv":
        write_simulation(simulate(PRESETS["tiny"], seed=3), root / "input", name="tiny")
        (root / "home").mkdir(parents=True)
        (root / "home" / "dagster.yaml").write_text((ROOT / "config" / "dagster.yaml").read_text())
        return cls(root)

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def serving(self) -> Path:
        return self.data / "serving" / SERVING_FILE

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "DAGSTER_HOME": str(self.root / "home"), "MMM_DATA_DIR": str(self.data),
                "MMM_SPEC_PATH": str(self.root / "input" / "spec.yaml"),
                "MMM_WAREHOUSE_PATH": str(self.data / "warehouse.duckdb"), "MMM_DEVICE": "cpu",
                "PYTHONUNBUFFERED": "1"}

    def start(self, week: str, seed: int = 0, epochs: int = 30, log: str = "refresh") -> subprocess.Popen:
        out = open(self.root / f"{log}.log", "w")
        cmd = [sys.executable, "-m", "mmm_pipeline.run", "--refresh-week", week,
               "--run-config", json.dumps(run_config(seed, epochs))]
        return subprocess.Popen(cmd, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)

    def refresh(self, week: str, seed: int = 0, log: str = "refresh", timeout: float = 300) -> None:
        """Run one refresh to the end; fail with its log when it does not succeed."""
        process = self.start(week, seed, log=log)
        try:
            rc = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise AssertionError(f"refresh {week} hung:\n{self.log(log)[-4000:]}") from None
        assert rc == 0, f"refresh {week} failed ({rc}):\n{self.log(log)[-4000:]}"

    def log(self, name: str = "refresh") -> str:
        return (self.root / f"{name}.log").read_text(errors="replace")

    def kill_when(self, process: subprocess.Popen, reached: Callable[[], bool], timeout: float = 300,
                  poll_s: float = 0.002) -> bool:
        """SIGKILL ``process`` as soon as ``reached()`` holds; False if it ended first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if reached():
                os.kill(process.pid, signal.SIGKILL)
                process.wait()
                return True
            if process.poll() is not None:
                return False
            time.sleep(poll_s)
        process.kill()
        process.wait()
        raise AssertionError("the marker never appeared")

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
        patterns = [(self.data / "serving", ".*.tmp*"), (self.data / "serving" / "parquet", ".staging-*"),
                    (self.data / "serving" / "parquet", ".old-*"), (self.data / "models", ".*")]
        return sorted(str(p) for folder, pattern in patterns if folder.exists() for p in folder.glob(pattern))
