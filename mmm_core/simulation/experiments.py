"""Simulated lift tests: plan geo experiments on a simulated world and measure them against its truth.

``plan_lift_tests`` draws realistic geo tests (one per channel asked for: a random ~20 % of regions, 4-8
weeks in the panel's last year, spend × 0.5 or × 1.5, a 4-week cool-down). ``run_lift_tests`` measures them
on a world given as a function from an own-activity multiplier to its noiseless KPI: the true lift is the
noiseless KPI with the test's change minus the one without, summed over the test regions and the test plus
cool-down weeks; the measured lift adds one normal draw at the standard error of a test read against the
other regions as its control group, ``sqrt((1 + S / (R - S)) * sum over the cells of noise_sd**2)`` for S test
regions out of R (the test cells' noise plus that of a control S / (R - S) times as noisy; a national test,
read against its own past, counts its noise twice). ``simulation_lift_tests`` and ``outside_lift_tests`` do both for the project's
simulator and for the outside generator.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

import numpy as np

from mmm_core.data.contract import Panel
from mmm_core.data.experiments import LiftTest

REGION_SHARE = 0.2
"""Share of regions a geo test runs in (at least one)."""
TEST_WEEKS = (4, 8)
"""Shortest and longest test, weeks."""
SPEND_MULTIPLIERS = (0.5, 1.5)
"""The spend changes a test draws from (a cut or an increase by half)."""
COOLDOWN_WEEKS = 4
"""Weeks after a test over which its lift is still measured."""


@dataclass(frozen=True)
class SimulatedLiftTests:
    """Measured tests (``tests``: the lift is the noisy measurement, lift_se its standard error) and
    ``true_lift`` ``[E]`` (KPI units, noiseless)."""

    tests: tuple[LiftTest, ...]
    true_lift: np.ndarray

    def biased(self, experiment: str, factor: float) -> "SimulatedLiftTests":
        """The same tests with one experiment's measured lift × ``factor`` (a biased study, its standard
        error left as stated)."""
        tests = tuple(replace(t, lift=t.lift * factor) if t.experiment == experiment else t for t in self.tests)
        return SimulatedLiftTests(tests, self.true_lift)


def plan_lift_tests(panel: Panel, channels: tuple[str, ...] | list[str], seed: int,
                    multipliers: tuple[float, ...] = SPEND_MULTIPLIERS) -> tuple[LiftTest, ...]:
    """One geo test per channel in ``channels`` (module docstring), lift and lift_se still NaN. Tests run in the
    panel's last 52 weeks (or all of them) where the channel has spend in the test regions; each multiplies the
    spend by one of ``multipliers`` drawn at random (``(0.0,)``: geo holdouts)."""
    rng = np.random.default_rng([seed, 18])
    T, R = panel.n_weeks, panel.n_regions
    tests = []
    for channel in channels:
        c = panel.channels.index(channel)
        n_regions = max(1, int(round(REGION_SHARE * R)))
        spending = np.flatnonzero((panel.spend[..., c] > 0).sum(axis=1) > 0)
        rows = rng.choice(spending if len(spending) >= n_regions else np.arange(R), n_regions, replace=False)
        length = int(rng.integers(TEST_WEEKS[0], TEST_WEEKS[1] + 1))
        earliest = max(0, T - 52)
        start = int(rng.integers(earliest, T - length - COOLDOWN_WEEKS + 1))
        multiplier = float(rng.choice(multipliers))
        tests.append(LiftTest(f"geo_{channel}", channel, tuple(panel.regions[r] for r in sorted(rows)),
                              panel.weeks[start], panel.weeks[start + length - 1], COOLDOWN_WEEKS, multiplier,
                              float("nan"), float("nan")))
    return tuple(tests)


def run_lift_tests(plan: tuple[LiftTest, ...], panel: Panel, kpi_for: Callable[[np.ndarray], np.ndarray],
                   noise_sd: np.ndarray, seed: int, relative_se: float | None = None) -> SimulatedLiftTests:
    """Measure ``plan`` on a world: ``kpi_for(factor)`` is the noiseless KPI ``[R, T]`` with each channel's own
    activity × ``factor`` ``[R, T, C]``; ``noise_sd`` ``[R, T]`` the KPI noise's sd (KPI units). With
    ``relative_se`` the standard error is that share of the true lift's size instead: a test powered (by more
    regions or weeks than the plan's) to read its lift to that precision."""
    rng = np.random.default_rng([seed, 19])
    factual = kpi_for(np.ones((panel.n_regions, panel.n_weeks, panel.n_channels)))
    tests, truth = [], []
    for test in plan:
        rows, weeks, measured = test.cells(panel.regions, panel.weeks)
        factor = np.ones((panel.n_regions, panel.n_weeks, panel.n_channels))
        factor[np.ix_(rows, np.flatnonzero(weeks), [panel.channels.index(test.channel)])] = test.spend_multiplier
        cells = np.zeros((panel.n_regions, panel.n_weeks), dtype=bool)
        cells[np.ix_(rows, np.flatnonzero(measured))] = True
        cells &= panel.observed
        true = float((kpi_for(factor) - factual)[cells].sum())
        control = 1.0 + len(rows) / (panel.n_regions - len(rows)) if panel.n_regions > len(rows) else 2.0
        se = float(np.sqrt(control * np.square(np.broadcast_to(noise_sd, cells.shape))[cells].sum()))
        if relative_se is not None:
            se = relative_se * abs(true)
        tests.append(replace(test, lift=true + se * float(rng.normal()), lift_se=se))
        truth.append(true)
    return SimulatedLiftTests(tuple(tests), np.array(truth))


def simulation_lift_tests(sim, channels: tuple[str, ...] | list[str], seed: int | None = None,
                          relative_se: float | None = None,
                          multipliers: tuple[float, ...] = SPEND_MULTIPLIERS) -> SimulatedLiftTests:
    """Geo tests on a ``simulator.Simulation`` (its truth's equation; noise sd per region; ``relative_se`` as in
    ``run_lift_tests``, ``multipliers`` as in ``plan_lift_tests``)."""
    seed = sim.seed if seed is None else seed
    truth = sim.truth
    plan = plan_lift_tests(sim.panel, channels, seed, multipliers)
    return run_lift_tests(plan, sim.panel, lambda f: truth.kpi_noiseless_for(truth.own_activity * f),
                          truth.noise_sd[:, None], seed, relative_se)


def outside_lift_tests(sim, channels: tuple[str, ...] | list[str], seed: int, relative_se: float | None = None,
                       multipliers: tuple[float, ...] = SPEND_MULTIPLIERS) -> SimulatedLiftTests:
    """Geo tests on an ``outside.OutsideSimulation`` (its spend × the factor through its own curves; ``relative_se``
    and ``multipliers`` as in ``run_lift_tests`` and ``plan_lift_tests``)."""
    plan = plan_lift_tests(sim.panel, channels, seed, multipliers)
    return run_lift_tests(plan, sim.panel, lambda f: sim.media_kpi(sim.panel.spend * f), sim.noise_sd, seed,
                          relative_se)
