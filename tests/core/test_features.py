"""Feature tables round-trip to the panel, and refresh windows pick the right weeks."""

from __future__ import annotations

import numpy as np
import pytest

from mmm_core.data.contract import DataContractError
from mmm_core.model.features import feature_frame, panel_from_features, refresh_window, scaling_frame
from mmm_core.model.scaling import PanelScaler


def test_feature_frame_round_trips_to_the_same_panel(tiny_panel):
    scaler = PanelScaler.fit(tiny_panel)
    back = panel_from_features(feature_frame(tiny_panel, scaler), tiny_panel.channels, tiny_panel.control_names)
    assert back.regions == tiny_panel.regions
    np.testing.assert_array_equal(back.weeks, tiny_panel.weeks)
    np.testing.assert_array_equal(back.observed, tiny_panel.observed)
    for name in ("kpi", "spend", "activity", "controls"):
        np.testing.assert_allclose(getattr(back, name), getattr(tiny_panel, name), err_msg=name)
    np.testing.assert_allclose(back.population, tiny_panel.population)


def test_scaled_values_invert_with_scaling_params(tiny_panel):
    scaler = PanelScaler.fit(tiny_panel)
    features = feature_frame(tiny_panel, scaler)
    params = scaling_frame(tiny_panel, scaler)
    kpi = features[features.kind == "kpi"].merge(params[params.kind == "kpi"][["region", "scale"]], on="region")
    np.testing.assert_allclose(kpi.scaled_value * kpi.scale, kpi.value)
    act = features[features.kind == "activity"].merge(params[params.kind == "activity"], on=["region", "name"])
    np.testing.assert_allclose(act.scaled_value * act.scale, act.value, rtol=1e-12)


def test_refresh_window_ends_in_the_refresh_week(tiny_panel):
    last = tiny_panel.weeks[-1]
    window = refresh_window(tiny_panel, str(last), 52)
    assert window.n_weeks == 52 and window.weeks[-1] == last
    earlier = refresh_window(tiny_panel, str(tiny_panel.weeks[-3]), 104)
    assert earlier.weeks[-1] == tiny_panel.weeks[-3] and earlier.weeks[0] == tiny_panel.weeks[0]


def test_refresh_week_beyond_the_data_fails_loudly(tiny_panel):
    future = tiny_panel.weeks[-1] + np.timedelta64(70, "D")
    with pytest.raises(DataContractError, match="not in the data"):
        refresh_window(tiny_panel, str(future), 52)
