"""Attribution with and without lift tests, against ground truth (issue 18).

    .venv/bin/python benchmarks/experiment_benchmark.py [--world sample --world outside_always_on_saturated ...]
                     [--seeds 0,1,2] [--threads 1] [--biased]

Worlds: the own simulator's presets (``sample``, ``benchmark``, ...) and the outside generator
(``outside_<scenario>``), which shares no code with the model. Each world and seed, on the whole panel:

1. a fit without experiments; the channels it leaves to the ROI prior (``roi_prior_weight`` >= 0.5: those
   whose level the data cannot measure) are the ones an analyst would test;
2. one simulated geo test per such channel (``simulation.experiments``: ~20 % of regions, 4-8 weeks,
   spend × 0.5 or × 1.5 (``--holdout``: × 0), a 4-week cool-down, measured at the standard error of a read against the other
   regions, or with ``--relative-se s`` at s times the true lift: a test powered to that precision);
3. a fit with those tests. Printed for both: share MAE (pp), ROI Spearman, the largest relative ROI error
   over the tested channels; beside the spend-share guess; for the tests, the model's lift over the true
   lift and the z-score against the measured lift;
4. with ``--biased``: the first test's measured lift × 2 (its standard error as stated): the largest
   relative ROI change of the other channels against fit 3, that test's z-score, and its z-score for a fit
   on the other tests only (the leave-one-out z the experiments check reads).
With ``--ratio-oracle`` nothing is fitted: each channel gets one planned test (noiseless), and the script prints
each channel's true ratio rho = ROI / the test's incremental ROI (``LiftTest.spend_change``: the chord of the curve
over the tested range), and the share MAE of reading every channel's contribution as its incremental ROI × its
spend (any common rho gives the same shares; shares of the tested channels' total) over the channels with a test (a flighted channel dark in its test
weeks has none): what the tests alone can tell where every channel is tested.
Never run in tests.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mmm_core.model.estimator import MMM  # noqa: E402
from mmm_core.simulation.experiments import (SPEND_MULTIPLIERS, outside_lift_tests,  # noqa: E402
                                             simulation_lift_tests)
from mmm_core.simulation.recovery import true_contributions  # noqa: E402
from mmm_core.simulation.simulator import simulate  # noqa: E402

TESTED_ABOVE = 0.5
"""ROI prior weight from which a channel is one the data cannot measure, and gets a test."""


def world(name: str, seed: int, relative_se: float | None, multipliers: tuple[float, ...] = SPEND_MULTIPLIERS):
    """(panel, true contribution table, function channels -> SimulatedLiftTests)."""
    if name.startswith("outside_"):
        from mmm_core.simulation.outside import simulate_outside

        sim = simulate_outside(name.removeprefix("outside_"), seed)
        return (sim.panel, sim.true_contributions(),
                lambda channels: outside_lift_tests(sim, channels, seed, relative_se, multipliers))
    sim = simulate(name, seed=seed)
    return (sim.panel, true_contributions(sim, sim.panel),
            lambda channels: simulation_lift_tests(sim, channels, relative_se=relative_se, multipliers=multipliers))


def scores(truth: pd.DataFrame, table: pd.DataFrame, tested: list[str]) -> dict:
    est = table.set_index("channel").loc[truth.index]
    roi_error = (est["roi"] / truth["roi"] - 1.0).abs()
    return {"share_mae_pp": float((est["share"] - truth["share"]).abs().mean() * 100),
            "roi_spearman": float(spearmanr(est["roi"], truth["roi"]).statistic),
            "tested_roi_error": float(roi_error.loc[tested].max()) if tested else float("nan"),
            "roi": est["roi"].to_dict()}


def run_one(name: str, seed: int, threads: int, biased: bool, relative_se: float | None = None,
            multipliers: tuple[float, ...] = SPEND_MULTIPLIERS) -> dict:
    panel, truth, lift_tests_for = world(name, seed, relative_se, multipliers)
    truth = truth.set_index("channel")
    spend_share = truth["spend"] / truth["spend"].sum()
    row = {"world": name, "seed": seed,
           "guess_share_mae_pp": float((spend_share - truth["share"]).abs().mean() * 100)}
    overrides = {"train": {"threads": threads}}
    began = time.perf_counter()
    plain = MMM(overrides=overrides).fit(panel)
    row["plain_s"] = time.perf_counter() - began
    table = plain.contributions(panel)
    tested = table.loc[table["roi_prior_weight"] >= TESTED_ABOVE, "channel"].tolist()
    row["tested"] = tested
    row["without"] = scores(truth, table, tested)
    if not tested:
        return row
    simulated = lift_tests_for(tested)
    began = time.perf_counter()
    calibrated = MMM(overrides=overrides).fit(panel, lift_tests=simulated.tests)
    row["with_s"] = time.perf_counter() - began
    row["with"] = scores(truth, calibrated.contributions(panel), tested)
    lifts = calibrated.lift_tests(panel)
    row["model_over_true_lift"] = (lifts["model_lift"].to_numpy() / simulated.true_lift).round(3).tolist()
    row["plain_over_true_lift"] = (plain.lift_tests(panel, simulated.tests)["model_lift"].to_numpy()
                                   / simulated.true_lift).round(3).tolist()
    row["z"] = lifts["z"].round(2).tolist()
    row["true_over_se"] = (simulated.true_lift / np.array([t.lift_se for t in simulated.tests])).round(2).tolist()
    if biased:
        bad = simulated.biased(simulated.tests[0].experiment, 2.0)
        fit = MMM(overrides=overrides).fit(panel, lift_tests=bad.tests)
        others = [c for c in truth.index if c != bad.tests[0].channel]
        roi = fit.contributions(panel).set_index("channel")["roi"]
        base = pd.Series(row["with"]["roi"])
        row["biased_other_roi_change"] = float((roi.loc[others] / base.loc[others] - 1.0).abs().max())
        row["biased_z"] = float(fit.lift_tests(panel)["z"].iloc[0])
        without = MMM(overrides=overrides).fit(panel, lift_tests=bad.tests[1:])  # leave the biased test out
        row["biased_loo_z"] = float(without.lift_tests(panel, bad.tests[:1])["z"].iloc[0])
    return row


def ratio_oracle(name: str, seed: int) -> dict:
    """The true rho per channel and the common-ratio reading's share MAE (module docstring), no fit."""
    panel, truth, lift_tests_for = world(name, seed, relative_se=0.25)
    truth = truth.set_index("channel")
    simulated = lift_tests_for(list(panel.channels))
    change = {t.channel: (t.spend_change(panel), lift) for t, lift in zip(simulated.tests, simulated.true_lift)}
    change = {c: v for c, v in change.items() if v[0] != 0}  # a flighted channel dark over its test weeks: no test
    channels = list(change)
    incremental_roi = pd.Series([lift / spend for spend, lift in change.values()], index=channels)
    contribution = incremental_roi * truth.loc[channels, "spend"]
    share = contribution / contribution.sum()
    true_share = truth.loc[channels, "share"] / truth.loc[channels, "share"].sum()  # over the tested channels
    spend_share = truth["spend"] / truth["spend"].sum()
    return {"world": name, "seed": seed, "rho": (truth.loc[channels, "roi"] / incremental_roi).round(2).to_dict(),
            "common_ratio_share_mae_pp": float((share - true_share).abs().mean() * 100),
            "guess_share_mae_pp": float((spend_share - truth["share"]).abs().mean() * 100)}


def _line(row: dict) -> str:
    without = row["without"]
    text = (f"{row['world']:<28} seed {row['seed']}: guess {row['guess_share_mae_pp']:.2f} pp | without "
            f"{without['share_mae_pp']:.2f} pp rho {without['roi_spearman']:.2f} tested-ROI err "
            f"{without['tested_roi_error']:.2f}")
    if "with" in row:
        w = row["with"]
        text += (f" | with {w['share_mae_pp']:.2f} pp rho {w['roi_spearman']:.2f} tested-ROI err "
                 f"{w['tested_roi_error']:.2f} | tested {row['tested']} model/true lift "
                 f"{row['model_over_true_lift']} (plain {row['plain_over_true_lift']}) z {row['z']} "
                 f"true/se {row['true_over_se']}")
    if "biased_z" in row:
        text += (f" | biased: others' ROI moved {row['biased_other_roi_change']:.3f}, z {row['biased_z']:.1f}, "
                 f"left out z {row['biased_loo_z']:.1f}")
    return text + f" [{row['plain_s']:.0f} s]"


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--world", action="append", default=None)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--biased", action="store_true")
    parser.add_argument("--relative-se", type=float, default=None,
                        help="tests read to this share of their true lift (powered tests); default: the standard "
                             "error of the planned test against a control group of the other regions")
    parser.add_argument("--holdout", action="store_true",
                        help="geo holdouts (spend x 0 in the test cells) instead of spend x 0.5 / x 1.5")
    parser.add_argument("--ratio-oracle", action="store_true",
                        help="fit nothing: each channel's true ROI / incremental ROI of its test, and the share MAE of "
                             "reading the tests with one common ratio")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows here")
    args = parser.parse_args(argv)
    worlds = args.world or ["sample", "outside_always_on_linear", "outside_always_on_saturated"]
    if args.ratio_oracle:
        rows = [ratio_oracle(name, int(s)) for name in worlds for s in args.seeds.split(",")]
        for row in rows:
            print(f"{row['world']:<28} seed {row['seed']}: common-ratio reading {row['common_ratio_share_mae_pp']:.2f} pp "
                  f"(guess {row['guess_share_mae_pp']:.2f}); rho {row['rho']}", flush=True)
        return rows
    rows = []
    for name in worlds:
        for seed in (int(s) for s in args.seeds.split(",")):
            row = run_one(name, seed, args.threads, args.biased, args.relative_se,
                          (0.0,) if args.holdout else SPEND_MULTIPLIERS)
            print(_line(row), flush=True)
            rows.append(row)
        done = [r for r in rows if r["world"] == name]
        summary = {k: np.mean([r[k]["share_mae_pp"] for r in done if k in r]) for k in ("without", "with")}
        print(f"{name}: mean share MAE without {summary['without']:.2f} pp, with {summary['with']:.2f} pp, "
              f"guess {np.mean([r['guess_share_mae_pp'] for r in done]):.2f} pp", flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1, default=str))
    return rows


if __name__ == "__main__":
    main()
