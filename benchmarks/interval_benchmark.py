"""Coverage, sharpness and cost of the ensemble's intervals against ground truth (issue 17).

    .venv/bin/python benchmarks/interval_benchmark.py [--world flighted --world outside_mixed ...]
                     [--seeds 0,1,2] [--threads 1] [--members 16] [--epochs 150] [--set level_start_sd=0.5 ...]

Worlds: the own simulator's presets (``flighted``, ``sample``, ``benchmark``, ...), the outside generator
(``outside_<scenario>``) and ``pysimmmulator`` (``external_<scenario>``, ``make bench-deps``). Each world
and seed: the last 13 weeks held out, a point fit on the rest, then ``Ensemble.fit`` from it, the two
timed side by side. Printed per fit, and per world over (channel, seed) pairs:

- coverage: the share of channels whose 90 % (and 50 %) interval holds the true total contribution and
  the true ROI (target 80-97 % at 90 %);
- sharpness: median width of the 90 % ROI interval over the true ROI, separately for channels whose
  level the data measure (ROI prior weight < 0.5) and the others (always-on);
- holdout: the share of held-out observed region-weeks inside the 90 % prediction interval (target
  85-95 %), and the 50 % one; beside it ("point") the interval a refresh scores in ``model_metrics``: the
  point fit's forecast plus noise, without the members (``point_prediction_interval``);
- cost: the ensemble's wall time over the point fit's; the process's peak RSS at the end.
``--csv FILE`` writes each (world, seed, quantity, channel): truth, point estimate, 90 % interval and ROI prior
weight, to see which way the misses fall.
Never run in tests.
"""

from __future__ import annotations

import argparse
import dataclasses
import resource
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.stress_benchmark import world_panel  # noqa: E402
from mmm_core.analysis.backtest import DEFAULT_HOLDOUT_WEEKS  # noqa: E402
from mmm_core.model.ensemble import Ensemble, EnsembleConfig, point_prediction_interval  # noqa: E402
from mmm_core.model.estimator import MMM  # noqa: E402
from mmm_core.simulation.recovery import true_contributions  # noqa: E402
from mmm_core.simulation.simulator import simulate  # noqa: E402

LEVELS = (0.9, 0.5)
MEASURED_BELOW = 0.5
"""ROI prior weight under which a channel counts as one whose level the data measure."""


def world_truth(world: str, seed: int):
    """(full panel, function train panel -> true contribution table)."""
    if world.startswith(("outside_", "external_")):
        if world.startswith("outside_"):
            from mmm_core.simulation.outside import simulate_outside

            sim = simulate_outside(world.removeprefix("outside_"), seed)
        else:
            from benchmarks.external.pysimmmulator_adapter import simulate_pysimmmulator

            sim = simulate_pysimmmulator(world.removeprefix("external_"), seed)
        return sim.panel, sim.true_contributions
    sim = simulate(world, seed=seed)
    return sim.panel, lambda train: true_contributions(sim, train)


def run_one(world: str, seed: int, threads: int, config: EnsembleConfig) -> dict:
    panel, truth_of = world_truth(world, seed)
    start = panel.n_weeks - DEFAULT_HOLDOUT_WEEKS
    train = panel.slice_weeks(0, start)
    began = time.perf_counter()
    mmm = MMM(overrides={"train": {"threads": threads}}).fit(train)
    point_seconds = time.perf_counter() - began
    began = time.perf_counter()
    ensemble = Ensemble.fit(mmm, train, config)
    ensemble_seconds = time.perf_counter() - began
    truth = truth_of(train).set_index("channel")
    draws = ensemble.draws(train)
    row = {"world": world, "seed": seed, "point_s": point_seconds, "ensemble_s": ensemble_seconds}
    point = mmm.contributions(train).set_index("channel").loc[truth.index]
    held = panel.observed[:, start:]
    actual = panel.kpi[:, start:][held]
    for level in LEVELS:
        table = ensemble.contributions(train, level, draws).set_index("channel").loc[truth.index]
        for what in ("total_contribution", "roi"):
            inside = (table[f"{what}_lower"] <= truth[what]) & (truth[what] <= table[f"{what}_upper"])
            row[f"cover_{what}_{int(level * 100)}"] = inside.to_numpy()
            if level == 0.9:
                row[f"{what}_table"] = pd.DataFrame({
                    "world": world, "seed": seed, "what": what, "channel": truth.index, "truth": truth[what].to_numpy(),
                    "point": point[what].to_numpy(), "lower": table[f"{what}_lower"].to_numpy(),
                    "upper": table[f"{what}_upper"].to_numpy(), "roi_prior_weight": table["roi_prior_weight"].to_numpy()})
        if level == 0.9:
            width = ((table["roi_upper"] - table["roi_lower"]) / truth["roi"]).to_numpy()
            measured = table["roi_prior_weight"].to_numpy() < MEASURED_BELOW
            row["width_measured"], row["width_always_on"] = width[measured], width[~measured]
            inside = (table["roi_lower"] <= table["roi"]) & (table["roi"] <= table["roi_upper"])
            row["point_inside"] = bool(inside.all())
        lower, upper = ensemble.predict_interval(panel, level)
        row[f"holdout_{int(level * 100)}"] = float(((lower[:, start:][held] <= actual)
                                                    & (actual <= upper[:, start:][held])).mean())
        lower, upper = point_prediction_interval(mmm, train, panel, level)
        row[f"holdout_point_{int(level * 100)}"] = float(((lower[:, start:][held] <= actual)
                                                          & (actual <= upper[:, start:][held])).mean())
    return row


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--world", action="append")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--members", type=int, default=EnsembleConfig.members)
    parser.add_argument("--epochs", type=int, default=EnsembleConfig.epochs)
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="any other EnsembleConfig field, e.g. --set level_start_sd=1.5 (to measure a variant)")
    parser.add_argument("--csv", help="one row per (world, seed, quantity, channel): truth, point, 90 %% interval")
    args = parser.parse_args(argv)
    fields = {f.name: f.type for f in dataclasses.fields(EnsembleConfig)}
    settings = dict(item.split("=", 1) for item in args.set)
    unknown = sorted(set(settings) - set(fields))
    if unknown:
        parser.error(f"--set: EnsembleConfig has no field {unknown[0]!r} (fields: {', '.join(fields)})")
    config = EnsembleConfig(members=args.members, epochs=args.epochs,
                            **{k: (int if fields[k] in (int, "int") else float)(v) for k, v in settings.items()})
    rows = []
    median = lambda a: float(np.median(a)) if len(a) else float("nan")  # noqa: E731
    for world in args.world or ("flighted", "sample", "outside_flighted", "outside_mixed",
                                "outside_always_on_saturated"):
        mine = []
        for seed in args.seeds.split(","):
            r = run_one(world, int(seed), args.threads, config)
            mine.append(r)
            print(f"{world:<28} seed {seed}: cover total {r['cover_total_contribution_90'].mean():.2f} "
                  f"roi {r['cover_roi_90'].mean():.2f} (50 %: {r['cover_total_contribution_50'].mean():.2f} / "
                  f"{r['cover_roi_50'].mean():.2f}); ROI width measured {median(r['width_measured']):.2f} "
                  f"always-on {median(r['width_always_on']):.2f}; holdout {r['holdout_90']:.2f} "
                  f"(50 %: {r['holdout_50']:.2f}; point {r['holdout_point_90']:.2f} / {r['holdout_point_50']:.2f}); point inside {r['point_inside']}; "
                  f"{r['point_s']:.0f} s + {r['ensemble_s']:.0f} s (x{r['ensemble_s'] / r['point_s']:.2f})", flush=True)
        pooled = lambda key: float(np.concatenate([r[key] for r in mine]).mean())  # noqa: E731
        print(f"{world:<28} all: cover total {pooled('cover_total_contribution_90'):.2f} roi {pooled('cover_roi_90'):.2f} "
              f"(50 %: {pooled('cover_total_contribution_50'):.2f} / {pooled('cover_roi_50'):.2f}); ROI width "
              f"measured {median(np.concatenate([r['width_measured'] for r in mine])):.2f} always-on "
              f"{median(np.concatenate([r['width_always_on'] for r in mine])):.2f}; holdout "
              f"{np.mean([r['holdout_90'] for r in mine]):.2f} (50 %: {np.mean([r['holdout_50'] for r in mine]):.2f}; point "
              f"{np.mean([r['holdout_point_90'] for r in mine]):.2f} / {np.mean([r['holdout_point_50'] for r in mine]):.2f}); "
              f"cost x{np.median([r['ensemble_s'] / r['point_s'] for r in mine]):.2f}", flush=True)
        rows += mine
    if args.csv:
        pd.concat([r[f"{what}_table"] for r in rows for what in ("total_contribution", "roi")]).to_csv(args.csv, index=False)
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB", flush=True)
    return rows


if __name__ == "__main__":
    main()
