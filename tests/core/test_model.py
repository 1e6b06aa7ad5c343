"""MMMNet: an additive, causal forward pass with bounded modulation and reachable curve shapes."""

import numpy as np
import pytest
import torch

from mmm_core.model.network import MMMNet, ModelConfig, ModelInputs, trend_time
from mmm_core.model.options import with_changes
from mmm_core.model.training import TrainConfig
from mmm_core.model.transforms import adstock_weights

R, T, C, K = 3, 60, 2, 2


def _inputs(seed=0, media_scale=1.0):
    g = torch.Generator().manual_seed(seed)
    media = torch.rand(R, T, C, generator=g, dtype=torch.float64) * 2 * media_scale
    controls = torch.randn(R, T, K, generator=g, dtype=torch.float64)
    profile = torch.sin(torch.arange(T, dtype=torch.float64) / 52 * 6.28)[None].repeat(R, 1)
    basis = torch.randn(T, 12, generator=g, dtype=torch.float64)
    return ModelInputs(media, controls, profile, basis, trend_time(0, T, T, 0.95).double())


def _net(**config):
    torch.manual_seed(0)
    net = MMMNet(R, C, K, ModelConfig(**config)).double()
    with torch.no_grad():  # a non-trivial state: random modulation head, nonzero coefficients
        net.head.weight.normal_(0, 0.5)
        net.control_coef.fill_(0.1)
        net.trend_slope.fill_(0.05)
    return net


def test_prediction_is_the_sum_of_its_parts():
    out = _net()(_inputs())
    parts = out.baseline + out.trend + out.seasonality + out.controls.sum(-1) + out.media.sum(-1)
    torch.testing.assert_close(out.prediction, parts, rtol=1e-12, atol=1e-12)
    assert out.prediction.shape == (R, T) and out.media.shape == (R, T, C) and out.controls.shape == (R, T, K)


def test_zero_media_gives_zero_media_contribution():
    inputs = _inputs()
    inputs.media = torch.zeros_like(inputs.media)
    out = _net(presample="zero")(inputs)
    assert torch.count_nonzero(out.media) == 0


def test_modulation_is_bounded():
    out = _net(modulation_max=0.3)(_inputs())
    assert out.modulation.abs().max() <= 0.3 + 1e-12


def test_forward_is_causal_future_media_never_changes_the_past():
    net = _net()
    inputs = _inputs()
    base = net(inputs).prediction
    changed = _inputs()
    changed.media[:, 40:] *= 3.0
    changed.controls[:, 40:] += 1.0
    other = net(changed).prediction
    torch.testing.assert_close(base[:, :40], other[:, :40], rtol=0, atol=1e-12)
    assert not torch.allclose(base[:, 40:], other[:, 40:])


def test_hill_slope_reaches_concave_and_s_shaped_and_decay_stays_in_range():
    net = _net()
    with torch.no_grad():
        net.saturation.slope_raw.copy_(torch.tensor([-20.0, 20.0]))
        net.adstock.decay_raw.copy_(torch.tensor([-30.0, 30.0]))
    slope, decay = net.saturation.slope(), net.adstock.decay()
    assert slope[0] < 0.5 and slope[1] > 4.0
    assert 0.0 <= decay[0] < 1e-6 and decay[1] <= net.config.adstock_decay_max


def test_tail_shape_spans_the_delayed_and_the_geometric_kernel():
    decay = torch.tensor([0.6, 0.3], dtype=torch.float64)
    peak = torch.tensor([1.7, 0.0], dtype=torch.float64)
    delayed = adstock_weights(decay, peak, 13)
    torch.testing.assert_close(adstock_weights(decay, peak, 13, tail=torch.tensor([2.0, 2.0])), delayed,
                               rtol=2e-4, atol=1e-6)
    geometric = adstock_weights(decay, None, 13)
    shaped = adstock_weights(decay, torch.zeros(2, dtype=torch.float64), 13, tail=torch.ones(2))
    # within the smoothing under the power (TAIL_SMOOTHING: the peak weight is decay**0.01, not 1)
    torch.testing.assert_close(shaped, geometric, rtol=2e-2, atol=3e-3)
    assert not torch.allclose(delayed[1], geometric[1], atol=1e-2)  # the two families differ
    # the model learns q in (1, 2) per channel and its kernel uses it
    net = _net()
    assert net.adstock.tail().shape == (C,)
    with torch.no_grad():
        net.adstock.tail_raw.copy_(torch.tensor([-30.0, 30.0]))
    q = net.adstock.tail().detach()
    assert float(q[0]) == pytest.approx(1.0) and float(q[1]) == pytest.approx(2.0)
    expected = adstock_weights(net.adstock.decay(), net.adstock.peak_lag(), net.config.adstock_max_lag_weeks, tail=q)
    torch.testing.assert_close(net.adstock.kernel(), expected)
    assert _net(adstock_learn_tail=False).adstock.tail() is None
    assert _net(adstock_peak_lag=False).adstock.tail() is None


def test_half_saturation_is_initialised_from_the_data():
    net = _net(adstock_peak_lag=False)
    inputs = _inputs(media_scale=10.0)
    net.initialise_from_data(inputs.media, torch.ones(R, T, dtype=torch.bool))
    k = net.saturation.half_saturation()
    assert torch.all((k > 5.0) & (k < 15.0))  # around the median of activity in [0, 20]


def test_media_override_changes_only_the_media_response():
    net = _net()
    inputs = _inputs()
    out = net(inputs)
    off = net(inputs, media_override=torch.zeros_like(inputs.media))
    torch.testing.assert_close(out.modulation, off.modulation)
    torch.testing.assert_close(out.prediction - out.media.sum(-1), off.prediction - off.media.sum(-1))


def test_trend_time_is_linear_in_training_and_damped_after():
    tt = trend_time(0, 80, 52, damping=0.9).numpy()
    np.testing.assert_allclose(np.diff(tt[:52]), 1 / 52)
    steps = np.diff(tt[51:])
    assert np.all(steps[1:] < steps[:-1]) and tt[-1] < tt[51] + 10 / 52


def test_config_changes_reject_unknown_fields():
    assert with_changes(ModelConfig(), {"hidden_size": 8}).hidden_size == 8
    with pytest.raises(ValueError, match="unknown ModelConfig fields: \\['hidden'\\]"):
        with_changes(ModelConfig(), {"hidden": 8})


@pytest.mark.parametrize("build, field", [
    (lambda: ModelConfig(presample="first"), "ModelConfig.presample"),
    (lambda: TrainConfig(loss="l1"), "TrainConfig.loss"),
    (lambda: TrainConfig(device="tpu"), "TrainConfig.device"),
    (lambda: with_changes(TrainConfig(), {"loss": "mae"}), "TrainConfig.loss"),
])
def test_enumerated_options_are_checked_when_the_config_is_built(build, field):
    with pytest.raises(ValueError, match=f"{field} must be one of"):
        build()


def _graph_nodes(tensor: torch.Tensor) -> set[str]:
    """Names of the autograd nodes behind ``tensor``."""
    seen, stack, names = set(), [tensor.grad_fn], set()
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        names.add(type(node).__name__)
        stack.extend(next_node for next_node, _ in node.next_functions)
    return names


@pytest.mark.parametrize("regions, weeks, input_grad", [(7, 30, True), (7, 30, False), (1, 1, True), (3, 2, True)])
def test_the_modulation_gru_matches_torchs_gru_in_values_and_gradients(regions, weeks, input_grad):
    """``recurrence.gru_hidden`` (the hand-written backward the modulation trains with) computes nn.GRU's
    recurrence: same hidden states and the same gradients for every weight (and the inputs, when they need
    one; the model's features do not), float64; and the hand-written backward is what ran."""
    from mmm_core.model.recurrence import gru_hidden

    torch.manual_seed(3)
    gru = torch.nn.GRU(5, 4, batch_first=True).double()
    with torch.no_grad():
        for parameter in gru.parameters():
            parameter.mul_(3.0)  # saturating gates too, not only the near-linear start
    x = torch.randn(regions, weeks, 5, dtype=torch.float64, requires_grad=input_grad)
    upstream = torch.randn(regions, weeks, 4, dtype=torch.float64)
    results = []
    for run in (lambda: gru(x)[0], lambda: gru_hidden(gru, x)):
        gru.zero_grad()
        x.grad = None
        hidden = run()
        (hidden * upstream).sum().backward()
        results.append([hidden.detach()] + [p.grad.clone() for p in gru.parameters()]
                       + ([x.grad.clone()] if input_grad else []))
    assert any("GruSequence" in name for name in _graph_nodes(hidden))
    assert len(results[1]) == 5 + input_grad
    for reference, ours in zip(*results):
        assert ours.shape == reference.shape
        torch.testing.assert_close(ours, reference, rtol=1e-11, atol=1e-12)
