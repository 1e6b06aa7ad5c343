"""Variable projection: the linear scales of the network solved exactly given its curves."""

import pytest
import torch

from mmm_core.model.estimator import MMM
from mmm_core.model.network import MMMNet, ModelConfig, ModelInputs, trend_time
from mmm_core.model.projection import MAX_STEP, MIN_STEP, project_linear

R, T, C, K = 4, 80, 3, 2


def _inputs() -> ModelInputs:
    g = torch.Generator().manual_seed(0)
    media = torch.rand(R, T, C, generator=g, dtype=torch.float64) * 2
    controls = torch.randn(R, T, K, generator=g, dtype=torch.float64)
    profile = torch.sin(torch.arange(T, dtype=torch.float64) / 52 * 6.28)[None].repeat(R, 1)
    basis = torch.randn(T, 12, generator=g, dtype=torch.float64)
    holidays = torch.zeros(T, len(ModelConfig().holidays), dtype=torch.float64)
    for h in range(holidays.shape[1]):
        holidays[[10 + 10 * h, 62 + 5 * h], h] = 1.0
    return ModelInputs(media, controls, profile, basis, torch.arange(T) % 52, trend_time(0, T, T, 0.95).double(),
                       holidays)


def _net() -> MMMNet:
    torch.manual_seed(0)
    net = MMMNet(R, C, K, ModelConfig()).double()
    with torch.no_grad():  # a non-trivial state: modulation, per-region deviations, holidays
        net.head.weight.normal_(0, 0.5)
        net.media_region.normal_(0, 0.3)
        net.control_coef.copy_(torch.tensor([0.1, -0.05]))
        net.control_region.normal_(0, 0.02)
        net.holiday_coef.copy_(torch.linspace(0.2, 0.05, net.holiday_coef.numel()))
        net.holiday_region.normal_(0, 0.02)
        net.season_coef_region.normal_(0, 0.1)
        net.trend_slope.fill_(0.05)
    return net


@torch.no_grad()
def test_projection_recovers_linear_scales_exactly_when_the_curves_are_right():
    inputs, truth = _inputs(), _net()
    target = truth(inputs).prediction
    net = _net()
    with torch.no_grad():  # every linear scale wrong, every curve right
        net.media_max_raw.add_(torch.tensor([0.8, -0.5, 0.3]))
        net.baseline_raw.add_(torch.linspace(-0.3, 0.3, R))
        net.trend_slope_region.add_(0.1)
        s = torch.linspace(0.3, 1.8, R, dtype=torch.float64)  # seasonal amplitude (with its holidays) per region
        net.season_coef_region.copy_(s * (net.season_coef + net.season_coef_region) - net.season_coef)
        net.holiday_region.copy_(s[:, None] * (net.holiday_coef + net.holiday_region) - net.holiday_coef)
        net.control_coef.mul_(-2.0)
        net.control_region.mul_(-2.0)
    mask = torch.ones(R, T, dtype=torch.bool)
    mask[0, 5:9] = False
    before = net(inputs).media
    steps = project_linear(net, inputs, target, mask, quadratic_weight=1.0)
    after = net(inputs)
    assert torch.allclose(after.prediction, target, atol=1e-6)
    # channels are rescaled, never reshaped: the curves and the modulation are untouched
    assert torch.allclose(after.media, before * steps["media"], atol=1e-9)
    assert torch.allclose(after.media, truth(inputs).media, atol=1e-6)


@torch.no_grad()
def test_projection_solves_the_normal_equations_and_keeps_channels_positive():
    inputs, net = _inputs(), _net()
    g = torch.Generator().manual_seed(1)
    out = net(inputs)
    target = out.prediction + 0.002 * torch.randn(R, T, generator=g, dtype=torch.float64)
    target = target - 2.0 * out.media[..., 2]  # channel 2 hurts: its scale hits the floor
    mask = torch.ones(R, T, dtype=torch.bool)
    steps = project_linear(net, inputs, target, mask, quadratic_weight=1.0)
    assert steps["media"][2] == pytest.approx(MIN_STEP)
    assert bool(((steps["media"] >= MIN_STEP) & (steps["media"] <= MAX_STEP)).all())
    out = net(inputs)
    error = target - out.prediction
    # residuals orthogonal to every free column: per-region level, trend, seasonality; controls; free channels
    assert torch.allclose(error.sum(1), torch.zeros(R, dtype=torch.float64), atol=1e-8)
    assert torch.allclose((error * inputs.trend_time).sum(1), torch.zeros(R, dtype=torch.float64), atol=1e-8)
    assert torch.allclose((error * out.seasonality).sum(1), torch.zeros(R, dtype=torch.float64), atol=1e-8)
    assert torch.allclose((error[..., None] * out.controls).sum((0, 1)), torch.zeros(K, dtype=torch.float64),
                          atol=1e-8)
    assert torch.allclose((error[..., None] * out.media[..., :2]).sum((0, 1)), torch.zeros(2, dtype=torch.float64),
                          atol=1e-8)
    assert float((error * out.media[..., 2]).sum()) < 0  # at its floor, it would shrink further if it could


@torch.no_grad()
def test_the_roi_prior_in_the_projection_pulls_extrapolated_channels_to_the_anchor():
    inputs, net = _inputs(), _net()
    target = net(inputs).prediction
    spend = inputs.media.clone()
    mask = torch.ones(R, T, dtype=torch.bool)
    weight = torch.tensor([0.0, 0.0, 1.0])  # channels 0 and 1 measured, channel 2 extrapolated
    project_linear(net, inputs, target, mask, quadratic_weight=1.0, roi_pooling=1e6, region_weight=torch.ones(R),
                   spend=spend, pooling_weight=weight)
    media = net(inputs).media.sum((0, 1))
    roi = media / spend.sum((0, 1))
    anchor = media[:2].sum() / spend[:, :, :2].sum()
    assert float(roi[2]) == pytest.approx(float(anchor), rel=1e-3)


def test_training_with_projection_runs_and_changes_the_fit(tiny_panel):
    train = tiny_panel.slice_weeks(0, tiny_panel.n_weeks - 13)
    fast = {"epochs": 40, "min_epochs": 10, "patience": 10, "validation_weeks": 0, "threads": 1}
    plain = MMM(overrides={"train": fast}).fit(train)
    projected = MMM(overrides={"train": {**fast, "projection_every": 10}}).fit(train)
    a, b = plain.predict(train), projected.predict(train)
    assert not (a == b).all()
    observed = train.observed
    mse = lambda p: float(((p - train.kpi)[observed] ** 2).mean())  # noqa: E731
    assert mse(b) < mse(a)  # 40 epochs are too few for Adam to find the scales; the projection finds them
