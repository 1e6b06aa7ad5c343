"""Model artefacts: loading never unpickles, and a damaged file gives one clear error that names it."""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path

import pytest
import torch

from mmm_core.model.estimator import MMM
from mmm_core.simulation.simulator import PRESETS, simulate
from mmm_pipeline.storage.artifacts import (CHECKSUMS, ModelArtifactError, current_model_dir, load_model,
                                            save_model_atomically, save_run_model)

WEIGHTS, CONFIG = "weights.safetensors", "config.json"


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> Path:
    """A small fitted model saved the way the pipeline saves it."""
    panel = simulate(PRESETS["tiny"], seed=3).panel
    model = MMM(overrides={"train": {"epochs": 5, "min_epochs": 1, "seed": 0, "device": "cpu"}}).fit(panel)
    return save_model_atomically(model, tmp_path_factory.mktemp("models") / "2023-12-25")


@pytest.fixture
def copy(saved, tmp_path) -> Path:
    return Path(shutil.copytree(saved, tmp_path / "model"))


class Payload:
    """Unpickling this creates a marker file: proof that someone unpickled."""

    marker: Path

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_a_saved_model_loads_without_any_unpickling(saved, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("unpickling attempted")

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "Unpickler", refuse)
    monkeypatch.setattr(torch, "load", refuse)
    model = load_model(saved)
    assert model.channels_ == ("tv", "search", "radio")
    assert sorted(p.name for p in saved.iterdir()) == sorted([CHECKSUMS, CONFIG, WEIGHTS])


@pytest.mark.parametrize("loader", [MMM.load, load_model], ids=["MMM.load", "storage.artifacts.load_model"])
def test_a_pickle_in_place_of_the_weights_is_never_executed(copy, tmp_path, loader):
    payload = Payload()
    payload.marker = tmp_path / "pwned"
    torch.save({"net.x": payload}, copy / WEIGHTS)  # what a torch.load(weights_only=False) would run
    with pytest.raises(Exception):
        loader(copy)
    assert not payload.marker.exists()


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _flip_tensor_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    start = 8 + int.from_bytes(data[:8], "little")  # 8-byte header length, JSON header, then tensor bytes
    data[(start + len(data)) // 2] ^= 0x01  # inside the tensor data: still a well-formed safetensors file
    path.write_bytes(bytes(data))


def _flip_header_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[12] ^= 0x20
    path.write_bytes(bytes(data))


DAMAGE = {
    "weights_truncated": (WEIGHTS, _truncate),
    "weights_empty": (WEIGHTS, lambda p: p.write_bytes(b"")),
    "weights_one_bit_flipped": (WEIGHTS, _flip_tensor_byte),
    "weights_header_damaged": (WEIGHTS, _flip_header_byte),
    "weights_missing": (WEIGHTS, lambda p: p.unlink()),
    "config_not_json": (CONFIG, lambda p: p.write_text("{not json")),
    "config_edited": (CONFIG, lambda p: p.write_text(p.read_text().replace('"hidden_size": ', '"hidden_size": 1'))),
    "checksums_missing": (CHECKSUMS, lambda p: p.unlink()),
    "checksums_garbage": (CHECKSUMS, lambda p: p.write_bytes(b"\xff\xfe")),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_damaged_artefact_gives_one_clear_error_naming_the_file(copy, damage):
    name, mutate = DAMAGE[damage]
    mutate(copy / name)
    with pytest.raises(ModelArtifactError) as info:
        load_model(copy)
    message = str(info.value)
    assert str(copy / name) in message, message
    assert "re-run" in message or "checksums" in message


@pytest.mark.parametrize("tamper", [lambda c: c["model_config"].update(no_such_field=1),
                                    lambda c: c.update(format_version=999)], ids=["unknown option", "newer format"])
def test_tampering_that_keeps_checksums_consistent_still_gives_a_clear_error(copy, tamper):
    """An incompatible config with matching checksums (e.g. written by a newer code version): an option this
    version does not know, or a newer format. (Options since removed load: see ``persistence.REMOVED_OPTIONS``.)"""
    from mmm_core.data.io import file_sha256
    config = json.loads((copy / CONFIG).read_text())
    tamper(config)
    (copy / CONFIG).write_text(json.dumps(config))
    sums = json.loads((copy / CHECKSUMS).read_text())
    sums[CONFIG] = file_sha256(copy / CONFIG)
    (copy / CHECKSUMS).write_text(json.dumps(sums))
    with pytest.raises(ModelArtifactError, match="cannot be loaded by this code version") as info:
        load_model(copy)
    assert str(copy) in str(info.value)


def test_mmm_load_alone_accepts_a_flipped_tensor_byte(copy):
    """Why the pipeline checks SHA-256 sums: safetensors has no checksum, so ``MMM.load`` quietly loads a
    different model from a flipped bit (the estimator-level fix is described in the report)."""
    from safetensors.torch import load_file
    before = {k: v.clone() for k, v in load_file(str(copy / WEIGHTS)).items()}  # load_file maps the file
    _flip_tensor_byte(copy / WEIGHTS)
    after = load_file(str(copy / WEIGHTS))
    assert any(not torch.equal(before[k], after[k]) for k in before)
    MMM.load(copy)  # no complaint
    with pytest.raises(ModelArtifactError, match="SHA-256"):
        load_model(copy)


def test_interrupted_saves_leave_nothing_behind_after_the_next_save(saved, tmp_path):
    target = tmp_path / "models" / "2023-12-25"
    shutil.copytree(saved, target)
    stale_tmp = target.parent / ".2023-12-25.deadbeef.tmp"
    stale_old = target.parent / ".2023-12-25.cafe.old"
    shutil.copytree(saved, stale_tmp)
    shutil.copytree(saved, stale_old)
    save_model_atomically(load_model(saved), target)
    assert sorted(p.name for p in target.parent.iterdir()) == ["2023-12-25"]
    load_model(target)


def test_a_missing_model_folder_says_so_and_names_it(tmp_path):
    folder = tmp_path / "models" / "2023-12-25"
    with pytest.raises(ModelArtifactError, match="model folder does not exist") as raised:
        load_model(folder)
    assert raised.value.file == folder and str(folder) in str(raised.value)


def test_each_run_keeps_its_model_and_the_week_points_at_the_newest(saved, tmp_path):
    week = tmp_path / "models" / "2023-12-25"
    model = load_model(saved)
    first = save_run_model(model, week, "run-a")
    second = save_run_model(model, week, "run-b")
    assert current_model_dir(week) == second != first
    load_model(first)  # a re-run (which its gate may block) never replaces what an earlier run published
    assert sorted(p.name for p in week.iterdir()) == ["current", "run-a", "run-b"]


def test_a_week_saved_before_run_folders_loads_from_the_week_folder(saved):
    assert current_model_dir(saved) == saved
    load_model(current_model_dir(saved))


def test_a_pointer_that_escapes_the_week_folder_is_refused(saved, tmp_path):
    week = tmp_path / "week"
    week.mkdir()
    (week / "current").write_text("../../etc")
    with pytest.raises(ModelArtifactError, match="not a run folder"):
        current_model_dir(week)
