"""Rolling-origin forecasts: the model against the naive baselines at several forecast origins.

    .venv/bin/python benchmarks/rolling_benchmark.py [--world outside_mixed --world varied ...]
                     [--seeds 0,1] [--origins 3] [--threads 1]

For each world and seed the model is fitted on the weeks before each origin and forecasts the 13 weeks
after it; the origins are the last ``--origins`` quarters (T - 13, T - 26, ...). Printed per origin:
holdout R² within-region and national of the model and of the best naive baseline (region mean, last 4
weeks, same week last year); then the means per world. This is how a seasonal profile is judged: one that
copies last year's one-off bumps forecasts them again at every origin. Worlds as in
``stress_benchmark.world_panel`` (no stress here). Never run in tests.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.stress_benchmark import world_panel  # noqa: E402
from mmm_core.analysis.backtest import DEFAULT_HOLDOUT_WEEKS  # noqa: E402
from mmm_core.analysis.metrics import forecast_report  # noqa: E402
from mmm_core.model.estimator import MMM  # noqa: E402

WORLDS = ("outside_mixed", "outside_flighted", "external_mixed", "varied")
VIEWS = ("within_region", "national")


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--world", action="append")
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--origins", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    rows = []
    for world in args.world or WORLDS:
        mine = []
        for seed in (int(s) for s in args.seeds.split(",")):
            panel = world_panel(world, seed, stress_weeks=0)
            for k in range(args.origins, 0, -1):
                end = panel.n_weeks - (k - 1) * DEFAULT_HOLDOUT_WEEKS
                window = panel.slice_weeks(0, end)
                train = window.slice_weeks(0, end - DEFAULT_HOLDOUT_WEEKS)
                mmm = MMM(overrides={"train": {"threads": args.threads}}).fit(train)
                r2 = forecast_report(train, window, mmm.predict(window))["holdout_r2"]
                row = {"world": world, "seed": seed, "origin": train.n_weeks}
                for view in VIEWS:
                    row[view] = r2["model"][view]
                    row[f"{view}_naive"] = max(v[view] for name, v in r2.items() if name != "model")
                mine.append(row)
                print(f"{world:<18} seed {seed} origin {row['origin']:>3}: " + "  ".join(
                    f"{v} {row[v]:.3f} (naive {row[v + '_naive']:.3f})" for v in VIEWS), flush=True)
        print(f"{world:<18} mean: " + "  ".join(
            f"{v} {np.mean([r[v] for r in mine]):.3f} (naive {np.mean([r[v + '_naive'] for r in mine]):.3f})"
            for v in VIEWS), flush=True)
        rows += mine
    return rows


if __name__ == "__main__":
    main()
