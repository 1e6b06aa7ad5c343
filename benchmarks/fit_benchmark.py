"""Fit the default model on a simulated panel and report speed, memory, forecast accuracy and recovery.

    .venv/bin/python benchmarks/fit_benchmark.py --preset benchmark [--threads 2] [--seed 0]
                     [--override train.epochs=300 --override model.hidden_size=32]

Prints: wall time of ``fit``, s/epoch, epochs, peak RSS; holdout R² (pooled / within-region / national)
beside the naive baselines and the noise ceiling; recovery against the simulator's truth (direct share
MAE in percentage points, Spearman rank correlation of ROI, DAG precision/recall/F1), beside the same
scores of an oracle that knows the true curves and graph (``mmm_core.simulation.recovery``: what the data allow)
and of the same oracle fitting the Hill curves by maximum likelihood (what the data allow once curves are learned).
Never run in tests.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mmm_core.analysis.backtest import DEFAULT_HOLDOUT_WEEKS  # noqa: E402
from mmm_core.analysis.metrics import forecast_report  # noqa: E402
from mmm_core.model.estimator import MMM  # noqa: E402
from mmm_core.simulation.recovery import dag_scores, oracle_contributions, recovery_scores, true_contributions  # noqa: E402
from mmm_core.simulation.simulator import simulate  # noqa: E402


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux reports KiB


def parse_overrides(items: list[str]) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for item in items:
        key, value = item.split("=", 1)
        section, name = key.split(".", 1)
        out.setdefault(section, {})[name] = json.loads(value)
    return out


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="benchmark")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--override", action="append", default=[], help="section.field=json, e.g. train.epochs=300")
    parser.add_argument("--json", type=Path, help="also write the report as JSON here")
    args = parser.parse_args(argv)

    sim = simulate(args.preset, seed=args.seed)
    panel, truth = sim.panel, sim.truth
    overrides = parse_overrides(args.override)
    overrides.setdefault("train", {}).setdefault("threads", args.threads)
    mmm = MMM(overrides=overrides)
    holdout = DEFAULT_HOLDOUT_WEEKS
    train = panel.slice_weeks(0, panel.n_weeks - holdout)
    print(f"panel {args.preset}: {panel.n_regions} regions x {panel.n_weeks} weeks x {panel.n_channels} channels "
          f"x {panel.n_controls} controls; holdout {holdout} weeks; threads {args.threads}", flush=True)

    start = time.perf_counter()
    mmm.fit(train)
    fit_s = time.perf_counter() - start
    result = mmm.train_result_
    report: dict = {"preset": args.preset, "seed": args.seed, "fit_seconds": round(fit_s, 2),
                    "epochs": result.epochs_run, "best_epoch": result.best_epoch,
                    "seconds_per_epoch": round(fit_s / max(result.epochs_run, 1), 4),
                    "peak_rss_mb": round(peak_rss_mb(), 1)}
    print(f"fit {fit_s:.1f} s, {result.epochs_run} epochs (best {result.best_epoch}), "
          f"{report['seconds_per_epoch'] * 1000:.1f} ms/epoch, peak RSS {report['peak_rss_mb']:.0f} MB", flush=True)

    evaluation = forecast_report(train, panel, mmm.predict(panel))

    ceiling = forecast_report(train, panel, truth.kpi_noiseless)["holdout_r2"]["model"]
    report["noise_ceiling_holdout"] = ceiling
    report["evaluation"] = {k: v for k, v in evaluation.items() if k != "table"}
    print("holdout R2:", json.dumps(evaluation.get("holdout_r2", evaluation), default=float), flush=True)
    print("noise ceiling (noiseless KPI) holdout:", json.dumps({k: round(v, 4) for k, v in ceiling.items()}), flush=True)

    table = mmm.contributions(train)
    truth_table = true_contributions(sim, train)
    observed, T = train.observed, train.n_weeks
    found = {(panel.channels.index(p), panel.channels.index(c)) for p, c in zip(mmm.dag()["parent"], mmm.dag()["child"])}
    report["recovery"] = {**recovery_scores(truth_table, table),
                          "media_share_true": float(truth_table["direct_contribution"].sum()
                                                    / truth.kpi_noiseless[:, :T][observed].sum()),
                          "media_share_model": float(table["direct_contribution"].sum() / mmm.predict(train)[observed].sum()),
                          "dag": dag_scores(truth.dag_adjacency, found)}
    # What the data allow: least squares that knows the true curves and graph (see mmm_core.simulation.recovery).
    oracle = oracle_contributions(sim, train)
    report["oracle_recovery"] = recovery_scores(truth_table, oracle)
    # ... and when the curves have to be learned too (maximum likelihood, no priors), as every model must.
    report["oracle_fitted_curves_recovery"] = recovery_scores(truth_table, oracle_contributions(sim, train, fit_curves=True))
    print("recovery:", json.dumps(report["recovery"]), flush=True)
    print("oracle (true equation, coefficients by least squares):", json.dumps(report["oracle_recovery"]), flush=True)
    print("oracle with fitted Hill curves (maximum likelihood):", json.dumps(report["oracle_fitted_curves_recovery"]),
          flush=True)
    print(table.set_index("channel")[["share", "roi"]]
          .assign(share_true=truth_table["share"].to_numpy(), roi_true=truth_table["roi"].to_numpy(),
                  share_oracle=oracle["share"].to_numpy(), roi_oracle=oracle["roi"].to_numpy()).round(4))
    report["peak_rss_mb"] = round(peak_rss_mb(), 1)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=float))
    return report


if __name__ == "__main__":
    main()
