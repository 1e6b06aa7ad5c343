"""Recovery scores and the oracle that says what a simulated panel lets any model recover."""

from dataclasses import replace

import numpy as np
import pytest

from mmm_core.simulation.recovery import dag_scores, oracle_contributions, recovery_scores, true_contributions
from mmm_core.simulation.simulator import PRESETS, simulate


def test_true_contributions_match_the_simulators_totals(tiny_simulation):
    sim = tiny_simulation
    table = true_contributions(sim, sim.panel)
    np.testing.assert_allclose(table["direct_contribution"], sim.truth.direct_contribution, rtol=1e-9)
    np.testing.assert_allclose(table["total_contribution"], sim.truth.total_contribution, rtol=1e-9)
    np.testing.assert_allclose(table["roi"], sim.truth.roi, rtol=1e-9)
    assert table["share"].sum() == pytest.approx(1.0)


def test_scores_are_perfect_against_itself_and_see_a_swap(tiny_simulation):
    truth = true_contributions(tiny_simulation, tiny_simulation.panel)
    assert recovery_scores(truth, truth) == {"share_mae_pp": 0.0, "roi_spearman": 1.0}
    swapped = truth.copy()
    swapped[["share", "roi"]] = truth[["share", "roi"]].to_numpy()[::-1]
    scores = recovery_scores(truth, swapped.iloc[::-1])  # order of rows does not matter, values do
    assert scores["share_mae_pp"] > 1.0 and scores["roi_spearman"] < 1.0


def test_oracle_is_exact_without_noise():
    # With a noiseless KPI the oracle's model is the simulator's equation: least squares returns the truth.
    sim = simulate(replace(PRESETS["tiny"], snr=float("inf"), n_regions=12), seed=3)
    train = sim.panel.slice_weeks(0, 91)
    truth, oracle = true_contributions(sim, train), oracle_contributions(sim, train)
    np.testing.assert_allclose(oracle["direct_contribution"], truth["direct_contribution"], rtol=2e-3)
    np.testing.assert_allclose(oracle["total_contribution"], truth["total_contribution"], rtol=2e-3)


def test_oracle_that_fits_the_curves_finds_them_without_noise():
    # Told everything but the Hill curves, maximum likelihood from the neutral start recovers them when
    # the KPI is noiseless: the curve-fitting yardstick measures noise and identifiability, not its optimiser.
    sim = simulate(replace(PRESETS["tiny"], snr=float("inf"), n_regions=12), seed=3)
    train = sim.panel.slice_weeks(0, 91)
    truth = true_contributions(sim, train)
    fitted = oracle_contributions(sim, train, fit_curves=True)
    np.testing.assert_allclose(fitted["direct_contribution"], truth["direct_contribution"], rtol=1e-2)
    start = oracle_contributions(sim, train, fit_curves=True, curve_iterations=0)
    assert recovery_scores(truth, start)["share_mae_pp"] > 10 * recovery_scores(truth, fitted)["share_mae_pp"]


def test_oracle_with_noise_is_close_but_not_exact(tiny_simulation):
    train = tiny_simulation.panel.slice_weeks(0, 91)
    scores = recovery_scores(true_contributions(tiny_simulation, train), oracle_contributions(tiny_simulation, train))
    assert 0.0 < scores["share_mae_pp"] < 15.0


def test_dag_scores():
    truth = np.zeros((3, 3))
    truth[0, 1] = 0.4
    assert dag_scores(truth, {(0, 1)})["f1"] == 1.0
    reversed_edge = dag_scores(truth, {(1, 0)})
    assert (reversed_edge["precision"], reversed_edge["recall"], reversed_edge["f1"]) == (0.0, 0.0, 0.0)
    assert dag_scores(truth, {(0, 1), (0, 2)})["precision"] == 0.5
    assert dag_scores(np.zeros((3, 3)), set())["f1"] == 1.0
