"""The simulator's wider channel families (issue 16): Markov on/off flights, dark regions, demand-following
always-on spend and channel-graph edges with a lag. Each family shows its defining property, the truth
stays exact and additive on them, and the presets that existed before them draw exactly what they drew."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from mmm_core.simulation.config import PRESETS, SimulationConfig
from mmm_core.simulation.recovery import dag_scores, oracle_contributions, true_contributions
from mmm_core.simulation.simulator import simulate
from mmm_core.simulation.truth import propagate_graph


@pytest.fixture(scope="module")
def varied():
    return simulate("varied", seed=0)


def _pattern_of(truth, pattern: str) -> list[int]:
    return [c for c, p in enumerate(truth.media_patterns) if p.pattern == pattern]


def _independent_propagation(truth, own_index: np.ndarray) -> np.ndarray:
    """Total activity index ``[R, T, C]`` written out week by week, independently of ``truth.py``: a child's
    activity is its own plus, where it can run, each parent's total ``lag`` weeks earlier times the edge."""
    R, T, C = own_index.shape
    total = np.zeros_like(own_index)
    order = sorted(range(C), key=lambda c: _depth(truth.dag_adjacency, c))
    for t in range(T):
        for c in order:
            total[:, t, c] = own_index[:, t, c]
            for p in np.nonzero(truth.dag_adjacency[:, c])[0]:
                lag = int(truth.dag_lag[p, c])
                if t - lag >= 0:
                    total[:, t, c] += truth.media_available[:, t, c] * truth.dag_adjacency[p, c] * total[:, t - lag, p]
    return total


def _depth(adjacency: np.ndarray, c: int) -> int:
    parents = np.nonzero(adjacency[:, c])[0]
    return 0 if len(parents) == 0 else 1 + max(_depth(adjacency, int(p)) for p in parents)


# -- the preset -------------------------------------------------------------------------------------
def test_varied_preset_mixes_the_new_families(varied):
    config = PRESETS["varied"]
    assert (config.n_regions, config.n_weeks) == (20, 156) and 6 <= config.n_channels <= 8
    panel, truth = varied.panel, varied.truth
    assert panel.n_channels == config.n_channels
    patterns = {p.pattern for p in truth.media_patterns}
    assert {"markov", "markov_pulsed", "demand"} <= patterns
    assert (truth.dag_lag[truth.dag_adjacency != 0] > 0).any(), "at least one lagged edge"


def test_cli_writes_the_varied_preset_with_lagged_edges(tmp_path):
    import json

    from mmm_core.cli import main

    assert main(["simulate", "--preset", "varied", "--out", str(tmp_path / "varied")]) == 0
    saved = json.loads((tmp_path / "varied" / "truth.json").read_text())
    lags = {(e["parent"], e["child"]): e["lag_weeks"] for e in saved["dag"]["edges"]}
    assert any(lag > 0 for lag in lags.values())
    assert {c["name"]: c["pattern"] for c in saved["channels"]}["paid_search"] == "demand"


# -- (a) Markov on/off flights ----------------------------------------------------------------------
def test_markov_flights_switch_with_their_drawn_persistence():
    config = SimulationConfig(n_regions=8, n_weeks=520, n_channels=1, n_controls=0,
                              channel_kinds=("linear_tv",), dag_edges=())
    sim = simulate(config, seed=4)
    drawn = sim.truth.media_patterns[0]
    on = sim.panel.spend[..., 0].sum(axis=0) > 0  # [T] the national schedule
    stay_on = (on[1:] & on[:-1]).sum() / on[:-1].sum()
    stay_off = (~on[1:] & ~on[:-1]).sum() / (~on[:-1]).sum()
    assert stay_on == pytest.approx(drawn.stay_on, abs=0.08)
    assert stay_off == pytest.approx(drawn.stay_off, abs=0.08)
    # runs of zeros: dark stretches of several weeks, not single missing weeks
    starts = np.flatnonzero(~on[1:] & on[:-1]) + 1
    ends = np.flatnonzero(on[1:] & ~on[:-1]) + 1
    runs = [e - s for s in starts for e in ends[ends > s][:1]]
    assert np.mean(runs) == pytest.approx(1.0 / (1.0 - drawn.stay_off), rel=0.35)
    assert max(runs) >= 4


def test_markov_persistence_is_drawn_per_channel():
    config = SimulationConfig(n_regions=4, n_weeks=104, n_channels=3, n_controls=0,
                              channel_kinds=("linear_tv", "linear_tv", "local_radio"), dag_edges=())
    drawn = simulate(config, seed=1).truth.media_patterns
    assert len({round(p.stay_on, 6) for p in drawn}) == 3 and len({round(p.stay_off, 6) for p in drawn}) == 3


# -- (b) dark regions -------------------------------------------------------------------------------
def test_dark_regions_have_no_spend_and_no_activity(varied):
    panel, truth = varied.panel, varied.truth
    dark = panel.observed[..., None] & ~truth.media_available  # [R, T, C] observed, channel not bought
    assert dark.any()
    assert np.all(panel.spend[dark] == 0) and np.all(panel.activity[dark] == 0)
    # some channel is not bought at all in some region for the whole panel ...
    never = ~truth.media_available.any(axis=1)  # [R, C]
    assert never.any()
    r, c = np.argwhere(never)[0]
    assert panel.spend[r, :, c].sum() == 0 and panel.spend[:, :, c].sum() > 0
    # ... and a Markov-flighted channel is dark in some region for whole flights while others buy it
    tv = truth.channel_index("linear_tv")
    on_air = panel.spend[..., tv].sum(axis=0) > 0  # [T]
    sits_out = panel.observed & on_air[None, :] & ~truth.media_available[..., tv] & truth.media_available[..., tv].any(1)[:, None]
    assert sits_out.any()


def test_a_dark_child_gets_nothing_from_its_parent(varied):
    truth = varied.truth
    parents, children = np.nonzero(truth.dag_adjacency)
    dark_children = [(p, c) for p, c in zip(parents, children) if (~truth.media_available[..., c]
                                                                     & truth.observed).any()]
    assert dark_children, "the preset has an edge into a channel with dark regions"
    p, c = dark_children[0]
    dark = truth.observed & ~truth.media_available[..., c]
    parent_live = varied.panel.activity[..., p] > 0
    assert (dark & parent_live).any()
    assert np.all(varied.panel.activity[..., c][dark] == 0)


# -- (c) demand-following always-on spend ----------------------------------------------------------
def test_demand_following_spend_tracks_base_demand_with_its_lag(varied):
    truth = varied.truth
    per_capita_demand = truth.base_demand() / truth.population[:, None]  # [R, T]
    obs = truth.observed
    for c in _pattern_of(truth, "demand"):
        lag = truth.media_patterns[c].demand_lag
        assert lag >= 0
        own = truth.own_activity[..., c] / truth.population[:, None]  # [R, T] own spend/activity per capita
        shifted = np.concatenate([np.repeat(per_capita_demand[:, :1], lag, axis=1),
                                  per_capita_demand[:, :per_capita_demand.shape[1] - lag]], axis=1)
        live = obs & (own > 0)
        pooled = np.corrcoef(np.log(own[live]), np.log(shifted[live]))[0, 1]
        within = [np.corrcoef(own[r, live[r]], shifted[r, live[r]])[0, 1] for r in range(len(obs))]
        assert pooled > 0.8 and np.median(within) > 0.5
    # a plain always-on channel does not follow demand that way
    plain = _pattern_of(truth, "always_on")[0]
    own = truth.own_activity[..., plain] / truth.population[:, None]
    live = obs & (own > 0)
    assert np.corrcoef(np.log(own[live]), np.log(per_capita_demand[live]))[0, 1] < 0.5


# -- (d) channel-graph edges with a lag ----------------------------------------------------------------
def test_a_lagged_edge_moves_the_child_lag_weeks_later(varied):
    truth = varied.truth
    lagged = [(p, c) for p, c in zip(*np.nonzero(truth.dag_adjacency)) if truth.dag_lag[p, c] > 0]
    assert lagged
    own = truth.activity_index(truth.own_activity)
    graph = dict(edge_lag=truth.dag_lag, available=truth.media_available)
    base = propagate_graph(own, truth.dag_adjacency, **graph)
    for p, c in lagged:
        lag = int(truth.dag_lag[p, c])
        r = int(np.argmax(truth.media_available[:, 60:70, c].all(axis=1)))
        bumped = own.copy()
        bumped[r, 60, p] += 1.0  # one extra unit of the parent's activity in week 60 of region r
        change = propagate_graph(bumped, truth.dag_adjacency, **graph)[..., c] - base[..., c]  # [R, T]
        assert change[r, 60 + lag] == pytest.approx(truth.dag_adjacency[p, c], rel=1e-9)
        assert np.abs(change[r, :60 + lag]).max() == 0  # nothing before the lag: not the same week
        others = np.delete(change, r, axis=0)
        assert np.abs(others).max() == 0


def test_lagged_edges_count_as_true_edges(varied):
    truth = varied.truth
    edges = {(int(p), int(c)) for p, c in zip(*np.nonzero(truth.dag_adjacency))}
    lagged = {(p, c) for p, c in edges if truth.dag_lag[p, c] > 0}
    scores = dag_scores(truth.dag_adjacency, lagged)
    assert scores["precision"] == 1.0 and scores["recall"] == pytest.approx(len(lagged) / len(edges))


# -- the truth stays exact ----------------------------------------------------------------------------
def test_file_activity_is_own_activity_through_the_lagged_graph(varied):
    truth = varied.truth
    expected = _independent_propagation(truth, truth.activity_index(truth.own_activity))
    np.testing.assert_allclose(truth.activity_index(varied.panel.activity), expected, atol=1e-6)


def test_truth_stays_additive_on_the_new_families(varied):
    truth, obs = varied.truth, varied.truth.observed
    np.testing.assert_allclose(sum(truth.components().values()), truth.kpi_noiseless, rtol=1e-12)
    np.testing.assert_allclose(varied.kpi_noiseless(), truth.kpi_noiseless, rtol=1e-12)
    assert truth.direct_share.sum() == pytest.approx(1.0)
    for c, channel in enumerate(truth.channels):
        expected = (truth.kpi_noiseless - varied.counterfactual(channel))[obs].sum()
        assert truth.total_contribution[c] == pytest.approx(expected, rel=1e-9)
    # a lagged parent moves its child: total > direct for the parent, total < direct for the child
    p, c = next((p, c) for p, c in zip(*np.nonzero(truth.dag_adjacency)) if truth.dag_lag[p, c] > 0)
    assert truth.total_contribution[p] > truth.direct_contribution[p]
    assert truth.total_contribution[c] < truth.direct_contribution[c]


def test_oracle_is_exact_without_noise_on_the_varied_preset():
    sim = simulate(replace(PRESETS["varied"], snr=float("inf")), seed=2)
    train = sim.panel.slice_weeks(0, 143)
    truth, oracle = true_contributions(sim, train), oracle_contributions(sim, train)
    np.testing.assert_allclose(oracle["total_contribution"], truth["total_contribution"], rtol=2e-3)


# -- the presets that existed before are unchanged -----------------------------------------------------
PINNED = {  # float(panel.kpi.sum()), float(panel.spend.sum()), truth.roi, before the new families
    "tiny": (925806624.06, 92684377.05000001, [2.5393341121352546, 1.6801311083187358, 3.3852829881242092]),
    "strong_dag_edge": (1702452307.83, 170569605.85000002,
                        [3.4719968275924002, 1.493396464783035, 1.027704431531847]),
    "flighted": (6161478634.469999, 616159892.88,
                 [2.394243415897274, 3.3392886372923467, 2.637265485776868, 1.5452073262095325,
                  2.4173983566989143, 2.610514747320951]),
}


@pytest.mark.parametrize("name", sorted(PINNED))
def test_existing_presets_draw_what_they_drew(name):
    sim = simulate(name)
    kpi, spend, roi = PINNED[name]
    assert float(sim.panel.kpi.sum()) == pytest.approx(kpi, rel=1e-12)
    assert float(sim.panel.spend.sum()) == pytest.approx(spend, rel=1e-12)
    np.testing.assert_allclose(sim.truth.roi, roi, rtol=1e-10)
    assert not sim.truth.dag_lag.any()


def test_the_stress_preset_buys_every_channel_far_above_its_earlier_level_in_its_last_weeks():
    """The forecast stress case: own activity times 2-5 per channel in the last ``stress_weeks`` weeks, with
    the true curves saturating, so the media effect grows by less than the activity."""
    sim = simulate("stress", seed=1)
    config, truth, panel = sim.config, sim.truth, sim.panel
    start = panel.n_weeks - config.stress_weeks
    before = truth.own_activity[:, start - 26:start].mean(axis=(0, 1))
    during = truth.own_activity[:, start:].mean(axis=(0, 1))
    ratio = during / before
    assert np.all((ratio > 1.5) & (ratio < 7.0)), ratio
    effect = truth.direct_contribution_weekly
    lift = effect[:, start:].mean(axis=(0, 1)) / effect[:, start - 26:start].mean(axis=(0, 1))
    assert np.all(lift < ratio)
    assert PRESETS["flat_stress"].media_share < 0.05 and simulate("flat_stress", seed=1).truth.media_share < 0.05


def test_a_config_without_stress_draws_no_stress():
    plain = replace(PRESETS["tiny"], stress_weeks=0)
    np.testing.assert_array_equal(simulate(plain, seed=2).panel.kpi, simulate("tiny", seed=2).panel.kpi)
    with pytest.raises(ValueError):
        replace(PRESETS["tiny"], stress_weeks=60)
