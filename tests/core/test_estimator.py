"""The MMM facade on the project's own simulator: forecasting that continues state, exact additivity,
save/load without pickle, counterfactual contributions, and the truth-recovery checks that stay fast
(DAG direction, a zero-media world, spend sensitivity); the recovery of shares and ROI ranks on a panel
whose channels are all measured and the sample-panel recovery check against the oracle are marked slow."""

import copy
import dataclasses
import json

import networkx as nx
import numpy as np
import pandas as pd
import pytest
import torch

from mmm_core.analysis.metrics import forecast_report
from mmm_core.model.dag import MIN_SUPPORT, prune_to_dag
from mmm_core.model.estimator import DAG_THRESHOLD, MMM, NotFittedError
from mmm_core.model.network import ModelConfig
from mmm_core.simulation.recovery import oracle_contributions, recovery_scores, true_contributions
from mmm_core.simulation.simulator import simulate
from mmm_core.model.training import TrainConfig

from tests.core.conftest import HOLDOUT, QUICK


def _split(panel):
    return panel.slice_weeks(0, panel.n_weeks - HOLDOUT)


@pytest.fixture(scope="module")
def fitted(tiny_fit, tiny_train, tiny_simulation):
    return tiny_fit, tiny_train, tiny_simulation


def test_predict_before_fit_raises(tiny_panel):
    with pytest.raises(NotFittedError):
        MMM().predict(tiny_panel)


def test_init_stores_settings_and_overrides_nest():
    mmm = MMM(model_config=ModelConfig(hidden_size=8), overrides={"train": {"epochs": 5}, "model": {"trend": False}})
    assert mmm.model_config.hidden_size == 8 and not hasattr(mmm, "net_")
    model_config, train_config = mmm._resolved_configs()
    assert (model_config.hidden_size, model_config.trend, train_config.epochs) == (8, False, 5)
    assert train_config.learning_rate == TrainConfig().learning_rate
    with pytest.raises(ValueError):
        MMM(overrides={"optimizer": {}})._resolved_configs()
    with pytest.raises(ValueError):
        MMM(overrides={"train": {"epoch": 5}})._resolved_configs()


def test_forecast_continues_the_training_state(fitted):
    mmm, train, sim = fitted
    full = sim.panel
    pred_train, pred_full = mmm.predict(train), mmm.predict(full)
    assert pred_full.shape == (full.n_regions, full.n_weeks)
    # causal: same weeks, same values (up to BLAS summation order on a longer array)
    np.testing.assert_allclose(pred_full[:, : train.n_weeks], pred_train, rtol=1e-12, atol=0)
    assert np.all(np.isfinite(pred_full))


def test_holdout_beats_every_naive_baseline(fitted):
    mmm, train, sim = fitted
    report = forecast_report(train, sim.panel, mmm.predict(sim.panel))
    r2 = report["holdout_r2"]
    for view in ("within_region", "national"):
        best_naive = max(r2[name][view] for name in ("region_mean", "last_4_weeks", "same_week_last_year"))
        assert r2["model"][view] > best_naive, (view, r2)
    assert {"split", "series", "view", "metric", "value"} <= set(report["table"].columns)


def test_decomposition_sums_to_the_prediction(fitted):
    mmm, train, sim = fitted
    d = mmm.decompose(sim.panel)
    assert d.max_relative_error() <= 1e-6
    np.testing.assert_allclose(d.prediction, mmm.predict(sim.panel), rtol=1e-12)
    assert set(d.component_kinds) == {"baseline", "trend", "seasonality", "control", "channel"}
    assert [c for c in d.components if c.startswith("channel:")] == [f"channel:{c}" for c in train.channels]


def test_contributions_table(fitted):
    mmm, train, sim = fitted
    table = mmm.contributions(train)
    assert list(table.columns) == ["channel", "spend", "direct_contribution", "total_contribution", "share", "roi",
                                   "direct_roi", "roi_prior_weight", "own_contribution", "mediated_contribution",
                                   "induced_contribution"]
    # flighted channels are seen at zero activity (ROI measured); the always-on one leans on the ROI prior
    pattern = dict((name, template.pattern) for name, template in sim.config.channels)
    weight = dict(zip(table["channel"], table["roi_prior_weight"]))
    assert all(weight[c] == 0.0 for c in weight if pattern[c] == "flighted"), weight
    assert all(0.3 < weight[c] <= 1.0 for c in weight if pattern[c] == "always_on"), weight
    off = MMM(overrides={"train": {**QUICK, "epochs": 5, "roi_pooling": 0.0}}).fit(train)
    assert (off.contributions(train)["roi_prior_weight"] == 0.0).all()  # no prior, no lean
    assert table["share"].sum() == pytest.approx(1.0)
    np.testing.assert_allclose(table["roi"], table["total_contribution"] / table["spend"])
    spend = np.where(train.observed[..., None], train.spend, 0).sum(axis=(0, 1))
    np.testing.assert_allclose(table["spend"], spend)
    d = mmm.decompose(train)
    np.testing.assert_allclose(table["direct_contribution"],
                               [d.channel(c)[train.observed].sum() for c in train.channels], rtol=1e-9)


def test_channel_parameters_are_in_range_and_the_dag_is_acyclic_and_matches_the_adjacency(fitted):
    mmm, train, _ = fitted
    params = mmm.channel_parameters()
    assert list(params.columns) == ["channel", "adstock_decay", "adstock_peak_lag", "adstock_tail",
                                    "hill_half_saturation", "hill_slope", "coefficient_max"]
    assert (params["adstock_decay"].between(0, 1)).all() and (params["hill_half_saturation"] > 0).all()
    assert params["adstock_tail"].between(1, 2).all()
    edges = mmm.dag(threshold=0.0)
    assert list(edges.columns) == ["parent", "child", "weight", "support"]
    assert set(edges.parent) | set(edges.child) <= set(train.channels) and (edges.parent != edges.child).all()
    assert list(edges.weight.abs()) == sorted(edges.weight.abs(), reverse=True)
    graph = nx.DiGraph(list(zip(edges.parent, edges.child)))
    assert nx.is_directed_acyclic_graph(graph)  # pruned to an exact DAG at any threshold
    reported = mmm.dag()  # default threshold: the edges the counterfactuals propagate along
    assert (reported.weight.abs() >= DAG_THRESHOLD).all() and set(zip(reported.parent, reported.child)) <= set(graph.edges)
    adjacency = mmm.adjacency()
    index = {c: i for i, c in enumerate(train.channels)}
    assert {(train.channels[p], train.channels[c]) for p, c in zip(*np.nonzero(adjacency))} == \
        set(zip(reported.parent, reported.child))
    for row in reported.itertuples():
        assert adjacency[index[row.parent], index[row.child]] == pytest.approx(row.weight, rel=1e-12)


def test_save_load_round_trip_is_exact(fitted, tmp_path):
    mmm, train, sim = fitted
    mmm.save(tmp_path / "model")
    files = sorted(p.name for p in (tmp_path / "model").iterdir())
    assert files == ["config.json", "weights.safetensors"]
    json.loads((tmp_path / "model" / "config.json").read_text())
    loaded = MMM.load(tmp_path / "model")
    np.testing.assert_array_equal(loaded.predict(sim.panel), mmm.predict(sim.panel))
    np.testing.assert_array_equal(loaded.decompose(train).values, mmm.decompose(train).values)
    np.testing.assert_array_equal(loaded.adjacency(), mmm.adjacency())
    np.testing.assert_array_equal(loaded.dag_support_, mmm.dag_support_)
    pd.testing.assert_frame_equal(loaded.dag(min_support=0.0), mmm.dag(min_support=0.0))


def test_the_dag_table_gives_each_edges_support_and_publishes_only_supported_edges(fitted):
    mmm, train, _ = fitted
    published, found = mmm.dag(), mmm.dag(min_support=0.0)
    assert list(published.columns) == ["parent", "child", "weight", "support"]
    assert found["support"].between(0.0, 1.0).all() and mmm.dag_support_.shape == (3, 3)
    assert set(zip(published.parent, published.child)) == {
        (row.parent, row.child) for row in found.itertuples() if row.support >= MIN_SUPPORT}


def _saved_without(mmm, folder, tensor):
    """``mmm`` saved to ``folder`` without one of its tensors (as written before it existed), loaded back."""
    from safetensors.torch import load_file, save_file

    mmm.save(folder)
    tensors = load_file(str(folder / "weights.safetensors"))
    del tensors[tensor]
    save_file(tensors, str(folder / "weights.safetensors"))
    return MMM.load(folder)


def test_a_model_saved_without_dag_edge_support_loads_with_support_unknown_and_keeps_its_edges(fitted, tmp_path):
    """Artefacts written before edge support existed: their graph was used as fitted, so it still is."""
    mmm, train, sim = fitted
    loaded = _saved_without(mmm, tmp_path / "before_support", "dag.support")
    as_fitted = prune_to_dag(mmm.net_.adjacency().detach().double().numpy(), DAG_THRESHOLD)
    np.testing.assert_array_equal(loaded.adjacency(), as_fitted)
    table = loaded.dag()
    assert len(table) == np.count_nonzero(as_fitted) and table["support"].isna().all()
    np.testing.assert_array_equal(loaded.predict(sim.panel), mmm.predict(sim.panel))


def test_a_model_saved_before_the_learned_adstock_tail_loads_with_its_own_kernel(tiny_simulation, tmp_path):
    train = _split(tiny_simulation.panel)
    old = MMM(overrides={"train": {**QUICK, "epochs": 5}, "model": {"adstock_learn_tail": False}}).fit(train)
    old.save(tmp_path / "old")
    config_path = tmp_path / "old" / "config.json"
    config = json.loads(config_path.read_text())
    del config["model_config"]["adstock_learn_tail"]  # as written before the option existed
    config_path.write_text(json.dumps(config))
    loaded = MMM.load(tmp_path / "old")
    assert loaded.model_config_.adstock_learn_tail is False
    np.testing.assert_array_equal(loaded.predict(train), old.predict(train))


def test_a_format_1_artefact_loads_and_predicts_the_same(fitted, tmp_path):
    """Artefacts written before the components owned their parameters, with options since removed."""
    from safetensors.torch import load_file, save_file

    from mmm_core.model.persistence import RENAMED_PARAMETERS_V1

    mmm, train, sim = fitted
    folder = mmm.save(tmp_path / "v1")
    old_names = {f"net.{new}": f"net.{old}" for old, new in RENAMED_PARAMETERS_V1.items()}
    tensors = {old_names.get(k, k): v for k, v in load_file(str(folder / "weights.safetensors")).items()}
    assert "net.hill_slope_raw" in tensors and "net.adstock_decay_raw" in tensors
    tensors["net.season_week_effect"] = torch.zeros(52)
    save_file(tensors, str(folder / "weights.safetensors"))
    config = json.loads((folder / "config.json").read_text())
    config["format_version"] = 1
    config["model_config"].update(seasonality_beside_media=False, season_week_effects=False)
    config["train_config"].update(warm_start=False, holdout_weeks=13, dag_weight=1.0, projection_every=0,
                                  attribution_prior_share=None, attribution_prior_weight=0.0)
    (folder / "config.json").write_text(json.dumps(config))
    loaded = MMM.load(folder)
    np.testing.assert_array_equal(loaded.predict(sim.panel), mmm.predict(sim.panel))
    pd.testing.assert_frame_equal(loaded.channel_parameters(), mmm.channel_parameters())


def test_spend_sensitivity_follows_the_truth(fitted):
    """Doubling TV's own activity: predicted KPI moves in the true direction and roughly the true size."""
    mmm, train, sim = fitted
    truth = sim.truth
    T = train.n_weeks
    own = truth.own_activity.copy()
    own[..., truth.channel_index("tv")] *= 2.0
    true_lift = (truth.kpi_noiseless_for(own) - truth.kpi_noiseless)[:, :T][train.observed].sum()
    model_lift = (mmm.predict_counterfactual(train, "tv", 2.0) - mmm.predict(train))[train.observed].sum()
    assert true_lift > 0 and model_lift > 0
    assert 0.5 < model_lift / true_lift < 2.0, (model_lift, true_lift)


def test_strong_dag_edge_is_found_in_the_right_direction():
    sim = simulate("strong_dag_edge", seed=0)
    mmm = MMM(overrides={"train": {**QUICK, "epochs": 200}}).fit(_split(sim.panel))
    edges = {(p, c) for p, c in zip(mmm.dag()["parent"], mmm.dag()["child"])}
    assert ("tv", "search") in edges
    assert ("search", "tv") not in edges
    assert mmm.dag()["support"].iloc[0] >= MIN_SUPPORT
    assert not any("radio" in edge for edge in edges)
    # The edge does work: removing TV also removes the search activity it caused.
    media = mmm.counterfactual_media(_split(sim.panel), "tv")
    observed = mmm._inputs(_split(sim.panel)).media.numpy()
    assert media[..., 1].sum() < 0.95 * observed[..., 1].sum()
    np.testing.assert_array_equal(media[..., 2], observed[..., 2])


def test_where_no_channels_level_is_measured_the_media_share_follows_the_stated_prior_not_the_start():
    """Every channel always-on (the outside generator's saturated scenario): the data do not say how much of the
    KPI media carry. Started at 5 % or 20 % of the KPI, both fits land at the default prior's median (without the
    prior they stayed near their starts: 4 % and 11 %); a prior the user states (mean 15 %, sd 5 %) moves them there."""
    from mmm_core.model.priors import lognormal_log_parameters
    from mmm_core.simulation.outside import simulate_outside

    panel = simulate_outside("always_on_saturated", 0, n_regions=6, n_weeks=104, n_channels=3).panel
    kpi = np.where(panel.observed, panel.kpi, 0.0).sum()

    def media_share(model: dict, train: dict) -> float:
        mmm = MMM(overrides={"train": {**QUICK, **train}, "model": model}).fit(panel)
        assert (mmm.contributions(panel)["roi_prior_weight"] > 0.5).all()
        d = mmm.decompose(panel)
        return d.values[..., [k == "channel" for k in d.component_kinds]].sum() / kpi

    default = [media_share({"media_init_share": start}, {}) for start in (0.05, 0.2)]
    assert default == pytest.approx([np.exp(lognormal_log_parameters(0.4, 0.2)[0])] * 2, rel=0.1), default
    stated = media_share({"media_init_share": 0.05}, {"media_share_prior_mean": 0.15, "media_share_prior_sd": 0.05})
    assert stated == pytest.approx(np.exp(lognormal_log_parameters(0.15, 0.05)[0]), rel=0.1)


def test_zero_media_world_gets_a_media_share_near_zero():
    sim = simulate("zero_media", seed=0)
    train = _split(sim.panel)
    mmm = MMM(overrides={"train": QUICK}).fit(train)
    d = mmm.decompose(train)
    media = d.values[..., [k == "channel" for k in d.component_kinds]].sum()
    assert abs(media) / d.prediction[train.observed].sum() < 0.05


def _recovery(sim, train, mmm):
    truth = true_contributions(sim, train)
    return recovery_scores(truth, mmm.contributions(train)), recovery_scores(truth, oracle_contributions(sim, train))


@pytest.mark.slow  # one fit with the default config on 40 regions x 143 weeks: ~53 s alone, over a tenth of make test
def test_recovers_the_truth_where_the_data_measure_every_channel():
    """Acceptance check of the issue (shares within 2 pp, ROI ranking >= 0.8, holdout near the noise
    ceiling) on a panel whose channels all run in flights, so each channel's level is in the data."""
    sim = simulate("flighted", seed=0)
    train = _split(sim.panel)
    mmm = MMM(overrides={"train": {"threads": 1}}).fit(train)
    model, oracle = _recovery(sim, train, mmm)
    assert model["share_mae_pp"] <= 2.0, (model, oracle)
    assert model["roi_spearman"] >= 0.8, (model, oracle)
    ceiling = forecast_report(train, sim.panel, sim.truth.kpi_noiseless)["holdout_r2"]["model"]["pooled"]
    assert forecast_report(train, sim.panel, mmm.predict(sim.panel))["holdout_r2"]["model"]["pooled"] >= ceiling - 0.05


@pytest.mark.slow
def test_recovery_on_the_sample_panel_is_near_what_the_data_allow():
    """The sample panel has always-on channels whose level the data do not measure: even the oracle
    (true curves, graph and seasonal shape; least squares) misses the issue's targets on most seeds
    (seeds 0-4: 1.8 / 1.9 / 1.4 / 2.4 / 5.2 pp, Spearman 0.76 / 0.55 / 0.81 / 0.79 / -0.02). The model
    has to meet them or stay close to the oracle, on average over five seeds: on one seed the ROI rank
    correlation over 8 channels swings by ~0.15 with the order of the always-on channels that the ROI
    prior puts at one value (seed 0: 0.67 or 0.52 depending on differences in the fourth decimal)."""
    model_scores, oracle_scores = [], []
    for seed in range(5):
        sim = simulate("sample", seed=seed)
        train = _split(sim.panel)
        mmm = MMM(overrides={"train": {"threads": 2}}).fit(train)
        model, oracle = _recovery(sim, train, mmm)
        model_scores.append(model)
        oracle_scores.append(oracle)
        ceiling = forecast_report(train, sim.panel, sim.truth.kpi_noiseless)["holdout_r2"]["model"]["pooled"]
        assert forecast_report(train, sim.panel, mmm.predict(sim.panel))["holdout_r2"]["model"]["pooled"] >= ceiling - 0.05, seed
    mean = lambda scores, key: float(np.mean([s[key] for s in scores]))  # noqa: E731
    report = (model_scores, oracle_scores)
    assert mean(model_scores, "share_mae_pp") <= max(2.0, mean(oracle_scores, "share_mae_pp") + 1.0), report
    assert mean(model_scores, "roi_spearman") >= min(0.8, mean(oracle_scores, "roi_spearman") - 0.2), report


def test_load_of_a_truncated_or_missing_artefact_names_the_folder(fitted, tmp_path):
    model, _, _ = fitted
    folder = model.save(tmp_path / "m")
    weights = folder / "weights.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(ValueError, match=str(folder)):
        MMM.load(folder)
    with pytest.raises(ValueError, match="not a loadable model"):
        MMM.load(tmp_path / "nowhere")




def _with_channel(panel, name, activity, spend):
    """``panel`` with one more channel (activity and spend ``[R, T]``)."""
    from mmm_core.data.contract import Panel

    return Panel(regions=panel.regions, weeks=panel.weeks, channels=tuple(panel.channels) + (name,),
                 control_names=panel.control_names, kpi=panel.kpi, observed=panel.observed,
                 spend=np.concatenate([panel.spend, spend[..., None]], -1),
                 activity=np.concatenate([panel.activity, activity[..., None]], -1),
                 controls=panel.controls, population=panel.population)


def test_activity_far_beyond_the_training_maximum_barely_moves_the_forecast_and_training_weeks_are_untouched(fitted):
    """A forecast at 30x or 300x a channel's activity gives (nearly) the same KPI, where the curves as fitted
    differ: nothing in the data pins the curve up there. The training weeks never reach the ceiling, so
    their predictions are the same with and without it."""
    mmm, train, sim = fitted
    start = train.n_weeks
    tv = sim.panel.channels.index("tv")

    def scaled(factor):
        activity = sim.panel.activity.copy()
        activity[:, start:, tv] *= factor
        return dataclasses.replace(sim.panel, activity=activity)

    at_30, at_300 = mmm.predict(scaled(30.0))[:, start:], mmm.predict(scaled(300.0))[:, start:]
    ceiling = mmm.net_.observed_activity_max.clone()
    mmm.net_.observed_activity_max.fill_(float("inf"))
    mmm._net64 = None
    try:
        raw_30, raw_300 = mmm.predict(scaled(30.0))[:, start:], mmm.predict(scaled(300.0))[:, start:]
        unbounded_train = mmm.predict(train)
    finally:
        mmm.net_.observed_activity_max.copy_(ceiling)
        mmm._net64 = None
    assert np.abs(at_300 - at_30).max() < 0.01 * np.abs(raw_300 - raw_30).max()
    np.testing.assert_array_equal(mmm.predict(train), unbounded_train)
    assert torch.isfinite(ceiling).all()


def test_the_same_activity_per_capita_buys_the_same_kpi_per_capita_in_every_region(fitted):
    """The shared part of a media coefficient is one effect per person (``scaling.per_capita_region_scale``): with
    the region deviations and the modulation at zero, every region at each channel's mean activity per capita
    gets the same KPI per capita from it, although the regions sell different amounts per person."""
    mmm, train, sim = fitted
    net = copy.deepcopy(mmm.net_).double()
    with torch.no_grad():
        net.media_region.zero_()
    R, T, C = train.n_regions, 4, train.n_channels
    media_part = net.media_coefficient(torch.zeros(R, T, C, dtype=torch.float64)) * net.media_response(
        torch.ones(R, T, C, dtype=torch.float64))  # scaled activity 1: the same activity per capita everywhere
    kpi_per_capita = mmm.scaler_.kpi.scale / train.population
    assert np.ptp(kpi_per_capita) > 0.1 * kpi_per_capita.mean()  # 2.49-3.02 per person here
    per_capita = media_part.detach().numpy()[:, -1] * kpi_per_capita[:, None]  # [R, C] KPI units per person
    np.testing.assert_allclose(per_capita, np.broadcast_to(per_capita[0], per_capita.shape), rtol=1e-6)  # float32 scale
    assert (per_capita > 0).all()


def test_a_model_saved_before_per_capita_media_coefficients_loads_as_it_was_fitted(fitted, tmp_path):
    """Saved before ``media_region_scale``: each region's coefficient was a share of its own KPI (scale 1)."""
    mmm, train, sim = fitted
    loaded = _saved_without(mmm, tmp_path / "before_per_capita", "net.media_region_scale")
    assert torch.equal(loaded.net_.media_region_scale, torch.ones(train.n_regions))
    assert not torch.allclose(mmm.net_.media_region_scale, torch.ones(train.n_regions))


def test_a_model_saved_before_the_activity_ceiling_loads_without_one(fitted, tmp_path):
    mmm, train, sim = fitted
    loaded = _saved_without(mmm, tmp_path / "before_ceiling", "net.observed_activity_max")
    assert torch.isinf(loaded.net_.observed_activity_max).all()
    np.testing.assert_array_equal(loaded.predict(train), mmm.predict(train))


def test_a_channel_with_a_negligible_budget_cannot_take_a_large_share(tiny_simulation):
    """A clone of TV's activity pattern bought with 1e-5 of TV's budget: scaled by its own mean it looks to
    the network exactly like TV, and without the ROI ceiling it took as much credit as TV itself."""
    panel = _split(tiny_simulation.panel)
    tv = panel.channels.index("tv")
    clone = _with_channel(panel, "clone", panel.activity[..., tv] * 1e-3, panel.spend[..., tv] * 1e-5)
    short = {**QUICK, "epochs": 200, "min_epochs": 80, "patience": 40}
    table = MMM(overrides={"train": short}).fit(clone).contributions(clone).set_index("channel")
    assert table.loc["clone", "share"] < 0.01
    assert table.loc["tv", "share"] > 0.2


def test_a_fit_given_another_fits_edge_support_uses_it_instead_of_measuring_its_own(fitted):
    """The bias refits reuse the point's support (their panels share its activity): the support given is the one
    published, and it prunes the graph (here: every edge unsupported, so none is kept)."""
    mmm, train, _ = fitted
    assert np.count_nonzero(mmm.adjacency()) > 0
    none_supported = np.zeros_like(mmm.dag_support_)
    refit = MMM(overrides={"train": {**QUICK, "epochs": 5, "min_epochs": 0}}).fit(train, dag_support=none_supported)
    np.testing.assert_array_equal(refit.dag_support_, none_supported)
    assert np.count_nonzero(refit.adjacency()) == 0 and refit.dag().empty
