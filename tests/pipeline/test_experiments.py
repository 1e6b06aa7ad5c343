"""Lift tests through the pipeline, on the shared refresh (``published``): the deployment's dataset names an
experiments file with ``geo_search`` (inside both refresh windows) and ``late_search`` (its cool-down ends with the
data's last week, so only the second refresh's window holds it). Training uses the experiments its window holds,
the published ``experiments`` table sets each beside the model's lift, and a warning check flags one the model
contradicts."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import replace
from pathlib import Path

import dagster as dg
import duckdb
import numpy as np
import pytest

from mmm_core.analysis.experiments import TABLE_COLUMNS, experiment_table
from mmm_core.data.spec import DatasetSpec
from mmm_pipeline import gates
from mmm_pipeline.resources import QualityGatesResource
from mmm_pipeline.storage import runs, tables
from mmm_pipeline.storage import warehouse as wh
from mmm_pipeline.storage.artifacts import load_model
from tests.conftest import REFRESH_WEEKS as WEEKS
from tests.conftest import refresh_lift_tests

CHECK = dg.AssetCheckKey(dg.AssetKey("mmm_model"), "experiments_agree_with_model")
MAX_Z = QualityGatesResource().max_experiment_z


def _warehouse(published):
    return duckdb.connect(str(published.deployment.warehouse))  # read_partition creates a missing table


def _published_model(published, week: str):
    """The model the week's published model_runs row names (re-runs elsewhere may move the week's ``current``)."""
    [[path]] = published.sql("SELECT artifact_path FROM model_runs WHERE refresh_week = ?", [week])
    return load_model(Path(path))


def _window(published, week: str):
    """(the refresh's panel as training fitted it, the current experiments validated as at ingest)."""
    spec = DatasetSpec.from_yaml(published.deployment.spec_path)
    with _warehouse(published) as conn:
        return tables.read_panel(conn, spec, dt.date.fromisoformat(week)), wh.current_lift_tests(conn, spec)


def test_the_warehouse_gives_back_the_files_tests_exactly(published):
    """The experiments file the deployment wrote, through raw_current_experiments and the validator."""
    _, tests = _window(published, WEEKS[1])
    assert tests == refresh_lift_tests().tests


def test_the_experiments_table_sets_every_experiment_beside_the_models_lift(published):
    assert [r[0] for r in published.sql("SELECT column_name FROM information_schema.columns WHERE table_name = "
                                        "'experiments' ORDER BY ordinal_position")] == ["refresh_week", *TABLE_COLUMNS]
    expected = {t.experiment: t for t in refresh_lift_tests().tests}
    in_window = {WEEKS[0]: {"geo_search"}, WEEKS[1]: {"geo_search", "late_search"}}
    for week in WEEKS:
        rows = published.sql("SELECT experiment, channel, regions, n_regions, first_week, cooldown_weeks, "
                             "spend_multiplier, lift, lift_se, model_lift, z, used FROM experiments "
                             "WHERE refresh_week = ? ORDER BY experiment", [week])
        assert [r[0] for r in rows] == sorted(expected), week  # one row per experiment of the file
        for name, channel, regions, n_regions, first, cooldown, multiplier, lift, se, model_lift, z, used in rows:
            test = expected[name]
            assert (channel, regions, n_regions, str(first), cooldown) == \
                (test.channel, ";".join(test.regions), len(test.regions), str(test.first_week), test.cooldown_weeks)
            assert (multiplier, lift, se) == pytest.approx((test.spend_multiplier, test.lift, test.lift_se))
            assert used == (name in in_window[week]), (week, name)
            if used:
                assert math.isfinite(model_lift) and z == pytest.approx((model_lift - lift) / se)
            else:  # outside the window: not trained on, not scored
                assert model_lift is None and z is None
        # the saved model trained on exactly the experiments its window holds
        assert {t.experiment for t in _published_model(published, week).lift_tests_} == in_window[week]
        [materialization] = published.results[week].asset_materializations_for_node("mmm_model")
        assert materialization.metadata["experiments_rows"].value == 2
        assert materialization.metadata["experiments_used"].value == len(in_window[week])
    assert published.sql("SELECT count(*) FROM latest_experiments") == [(2,)]
    parquet = published.deployment.data / "serving" / "parquet" / f"refresh_week={WEEKS[1]}" / "experiments.parquet"
    with duckdb.connect() as conn:
        assert conn.execute(f"SELECT count(*) FROM '{parquet}'").fetchone()[0] == 2


def test_the_check_judges_each_refresh_on_its_table(published):
    for week in WEEKS:
        [evaluation] = [e for e in published.results[week].get_asset_check_evaluations() if e.asset_check_key == CHECK]
        with _warehouse(published) as conn:
            table = tables.read_partition(conn, "experiments", dt.date.fromisoformat(week))
        off = gates.contradicting_experiments(table, MAX_Z)
        assert evaluation.severity == dg.AssetCheckSeverity.WARN
        assert evaluation.passed == off.empty
        assert evaluation.metadata["experiments_contradicting"].value == list(off.experiment)
        assert set(evaluation.metadata["z"].value) == set(gates.judged_experiments(table).experiment)


def test_the_check_names_an_experiment_the_model_contradicts_and_passes_the_others(published):
    """The published model beside the file's tests, and beside the same tests with geo_search's lift x 20 at a
    tenth of its standard error (a biased read-out): only that one is flagged, by name."""
    panel, tests = _window(published, WEEKS[1])
    model = _published_model(published, WEEKS[1])
    honest = experiment_table(model, panel, tests)
    assert gates.contradicting_experiments(honest, MAX_Z).empty, honest[["experiment", "z"]]
    biased = tuple(replace(t, lift=20 * t.lift, lift_se=t.lift_se / 10) if t.experiment == "geo_search" else t
                   for t in tests)
    table = experiment_table(model, panel, biased)
    off = gates.contradicting_experiments(table, MAX_Z)
    assert list(off.experiment) == ["geo_search"]
    text = gates.experiments_description(table, MAX_Z, QualityGatesResource().how_to_change("max_experiment_z"))
    assert text.startswith("1 of 2 experiments contradict the model") and "geo_search (search)" in text
    assert "late_search" not in text and "MMM_MAX_EXPERIMENT_Z" in text


def test_leave_one_out_refits_without_each_experiment_in_the_window(published):
    """TrainingConfig.leave_one_out: one more fit per experiment in the window (short fits here)."""
    panel, tests = _window(published, WEEKS[0])
    model = _published_model(published, WEEKS[0])
    overrides = {"train": {"epochs": 5, "seed": 0, "device": "cpu", "threads": 1}}
    rows = runs.experiment_rows(model, panel, tests, overrides).set_index("experiment")
    assert np.isfinite(rows.loc["geo_search", ["loo_lift", "loo_z"]].astype(float)).all()
    assert rows.loc["geo_search", "loo_z"] == pytest.approx(
        (rows.loc["geo_search", "loo_lift"] - rows.loc["geo_search", "lift"]) / rows.loc["geo_search", "lift_se"])
    assert np.isnan(rows.loc["late_search", ["loo_lift", "loo_z"]].astype(float)).all()  # outside the window


def test_no_experiments_give_an_empty_table_with_its_columns():
    rows = runs.experiment_rows(None, None, ())
    assert list(rows.columns) == list(TABLE_COLUMNS) and rows.empty
    with duckdb.connect() as conn:
        assert tables.replace_partition(conn, "experiments", dt.date(2024, 1, 1), rows) == 0
        assert [r[0] for r in conn.execute("DESCRIBE experiments").fetchall()] == ["refresh_week", *TABLE_COLUMNS]
