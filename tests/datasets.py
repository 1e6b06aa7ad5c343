"""Small hand-made datasets on disk (CSV + spec), for contract and ingestion tests.

The simulator builds realistic panels; these are deliberately plain so each test can break one cell.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import yaml

SPEC = {
    "name": "toy",
    "files": ["toy.csv"],
    "week_column": "week",
    "region_column": "region",
    "kpi_column": "sales",
    "population_column": "population",
    "channels": [
        {"name": "tv", "spend": "tv_spend", "activity": "tv_grps"},
        {"name": "search", "spend": "search_spend"},
    ],
    "controls": ["price"],
}


def toy_frame(n_regions: int = 2, n_weeks: int = 60, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    weeks = pd.date_range("2023-01-02", periods=n_weeks, freq="7D")
    rows = []
    for r in range(n_regions):
        for w in weeks:
            rows.append({
                "region": f"R{r}", "week": w.date().isoformat(),
                "sales": round(float(rng.uniform(900, 1100)), 2),
                "tv_spend": round(float(rng.uniform(0, 50)), 2), "tv_grps": round(float(rng.uniform(0, 5)), 3),
                "search_spend": round(float(rng.uniform(1, 20)), 2), "price": round(float(rng.normal(1, 0.1)), 3),
                "population": 1000.0 * (r + 1),
            })
    return pd.DataFrame(rows)


def write_dataset(folder: Path, frame: pd.DataFrame | None = None, spec: dict | None = None,
                  name: str = "toy.csv") -> Path:
    """Write the frame as CSV and its spec; returns the spec path."""
    folder.mkdir(parents=True, exist_ok=True)
    frame = toy_frame() if frame is None else frame
    frame.to_csv(folder / name, index=False)
    spec = dict(SPEC if spec is None else spec)
    spec.setdefault("files", [name])
    path = folder / "spec.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


EXPERIMENTS_CSV = """experiment,channel,region,first_week,last_week,cooldown_weeks,spend_multiplier,spend_change,lift,lift_se
search_cut,search,R0,2023-06-05,2023-07-03,2,0.5,,-120,40
search_cut,search,R1,2023-06-05,2023-07-03,2,0.5,,-120,40
tv_boost,tv,all,2023-09-04,2023-09-25,,,100,300.5,100
"""
"""Two lift tests on the toy dataset, as a file states them: a search cut in both regions (one row each) and a
national tv boost given as a spend change, its cool-down cell left empty."""


def write_experiments(folder: Path, text: str = EXPERIMENTS_CSV, name: str = "experiments.csv") -> Path:
    """Write an experiments file beside the toy dataset and name it in its spec; returns the spec path."""
    (folder / name).write_text(text)
    path = folder / "spec.yaml"
    spec = yaml.safe_load(path.read_text())
    spec["experiments"] = name
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path
