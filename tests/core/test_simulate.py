"""The simulator's ground truth is self-consistent, reproducible and matches what it writes to disk."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch

from mmm_core.data.contract import Panel
from mmm_core.simulation.simulator import PRESETS, SimulationConfig, simulate, write_simulation
from mmm_core.data.spec import DatasetSpec
from mmm_core.model.transforms import adstock, adstock_weights, hill, propagate_dag


def _recompute_kpi(truth, own_activity: np.ndarray) -> np.ndarray:
    """Noiseless KPI ``[R, T]`` written out independently of ``simulate.py``, from transforms only."""
    t = np.arange(len(truth.weeks))
    base = truth.base_level[:, None]
    non_media = base * (1.0 + truth.trend_growth[:, None] * t / 52.0
                        + truth.seasonality_amplitude[:, None] * truth.seasonal_shape
                        + truth.holiday_lift @ truth.holiday_indicator.T)
    for k in range(len(truth.control_names)):
        non_media += base * truth.control_coefficient[k] * (truth.controls[..., k] - truth.control_center[k])
    media = np.zeros_like(non_media)
    index = own_activity / (truth.population[:, None, None] * truth.activity_scale)
    total = propagate_dag(torch.tensor(index), torch.tensor(truth.dag_adjacency))  # [R, T, C]
    for c in range(len(truth.channels)):
        decay = torch.tensor([truth.adstock_decay[c]])
        lag = truth.adstock_peak_lag[c]
        weights = adstock_weights(decay, None if lag == 0 else torch.tensor([lag]), truth.max_lag)
        carried = adstock(total[..., c:c + 1], weights)[..., 0]
        response = hill(carried, torch.tensor(truth.hill_half_saturation[c]), torch.tensor(truth.hill_slope[c]))
        media += (truth.population * truth.region_media_multiplier)[:, None] * truth.channel_coefficient[c] \
            * response.numpy()
    return non_media + media


# -- reproducibility ----------------------------------------------------------------------------
def test_same_seed_gives_identical_simulation(tiny_simulation):
    again = simulate("tiny", seed=tiny_simulation.seed)
    np.testing.assert_array_equal(again.panel.kpi, tiny_simulation.panel.kpi)
    np.testing.assert_array_equal(again.panel.spend, tiny_simulation.panel.spend)
    np.testing.assert_array_equal(again.truth.hill_half_saturation, tiny_simulation.truth.hill_half_saturation)
    np.testing.assert_array_equal(again.truth.noise, tiny_simulation.truth.noise)


def test_different_seeds_differ(tiny_simulation):
    other = simulate("tiny", seed=tiny_simulation.seed + 1)
    assert not np.allclose(other.panel.kpi, tiny_simulation.panel.kpi)
    assert not np.allclose(other.truth.adstock_decay, tiny_simulation.truth.adstock_decay)


def test_seed_defaults_to_config_seed():
    config = replace(PRESETS["tiny"], seed=11)
    np.testing.assert_array_equal(simulate(config).panel.kpi, simulate(config, seed=11).panel.kpi)


# -- the truth is self-consistent ---------------------------------------------------------------
def test_noiseless_kpi_recomputed_independently(tiny_truth):
    expected = _recompute_kpi(tiny_truth, tiny_truth.own_activity)
    np.testing.assert_allclose(tiny_truth.kpi_noiseless, expected, rtol=1e-10)


def test_components_sum_to_noiseless_kpi(tiny_truth):
    parts = tiny_truth.components()
    assert {"baseline", "trend", "seasonality", "holiday", "channel:tv", "control:price_index"} <= set(parts)
    np.testing.assert_allclose(sum(parts.values()), tiny_truth.kpi_noiseless, rtol=1e-12)


def test_kpi_noiseless_method_is_the_generating_path(tiny_simulation):
    np.testing.assert_allclose(tiny_simulation.kpi_noiseless(), tiny_simulation.truth.kpi_noiseless, rtol=1e-12)
    half = tiny_simulation.truth.own_activity * 0.5
    np.testing.assert_allclose(tiny_simulation.kpi_noiseless(half), _recompute_kpi(tiny_simulation.truth, half),
                               rtol=1e-10)


def test_panel_kpi_is_noiseless_plus_noise(tiny_simulation):
    panel, truth = tiny_simulation.panel, tiny_simulation.truth
    obs = panel.observed
    np.testing.assert_allclose(panel.kpi[obs], np.maximum(truth.kpi_noiseless + truth.noise, 0)[obs], atol=0.006)


def test_file_activity_is_own_activity_through_the_dag(tiny_simulation):
    panel, truth = tiny_simulation.panel, tiny_simulation.truth
    total = propagate_dag(torch.tensor(truth.activity_index(truth.own_activity)),
                          torch.tensor(truth.dag_adjacency)).numpy()
    np.testing.assert_allclose(truth.activity_index(panel.activity), total, atol=1e-6)


def test_activity_index_has_mean_one_where_active(tiny_panel, tiny_truth):
    index = tiny_truth.activity_index(tiny_panel.activity)
    active = tiny_panel.observed[..., None] & (index > 0)
    means = np.where(active, index, 0).sum(axis=(0, 1)) / active.sum(axis=(0, 1))
    np.testing.assert_allclose(means, 1.0, rtol=1e-12)
    np.testing.assert_allclose(tiny_truth.hill_half_saturation_per_capita,
                               tiny_truth.hill_half_saturation * tiny_truth.activity_scale)


def test_parameters_cover_both_adstock_and_saturation_families(tiny_truth):
    assert (tiny_truth.adstock_peak_lag > 0).any() and (tiny_truth.adstock_peak_lag == 0).any()
    assert (tiny_truth.hill_slope > 1).any() and (tiny_truth.hill_slope <= 1).any()
    assert tiny_truth.has_activity_column == (True, True, False)


# -- contributions --------------------------------------------------------------------------------
def test_total_contributions_are_dag_counterfactuals(tiny_simulation):
    truth, obs = tiny_simulation.truth, tiny_simulation.truth.observed
    for c, channel in enumerate(truth.channels):
        expected = (truth.kpi_noiseless - tiny_simulation.counterfactual(channel))[obs].sum()
        assert truth.total_contribution[c] == pytest.approx(expected, rel=1e-9)
    tv, search, radio = (truth.channel_index(n) for n in ("tv", "search", "radio"))
    assert truth.dag_adjacency[tv, search] > 0
    # A parent also moves its child: its total effect exceeds its direct one.
    assert truth.total_contribution[tv] > 1.01 * truth.direct_contribution[tv]
    # A child keeps what its parent caused when its own activity goes: total < direct.
    assert truth.total_contribution[search] < truth.direct_contribution[search]
    # A channel outside the graph: total == direct.
    assert truth.total_contribution[radio] == pytest.approx(truth.direct_contribution[radio], rel=1e-9)


def test_counterfactual_without_a_parent_lowers_child_activity(tiny_truth):
    own = tiny_truth.without_channel("tv")
    index = propagate_dag(torch.tensor(tiny_truth.activity_index(own)), torch.tensor(tiny_truth.dag_adjacency))
    full = propagate_dag(torch.tensor(tiny_truth.activity_index(tiny_truth.own_activity)),
                         torch.tensor(tiny_truth.dag_adjacency))
    search = tiny_truth.channel_index("search")
    assert float(index[..., search].sum()) < float(full[..., search].sum())


def test_shares_rois_and_media_share(tiny_truth, tiny_panel):
    assert tiny_truth.direct_share.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(tiny_truth.direct_contribution,
                               tiny_truth.direct_contribution_weekly[tiny_truth.observed].sum(axis=0))
    np.testing.assert_allclose(tiny_truth.spend, tiny_panel.spend.sum(axis=(0, 1)))
    np.testing.assert_allclose(tiny_truth.roi, tiny_truth.total_contribution / tiny_truth.spend)
    np.testing.assert_allclose(tiny_truth.direct_roi, tiny_truth.direct_contribution / tiny_truth.spend)
    assert tiny_truth.media_share == pytest.approx(PRESETS["tiny"].media_share, rel=1e-9)


def test_zero_media_world_has_no_media_effect():
    sim = simulate("zero_media", seed=1)
    truth = sim.truth
    assert np.all(truth.direct_contribution_weekly == 0)
    assert np.all(truth.total_contribution == 0) and np.all(truth.roi == 0)
    np.testing.assert_allclose(truth.kpi_noiseless, truth.non_media_kpi())
    assert sim.panel.spend.sum() > 0


def test_strong_edge_preset_has_exactly_one_edge():
    truth = simulate("strong_dag_edge", seed=0).truth
    edges = np.argwhere(truth.dag_adjacency != 0)
    assert edges.tolist() == [[truth.channel_index("tv"), truth.channel_index("search")]]


# -- noise, missing data --------------------------------------------------------------------------
def test_noise_matches_stated_snr(tiny_truth):
    obs = tiny_truth.observed
    within = np.array([tiny_truth.kpi_noiseless[r, obs[r]].var() for r in range(len(obs))])
    np.testing.assert_allclose(tiny_truth.noise_sd**2 * tiny_truth.snr, within)
    standardised = (tiny_truth.noise / tiny_truth.noise_sd[:, None])[obs]
    assert standardised.std() == pytest.approx(1.0, abs=0.1)


def test_noiseless_config_has_no_noise():
    truth = simulate(replace(PRESETS["tiny"], snr=float("inf")), seed=0).truth
    assert np.all(truth.noise == 0)


def test_missing_and_late_region_weeks_are_flagged(tiny_panel, tiny_truth):
    obs = tiny_panel.observed
    assert not obs.all()
    late = [r for r in range(tiny_panel.n_regions) if not obs[r, :4].any()]
    assert len(late) == 1
    for arr in (tiny_panel.kpi, tiny_panel.spend.sum(-1), tiny_panel.activity.sum(-1),
                np.abs(tiny_panel.controls).sum(-1), tiny_truth.own_activity.sum(-1)):
        assert np.all(arr[~obs] == 0)
    assert tiny_panel.balance_report()["missing_region_weeks"] == int((~obs).sum())


def test_population_is_heavy_tailed():
    pop = simulate("sample", seed=0).truth.population
    assert pop.max() / np.median(pop) > 3


# -- configs --------------------------------------------------------------------------------------
@pytest.mark.parametrize("name, sizes", [("tiny", (6, 104, 3, 2)), ("sample", (40, 156, 8, 4)),
                                         ("benchmark", (190, 109, 13, 7)), ("large", (1000, 156, 20, 10))])
def test_presets_have_stated_sizes(name, sizes):
    config = PRESETS[name]
    assert (config.n_regions, config.n_weeks, config.n_channels, config.n_controls) == sizes
    assert len(set(config.channel_names)) == config.n_channels


def test_channel_kinds_pick_templates_in_order_and_number_repeats():
    config = replace(PRESETS["tiny"], n_channels=4, channel_kinds=("radio", "tv", "radio", "search"), dag_edges=())
    assert config.channel_names == ("radio", "tv", "radio_2", "search")
    sim = simulate(config, seed=1)
    assert sim.panel.channels == config.channel_names
    flighted = PRESETS["flighted"]
    patterns = {t.pattern for _, t in flighted.channels}
    assert patterns == {"flighted"} and flighted.channel_names[-2:] == ("tv_2", "radio_2")
    # the default order is untouched by the option
    assert PRESETS["sample"].channel_names[:3] == ("tv", "search", "radio")


@pytest.mark.parametrize("kinds, match", [(("tv", "radio"), "channel_kinds has 2 kinds"),
                                          (("tv", "radio", "blimp"), "unknown channel kinds")])
def test_channel_kinds_are_checked(kinds, match):
    with pytest.raises(ValueError, match=match):
        replace(PRESETS["tiny"], channel_kinds=kinds)


def test_sample_preset_panel_shape():
    panel = simulate("sample", seed=0).panel
    assert (panel.n_regions, panel.n_weeks, panel.n_channels, panel.n_controls) == (40, 156, 8, 4)


@pytest.mark.parametrize("bad", [dict(start_date="2022-01-04"), dict(n_weeks=30), dict(media_share=1.0)])
def test_invalid_config_raises(bad):
    with pytest.raises(ValueError):
        SimulationConfig(**bad)


def test_cyclic_dag_edges_raise():
    config = replace(PRESETS["tiny"], dag_edges=(("tv", "search", 0.3), ("search", "tv", 0.3)))
    with pytest.raises(ValueError, match="cycle"):
        simulate(config)


# -- files ----------------------------------------------------------------------------------------
def test_written_csv_round_trips(tiny_simulation, tmp_path):
    paths = write_simulation(tiny_simulation, tmp_path / "tiny", fmt="csv")
    panel, truth = tiny_simulation.panel, tiny_simulation.truth
    spec = DatasetSpec.from_yaml(paths["spec"])
    assert spec.files == ("tiny.csv",) and spec.population_column == "population"
    assert [c.activity for c in spec.channels] == ["tv_impressions", "search_impressions", None]
    frame = pd.read_csv(paths["data"])
    assert set(frame.columns) == set(spec.columns)
    assert len(frame) == int(panel.observed.sum())
    r_idx = frame["region"].map({r: i for i, r in enumerate(panel.regions)}).to_numpy()
    t_idx = ((pd.to_datetime(frame["week"]).to_numpy().astype("datetime64[D]") - panel.weeks[0]) // 7).astype(int)
    np.testing.assert_allclose(frame["revenue"], panel.kpi[r_idx, t_idx], atol=1e-9)
    for c, ch in enumerate(panel.channels):
        np.testing.assert_allclose(frame[f"{ch}_spend"], panel.spend[r_idx, t_idx, c], atol=1e-9)
        activity_col = spec.channels[c].model_column
        np.testing.assert_allclose(frame[activity_col], panel.activity[r_idx, t_idx, c], atol=1e-9)
    for k, name in enumerate(panel.control_names):
        np.testing.assert_allclose(frame[name], panel.controls[r_idx, t_idx, k], atol=1e-9)
    np.testing.assert_allclose(frame["population"], panel.population[r_idx])
    saved = json.loads(paths["truth"].read_text())
    assert [c["name"] for c in saved["channels"]] == list(truth.channels)
    np.testing.assert_allclose([c["total_contribution"] for c in saved["channels"]], truth.total_contribution)
    np.testing.assert_allclose(saved["dag"]["adjacency"], truth.dag_adjacency)
    truth_kpi = pd.read_csv(paths["truth_kpi"])
    np.testing.assert_allclose(truth_kpi["kpi_noiseless"], truth.kpi_noiseless.ravel(), atol=1e-3)


def test_written_parquet_round_trips(tiny_simulation, tmp_path):
    paths = write_simulation(tiny_simulation, tmp_path, fmt="parquet", name="tiny")
    frame = pd.read_parquet(paths["data"])
    assert paths["data"].name == "tiny.parquet" and len(frame) == int(tiny_simulation.panel.observed.sum())
    truth_kpi = pd.read_parquet(paths["truth_kpi"])
    tv = tiny_simulation.truth.direct_contribution_weekly[..., 0]
    np.testing.assert_array_equal(truth_kpi["channel:tv"], tv.ravel())


def test_panel_is_a_valid_contract_panel(tiny_panel):
    assert isinstance(tiny_panel, Panel) and tiny_panel.population is not None


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_lift_tests_written_with_the_simulation_read_back_as_the_same_tests(tiny_simulation, tmp_path, fmt):
    from mmm_core.data.io import load_lift_tests, load_panel
    from mmm_core.simulation.experiments import simulation_lift_tests

    tests = simulation_lift_tests(tiny_simulation, ["search"]).tests
    paths = write_simulation(tiny_simulation, tmp_path, fmt=fmt, name="tiny", lift_tests=tests)
    assert paths["experiments"].name == f"experiments.{fmt}"
    assert DatasetSpec.from_yaml(paths["spec"]).experiments == f"experiments.{fmt}"
    assert load_lift_tests(paths["spec"], load_panel(paths["spec"])) == tests
    frame = pd.read_csv(paths["experiments"]) if fmt == "csv" else pd.read_parquet(paths["experiments"])
    assert len(frame) == sum(len(t.regions) for t in tests)  # one row per experiment and region


def test_a_simulation_written_without_lift_tests_names_no_experiments_file(tiny_simulation, tmp_path):
    paths = write_simulation(tiny_simulation, tmp_path, name="tiny")
    assert "experiments" not in paths and DatasetSpec.from_yaml(paths["spec"]).experiments is None
    assert "experiments" not in paths["spec"].read_text()


SAMPLE_EXPERIMENT_CHANNELS = ("search", "social", "display")
"""The always-on channels of data/sample whose geo tests data/sample/experiments.csv holds (its README)."""
SAMPLE_RELATIVE_SE = 0.25
"""The bundled tests are powered to read their lift to ±25 % (its README)."""


def test_bundled_experiments_match_the_simulator():
    """data/sample/experiments.csv is write_lift_tests(simulation_lift_tests(simulate("sample"), channels,
    relative_se=0.25))."""
    from pathlib import Path

    from mmm_core.data.experiments import read_lift_tests
    from mmm_core.simulation.experiments import simulation_lift_tests

    folder = Path(__file__).resolve().parents[2] / "data" / "sample"
    sim = simulate("sample")
    assert DatasetSpec.from_yaml(folder / "spec.yaml").experiments == "experiments.csv"
    on = [c for i, c in enumerate(sim.panel.channels) if (sim.panel.spend[..., i][sim.panel.observed] > 0).all()]
    assert set(SAMPLE_EXPERIMENT_CHANNELS) <= set(on)
    expected = simulation_lift_tests(sim, SAMPLE_EXPERIMENT_CHANNELS, relative_se=SAMPLE_RELATIVE_SE).tests
    bundled = read_lift_tests(folder / "experiments.csv", sim.panel)
    # the lifts are sums over region-weeks: equal to float rounding, whatever order the model's ops sum in
    assert [replace(t, lift=0.0, lift_se=0.0) for t in bundled] == \
        [replace(t, lift=0.0, lift_se=0.0) for t in expected]
    np.testing.assert_allclose([(t.lift, t.lift_se) for t in bundled], [(t.lift, t.lift_se) for t in expected],
                               rtol=1e-9)


def test_bundled_sample_matches_the_simulator():
    """data/sample is `mmm simulate --preset sample --out data/sample`; regenerate it if this fails."""
    from pathlib import Path

    folder = Path(__file__).resolve().parents[2] / "data" / "sample"
    sim = simulate("sample")
    frame = pd.read_csv(folder / "sample.csv")
    assert len(frame) == int(sim.panel.observed.sum())
    np.testing.assert_allclose(frame["revenue"].to_numpy(), sim.panel.kpi[sim.panel.observed], atol=1e-9)
    saved = json.loads((folder / "truth.json").read_text())
    np.testing.assert_allclose([c["roi"] for c in saved["channels"]], sim.truth.roi)
