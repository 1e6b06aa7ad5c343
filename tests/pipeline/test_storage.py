"""Plain-Python parts of the pipeline on hand-made inputs: the atomic swap and the quality-gate measurements."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mmm_pipeline import gates
from mmm_pipeline.storage.swap import remove_stale_temporaries, staged, stale_temporaries, write_text_atomically


def _folder(path, text):
    path.mkdir()
    (path / "a.txt").write_text(text)


def test_a_staged_folder_replaces_the_previous_one_and_leaves_no_temporaries(tmp_path):
    target = tmp_path / "2023-12-25"
    _folder(target, "old")
    with staged(target) as staging:
        _folder(staging, "new")
        assert (target / "a.txt").read_text() == "old"  # readers see the old folder until the block ends
    assert (target / "a.txt").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["2023-12-25"]


def test_a_failed_write_keeps_the_previous_version_and_removes_its_staging(tmp_path):
    target = tmp_path / "dashboard.html"
    write_text_atomically(target, "old")
    with pytest.raises(RuntimeError, match="half written"):
        with staged(target) as staging:
            staging.write_text("ne")
            raise RuntimeError("half written")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dashboard.html"]


def test_stale_temporaries_are_found_by_target_name(tmp_path):
    for name in (".serving.duckdb.ab12.tmp", ".serving.duckdb.ab12.tmp.wal", ".refresh_week=2024-01-01.cd34.old",
                 "serving.duckdb", ".publish.lock"):
        (tmp_path / name).write_text("x")
    assert [p.name for p in stale_temporaries(tmp_path, "serving.duckdb")] == \
        [".serving.duckdb.ab12.tmp", ".serving.duckdb.ab12.tmp.wal"]
    removed = remove_stale_temporaries(tmp_path)
    assert len(removed) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == [".publish.lock", "serving.duckdb"]


def test_holdout_r2_reads_the_configured_view_and_is_nan_when_missing():
    metrics = pd.DataFrame({"split": ["holdout"] * 4 + ["train"], "metric": ["r2"] * 5,
                            "view": ["pooled", "pooled", "national", "national", "pooled"],
                            "series": ["model", "region_mean", "model", "region_mean", "model"],
                            "value": [0.8, 0.7, 0.4, 0.3, 0.99]})
    assert gates.holdout_r2(metrics, "pooled") == (0.8, {"region_mean": 0.7})
    assert gates.holdout_r2(metrics, "national") == (0.4, {"region_mean": 0.3})
    value, baselines = gates.holdout_r2(metrics, "within_region")
    assert np.isnan(value) and baselines == {}


def _contributions(panel, prediction):
    """Two components per observed region-week that add up to the prediction."""
    rows = []
    for r, t in zip(*np.nonzero(panel.observed)):
        week = pd.Timestamp(panel.weeks[t])
        rows += [{"region": panel.regions[r], "week": week, "value": 0.25 * prediction[r, t]},
                 {"region": panel.regions[r], "week": week, "value": 0.75 * prediction[r, t]}]
    return pd.DataFrame(rows)


def test_additivity_error_is_zero_for_matching_sums_and_names_a_gap(tiny_panel):
    prediction = np.random.default_rng(0).uniform(100, 200, tiny_panel.observed.shape)
    stored = _contributions(tiny_panel, prediction)
    worst, n = gates.additivity_error(stored, prediction, tiny_panel)
    assert worst < 1e-12 and n == int(tiny_panel.observed.sum())
    stored.loc[0, "value"] += 0.01 * prediction[np.nonzero(tiny_panel.observed)][0]
    assert gates.additivity_error(stored, prediction, tiny_panel)[0] == pytest.approx(0.01, rel=1e-6)
    missing = stored.drop(index=[0, 1])  # one observed region-week has no stored rows
    assert gates.additivity_error(missing, prediction, tiny_panel)[0] == np.inf


def test_relative_roi_change_is_per_channel_and_skips_new_channels():
    before = pd.DataFrame({"channel": ["tv", "search"], "roi": [2.0, -1.0]})
    now = pd.DataFrame({"channel": ["tv", "search", "radio"], "roi": [3.0, -0.5, 1.0]})
    assert gates.relative_roi_change(now, before).to_dict() == pytest.approx({"tv": 0.5, "search": 0.5})
