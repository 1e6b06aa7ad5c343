"""Lift tests as input (``data.experiments``, ``model.calibration``, ``simulation.experiments``,
``analysis.experiments``): the file is validated with one error naming file, column and row; the model's lift is
its own counterfactual over the test's cells; a precise experiment moves the model to it while a panel without
experiments (or with experiments outside its weeks) fits exactly as before; simulated tests measure the truth;
a precise test narrows the ensemble's interval of the channel it tests (slow)."""

import dataclasses

import numpy as np
import pandas as pd
import pytest

from mmm_core.analysis.experiments import TABLE_COLUMNS, experiment_table, leave_one_out
from mmm_core.data.contract import DataContractError
from mmm_core.data.experiments import LiftTest, lift_tests_from_frame, read_lift_tests
from mmm_core.model.estimator import MMM
from mmm_core.simulation.experiments import simulation_lift_tests
from tests.core.conftest import QUICK


def rows(panel, **changes) -> pd.DataFrame:
    """A valid two-region test of radio and a national tv test, as a file's cells (text); ``changes``
    ({column: (row index, value)}) edit cells."""
    weeks = [str(w) for w in panel.weeks]
    frame = pd.DataFrame({
        "experiment": ["radio_geo", "radio_geo", "tv_national"],
        "channel": ["radio", "radio", "tv"],
        "region": [panel.regions[0], panel.regions[1], "all"],
        "first_week": [weeks[60]] * 2 + [weeks[80]], "last_week": [weeks[65]] * 2 + [weeks[83]],
        "cooldown_weeks": ["2", "2", ""], "spend_multiplier": ["0.5", "0.5", ""],
        "spend_change": ["", "", "1000"], "lift": ["-500", "-500", "800"], "lift_se": ["100", "100", "300"]})
    for column, (i, value) in changes.items():
        frame.loc[i, column] = value
    return frame


def test_an_experiments_file_reads_into_one_test_per_experiment(tiny_panel, tmp_path):
    path = tmp_path / "experiments.csv"
    rows(tiny_panel).to_csv(path, index=False)
    radio, tv = read_lift_tests(path, tiny_panel)
    assert radio.regions == tiny_panel.regions[:2] and radio.spend_multiplier == 0.5 and radio.cooldown_weeks == 2
    assert tv.regions == tiny_panel.regions and tv.cooldown_weeks == 0
    c, weeks = tiny_panel.channels.index("tv"), slice(80, 84)
    recorded = np.where(tiny_panel.observed[:, weeks], tiny_panel.spend[:, weeks, c], 0.0).sum()
    assert tv.spend_multiplier == pytest.approx(1.0 + 1000.0 / recorded)
    assert tv.spend_change(tiny_panel) == pytest.approx(1000.0)  # the currency the file states, back from the multiplier
    c, weeks = tiny_panel.channels.index("radio"), slice(60, 66)
    cut = np.where(tiny_panel.observed[:2, weeks], tiny_panel.spend[:2, weeks, c], 0.0).sum()
    assert radio.spend_change(tiny_panel) == pytest.approx(-0.5 * cut) and cut > 0


@pytest.mark.parametrize("change, column, row", [
    ({"channel": (1, "podcast")}, "channel", 2),
    ({"region": (0, "atlantis")}, "region", 1),
    ({"first_week": (2, "1999-01-04")}, "first_week", 3),
    ({"last_week": (0, "not a date")}, "last_week", 1),
    ({"lift_se": (2, "0")}, "lift_se", 3),
    ({"lift": (1, "-600")}, "lift", 2),
    ({"spend_multiplier": (2, "2")}, "spend_multiplier", 3),
    ({"cooldown_weeks": (0, "500")}, "cooldown_weeks", 1),
    ({"region": (1, "all")}, "region", 2),
])
def test_a_bad_experiments_file_is_refused_naming_file_column_and_row(tiny_panel, change, column, row):
    with pytest.raises(DataContractError) as error:
        lift_tests_from_frame(rows(tiny_panel, **change), tiny_panel, file="tests.csv")
    assert (error.value.file, error.value.column, error.value.row) == ("tests.csv", column, row)
    assert "tests.csv" in str(error.value) and column in str(error.value)


def test_a_spend_change_on_cells_the_data_record_no_spend_for_is_refused(tiny_panel):
    c = tiny_panel.channels.index("tv")
    dark = next(w for w in range(tiny_panel.n_weeks) if tiny_panel.spend[:, w, c].sum() == 0)
    frame = rows(tiny_panel, first_week=(2, str(tiny_panel.weeks[dark])), last_week=(2, str(tiny_panel.weeks[dark])))
    with pytest.raises(DataContractError, match="spend_change") as error:
        lift_tests_from_frame(frame, tiny_panel, file="tests.csv")
    assert error.value.row == 3


@pytest.fixture(scope="module")
def plain(tiny_fit):
    """The model without experiments: the shared ``QUICK`` fit of the first 91 weeks (``tiny_train``), which the
    tests below fit on too (their geo tests end by week 78)."""
    return tiny_fit


def geo_test(panel, lift: float, se: float, channel: str = "radio", start: int = 70) -> LiftTest:
    return LiftTest(f"{channel}_geo", channel, panel.regions[:3], panel.weeks[start], panel.weeks[start + 5], 3, 0.5,
                    lift, se)


def test_the_models_lift_is_its_counterfactual_over_the_tests_cells(plain, tiny_train):
    c = tiny_train.channels.index("tv")  # tv has a DAG child: the change reaches search too
    flight = (w for w in range(20, tiny_train.n_weeks - 9) if (tiny_train.spend[:3, w:w + 6, c] > 0).all())
    start = next(flight)
    test = geo_test(tiny_train, 0.0, 1.0, channel="tv", start=start)
    factor = np.ones((tiny_train.n_regions, tiny_train.n_weeks, tiny_train.n_channels))
    factor[:3, start:start + 6, c] = 0.5
    difference = plain.counterfactual(tiny_train, factor).prediction - plain.predict(tiny_train)
    cells = np.zeros_like(tiny_train.observed)
    cells[:3, start:start + 9] = True
    expected = difference[cells & tiny_train.observed].sum()
    assert expected < 0
    assert plain.lift_tests(tiny_train, (test,))["model_lift"].iloc[0] == pytest.approx(expected, rel=1e-8)


def test_a_precise_experiment_moves_the_channel_to_it_and_a_vague_one_barely(plain, tiny_train):
    before = plain.lift_tests(tiny_train, (geo_test(tiny_train, 0.0, 1.0),))["model_lift"].iloc[0]
    target = 2.0 * before
    precise = MMM(overrides={"train": QUICK}).fit(tiny_train,
                                                  lift_tests=(geo_test(tiny_train, target, 0.05 * abs(target)),))
    vague = MMM(overrides={"train": QUICK}).fit(tiny_train,
                                                lift_tests=(geo_test(tiny_train, target, 20 * abs(target)),))
    after = precise.lift_tests(tiny_train)["model_lift"].iloc[0]
    loose = vague.lift_tests(tiny_train)["model_lift"].iloc[0]
    assert abs(after - target) < 0.25 * abs(target - before)  # most of the way to the experiment
    assert abs(loose - before) < 0.25 * abs(target - before)
    roi = precise.contributions(tiny_train).set_index("channel")["roi"]
    assert roi["radio"] > 1.3 * plain.contributions(tiny_train).set_index("channel")["roi"]["radio"]


def test_experiments_outside_the_panel_leave_the_fit_exactly_as_without_any(tiny_panel):
    train = tiny_panel.slice_weeks(0, 60)
    late = geo_test(tiny_panel, -1e6, 1.0)  # weeks 70-78: after the training window
    short = {"train": {**QUICK, "epochs": 10, "min_epochs": 5}}  # plumbing: the same steps either way
    without = MMM(overrides=short).fit(train)
    with_late = MMM(overrides=short).fit(train, lift_tests=(late,))
    assert with_late.lift_tests_ == ()
    np.testing.assert_array_equal(with_late.predict(train), without.predict(train))


def test_the_experiment_table_and_leave_one_out_score_each_test(tiny_panel):
    tests = (geo_test(tiny_panel, -300.0, 100.0), geo_test(tiny_panel, -300.0, 100.0, channel="tv"))
    tests = (dataclasses.replace(tests[0], experiment="a"), dataclasses.replace(tests[1], experiment="b"))
    quick = {"train": {**QUICK, "epochs": 10, "min_epochs": 5}}  # the table's plumbing, not the fit's quality
    model = MMM(overrides=quick).fit(tiny_panel, lift_tests=tests[:1])
    loo = leave_one_out(tiny_panel, tests, overrides=quick)
    table = experiment_table(model, tiny_panel, tests, loo)
    assert tuple(table.columns) == TABLE_COLUMNS
    assert table["used"].tolist() == [True, False]
    np.testing.assert_allclose(table["z"], (table["model_lift"] - table["lift"]) / table["lift_se"])
    assert np.isfinite(table[["model_lift", "loo_lift", "loo_z"]].to_numpy()).all()


def test_a_saved_model_keeps_the_experiments_it_was_fitted_on(tiny_panel, tmp_path):
    test = geo_test(tiny_panel, -300.0, 100.0)
    model = MMM(overrides={"train": {**QUICK, "epochs": 20, "min_epochs": 5}}).fit(tiny_panel, lift_tests=(test,))
    loaded = MMM.load(model.save(tmp_path / "model"))
    assert loaded.lift_tests_ == (test,)
    pd.testing.assert_frame_equal(loaded.lift_tests(tiny_panel), model.lift_tests(tiny_panel))


def test_simulated_tests_measure_the_truths_own_counterfactual(tiny_simulation):
    panel, truth = tiny_simulation.panel, tiny_simulation.truth
    simulated = simulation_lift_tests(tiny_simulation, ["tv", "radio"], relative_se=0.2)
    for test, true in zip(simulated.tests, simulated.true_lift):
        rows_, weeks, measured = test.cells(panel.regions, panel.weeks)
        assert len(rows_) == max(1, round(0.2 * panel.n_regions)) and 4 <= weeks.sum() <= 8
        own = truth.own_activity.copy()
        c = panel.channels.index(test.channel)
        own[np.ix_(rows_, np.flatnonzero(weeks), [c])] *= test.spend_multiplier
        cells = np.zeros_like(panel.observed)
        cells[np.ix_(rows_, np.flatnonzero(measured))] = True
        expected = (truth.kpi_noiseless_for(own) - truth.kpi_noiseless)[cells & panel.observed].sum()
        assert true == pytest.approx(expected)
        assert np.sign(true) == np.sign(test.spend_multiplier - 1.0)
        assert test.lift_se == pytest.approx(0.2 * abs(true))
    holdouts = simulation_lift_tests(tiny_simulation, ["tv", "radio"], relative_se=0.2, multipliers=(0.0,))
    for test, true in zip(holdouts.tests, holdouts.true_lift):
        assert test.spend_multiplier == 0.0 and true < 0  # spend to zero in the test cells: the channel's whole effect
        assert test.spend_change(panel) < 0 and test.lift_se == pytest.approx(0.2 * abs(true))


@pytest.mark.slow  # two ensembles: ~35 s
def test_a_precise_experiment_narrows_the_roi_interval_of_a_channel_the_prior_set(tiny_panel):
    from mmm_core.model.ensemble import Ensemble, EnsembleConfig

    config = EnsembleConfig(members=6, epochs=60)
    quick = {"train": {**QUICK, "epochs": 200, "min_epochs": 60}}
    plain = MMM(overrides=quick).fit(tiny_panel)
    assert plain.contributions(tiny_panel).set_index("channel")["roi_prior_weight"]["search"] == 1.0  # always on
    lift = plain.lift_tests(tiny_panel, (geo_test(tiny_panel, 0.0, 1.0, "search"),))["model_lift"].iloc[0]
    tested = MMM(overrides=quick).fit(tiny_panel,
                                      lift_tests=(geo_test(tiny_panel, lift, 0.05 * abs(lift), "search"),))

    def width(model):
        table = Ensemble.fit(model, tiny_panel, config).contributions(tiny_panel, 0.9).set_index("channel")
        return (table["roi_upper"] - table["roi_lower"]) / table["roi"]

    before, after = width(plain), width(tested)
    assert after["search"] < 0.7 * before["search"]
