"""Model artefacts on disk: written to a temporary folder and swapped into place, never half-written.

Each artefact folder holds ``config.json`` and ``weights.safetensors`` (``MMM.save``; JSON and raw tensors,
never pickle), with an ensemble also ``members.safetensors`` and ``members.json`` (``Ensemble.save``), plus
``checksums.json``, the SHA-256 of every one of them. A refresh week's folder holds one artefact
folder per training run (``<week>/<run_id>/``) and a pointer file ``current`` naming the newest: a re-run
that a gate then blocks never replaces the model that the week's published ``model_runs.artifact_path``
names. Safetensors has no checksum of its own: a
flipped byte in a tensor would load as a silently different model. :func:`load_model` checks the sums
first and turns every failure into one :class:`ModelArtifactError` that names the file.
"""

from __future__ import annotations

import json
from pathlib import Path

from mmm_core.data.io import file_sha256
from mmm_core.model.ensemble import Ensemble
from mmm_core.model.estimator import MMM
from mmm_pipeline.storage.swap import remove_stale_temporaries, staged, write_text_atomically

CHECKSUMS = "checksums.json"
ARTIFACT_FILES = ("config.json", "weights.safetensors")
ENSEMBLE_FILES = ("members.safetensors", "members.json")
CURRENT_POINTER = "current"


class ModelArtifactError(RuntimeError):
    """A saved model that cannot be loaded as written: missing, truncated, tampered with or incompatible."""

    def __init__(self, problem: str, file: Path):
        self.file = file
        super().__init__(f"model artefact {file}: {problem}")


def save_model_atomically(model: MMM | Ensemble, target: Path) -> Path:
    """Save to ``target`` (config.json + weights.safetensors, an ensemble's member files, checksums.json),
    replacing any earlier artefact of that refresh. The training pool runs one fit at a time, so leftovers
    of this target's interrupted saves belong to a dead process and are removed first."""
    target = Path(target)
    remove_stale_temporaries(target.parent, target.name)
    with staged(target) as staging:
        model.save(staging)
        sums = {name: file_sha256(staging / name) for name in (*ARTIFACT_FILES, *ENSEMBLE_FILES)
                if (staging / name).is_file()}
        (staging / CHECKSUMS).write_text(json.dumps(sums, indent=2))
    return target


def save_run_model(model: MMM | Ensemble, week_dir: Path, run_id: str) -> Path:
    """Save a training run's model to ``week_dir/run_id`` and point the week's ``current`` file at it (written
    after the artefact is complete, atomically); returns the run's folder. Earlier runs' folders stay."""
    run_dir = save_model_atomically(model, Path(week_dir) / run_id)
    write_text_atomically(Path(week_dir) / CURRENT_POINTER, run_id)
    return run_dir


def current_model_dir(week_dir: Path) -> Path:
    """The artefact folder the week's ``current`` pointer names; the week's folder itself for an artefact
    saved before run folders existed (``config.json`` directly in it)."""
    pointer = Path(week_dir) / CURRENT_POINTER
    if not pointer.is_file():
        return Path(week_dir)
    run_id = pointer.read_text(encoding="utf-8").strip()
    if not run_id or Path(run_id).name != run_id:
        raise ModelArtifactError(f"pointer names {run_id!r}, not a run folder; re-run the refresh's training", pointer)
    return Path(week_dir) / run_id


def _verified(directory: Path) -> tuple[str, ...]:
    """Check the artefact's files against ``checksums.json``; returns the files it holds (the model's, and
    the ensemble's when the checksums list them). Any failure raises ``ModelArtifactError`` naming the file."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ModelArtifactError("model folder does not exist: materialise mmm_model for this refresh week first "
                                 "(or point MMM_DATA_DIR at the data folder that holds it)", directory)
    sums_path = directory / CHECKSUMS
    try:
        expected = json.loads(sums_path.read_text())
    except FileNotFoundError as exc:
        raise ModelArtifactError("checksums.json is missing; re-run the refresh's training", sums_path) from exc
    except (OSError, ValueError) as exc:
        raise ModelArtifactError(f"checksums.json is unreadable ({exc})", sums_path) from exc
    if not isinstance(expected, dict):
        raise ModelArtifactError("checksums.json is not a map of file to SHA-256", sums_path)
    files = (*ARTIFACT_FILES, *(name for name in ENSEMBLE_FILES if name in expected))
    for name in files:
        path = directory / name
        if not path.is_file():
            raise ModelArtifactError("file is missing; re-run the refresh's training", path)
        if file_sha256(path) != expected.get(name):
            raise ModelArtifactError("SHA-256 differs from checksums.json: the file was truncated or modified "
                                     "after it was saved; re-run the refresh's training", path)
    return files


def load_model(directory: Path) -> MMM:
    """``MMM.load`` (the point model, also of an ensemble's artefact) after checking the files against
    ``checksums.json``; any failure names the file."""
    _verified(directory)
    try:
        return MMM.load(directory)
    except Exception as exc:  # checksums matched: the artefact is as saved but this code cannot read it
        raise ModelArtifactError(f"cannot be loaded by this code version ({type(exc).__name__}: {exc})",
                                 directory) from exc


def load_ensemble(directory: Path) -> Ensemble | None:
    """``Ensemble.load`` after checking the files against ``checksums.json``; None for an artefact without
    members (a run with ``ensemble_members`` 0, or saved before ensembles existed)."""
    if ENSEMBLE_FILES[0] not in _verified(directory):
        return None
    try:
        return Ensemble.load(directory)
    except Exception as exc:  # checksums matched: the artefact is as saved but this code cannot read it
        raise ModelArtifactError(f"cannot be loaded by this code version ({type(exc).__name__}: {exc})",
                                 directory) from exc
