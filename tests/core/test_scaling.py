"""Scalers: exact round trips, per-capita media scale that keeps the spend level, loud failures."""

import dataclasses

import numpy as np
import pytest

from mmm_core.data.contract import DataContractError, Panel
from mmm_core.model.scaling import ControlScaler, KpiScaler, MediaScaler, PanelScaler, per_capita_region_scale


def _panel(population=True, seed=0):
    rng = np.random.default_rng(seed)
    R, T, C, K = 3, 60, 2, 2
    activity = rng.gamma(2.0, 1.0, (R, T, C)) * np.array([1.0, 100.0])
    activity[:, ::5, 0] = 0.0  # dark weeks
    return Panel(regions=("a", "b", "c"), weeks=np.datetime64("2023-01-02") + 7 * np.arange(T),
                 channels=("tv", "search"), control_names=("price", "temp"),
                 kpi=rng.uniform(50, 150, (R, T)) * np.array([[1.0], [2.0], [4.0]]),
                 spend=activity * 2.0, activity=activity, controls=rng.normal(3.0, 2.0, (R, T, K)),
                 population=np.array([1e5, 2e5, 4e5]) if population else None)


@pytest.mark.parametrize("population", [True, False], ids=["per_capita", "per_region"])
def test_round_trips_are_exact(population):
    panel = _panel(population)
    scaler = PanelScaler.fit(panel)
    np.testing.assert_allclose(scaler.kpi.inverse(scaler.kpi.forward(panel.kpi)), panel.kpi, rtol=1e-12)
    np.testing.assert_allclose(scaler.media.inverse(scaler.media.forward(panel.activity)), panel.activity, rtol=1e-12)
    np.testing.assert_allclose(scaler.controls.inverse(scaler.controls.forward(panel.controls)), panel.controls,
                               rtol=1e-12, atol=1e-12)


def test_kpi_scale_is_region_mean_and_inverse_works_on_components():
    panel = _panel()
    scaler = KpiScaler().fit(panel)
    np.testing.assert_allclose(scaler.scale, panel.kpi.mean(axis=1))
    parts = np.stack([scaler.forward(panel.kpi) * 0.25] * 4, axis=-1)  # [R, T, 4] summing to kpi_scaled
    np.testing.assert_allclose(scaler.inverse(parts).sum(-1), panel.kpi, rtol=1e-12)


def test_media_per_capita_has_one_scale_per_channel_and_mean_one_over_active_weeks():
    panel = _panel(population=True)
    scaler = MediaScaler().fit(panel)
    assert np.allclose(scaler.scale, scaler.scale[0])  # identical rows: one scale per channel
    scaled = scaler.forward(panel.activity)
    active = scaled > 0
    for c in range(panel.n_channels):
        assert scaled[..., c][active[..., c]].mean() == pytest.approx(1.0)


def test_media_scaling_keeps_the_spend_level():
    panel = _panel()
    scaler = MediaScaler().fit(panel)
    doubled = scaler.forward(panel.activity * 2.0)
    np.testing.assert_allclose(doubled, 2.0 * scaler.forward(panel.activity))


def test_media_without_population_is_per_region_channel():
    panel = _panel(population=False)
    scaler = MediaScaler().fit(panel)
    scaled = scaler.forward(panel.activity)
    for r in range(panel.n_regions):
        values = scaled[r, :, 1]
        assert values[values > 0].mean() == pytest.approx(1.0)


def test_per_capita_region_scale_is_people_per_kpi_unit_relative_to_the_regions_mean():
    """Regions of 1e5, 2e5, 4e5 people selling 10, 40, 40 per week on average: 1e4, 5e3, 1e4 people per unit
    of KPI, over their mean 8333: a shared per-capita effect is 1.2, 0.6, 1.2 of the shared scaled coefficient."""
    panel = _panel()
    kpi = np.broadcast_to(np.array([[10.0], [40.0], [40.0]]), panel.kpi.shape).copy()
    scaler = KpiScaler().fit(dataclasses.replace(panel, kpi=kpi))
    np.testing.assert_allclose(per_capita_region_scale(scaler, panel.population), [1.2, 0.6, 1.2], rtol=1e-12)
    np.testing.assert_array_equal(per_capita_region_scale(scaler, None), np.ones(3))


def test_controls_are_standardised_and_constant_control_gets_unit_sd():
    panel = _panel()
    controls = panel.controls.copy()
    controls[..., 1] = 7.0
    scaler = ControlScaler().fit(panel.replace(controls=controls))
    z = scaler.forward(controls)
    assert z[..., 0].mean() == pytest.approx(0.0, abs=1e-12)
    assert z[..., 0].std() == pytest.approx(1.0)
    assert scaler.sd[1] == 1.0 and np.allclose(z[..., 1], 0.0)


def test_unobserved_weeks_do_not_enter_the_scales():
    panel = _panel()
    observed = np.ones_like(panel.observed)
    observed[0, :10] = False
    kpi = panel.kpi.copy()
    kpi[0, :10] = 0.0
    scaler = KpiScaler().fit(panel.replace(kpi=kpi, observed=observed))
    assert scaler.scale[0] == pytest.approx(panel.kpi[0, 10:].mean())


def test_nonpositive_population_raises():
    panel = _panel()
    with pytest.raises(DataContractError, match="population"):
        MediaScaler().fit(panel.replace(population=np.array([1e5, 0.0, 1e5])))


def test_state_round_trip():
    panel = _panel()
    scaler = PanelScaler.fit(panel)
    again = PanelScaler.from_state(scaler.state_dict())
    np.testing.assert_array_equal(again.media.forward(panel.activity), scaler.media.forward(panel.activity))
    np.testing.assert_array_equal(again.kpi.scale, scaler.kpi.scale)
