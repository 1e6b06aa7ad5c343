"""Where a point fit's attribution error comes from: the noise, or the estimator itself (issue 17's misses).

    .venv/bin/python benchmarks/bias_benchmark.py [--world outside_flighted --world flighted ...] [--seeds 0,1,2]
                     [--refits 12] [--override train.l1=0 ...] [--threads 1]

Each world and seed (the last 13 weeks held out, as in ``interval_benchmark.py``), per channel, the fitted total
contribution over the true one:

- ``noisy``: the point fit on the panel as simulated;
- ``noiseless``: the same fit on the noiseless KPI (the own simulator at ``snr = inf``, the outside generator's KPI
  without its multiplicative noise; ``pysimmmulator`` has no noiseless KPI and is skipped). What stays here is
  the estimator's own bias on that world (its penalties, its function family against the generator's), which
  no resampling of the data can show;
- with ``--refits K``: K refits from scratch on a wild bootstrap of the noisy fit's residuals (KPI = the point
  fit's prediction plus its residuals with a random sign per region and 13-week block) and each its own
  initial seed: the parametric bootstrap of the whole estimator, start and early stopping included. Printed:
  the share of channels whose true total lies within the refits' central 90 % (what the widest honest
  resampling scheme around this estimator covers), and its median width over the truth; the basic bootstrap
  interval's coverage (those quantiles reflected about the point, log scale: what a bias the refits repeat
  would be corrected by) and the bias-corrected estimate (point^2 / the refits' geometric mean) over the truth.

The summary line per world: mean |log(fit / truth)| over (channel, seed), noisy, noiseless and bias-corrected,
and the refits' coverage. ``--override SECTION.FIELD=VALUE`` (e.g. ``train.l1=0``) applies to every fit. Never run in tests.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.fit_benchmark import parse_overrides  # noqa: E402
from benchmarks.interval_benchmark import world_truth  # noqa: E402
from mmm_core.analysis.backtest import DEFAULT_HOLDOUT_WEEKS  # noqa: E402
from mmm_core.data.contract import Panel  # noqa: E402
from mmm_core.model.ensemble import wild_bootstrap  # noqa: E402
from mmm_core.model.estimator import MMM  # noqa: E402

BLOCK_WEEKS = 13
"""Weeks per sign block of the wild bootstrap (one quarter, as the ensemble's Bayesian-bootstrap blocks)."""


def noiseless_kpi(world: str, seed: int) -> np.ndarray | None:
    """``[R, T]`` the world's KPI without its noise, or None where the generator does not give it."""
    if world.startswith("external_"):
        return None
    if world.startswith("outside_"):
        import inspect

        from mmm_core.simulation.outside import simulate_outside

        noise = inspect.signature(simulate_outside).parameters["noise"].default
        return simulate_outside(world.removeprefix("outside_"), seed).noise_sd / noise  # noise_sd = noise x noiseless
    from mmm_core.simulation.config import PRESETS
    from mmm_core.simulation.simulator import simulate

    return simulate(dataclasses.replace(PRESETS[world], snr=float("inf")), seed=seed).panel.kpi


def totals(overrides: dict, panel: Panel, channels) -> np.ndarray:
    """``[C]`` total contribution of ``channels`` from a fit of ``panel``."""
    return MMM(overrides=overrides).fit(panel).contributions(panel).set_index("channel").loc[channels][
        "total_contribution"].to_numpy()


def run_one(world: str, seed: int, refits: int, overrides: dict) -> dict:
    panel, truth_of = world_truth(world, seed)
    start = panel.n_weeks - DEFAULT_HOLDOUT_WEEKS
    train = panel.slice_weeks(0, start)
    truth = truth_of(train).set_index("channel")
    channels, true_total = list(truth.index), truth["total_contribution"].to_numpy()
    began = time.perf_counter()
    point = MMM(overrides=overrides).fit(train)
    row = {"world": world, "seed": seed, "channels": channels,
           "noisy": point.contributions(train).set_index("channel").loc[channels]["total_contribution"].to_numpy()
           / true_total}
    clean = noiseless_kpi(world, seed)
    if clean is not None:
        clean_train = train.replace(kpi=clean[:, :start])
        row["noiseless"] = totals(overrides, clean_train, channels) / truth_of(clean_train).set_index(
            "channel").loc[channels]["total_contribution"].to_numpy()
    if refits:
        rng = np.random.default_rng([seed, 41])
        draws = np.stack([totals({**overrides, "train": {**overrides.get("train", {}), "seed": k + 1}},
                                 wild_bootstrap(point, train, BLOCK_WEEKS, rng), channels) for k in range(refits)])
        lower, upper = np.quantile(draws, 0.05, axis=0), np.quantile(draws, 0.95, axis=0)
        row["refit_cover"] = (lower <= true_total) & (true_total <= upper)
        row["refit_width"] = (upper - lower) / true_total
        # the bootstrap's bias estimate applied: point^2 / geometric mean of the refits, and the basic
        # bootstrap interval (the refits' quantiles reflected about the point, on the log scale)
        point_total = row["noisy"] * true_total
        log_point, log_draws = np.log(point_total), np.log(draws)
        row["corrected"] = np.exp(2 * log_point - log_draws.mean(0)) / true_total
        basic_lower = np.exp(2 * log_point - np.quantile(log_draws, 0.95, axis=0))
        basic_upper = np.exp(2 * log_point - np.quantile(log_draws, 0.05, axis=0))
        row["basic_cover"] = (basic_lower <= true_total) & (true_total <= basic_upper)
    row["seconds"] = time.perf_counter() - began
    return row


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--world", action="append")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--refits", type=int, default=0, help="K wild-bootstrap refits from scratch (0: none)")
    parser.add_argument("--override", action="append", default=[], metavar="SECTION.FIELD=VALUE")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    overrides = parse_overrides(args.override)
    overrides.setdefault("train", {}).setdefault("threads", args.threads)
    rows = []
    log_error = lambda key, mine: float(np.mean(np.abs(np.log(np.concatenate([r[key] for r in mine])))))  # noqa: E731
    for world in args.world or ("flighted", "outside_flighted"):
        mine = []
        for seed in map(int, args.seeds.split(",")):
            r = run_one(world, seed, args.refits, overrides)
            mine.append(r)
            line = f"{world:<22} seed {seed}: fit / truth noisy {np.round(r['noisy'], 3)}"
            if "noiseless" in r:
                line += f" noiseless {np.round(r['noiseless'], 3)}"
            if "refit_cover" in r:
                line += (f"; refits cover {r['refit_cover'].mean():.2f} width {np.median(r['refit_width']):.2f}, "
                         f"basic {r['basic_cover'].mean():.2f}; bias-corrected / truth {np.round(r['corrected'], 3)}")
            print(f"{line} ({r['seconds']:.0f} s)", flush=True)
        summary = f"{world:<22} all: mean |log fit / truth| noisy {log_error('noisy', mine):.3f}"
        if all("noiseless" in r for r in mine):
            summary += f" noiseless {log_error('noiseless', mine):.3f}"
        if all("refit_cover" in r for r in mine):
            summary += (f"; refits cover {np.concatenate([r['refit_cover'] for r in mine]).mean():.2f} "
                        f"width {np.median(np.concatenate([r['refit_width'] for r in mine])):.2f}, basic "
                        f"{np.concatenate([r['basic_cover'] for r in mine]).mean():.2f}; bias-corrected "
                        f"{log_error('corrected', mine):.3f}")
        print(summary, flush=True)
        rows.extend(mine)
    return rows


if __name__ == "__main__":
    main()
