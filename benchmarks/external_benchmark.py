"""Recovery and forecasts on a third-party generator nobody on this project wrote (``pysimmmulator``).

    make bench-deps   # once: installs the optional ``bench`` extra (pinned in constraints.txt) into .venv
    .venv/bin/python benchmarks/external_benchmark.py [--scenario mixed --scenario flighted ...]
                     [--seeds 0,1,2] [--regions 10] [--years 2] [--geo-mode independent] [--threads 1]
                     [--override train.epochs=300] [--json out.json]

The generator and the truth it gives: ``benchmarks/external/pysimmmulator_adapter.py``. Per scenario and seed the
default model is fitted on all but the last 13 weeks; printed per fit: share MAE (percentage points), ROI
Spearman and median relative ROI error against the truth, for the model, the spend-share guess (media split by
spend share, one ROI for all: Spearman undefined) and the true-shape oracle (least squares on the true adstocked
and saturated activity, no priors: what the data allow); holdout R² pooled / within-region / national for the
model beside the best naive baseline of each view; fit seconds. Then the mean per scenario. The generator has no
channel graph, so no DAG scores. Never run in tests.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.external.pysimmmulator_adapter import SCENARIOS, simulate_pysimmmulator, spend_share_guess  # noqa: E402
from benchmarks.fit_benchmark import parse_overrides  # noqa: E402
from mmm_core.analysis.backtest import DEFAULT_HOLDOUT_WEEKS  # noqa: E402
from mmm_core.analysis.metrics import VIEWS, forecast_report  # noqa: E402
from mmm_core.model.estimator import MMM  # noqa: E402
from mmm_core.simulation.recovery import recovery_scores  # noqa: E402


def roi_scores(truth: pd.DataFrame, table: pd.DataFrame) -> dict[str, float]:
    """``recovery_scores`` plus ``roi_median_rel_error``: the median over channels of |ROI - true| / true.
    Spearman is NaN where ``table`` gives every channel one ROI (no ranking)."""
    est = table.set_index("channel").loc[truth["channel"]]
    with warnings.catch_warnings():  # scipy warns on a constant input; the score is NaN either way
        warnings.simplefilter("ignore")
        scores = recovery_scores(truth, table)
    if np.ptp(est["roi"].to_numpy()) == 0:
        scores["roi_spearman"] = float("nan")
    relative = np.abs(est["roi"].to_numpy() - truth["roi"].to_numpy()) / truth["roi"].to_numpy()
    return {**scores, "roi_median_rel_error": round(float(np.median(relative)), 3)}


def run_one(scenario: str, seed: int, regions: int, years: int, geo_mode: str, overrides: dict) -> dict:
    """Fit, score and return one row (see the module docstring)."""
    sim = simulate_pysimmmulator(scenario, seed, n_regions=regions, years=years, geo_mode=geo_mode)
    panel = sim.panel
    train = panel.slice_weeks(0, panel.n_weeks - DEFAULT_HOLDOUT_WEEKS)
    mmm = MMM(overrides=overrides)
    start = time.perf_counter()
    mmm.fit(train)
    seconds = time.perf_counter() - start
    truth = sim.true_contributions(train)
    table = mmm.contributions(train)
    r2 = forecast_report(train, panel, mmm.predict(panel))["holdout_r2"]
    naive = {view: max(v[view] for k, v in r2.items() if k != "model") for view in VIEWS}
    est = table.set_index("channel").loc[truth["channel"]]
    return {"scenario": scenario, "seed": seed, "regions": regions, "weeks": panel.n_weeks, "geo_mode": geo_mode,
            "model": roi_scores(truth, table), "spend_share": roi_scores(truth, spend_share_guess(truth)),
            "oracle": roi_scores(truth, sim.oracle_contributions(train)),
            "holdout_r2": r2["model"], "best_naive_holdout_r2": naive,
            "media_share": round(float(table["direct_contribution"].sum() / train.kpi.sum()), 3),
            "true_media_share": round(float(truth["direct_contribution"].sum() / train.kpi.sum()), 3),
            "roi": {c: round(float(v), 3) for c, v in est["roi"].items()},
            "true_roi": {c: round(float(v), 3) for c, v in zip(truth["channel"], truth["roi"])},
            "seconds": round(seconds, 1)}


def _line(row: dict) -> str:
    m, s, o, r2, nv = row["model"], row["spend_share"], row["oracle"], row["holdout_r2"], row["best_naive_holdout_r2"]
    return (f"{row['scenario']:<10} seed {row['seed']}: share MAE {m['share_mae_pp']:5.2f} pp (spend share "
            f"{s['share_mae_pp']:5.2f}, oracle {o['share_mae_pp']:5.2f})  ROI Spearman {m['roi_spearman']:5.2f} "
            f"(oracle {o['roi_spearman']:5.2f})  ROI median rel. error {m['roi_median_rel_error']:.2f} (spend share "
            f"{s['roi_median_rel_error']:.2f}, oracle {o['roi_median_rel_error']:.2f})  media share "
            f"{row['media_share']:.3f} (true {row['true_media_share']:.3f})  holdout R² pooled/within/national "
            f"{r2['pooled']:.2f}/{r2['within_region']:.2f}/{r2['national']:.2f} (best naive "
            f"{nv['pooled']:.2f}/{nv['within_region']:.2f}/{nv['national']:.2f})  {row['seconds']:.0f} s")


def main(argv: list[str] | None = None) -> dict[str, list[dict]]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", action="append", choices=sorted(SCENARIOS))
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--regions", type=int, default=10)
    parser.add_argument("--years", type=int, default=2)
    parser.add_argument("--geo-mode", default="independent", choices=("independent", "package"))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--override", action="append", default=[], help="section.field=json")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON here")
    args = parser.parse_args(argv)
    overrides = parse_overrides(args.override)
    overrides.setdefault("train", {}).setdefault("threads", args.threads)
    warnings.filterwarnings("ignore", module="pysimmmulator")  # its pandas chained-assignment warnings
    report: dict[str, list[dict]] = {}
    for scenario in args.scenario or list(SCENARIOS):
        rows = report.setdefault(scenario, [])
        for seed in (int(s) for s in args.seeds.split(",")):
            rows.append(run_one(scenario, seed, args.regions, args.years, args.geo_mode, overrides))
            print(_line(rows[-1]), flush=True)
            if args.json:
                args.json.write_text(json.dumps(report, indent=2, default=float))
        mean = lambda who, key: np.nanmean([r[who][key] for r in rows])  # noqa: E731
        print(f"{scenario:<10} mean over {len(rows)} seeds: share MAE {mean('model', 'share_mae_pp'):.2f} pp (spend share "
              f"{mean('spend_share', 'share_mae_pp'):.2f}, oracle {mean('oracle', 'share_mae_pp'):.2f}); ROI Spearman "
              f"{mean('model', 'roi_spearman'):.2f} (oracle {mean('oracle', 'roi_spearman'):.2f}); ROI median rel. "
              f"error {mean('model', 'roi_median_rel_error'):.2f} (spend share {mean('spend_share', 'roi_median_rel_error'):.2f},"
              f" oracle {mean('oracle', 'roi_median_rel_error'):.2f})", flush=True)
    return report


if __name__ == "__main__":
    main()
