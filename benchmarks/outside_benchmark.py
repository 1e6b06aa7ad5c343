"""Recovery on a generator the model was not built around (``mmm_core.simulation.outside``).

    .venv/bin/python benchmarks/outside_benchmark.py [--scenario flighted --scenario mixed ...]
                     [--seeds 0,1,2] [--regions 20] [--threads 2] [--override train.roi_pooling=0]

Fits the default model on each scenario and seed (last 13 weeks held out) and prints, per fit: share MAE
(percentage points) and ROI Spearman against the truth, media share of the KPI (model / truth), holdout
within-region R² (model / best naive baseline) and fit seconds; then the mean per scenario. The
scenarios run from identified (flighted) to unidentifiable (always-on with saturated curves), so read
them apart: only the first two measure the model; the others show what its priors do where the data
are silent. Never run in tests.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.fit_benchmark import parse_overrides  # noqa: E402
from mmm_core.analysis.backtest import DEFAULT_HOLDOUT_WEEKS  # noqa: E402
from mmm_core.analysis.metrics import forecast_report  # noqa: E402
from mmm_core.model.estimator import MMM  # noqa: E402
from mmm_core.simulation.outside import SCENARIOS, simulate_outside  # noqa: E402
from mmm_core.simulation.recovery import recovery_scores  # noqa: E402


def main(argv: list[str] | None = None) -> dict[str, list[dict]]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", action="append", choices=sorted(SCENARIOS))
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--regions", type=int, default=20, help="1 gives national panels")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--override", action="append", default=[], help="section.field=json")
    args = parser.parse_args(argv)
    overrides = parse_overrides(args.override)
    overrides.setdefault("train", {}).setdefault("threads", args.threads)
    report: dict[str, list[dict]] = {}
    for scenario in args.scenario or list(SCENARIOS):
        rows = report.setdefault(scenario, [])
        for seed in (int(s) for s in args.seeds.split(",")):
            sim = simulate_outside(scenario, seed, n_regions=args.regions)
            mmm = MMM(overrides=overrides)
            holdout = DEFAULT_HOLDOUT_WEEKS
            panel = sim.panel
            train = panel.slice_weeks(0, panel.n_weeks - holdout)
            start = time.perf_counter()
            mmm.fit(train)
            seconds = time.perf_counter() - start
            table, truth = mmm.contributions(train), sim.true_contributions(train)
            scores = recovery_scores(truth, table)
            r2 = forecast_report(train, panel, mmm.predict(panel))["holdout_r2"]
            naive = max(v["within_region"] for k, v in r2.items() if k != "model")
            row = {**scores, "seed": seed, "seconds": round(seconds, 1),
                   "media_share": round(float(table["direct_contribution"].sum() / train.kpi.sum()), 3),
                   "true_media_share": round(float(truth["direct_contribution"].sum() / train.kpi.sum()), 3),
                   "within_r2": r2["model"]["within_region"], "best_naive_within_r2": naive}
            rows.append(row)
            print(f"{scenario:<20} seed {seed}: share MAE {row['share_mae_pp']:5.2f} pp  ROI Spearman "
                  f"{row['roi_spearman']:5.2f}  media share {row['media_share']:.3f} (true {row['true_media_share']:.3f})"
                  f"  holdout within-region R² {row['within_r2']:.3f} (naive {naive:.3f})  {seconds:.0f} s", flush=True)
        mae = np.mean([r["share_mae_pp"] for r in rows])
        rho = np.mean([r["roi_spearman"] for r in rows])
        print(f"{scenario:<20} mean: share MAE {mae:.2f} pp, ROI Spearman {rho:.2f}", flush=True)
    return report


if __name__ == "__main__":
    main()
