"""The ensemble (``mmm_core.model.ensemble``): members spread where the data leave a channel's level to the
prior and stay close where the data measure it, every member's decomposition adds up, intervals and
prediction intervals are well formed, curve bands and budget intervals are those of the members' own curves
and budgets, and an ensemble survives a save / load round trip."""

import copy
import dataclasses
import json

import numpy as np
import torch
import pytest
from scipy.stats import norm

from mmm_core.analysis.curves import model_response, response_curves
from mmm_core.model.ensemble import (INTERVAL_COLUMNS, Ensemble, EnsembleConfig, _jitter_media_level,
                                     bootstrap_weights, mixture_interval, noise_scale, widened_by_refits,
                                     wild_bootstrap)
from mmm_core.model.estimator import MMM
from mmm_core.model.priors import ROI_PRIOR_LOG_SD
from mmm_core.model.training import TrainConfig
from mmm_core.planning.constraints import BudgetScenario
from mmm_core.planning.scenarios import plan_scenarios

CONFIG = EnsembleConfig(members=6, epochs=60, bias_refits=0)
"""Members only: the bias refits have their own test."""


@pytest.fixture(scope="module")
def ensemble(tiny_fit, tiny_train, tiny_simulation):
    return Ensemble.fit(tiny_fit, tiny_train, CONFIG), tiny_train, tiny_simulation


def test_bootstrap_weights_are_blocks_of_one_draw_with_mean_one_over_observed_weeks():
    observed = np.ones((3, 30), dtype=bool)
    observed[1, :5] = False
    weight = bootstrap_weights(observed, 13, np.random.default_rng(0)).numpy()
    assert weight.shape == (3, 30)
    assert (weight[~observed] == 0).all() and (weight[observed] > 0).all()
    assert weight[observed].mean() == pytest.approx(1.0, rel=1e-6)
    assert np.unique(weight[0, :13]).size == 1 and np.unique(weight[0, 13:26]).size == 1
    assert weight[0, 0] != weight[0, 13]


def test_a_wild_bootstrap_flips_each_cells_residuals_with_one_sign_and_keeps_unobserved_weeks(tiny_fit, tiny_train):
    panel = tiny_train.replace(observed=tiny_train.observed.copy())
    panel.observed[0, :3] = False
    prediction = tiny_fit.predict(panel)
    drawn = wild_bootstrap(tiny_fit, panel, 13, np.random.default_rng(0))
    observed = panel.observed
    np.testing.assert_array_equal(drawn.kpi[~observed], panel.kpi[~observed])
    np.testing.assert_array_equal(drawn.spend, panel.spend)
    residual, flipped = panel.kpi - prediction, drawn.kpi - prediction
    kept = observed & (drawn.kpi > 0) & (np.abs(residual) > 1e-9 * np.abs(prediction))
    sign = np.where(kept, np.round(flipped / np.where(kept, residual, 1.0)), np.nan)
    assert set(np.unique(sign[kept])) == {-1.0, 1.0}
    for r in range(panel.n_regions):  # one sign per (region, 13-week block)
        for start in range(0, panel.n_weeks, 13):
            block = sign[r, start:start + 13]
            assert np.unique(block[~np.isnan(block)]).size <= 1


def test_bias_refits_widen_each_interval_on_both_sides_of_the_point_and_round_trip(ensemble, tmp_path):
    point, train = ensemble[0].point, ensemble[1]
    ens = Ensemble.fit(point, train, dataclasses.replace(CONFIG, members=4, epochs=20, bias_refits=2))
    assert set(ens.bias) == set(INTERVAL_COLUMNS)
    assert all(v.shape == (2, len(point.channels_)) and np.isfinite(v).all() for v in ens.bias.values())
    assert any(np.abs(v).max() > 0.01 for v in ens.bias.values())  # refits from scratch land elsewhere
    draws = ens.draws(train)
    plain = copy.copy(ens)
    plain.bias = None
    widened, before = ens.contributions(train, draws=draws), plain.contributions(train, draws=draws)
    for column in INTERVAL_COLUMNS:
        lower, upper = widened[f"{column}_lower"].to_numpy(), widened[f"{column}_upper"].to_numpy()
        lower0, upper0 = before[f"{column}_lower"].to_numpy(), before[f"{column}_upper"].to_numpy()
        assert (lower <= lower0).all() and (upper0 <= upper).all()
        # a refit that lands away from the point moves both ends of a positive interval outward
        moved = (lower0 > 0) & (np.abs(ens.bias[column]).max(0) > 0.01)
        assert (lower[moved] < lower0[moved]).all() and (upper[moved] > upper0[moved]).all()
        assert ((lower <= widened[column]) & (widened[column] <= upper))[lower0 > 0].all()  # the point is inside
    ens.save(tmp_path / "model")
    loaded = Ensemble.load(tmp_path / "model")
    assert loaded.config.bias_refits == 2
    for column in INTERVAL_COLUMNS:
        np.testing.assert_array_equal(loaded.bias[column], ens.bias[column])
    ensemble[0].save(tmp_path / "plain")  # an ensemble without refits (or saved before them) has no bias
    assert Ensemble.load(tmp_path / "plain").bias is None


def test_refits_widen_an_interval_around_the_point_by_their_largest_log_ratio_in_quadrature():
    point, lower, upper = np.array([10.0, 10.0, 10.0]), np.array([8.0, 11.0, -1.0]), np.array([12.5, 12.5, 12.5])
    ratios = np.array([[0.1, 0.0, 0.3], [-0.3, 0.05, 0.3]])  # the largest |ratio| per channel: 0.3, 0.05, 0.3
    lo, hi = widened_by_refits(point, lower, upper, ratios, 0.9)
    z_m = norm.ppf(0.95) * np.array([0.3, 0.05, 0.3])
    # channel 1's members' interval lies above the point: its lower half-width counts as 0
    np.testing.assert_allclose(np.log(point[:2] / lo[:2]), np.hypot([np.log(10 / 8), 0.0], z_m[:2]), rtol=1e-12)
    np.testing.assert_allclose(np.log(hi / point), np.hypot(np.log(upper / point), z_m), rtol=1e-12)
    assert lo[2] == -1.0  # a bound that is not positive is kept
    # the result holds the members' interval and the point, also where the members' interval missed the point
    assert (lo <= lower).all() and (hi >= upper).all() and (lo[:2] < point[:2]).all()
    # one refit gives its own |ratio|; refits that agree with the point widen nothing
    lo1, hi1 = widened_by_refits(point, lower, upper, ratios[:1], 0.9)
    assert lo1[0] > lo[0] and hi1[1] == pytest.approx(upper[1])
    lo0, hi0 = widened_by_refits(point, lower, upper, np.zeros((2, 3)), 0.9)
    np.testing.assert_allclose(hi0, upper, rtol=1e-12)
    np.testing.assert_allclose(lo0, [8.0, 10.0, -1.0], rtol=1e-12)  # a lower bound above the point moves to it


def test_a_members_media_level_starts_elsewhere_only_when_no_channels_level_is_measured(tiny_fit, tiny_train):
    data = tiny_fit.training_data(tiny_train, tiny_fit.adjacency())
    weight = data.roi_prior.channel_weight
    assert (weight == 0).any() and (weight > 0.5).any(), weight
    # a flighted channel measures the pooled ROI the prior centres on: nothing moves
    net = copy.deepcopy(tiny_fit.net_)
    _jitter_media_level(net, data, 1.3, 0.0, np.random.default_rng(4))
    for (name, a), b in zip(tiny_fit.net_.state_dict().items(), net.state_dict().values()):
        assert torch.equal(a, b), name
    # every channel extrapolated (the least at 0.6): the media move by exp(0.6 w_c z), each region's mean stays
    unmeasured = torch.tensor([0.6, 1.0, 0.8])
    data = dataclasses.replace(data, roi_prior=dataclasses.replace(data.roi_prior, channel_weight=unmeasured))
    for z in (-0.8, 1.3):
        net = copy.deepcopy(tiny_fit.net_)
        _jitter_media_level(net, data, z, 0.0, np.random.default_rng(4))
        with torch.no_grad():
            before, after = tiny_fit.net_(data.inputs), net(data.inputs)
        observed = data.observed
        ratio = after.media[observed].double().sum(0) / before.media[observed].double().sum(0)  # [C]
        assert torch.allclose(ratio, torch.exp(0.6 * unmeasured.double() * z), rtol=1e-4), (ratio, z)
        assert not torch.allclose(ratio, torch.ones_like(ratio), atol=1e-2)
        for r in range(observed.shape[0]):
            mean_before = before.prediction[r][observed[r]].double().mean()
            mean_after = after.prediction[r][observed[r]].double().mean()
            assert float(mean_after) == pytest.approx(float(mean_before), rel=1e-5)
        assert (after.baseline > 0).all()


def test_where_no_level_is_measured_each_member_holds_its_own_draw_of_the_media_share_prior():
    """Randomize-then-optimize on the media-share prior: every channel always-on, each member draws the prior's
    centre z and ends with its total media share at the prior's median times exp(z) (the prior held at the point
    fit's centre pulled every member back to the median: log shares within 0.2 of it)."""
    from mmm_core.model.priors import lognormal_log_parameters
    from mmm_core.simulation.outside import simulate_outside
    from tests.core.conftest import QUICK

    panel = simulate_outside("always_on_saturated", 0, n_regions=6, n_weeks=104, n_channels=3).panel
    config = EnsembleConfig(members=6, channel_level_start_sd=0.0)
    ensemble = Ensemble.fit(MMM(overrides={"train": QUICK}).fit(panel), panel, config)
    level_rng = np.random.default_rng([config.seed, 23])  # the members' z, drawn in member order
    z = np.array([level_rng.normal(0.0, config.level_start_sd) for _ in range(config.members)])
    share = ensemble.draws(panel).groupby("member")["direct_contribution"].sum().to_numpy() / np.where(
        panel.observed, panel.kpi, 0.0).sum()
    log_share = np.log(share) - lognormal_log_parameters(TrainConfig.media_share_prior_mean,
                                                         TrainConfig.media_share_prior_sd)[0]
    assert np.abs(log_share - z).max() < 0.25, (log_share, z)
    assert np.ptp(log_share) > 1.0


def test_a_members_channels_each_start_at_their_own_level_measured_or_not(tiny_fit, tiny_train):
    """The per-channel draw moves every channel, the flighted one too, by exp(e_c), and each region's mean
    prediction stays (the baseline takes what the media add)."""
    data = tiny_fit.training_data(tiny_train, tiny_fit.adjacency())
    assert (data.roi_prior.channel_weight == 0).any()
    net = copy.deepcopy(tiny_fit.net_)
    _jitter_media_level(net, data, 1.3, 0.15, np.random.default_rng(5))
    e = np.random.default_rng(5).normal(0.0, 0.15, tiny_fit.net_.n_channels)
    with torch.no_grad():
        before, after = tiny_fit.net_(data.inputs), net(data.inputs)
    observed = data.observed
    ratio = after.media[observed].double().sum(0) / before.media[observed].double().sum(0)  # [C]
    assert torch.allclose(ratio, torch.exp(torch.as_tensor(e)), rtol=1e-4), (ratio, e)
    assert (ratio - 1).abs().min() > 1e-3
    mean_before = (before.prediction * observed).double().sum(1) / observed.sum(1)
    mean_after = (after.prediction * observed).double().sum(1) / observed.sum(1)
    assert torch.allclose(mean_after, mean_before, rtol=1e-5)


def test_an_always_on_channel_spreads_more_across_members_than_a_flighted_one(ensemble):
    ens, train, sim = ensemble
    table = ens.contributions(train, 0.9)
    pattern = dict((name, template.pattern) for name, template in sim.config.channels)
    width = dict(zip(table["channel"], (table["roi_upper"] - table["roi_lower"]) / table["roi"].abs()))
    flighted = [width[c] for c in width if pattern[c] == "flighted"]
    always_on = [width[c] for c in width if pattern[c] == "always_on"]
    assert flighted and always_on, pattern
    assert max(flighted) < min(always_on), width


def test_each_members_contributions_and_non_media_add_up_to_its_prediction(ensemble):
    ens, train, _ = ensemble
    draws = ens.draws(train)
    assert sorted(draws["member"].unique()) == list(range(CONFIG.members))
    for member, rows in draws.groupby("member"):
        total = rows["direct_contribution"].sum() + rows["non_media"].iloc[0]
        assert total == pytest.approx(rows["prediction"].iloc[0], rel=1e-9)
        prediction = ens.members()[member].predict(train)[train.observed].sum()
        assert rows["prediction"].iloc[0] == pytest.approx(prediction, rel=1e-9)
    # members differ: no two give the same contributions
    spread = draws.groupby("channel")["direct_contribution"].std()
    assert (spread > 0).all(), spread


def test_interval_columns_are_ordered_and_hold_the_members_median(ensemble):
    ens, train, _ = ensemble
    draws = ens.draws(train)
    wide, narrow = ens.contributions(train, 0.9, draws), ens.contributions(train, 0.5, draws)
    for column in INTERVAL_COLUMNS:
        assert list(wide.columns[wide.columns.get_loc(column):][:3]) == [column, f"{column}_lower", f"{column}_upper"]
        median = draws.groupby("channel")[column].median().loc[wide["channel"]].to_numpy()
        assert (wide[f"{column}_lower"] <= median).all() and (median <= wide[f"{column}_upper"]).all()
        assert (wide[f"{column}_lower"] <= narrow[f"{column}_lower"]).all()
        assert (narrow[f"{column}_upper"] <= wide[f"{column}_upper"]).all()
    assert (wide["interval"] == 0.9).all()
    point = ens.point.contributions(train)
    np.testing.assert_array_equal(wide["roi"].to_numpy(), point["roi"].to_numpy())
    with pytest.raises(ValueError, match="interval"):
        ens.contributions(train, 1.5, draws)


def test_prediction_intervals_widen_with_the_level_and_hold_most_training_weeks(ensemble):
    ens, train, sim = ensemble
    lower90, upper90 = ens.predict_interval(sim.panel, 0.9)
    lower50, upper50 = ens.predict_interval(sim.panel, 0.5)
    assert lower90.shape == sim.panel.kpi.shape
    assert (lower90 <= lower50).all() and (upper50 <= upper90).all() and (lower50 < upper50).all()
    observed = train.observed
    kpi = train.kpi
    inside = (lower90[:, : train.n_weeks] <= kpi) & (kpi <= upper90[:, : train.n_weeks])
    assert 0.8 <= inside[observed].mean() <= 1.0


def test_an_ensemble_round_trips_through_safetensors(ensemble, tmp_path):
    ens, train, _ = ensemble
    ens.save(tmp_path / "model")
    assert not list((tmp_path / "model").glob("*.pkl"))
    loaded = Ensemble.load(tmp_path / "model")
    assert loaded.config == ens.config
    np.testing.assert_array_equal(loaded.noise_scale, ens.noise_scale)
    for a, b in zip(loaded.members(), ens.members()):
        np.testing.assert_array_equal(a.predict(train), b.predict(train))
    # the folder still loads as the point model, and a point model alone is no ensemble
    np.testing.assert_array_equal(MMM.load(tmp_path / "model").predict(train), ens.point.predict(train))
    ens.point.save(tmp_path / "point")
    with pytest.raises(ValueError, match="members"):
        Ensemble.load(tmp_path / "point")
    # an ensemble saved before prior_centre_log_sd / level_start_sd / channel_level_start_sd existed drew its
    # centres at the point fit's prior spread and started at its media level
    saved = json.loads((tmp_path / "model" / "members.json").read_text())
    del saved["prior_centre_log_sd"], saved["level_start_sd"], saved["channel_level_start_sd"]
    (tmp_path / "model" / "members.json").write_text(json.dumps(saved))
    old = Ensemble.load(tmp_path / "model").config
    assert old.prior_centre_log_sd == ROI_PRIOR_LOG_SD and old.level_start_sd == 0.0
    assert old.channel_level_start_sd == 0.0
    # members saved before the per-capita factor existed take the point's (what they were trained with)
    from safetensors.torch import load_file, save_file

    members = load_file(str(tmp_path / "model" / "members.safetensors"))
    del members["net.media_region_scale"]
    save_file(members, str(tmp_path / "model" / "members.safetensors"))
    for a, b in zip(Ensemble.load(tmp_path / "model").members(), ens.members()):
        np.testing.assert_array_equal(a.predict(train), b.predict(train))


def test_prediction_noise_is_the_training_residual_sd_scaled_by_how_much_more_validation_weeks_erred(ensemble,
                                                                                                   tmp_path):
    ens, train, _ = ensemble
    point = ens.point
    residual = point.scaler_.kpi.forward(train.kpi) - point.scaler_.kpi.forward(point.predict(train))
    sd = np.array([residual[r][train.observed[r]].std() for r in range(train.n_regions)])
    ratio = ens.noise_scale / sd
    np.testing.assert_allclose(ratio, ratio[0], rtol=1e-9)  # one factor for every region
    validation = min(e.val_metric for e in point.train_result_.history
                     if e.val_metric is not None and e.epoch >= point.train_config_.min_epochs)
    assert ratio[0] == pytest.approx(max(1.0, np.sqrt(validation / np.mean(residual[train.observed] ** 2))))
    point.save(tmp_path / "point")  # a loaded model keeps no training history: no validation, no scaling
    np.testing.assert_allclose(noise_scale(MMM.load(tmp_path / "point"), train), sd, rtol=1e-9)


def test_a_one_member_mixture_interval_is_the_gaussian_one_and_two_far_members_span_both():
    mean, sd = np.array([[1.0, -2.0]]), np.array([0.5, 2.0])
    lower, upper = mixture_interval(mean, sd, 0.9)
    z = norm.ppf(0.95)
    np.testing.assert_allclose(lower, mean[0] - z * sd, atol=1e-9)
    np.testing.assert_allclose(upper, mean[0] + z * sd, atol=1e-9)
    lower, upper = mixture_interval(np.array([[0.0], [100.0]]), np.array([1.0]), 0.9)
    # each member holds half the mass: the 5 % quantile is member 0's 10 % quantile, the 95 % member 1's 90 %
    assert lower[0] == pytest.approx(norm.ppf(0.1), abs=1e-6)
    assert upper[0] == pytest.approx(100.0 + norm.ppf(0.9), abs=1e-6)
    with pytest.raises(ValueError, match="interval"):
        mixture_interval(mean, sd, 1.0)


@pytest.fixture(scope="module")
def banded(ensemble):
    ens, train, _ = ensemble
    return response_curves(ens.point, train, 13, per_region=False, members=ens.members(), interval=0.8)


def test_curve_bands_and_roi_intervals_are_the_quantiles_of_each_members_own_curves(ensemble, banded):
    ens, train, _ = ensemble
    own = [response_curves(m, train, 13, per_region=False) for m in ens.members()]
    points, table = banded.points_frame(), banded.table()
    for channel in ens.point.channels_:
        frames = [c.points_frame() for c in own]
        series = np.stack([frame[frame.channel == channel].response.to_numpy() for frame in frames])
        rows = points[points.channel == channel]
        np.testing.assert_allclose(rows.response_lower, np.quantile(series, 0.1, axis=0), rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(rows.response_upper, np.quantile(series, 0.9, axis=0), rtol=1e-9, atol=1e-9)
        roi = np.array([c.table().set_index("channel").roi[channel] for c in own])
        row = table.set_index("channel").loc[channel]
        assert row.roi_lower == pytest.approx(np.quantile(roi, 0.1), rel=1e-9)
        assert row.roi_upper == pytest.approx(np.quantile(roi, 0.9), rel=1e-9)
        assert row.mroi_lower <= row.mroi_upper
    assert (points.interval == 0.8).all() and (table.interval == 0.8).all()
    assert (points.loc[points.multiplier == 0, ["response_lower", "response_upper"]].abs() < 1e-9).all().all()
    plain = response_curves(ens.point, train, 13, per_region=False)
    assert plain.points_frame()[["response_lower", "response_upper", "interval"]].isna().all().all()
    assert plain.table()[["roi_lower", "roi_upper", "mroi_lower", "mroi_upper", "interval"]].isna().all().all()
    np.testing.assert_array_equal(plain.points_frame().response, points.response)  # the point curves unchanged


def test_budget_intervals_rerun_each_allocation_through_every_member(ensemble, banded):
    ens, train, _ = ensemble
    members = ens.members()
    scenarios, allocation = plan_scenarios(ens.point, banded, [BudgetScenario.from_multiplier(1.0),
                                                               BudgetScenario.from_multiplier(0.5)],
                                           members=members, interval=0.8)
    window, pts = banded.window, banded.points
    plain, _ = plan_scenarios(ens.point, banded, [BudgetScenario.from_multiplier(1.0),
                                                  BudgetScenario.from_multiplier(0.5)])
    for row, point_row in zip(scenarios.itertuples(), plain.itertuples()):
        assert row.incremental_response_model == pytest.approx(point_row.incremental_response_model, rel=1e-9)
        rows = allocation[allocation.scenario == row.scenario].set_index("channel").loc[list(pts.channels)]
        mult = np.broadcast_to((rows.optimal_spend / rows.current_spend).to_numpy(), pts.spend.shape)
        gain = np.array([(model_response(m, window, mult) - model_response(m, window, np.ones_like(mult))).sum()
                         for m in members])
        assert row.incremental_response_model_lower == pytest.approx(np.quantile(gain, 0.1), rel=1e-6, abs=1e-6)
        assert row.incremental_response_model_upper == pytest.approx(np.quantile(gain, 0.9), rel=1e-6, abs=1e-6)
        assert row.prob_beats_current == pytest.approx((gain > 0).mean())
        assert row.interval == 0.8
    # half the budget cannot beat the current allocation in any member; without members the columns are NaN
    assert scenarios.set_index("scenario").prob_beats_current["budget_-50pct"] == 0.0
    assert plain[["incremental_response_model_lower", "prob_beats_current", "interval"]].isna().all().all()


def test_a_risk_averse_plan_sits_beside_the_point_plan_and_trades_mean_for_less_spread(ensemble, banded):
    ens, train, _ = ensemble
    members = ens.members()
    scenarios, allocation = plan_scenarios(ens.point, banded, [BudgetScenario.from_multiplier(1.0)], members=members,
                                           risk_aversion=2.0)
    assert list(scenarios.objective) == ["point", "mean_minus_2_sd"]
    assert set(allocation.objective) == {"point", "mean_minus_2_sd"}
    risky = allocation[allocation.objective == "mean_minus_2_sd"].set_index("channel").loc[list(ens.point.channels_)]
    assert risky.optimal_spend.sum() == pytest.approx(risky.current_spend.sum(), rel=1e-9)
    # its objective on the members' own curves is at least that of the point plan
    curves = banded.member_national_curves()
    point = allocation[allocation.objective == "point"].set_index("channel").loc[list(ens.point.channels_)]

    def objective(x):
        r = np.array([sum(c.response(x[c.channel]) for c in member) for member in curves])
        return r.mean() - 2.0 * r.std()
    assert objective(risky.optimal_spend) >= objective(point.optimal_spend) - 1e-6 * abs(objective(point.optimal_spend))
    with pytest.raises(ValueError, match="members"):
        plan_scenarios(ens.point, banded, [BudgetScenario.from_multiplier(1.0)], risk_aversion=1.0)


def test_members_trained_side_by_side_are_the_members_trained_one_after_another(ensemble, tiny_fit):
    ens, train, _ = ensemble
    threaded = Ensemble.fit(tiny_fit, train, CONFIG, workers=2)
    for one, two in zip(ens.nets, threaded.nets):
        for (name, a), b in zip(one.state_dict().items(), two.state_dict().values()):
            torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)


def test_draws_curve_bands_and_budget_intervals_read_on_threads_are_those_read_one_member_at_a_time(ensemble, banded):
    import pandas as pd

    ens, train, _ = ensemble
    pd.testing.assert_frame_equal(ens.draws(train, workers=2), ens.draws(train))
    threaded = response_curves(ens.point, train, planning_weeks=13, members=ens.members(), workers=2)
    np.testing.assert_array_equal(threaded.member_response, banded.member_response)
    scenarios = [BudgetScenario("same", 1.0)]
    one, _ = plan_scenarios(ens.point, banded, scenarios, members=ens.members())
    two, _ = plan_scenarios(ens.point, banded, scenarios, members=ens.members(), workers=2)
    pd.testing.assert_frame_equal(one.drop(columns="wall_time_s"), two.drop(columns="wall_time_s"))
