"""Wall time and quality of the budget optimiser at the package's example size (13 channels × 190 regions).

    .venv/bin/python benchmarks/budget_benchmark.py [--regions 190] [--channels 13] [--seed 0] [--with-model]

Hill curves are drawn at random (slopes 0.6 .. 2.5, so some are S-shaped; current spend around the
half-saturation), one per region-channel. For every method it prints the wall time, whether it converged,
the response gain over the current allocation, and the gap to the best method; national allocation on
the summed curves is timed too. Bounds: each region-channel 0.5 .. 2 × current; a second run adds
region bounds 0.8 .. 1.25 × current region total. Budget = current total.

``--with-model`` also times the model side on the ``benchmark`` preset (190 × 109 × 13): a briefly trained
model (timings do not depend on fit quality), then ``response_curves`` (forward passes + 13 + 2470 Hill fits)
and ``plan_scenarios`` (3 scenarios × national and region × channel, each re-run through the model).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from mmm_core.planning.budget import METHODS, ResponseCurve, optimise_budget, optimise_region_budget
from mmm_core.planning.constraints import SpendBounds


def random_curves(n_regions: int, n_channels: int, seed: int) -> list[ResponseCurve]:
    rng = np.random.default_rng(seed)
    size = rng.lognormal(0.0, 0.8, n_regions)  # region size
    curves = []
    for r in range(n_regions):
        for c in range(n_channels):
            current = 1000.0 * size[r] * rng.uniform(0.5, 2.0)
            curves.append(ResponseCurve(f"ch{c:02d}", top=current * rng.uniform(0.5, 4.0), bottom=0.0,
                                        half_saturation=current * rng.uniform(0.4, 2.5),
                                        slope=rng.uniform(0.6, 2.5), current_spend=current, region=f"r{r:03d}"))
    return curves


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--regions", type=int, default=190)
    parser.add_argument("--channels", type=int, default=13)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--with-model", action="store_true")
    args = parser.parse_args()
    if args.with_model:
        time_model_side(args.seed)
    curves = random_curves(args.regions, args.channels, args.seed)
    budget = sum(c.current_spend for c in curves)
    bounds = SpendBounds(0.5, 2.0)
    print(f"{args.regions} regions × {args.channels} channels = {len(curves)} variables, budget {budget:,.0f}")
    for label, region_bounds in (("no region bounds", None), ("region bounds 0.8-1.25", SpendBounds(0.8, 1.25))):
        print(f"\nregion × channel, {label}")
        print(f"{'method':<24}{'wall_s':>8}  converged  {'gain_vs_current':>16}  {'gap_to_best':>12}")
        results = {}
        for method in METHODS:
            started = time.perf_counter()
            results[method] = optimise_region_budget(budget, curves, bounds, region_bounds, method=method,
                                                     seed=args.seed)
            results[method] = (results[method], time.perf_counter() - started)
        best = max(r.response_optimal for r, _ in results.values())
        for method, (r, wall) in results.items():
            print(f"{method:<24}{wall:>8.2f}  {r.converged!s:<9}  {r.response_change_share:>15.3%}  "
                  f"{r.response_optimal / best - 1:>12.4%}")

    # national: one summed curve per channel (Hill fitted to nothing here: sum of region curves tabulated)
    from mmm_core.planning.budget import TabulatedCurve
    names = sorted({c.channel for c in curves})
    national = []
    for name in names:
        mine = [c for c in curves if c.channel == name]
        current = sum(c.current_spend for c in mine)
        grid = np.linspace(0.0, 3.0, 31)
        values = [sum(float(c.response(m * c.current_spend)) for c in mine) for m in grid]
        national.append(TabulatedCurve(name, grid * current, np.array(values), current))
    print(f"\nnational, {len(names)} channels (uniform multipliers across regions)")
    for method in METHODS:
        started = time.perf_counter()
        r = optimise_budget(budget, national, bounds, method=method, seed=args.seed)
        print(f"{method:<24}{time.perf_counter() - started:>8.2f}  {r.converged!s:<9}  {r.response_change_share:>15.3%}")


def time_model_side(seed: int) -> None:
    from mmm_core.planning.constraints import BudgetScenario
    from mmm_core.analysis.curves import DEFAULT_PLANNING_WEEKS, response_curves
from mmm_core.planning.scenarios import plan_scenarios
    from mmm_core.model.estimator import MMM
    from mmm_core.simulation.simulator import simulate

    panel = simulate("benchmark", seed=seed).panel
    model = MMM(overrides={"train": {"seed": seed, "epochs": 5, "min_epochs": 1, "device": "cpu"}}).fit(panel)
    started = time.perf_counter()
    curves = response_curves(model, panel, planning_weeks=DEFAULT_PLANNING_WEEKS)
    curves_s = time.perf_counter() - started
    started = time.perf_counter()
    scenarios, _ = plan_scenarios(model, curves, [BudgetScenario.from_multiplier(m) for m in (0.8, 1.0, 1.2)])
    plan_s = time.perf_counter() - started
    print(f"model side, {panel.n_regions} regions × {panel.n_channels} channels: response_curves {curves_s:.1f} s "
          f"({len(curves.national) + len(curves.regional)} curves), plan_scenarios {plan_s:.1f} s")
    print(scenarios[["scenario", "scope", "wall_time_s", "converged"]].round(2).to_string(index=False))


if __name__ == "__main__":
    main()
