"""The ensemble (``mmm_core.model.ensemble``): members spread where the data leave a channel's level to the
prior and stay close where the data measure it, every member's decomposition adds up, intervals and
prediction intervals are well formed, and an ensemble survives a save / load round trip."""

import numpy as np
import pytest

from mmm_core.model.ensemble import INTERVAL_COLUMNS, Ensemble, EnsembleConfig, bootstrap_weights, noise_scale
from mmm_core.model.estimator import MMM

QUICK = {"threads": 1, "epochs": 400, "min_epochs": 150, "patience": 60}
CONFIG = EnsembleConfig(members=6, epochs=60)


@pytest.fixture(scope="module")
def ensemble(tiny_simulation):
    train = tiny_simulation.panel.slice_weeks(0, tiny_simulation.panel.n_weeks - 13)
    mmm = MMM(overrides={"train": QUICK}).fit(train)
    return Ensemble.fit(mmm, train, CONFIG), train, tiny_simulation


def test_bootstrap_weights_are_blocks_of_one_draw_with_mean_one_over_observed_weeks():
    observed = np.ones((3, 30), dtype=bool)
    observed[1, :5] = False
    weight = bootstrap_weights(observed, 13, np.random.default_rng(0)).numpy()
    assert weight.shape == (3, 30)
    assert (weight[~observed] == 0).all() and (weight[observed] > 0).all()
    assert weight[observed].mean() == pytest.approx(1.0, rel=1e-6)
    assert np.unique(weight[0, :13]).size == 1 and np.unique(weight[0, 13:26]).size == 1
    assert weight[0, 0] != weight[0, 13]


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
