"""Training: deterministic for a seed, early stopping restores the best weights, the fit term ignores
unobserved and burn-in weeks, callbacks report progress, the optional attribution prior is off by default."""

import numpy as np
import pytest
import torch

from mmm_core.model.estimator import MMM
from mmm_core.model.training import TrainConfig, fit_term

FAST = {"epochs": 40, "min_epochs": 10, "patience": 10, "validation_weeks": 0, "threads": 1}


@pytest.fixture(scope="module")
def train_panel(tiny_panel):
    return tiny_panel.slice_weeks(0, tiny_panel.n_weeks - 13)


def _params(mmm):
    return {k: v.clone() for k, v in mmm.net_.state_dict().items()}


def test_fit_is_deterministic_for_a_seed(train_panel):
    a = _params(MMM(overrides={"train": FAST}).fit(train_panel))
    b = _params(MMM(overrides={"train": FAST}).fit(train_panel))
    c = _params(MMM(overrides={"train": {**FAST, "seed": 1}}).fit(train_panel))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert any(not torch.equal(a[k], c[k]) for k in a)


def _fit_net(mmm, panel, target, observed, config):
    """Train a fresh net on fixed inputs (scalers from ``mmm``) against ``target`` [R, T] scaled."""
    from mmm_core.model import training
    from mmm_core.model.network import MMMNet

    torch.manual_seed(config.seed)
    inputs = mmm._inputs(panel, dtype=torch.float32)
    net = MMMNet(panel.n_regions, panel.n_channels, panel.n_controls, mmm.model_config_)
    data = training.TrainingData(inputs, torch.as_tensor(target, dtype=torch.float32), torch.as_tensor(observed),
                                 torch.eye(panel.n_channels), inputs.media[torch.as_tensor(observed)])
    training.fit(net, data, config)
    return net.state_dict()


def test_unobserved_and_burn_in_weeks_do_not_enter_the_fit(train_panel):
    mmm = MMM(overrides={"train": FAST}).fit(train_panel)
    config = mmm.train_config_
    observed = train_panel.observed.copy()
    observed[0, 30:35] = False
    target = mmm.scaler_.kpi.forward(train_panel.kpi)
    changed = target.copy()
    changed[:, : config.burn_in_weeks] += 5.0  # burn-in weeks
    changed[0, 30:35] = -7.0  # unobserved cells
    a = _fit_net(mmm, train_panel, target, observed, config)
    b = _fit_net(mmm, train_panel, changed, observed, config)
    assert config.burn_in_weeks == 2
    assert all(torch.equal(a[k], b[k]) for k in a)
    c = _fit_net(mmm, train_panel, np.where(np.arange(target.shape[1]) == 40, changed + 1.0, changed),
                 observed, config)
    assert any(not torch.equal(a[k], c[k]) for k in a)  # an observed week after burn-in does count


def test_fit_term_masks_cells():
    pred, target = torch.zeros(2, 3), torch.ones(2, 3)
    target[0, 0] = 100.0
    mask = torch.ones(2, 3, dtype=torch.bool)
    mask[0, 0] = False
    assert fit_term(pred, target, mask, TrainConfig(loss="mse")).item() == pytest.approx(1.0)
    assert fit_term(pred, target, mask, TrainConfig(loss="huber", huber_delta=0.5)).item() == pytest.approx(0.375)


def test_early_stopping_restores_the_best_weights_and_reports_progress(train_panel):
    events = []
    mmm = MMM(overrides={"train": {"epochs": 200, "min_epochs": 20, "patience": 15, "validation_weeks": 8,
                                   "refit_fraction": 0.0, "log_every": 1, "threads": 1}})
    mmm.fit(train_panel, callback=events.append)
    result = mmm.train_result_
    vals = [e.val_metric for e in result.history if e.phase == "fit"]
    # the best is sought from min_epochs on: an early, barely trained state is never restored
    eligible = vals[20 - 1:]
    assert result.best_epoch == int(np.argmin(eligible)) + 20
    assert events and {"epoch", "train_loss", "val_metric"} <= set(vars(events[0]))
    # The restored weights are the ones that scored best: recompute the validation metric with them.
    inputs = mmm._inputs(train_panel, dtype=torch.float32)
    target = torch.as_tensor(mmm.scaler_.kpi.forward(train_panel.kpi), dtype=torch.float32)
    mask = torch.as_tensor(train_panel.observed).clone()
    mask[:, : train_panel.n_weeks - 8] = False
    with torch.no_grad():
        val = fit_term(mmm.net_(inputs).prediction, target, mask, TrainConfig(loss="mse")).item()
    assert val == pytest.approx(min(eligible), rel=1e-4)


def _output_with_media(media: torch.Tensor):
    from mmm_core.model.network import ModelOutput

    R, T, C = media.shape
    zeros = torch.zeros(R, T)
    return ModelOutput(zeros, zeros, zeros, zeros, torch.zeros(R, T, 0), media, media, torch.zeros(R, T, C))


def test_roi_pooling_term_measures_each_channels_roi_against_the_pooled_one():
    from mmm_core.model.priors import roi_pooling_term

    R, T = 3, 10
    mask = torch.ones(R, T, dtype=torch.bool)
    mask[0, :4] = False  # unobserved cells count in neither contributions nor spend
    target = torch.ones(R, T)
    weight = torch.tensor([1.0, 2.0, 0.5])
    spend = torch.rand(R, T, 3, generator=torch.Generator().manual_seed(0)) + 0.1
    equal_roi = 0.2 * spend / weight[:, None, None]  # every channel returns 0.2 KPI per unit of spend
    assert float(roi_pooling_term(_output_with_media(equal_roi), target, mask, weight, spend, 0.01)) < 1e-10
    # Channel 0 at twice the pooled ROI and the others below it: a clear, scale-free penalty.
    skewed = equal_roi * torch.tensor([2.0, 1.0, 1.0])
    penalty = float(roi_pooling_term(_output_with_media(skewed), target, mask, weight, spend, 0.01))
    doubled = float(roi_pooling_term(_output_with_media(2 * skewed), target, mask, weight, spend, 0.01))
    assert penalty > 0.05 and doubled == pytest.approx(penalty, rel=1e-5)
    # Channel 0's level is measured (weight 0): it anchors the pooled ROI and is not pulled itself; the
    # others sit at half its ROI, a relative deviation of -1/2 each.
    anchored = float(roi_pooling_term(_output_with_media(skewed), target, mask, weight, spend, 1e-9,
                                      torch.tensor([0.0, 1.0, 1.0])))
    assert anchored == pytest.approx((0.25 + 0.25) / 3, rel=1e-5)
    # No media at all, or no spend at all: nothing to pool, no penalty.
    assert float(roi_pooling_term(_output_with_media(torch.zeros(R, T, 3)), target, mask, weight, spend, 0.01)) == 0.0
    assert float(roi_pooling_term(_output_with_media(skewed), target, mask, weight, torch.zeros(R, T, 3), 0.01)) == 0.0


def test_media_share_prior_pulls_the_total_media_share_only_as_far_as_no_level_is_measured():
    from mmm_core.model.priors import lognormal_log_parameters, media_share_prior_term

    R, T = 2, 8
    mask = torch.ones(R, T, dtype=torch.bool)
    target = torch.ones(R, T)
    weight = torch.ones(R)
    spend = torch.ones(R, T, 2)
    log_median, log_sd = lognormal_log_parameters(0.4, 0.2)
    # the log-normal has the stated mean and sd
    assert np.exp(log_median + log_sd ** 2 / 2) == pytest.approx(0.4)
    assert 0.4 * np.sqrt(np.expm1(log_sd ** 2)) == pytest.approx(0.2)
    median = float(np.exp(log_median))

    def term(total_share, channel_weight, shift=None, mean=0.4, sd=0.2):
        media = torch.full((R, T, 2), total_share / 2)  # two channels, each half of the media share
        return float(media_share_prior_term(_output_with_media(media), target, mask, weight, spend,
                                            torch.tensor(channel_weight), mean, sd, shift))

    assert term(median, [1.0, 1.0]) == pytest.approx(0.0, abs=1e-8)
    # one log sd above or below the median costs 1 (a log-normal's squared z), scaled by the least-extrapolated channel
    above, below = median * np.exp(log_sd), median * np.exp(-log_sd)
    assert term(above, [1.0, 1.0]) == pytest.approx(1.0, rel=1e-4)
    assert term(below, [1.0, 1.0]) == pytest.approx(1.0, rel=1e-4)
    assert term(below, [0.6, 1.0]) == pytest.approx(0.6, rel=1e-4)
    # one channel whose level the data measure: the pooled ROI rests on it, no term at all
    assert term(0.01, [0.0, 1.0]) == 0.0
    # a member's draw moves the centre, and so does a prior stated by the user: each costs nothing at its centre
    assert term(above, [1.0, 1.0], torch.tensor(log_sd)) == pytest.approx(0.0, abs=1e-8)
    stated_median = float(np.exp(lognormal_log_parameters(0.1, 0.05)[0]))
    assert term(stated_median, [1.0, 1.0], mean=0.1, sd=0.05) == pytest.approx(0.0, abs=1e-8)
    stated_log_sd = lognormal_log_parameters(0.1, 0.05)[1]
    assert term(median, [1.0, 1.0], mean=0.1, sd=0.05) == pytest.approx(
        (np.log(median / stated_median) / stated_log_sd) ** 2, rel=1e-4)


def test_roi_pooling_pulls_an_always_on_channels_roi_toward_the_pooled_one(train_panel):
    # search run always on: each region-week within about ±15 % of the region's mean
    c = train_panel.channels.index("search")
    mean = train_panel.spend[..., c].mean(axis=1, keepdims=True)
    steady = mean * (1.0 + 0.15 * np.tanh((train_panel.spend[..., c] - mean) / mean))
    spend, activity = train_panel.spend.copy(), train_panel.activity.copy()
    spend[..., c], activity[..., c] = steady, steady
    panel = train_panel.derive(spend=spend, activity=activity)
    cfg = {**FAST, "epochs": 150}
    free = MMM(overrides={"train": {**cfg, "roi_pooling": 0.0}}).fit(panel)
    pooled = MMM(overrides={"train": {**cfg, "roi_pooling": 0.03}}).fit(panel)
    assert pooled.contributions(panel).set_index("channel").loc["search", "roi_prior_weight"] > 0.9

    def relative_roi(m, channel):
        table = m.contributions(panel).set_index("channel")
        pooled_roi = table["direct_contribution"].sum() / table["spend"].sum()
        return table.loc[channel, "direct_contribution"] / table.loc[channel, "spend"] / pooled_roi

    assert abs(relative_roi(pooled, "search") - 1.0) < 0.5 * abs(relative_roi(free, "search") - 1.0)


def test_level_extrapolation_tells_channels_seen_near_zero_from_always_on_ones():
    from mmm_core.model.priors import level_extrapolation

    rng = np.random.default_rng(0)
    R, T = 4, 60
    sizes = np.array([1.0, 5.0, 20.0, 0.1])[:, None]  # any region size
    flighted = np.where(rng.random((R, T)) < 0.5, 0.0, rng.uniform(0.5, 2.0, (R, T)))
    always_on = rng.uniform(0.8, 1.2, (R, T)) * sizes
    constant = np.full((R, T), 3.0)
    # Never dark, but bursts from a fifth to nearly twice the mean: the slope across that range measures
    # the level (a channel of this kind was pulled onto the pooled ROI by the quantile-only weight).
    bursty = rng.uniform(0.2, 1.8, (R, T)) * sizes
    between = rng.uniform(0.5, 1.5, (R, T)) * sizes  # zero half a range width below the 10 %-90 % range
    activity = torch.as_tensor(np.stack([flighted, always_on, constant, bursty, between], axis=-1))
    observed = torch.ones(R, T, dtype=torch.bool)
    observed[:, :10] = False
    activity[:, :10] = 0.0  # unobserved weeks (zero-filled) must not read as "seen at zero"
    level = level_extrapolation(activity, observed).numpy()
    assert level[0] == 0.0
    assert level[1] == pytest.approx(1.0)
    assert level[2] == pytest.approx(1.0)
    assert level[3] == 0.0
    assert 0.2 < level[4] < 0.8


def test_the_roi_prior_weight_reads_a_channels_own_activity_not_what_its_graph_parent_causes():
    from mmm_core.model.priors import channel_prior_weight

    rng = np.random.default_rng(1)
    R, T = 5, 80
    tv = np.where(rng.random((R, T)) < 0.4, rng.uniform(1.0, 2.0, (R, T)), 0.0)  # flighted parent
    own_search = rng.uniform(0.9, 1.1, (R, T))  # steady on its own
    search = own_search + 1.5 * tv  # TV flights lift search
    activity = np.stack([tv, search], axis=-1)
    observed = np.ones((R, T), dtype=bool)
    graph = np.array([[0.0, 1.5], [0.0, 0.0]])
    without, with_graph = channel_prior_weight(activity, observed), channel_prior_weight(activity, observed, graph)
    assert without[0] == 0.0 and with_graph[0] == 0.0
    assert float(without[1]) < 0.1  # its swings come from TV: read alone it looks measured
    assert float(with_graph[1]) == pytest.approx(1.0)  # its own activity never leaves ±10 % of its mean
