"""Forecasts when the held-out weeks buy media far beyond anything training saw (issue 16, item 5).

    .venv/bin/python benchmarks/stress_benchmark.py [--world stress --world outside_mixed ...]
                     [--seeds 0,1,2] [--threads 1]

Worlds: the own simulator's ``stress`` preset (20 regions x 156 weeks x 6 channels; the last 13 weeks buy
every channel at 2-5x its earlier level while the true Hill curves saturate) and ``flat_stress`` (the same
with media 2 % of the KPI), and the outside generator (``mmm_core.simulation.outside``, another function
family) with ``stress_weeks=13`` in its ``flighted``, ``mixed`` and ``always_on_saturated`` scenarios.

Each world and seed is fitted once on all but the stressed weeks; the same fit then forecasts them twice:
as shipped (activity read through ``transforms.soft_ceiling`` above each channel's training maximum) and
with the ceiling removed (the curves extrapolated as fitted). Printed per fit: holdout R² (pooled /
within-region / national) of both, beside every naive baseline (region mean, last 4 weeks, same week last
year) and the best of them; the national bias (sum of forecasts / sum of actuals - 1) of both; the median
ratio of held-out weekly activity to the training maximum. Then the means per world. Never run in tests.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mmm_core.analysis.backtest import DEFAULT_HOLDOUT_WEEKS  # noqa: E402
from mmm_core.analysis.metrics import forecast_report  # noqa: E402
from mmm_core.analysis.observed_range import ObservedRange  # noqa: E402
from mmm_core.data.contract import Panel  # noqa: E402
from mmm_core.model.estimator import MMM  # noqa: E402
from mmm_core.simulation.outside import simulate_outside  # noqa: E402
from mmm_core.simulation.simulator import simulate  # noqa: E402

VIEWS = ("pooled", "within_region", "national")


def world_panel(world: str, seed: int, stress_weeks: int = DEFAULT_HOLDOUT_WEEKS) -> Panel:
    """The full panel of ``world``: an own-simulator preset, ``outside_<scenario>`` (with ``stress_weeks``
    stressed weeks at the end) or ``external_<scenario>`` (pysimmmulator, ``make bench-deps``)."""
    if world.startswith("outside_"):
        return simulate_outside(world.removeprefix("outside_"), seed, stress_weeks=stress_weeks).panel
    if world.startswith("external_"):
        from benchmarks.external.pysimmmulator_adapter import simulate_pysimmmulator

        return simulate_pysimmmulator(world.removeprefix("external_"), seed).panel
    return simulate(world, seed=seed).panel


WORLDS = ("stress", "flat_stress", "outside_flighted", "outside_mixed", "outside_always_on_saturated")


def national_bias(panel: Panel, prediction: np.ndarray, start: int) -> float:
    """Sum of held-out forecasts over observed region-weeks / sum of actuals - 1."""
    held = panel.observed[:, start:]
    return float(prediction[:, start:][held].sum() / panel.kpi[:, start:][held].sum() - 1.0)


def run_one(world: str, seed: int, threads: int) -> dict:
    panel = world_panel(world, seed)
    start = panel.n_weeks - DEFAULT_HOLDOUT_WEEKS
    train = panel.slice_weeks(0, start)
    mmm = MMM(overrides={"train": {"threads": threads}})
    began = time.perf_counter()
    mmm.fit(train)
    seconds = time.perf_counter() - began
    capped = mmm.predict(panel)
    observed_range = ObservedRange.of(mmm, panel)
    held = panel.observed[:, start:]
    ratio = (panel.activity[:, start:] / np.where(observed_range.max_activity > 0, observed_range.max_activity,
                                                  np.inf)[:, None, :])[held]  # [N, C]
    mmm.net_.observed_activity_max.fill_(float("inf"))  # the same fit, curves extrapolated as fitted
    mmm._net64 = None
    uncapped = mmm.predict(panel)
    report, raw = forecast_report(train, panel, capped)["holdout_r2"], forecast_report(train, panel, uncapped)["holdout_r2"]
    naive = {k: v for k, v in report.items() if k != "model"}
    row = {"world": world, "seed": seed, "seconds": round(seconds, 1),
           "activity_ratio_median": round(float(np.median(ratio[ratio > 0])), 2),
           "bias": national_bias(panel, capped, start), "bias_uncapped": national_bias(panel, uncapped, start)}
    for view in VIEWS:
        row[view] = report["model"][view]
        row[f"{view}_uncapped"] = raw["model"][view]
        row[f"{view}_naive"] = max(v[view] for v in naive.values())
        for name, values in naive.items():
            row[f"{view}_{name}"] = values[view]
    return row


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--world", action="append", choices=WORLDS)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    rows = []
    for world in args.world or WORLDS:
        mine = [run_one(world, int(seed), args.threads) for seed in args.seeds.split(",")]
        for r in mine:
            print(f"{world:<28} seed {r['seed']}: activity x{r['activity_ratio_median']:.2f} of the training max; "
                  + "  ".join(f"{v} {r[v]:.3f} (uncapped {r[v + '_uncapped']:.3f}, naive {r[v + '_naive']:.3f})"
                              for v in VIEWS)
                  + f"  bias {r['bias']:+.3f} (uncapped {r['bias_uncapped']:+.3f})  {r['seconds']:.0f} s", flush=True)
        mean = lambda key: float(np.mean([r[key] for r in mine]))  # noqa: E731
        print(f"{world:<28} mean: " + "  ".join(f"{v} {mean(v):.3f} (uncapped {mean(v + '_uncapped'):.3f}, "
                                                f"naive {mean(v + '_naive'):.3f})" for v in VIEWS)
              + f"  bias {mean('bias'):+.3f} (uncapped {mean('bias_uncapped'):+.3f})", flush=True)
        rows += mine
    return rows


if __name__ == "__main__":
    main()
