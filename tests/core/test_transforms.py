"""Closed forms at the boundaries of the media transforms (``mmm_core.model.transforms``) and components."""

import math

import numpy as np
import pytest
import torch

from mmm_core.model.components import Adstock, HillSaturation
from mmm_core.model.transforms import (adstock, adstock_weights, hill, inverse_softplus, propagate_dag,
                                      scale_own_activity, soft_ceiling)


def test_adstock_with_decay_zero_is_the_identity():
    x = torch.rand(2, 20, 3, dtype=torch.float64)
    weights = adstock_weights(torch.zeros(3, dtype=torch.float64), None, 13)
    torch.testing.assert_close(weights[:, 0], torch.ones(3, dtype=torch.float64))
    torch.testing.assert_close(adstock(x, weights), x, rtol=0, atol=1e-11)  # decay floored at 1e-12, x < 1


def test_an_impulse_decays_geometrically_and_keeps_its_mass():
    decay, max_lag = 0.6, 13
    impulse = torch.zeros(1, 30, 1, dtype=torch.float64)
    impulse[0, 0, 0] = 1.0
    weights = adstock_weights(torch.tensor([decay], dtype=torch.float64), None, max_lag)
    out = adstock(impulse, weights)[0, :, 0]
    norm = sum(decay ** l for l in range(max_lag))
    np.testing.assert_allclose(out[:max_lag].numpy(), [decay ** l / norm for l in range(max_lag)], rtol=1e-12)
    assert float(out[max_lag:].abs().max()) == 0.0  # the kernel is finite
    assert float(out.sum()) == pytest.approx(1.0, rel=1e-12)


def test_second_adstock_value_is_x1_plus_decay_times_x0_before_normalising():
    x = torch.tensor([[[3.0], [5.0]]], dtype=torch.float64)
    weights = adstock_weights(torch.tensor([0.5], dtype=torch.float64), None, 4, normalize=False)
    assert float(adstock(x, weights)[0, 1, 0]) == pytest.approx(5.0 + 0.5 * 3.0, rel=1e-12)


@pytest.mark.parametrize("n_weeks", [1, 5, 16, 17, 40, 121])
def test_adstock_is_the_causal_sum_over_lags_with_its_gradients(n_weeks):
    """Blocks of ``ADSTOCK_BLOCK_WEEKS`` output weeks (and a last partial one) give the defining sum, and the
    gradients with respect to activity and kernel are the sum's."""
    torch.manual_seed(0)
    x = torch.rand(3, n_weeks, 4, dtype=torch.float64, requires_grad=True)
    weights = torch.rand(4, 13, dtype=torch.float64, requires_grad=True)
    direct = torch.stack([sum(weights[:, l] * x[:, t - l] for l in range(min(t + 1, 13)))
                          for t in range(n_weeks)], dim=1)
    out = adstock(x, weights)
    torch.testing.assert_close(out, direct, rtol=1e-12, atol=1e-12)
    upstream = torch.rand_like(out)
    grads = torch.autograd.grad((out * upstream).sum(), (x, weights))
    expected = torch.autograd.grad((direct * upstream).sum(), (x, weights))
    for got, want in zip(grads, expected):
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)


def test_delayed_kernel_peaks_at_its_peak_lag():
    weights = adstock_weights(torch.tensor([0.7], dtype=torch.float64), torch.tensor([3.0], dtype=torch.float64), 13)
    assert int(weights[0].argmax()) == 3


ARRAYS = [pytest.param(lambda v: torch.tensor(v, dtype=torch.float64), id="torch"),
          pytest.param(lambda v: np.asarray(v, dtype=np.float64), id="numpy")]


@pytest.mark.parametrize("array", ARRAYS)
def test_hill_is_one_half_at_the_half_saturation_and_zero_at_zero(array):
    k, s = array([2.0, 0.5]), array([1.0, 3.0])
    assert np.allclose(np.asarray(hill(array([2.0, 0.5]), k, s)), 0.5, rtol=0, atol=1e-15)
    assert np.all(np.asarray(hill(array([0.0, 0.0]), k, s)) == 0.0)


@pytest.mark.parametrize("array", ARRAYS)
def test_hill_with_slope_one_is_x_over_x_plus_k_monotone_and_below_one(array):
    x = np.linspace(0.0, 50.0, 101)
    y = np.asarray(hill(array(x), array(4.0), array(1.0)))
    np.testing.assert_allclose(y, x / (x + 4.0), rtol=1e-12, atol=1e-15)
    assert np.all(np.diff(y) > 0) and y.max() < 1.0


def test_torch_and_numpy_hill_agree():
    x, k, s = np.random.default_rng(0).uniform(0, 5, (3, 10, 4)), np.array([0.5, 1, 2, 4]), np.array([0.4, 1, 2, 4.5])
    torch.testing.assert_close(hill(torch.tensor(x), torch.tensor(k), torch.tensor(s)).numpy(), hill(x, k, s),
                               rtol=1e-14, atol=1e-15)


def test_inverse_softplus_inverts_softplus():
    for y in (1e-3, 0.95, 1.0, 30.0):
        assert float(torch.nn.functional.softplus(torch.tensor(inverse_softplus(y), dtype=torch.float64))) == \
            pytest.approx(y, rel=1e-12)


def test_propagate_dag_adds_what_parents_induce():
    adjacency = torch.tensor([[0.0, 0.5], [0.0, 0.0]], dtype=torch.float64)  # channel 0 induces half a unit of 1
    own = torch.tensor([[2.0, 1.0]], dtype=torch.float64)
    torch.testing.assert_close(propagate_dag(own, adjacency), torch.tensor([[2.0, 2.0]], dtype=torch.float64))


def test_adstock_component_starts_at_its_configured_values_within_its_bounds():
    component = Adstock(3, 13, decay_max=0.95, decay_init=0.4, peak_lag=True, peak_lag_max_weeks=4.0,
                        peak_lag_init_weeks=0.5, learn_tail=True, tail_init=1.5)
    torch.testing.assert_close(component.decay(), torch.full((3,), 0.4))
    torch.testing.assert_close(component.peak_lag(), torch.full((3,), 0.5))
    torch.testing.assert_close(component.tail(), torch.full((3,), 1.5))
    with torch.no_grad():
        component.decay_raw.fill_(50.0)
    assert float(component.decay().detach().max()) <= 0.95  # a bijection, not a clamp
    geometric = Adstock(3, 13, 0.95, 0.4, False, 4.0, 0.5, True, 1.5)
    assert geometric.peak_lag() is None and geometric.tail() is None
    torch.testing.assert_close(geometric.tail_or_fixed(), torch.ones(3))
    torch.testing.assert_close(geometric.kernel(), adstock_weights(geometric.decay(), None, 13))


def test_hill_component_starts_on_the_data_and_its_shape_prior_is_zero_there():
    saturation = HillSaturation(2, slope_min=0.3, slope_max=5.0, slope_init=1.0, half_saturation_quantile=0.5)
    adstocked = torch.tensor([[[1.0, 10.0], [3.0, 30.0], [5.0, 50.0]]])  # [1, 3, 2]
    active = torch.ones_like(adstocked, dtype=torch.bool)
    saturation.initialise(adstocked, active)
    torch.testing.assert_close(saturation.half_saturation(), torch.tensor([3.0, 30.0]))
    torch.testing.assert_close(saturation.slope(), torch.tensor([1.0, 1.0]))
    assert float(saturation.shape_penalty().detach()) == pytest.approx(0.0, abs=1e-10)
    with torch.no_grad():
        saturation.log_half_saturation.add_(math.log(2.0))
    assert float(saturation.shape_penalty().detach()) == pytest.approx(2 * math.log(2.0) ** 2, rel=1e-5)
    torch.testing.assert_close(saturation(adstocked)[0, 1], torch.tensor([1 / (1 + 2.0), 1 / (1 + 2.0)]))


@pytest.mark.parametrize("headroom", [1.0, 0.5, 0.0])
def test_soft_ceiling_is_the_identity_up_to_the_ceiling_and_bounded_above_it(headroom):
    ceiling = torch.tensor([2.0, 5.0, float("inf")], dtype=torch.float64)
    x = torch.linspace(0.0, 60.0, 601, dtype=torch.float64)[:, None].expand(-1, 3)
    y = soft_ceiling(x, ceiling, headroom)
    inside = x <= ceiling
    assert torch.equal(y[inside], x[inside])  # training activity passes unchanged
    assert torch.equal(y[:, 2], x[:, 2])  # no ceiling known: no cap
    capped = y[:, :2]
    assert torch.all(capped <= (1.0 + headroom) * ceiling[:2] + 1e-12)
    assert torch.all(capped[1:] >= capped[:-1])  # more activity never reads as less
    if headroom > 0:  # continuous with slope 1 at the ceiling
        m = ceiling[:2]
        just_above = soft_ceiling(m + 1e-6, ceiling[:2], headroom)
        torch.testing.assert_close(just_above, m + 1e-6, rtol=0, atol=1e-9)


def test_scaling_some_channels_and_reading_some_columns_gives_the_full_counterfactuals_values():
    """``scale_own_activity`` with ``scaled`` / ``columns`` is the full result's columns (a response curve's run)."""
    torch.manual_seed(1)
    adjacency = torch.tensor([[0.0, 0.3, 0.0, 0.1], [0.0, 0.0, 0.5, 0.0], [0.0] * 4, [0.0] * 4], dtype=torch.float64)
    own = torch.rand(3, 6, 4, dtype=torch.float64)
    media = propagate_dag(own, adjacency)
    factor = torch.ones(2, 3, 6, 4, dtype=torch.float64)
    factor[..., 0] = torch.rand(2, 3, 6, dtype=torch.float64) * 2.0
    factor[0, :, :2, 2] = 0.0
    full = scale_own_activity(media, own, adjacency, factor)
    scaled, columns = torch.tensor([0, 2]), torch.tensor([1, 2, 3])
    part = scale_own_activity(media, own, adjacency, factor[..., scaled], scaled, columns)
    torch.testing.assert_close(part, full[..., columns], rtol=1e-14, atol=1e-14)
    assert float((full[..., 1] - media[..., 1]).abs().max()) > 0.01  # channel 0's change reaches channel 1
