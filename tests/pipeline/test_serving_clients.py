"""The serving file opens in DuckDB clients older than the pipeline's own (BI tools and CLIs lag behind).

The client runs in its own virtual environment (``make test`` builds ``.venv-duckdb-client`` from
``tests/clients/requirements.txt``), because one Python process holds one DuckDB version.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from mmm_pipeline.storage.tables import PUBLISHED_TABLES

ROOT = Path(__file__).resolve().parents[2]
CLIENT_PYTHON = Path(os.environ.get("MMM_DUCKDB_CLIENT_PYTHON", ROOT / ".venv-duckdb-client" / "bin" / "python"))

READ_EVERY_TABLE = """
import duckdb, json, sys
with duckdb.connect(sys.argv[1], read_only=True) as conn:
    counts = {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in json.loads(sys.argv[2])}
    latest = conn.execute('SELECT count(*) FROM latest_channel_summary').fetchone()[0]
print(json.dumps({"version": duckdb.__version__, "counts": counts, "latest_channel_summary": latest}))
"""


@pytest.fixture(scope="module")
def client_python() -> Path:
    if not CLIENT_PYTHON.exists():
        pytest.skip(f"no older DuckDB client at {CLIENT_PYTHON}: `make test` builds it")
    return CLIENT_PYTHON


def test_an_older_duckdb_client_reads_every_published_table(published, client_python):
    out = subprocess.run([str(client_python), "-c", READ_EVERY_TABLE, str(published.deployment.serving),
                          json.dumps(list(PUBLISHED_TABLES))], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    seen = json.loads(out.stdout)
    assert seen["version"].startswith("1.1.")
    assert seen["counts"] == published.table_counts()
    assert seen["latest_channel_summary"] > 0


def test_the_pipelines_default_storage_format_is_unreadable_there(tmp_path, client_python):
    """Guards the test above: without the storage option the same client fails, so it proves the option."""
    import duckdb

    path = tmp_path / "default.duckdb"
    with duckdb.connect(str(path)) as conn:
        conn.execute("CREATE TABLE t AS SELECT 1 AS x")
    out = subprocess.run([str(client_python), "-c", "import duckdb, sys; duckdb.connect(sys.argv[1], read_only=True)",
                          str(path)], capture_output=True, text=True, timeout=120)
    assert out.returncode != 0
    assert "version" in out.stderr.lower()
