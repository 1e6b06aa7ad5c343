"""Model artefacts on disk: written to a temporary folder and swapped into place, never half-written.

Each artefact folder holds ``config.json`` and ``weights.safetensors`` (``MMM.save``; JSON and raw tensors,
never pickle) plus ``checksums.json``, the SHA-256 of both. Safetensors has no checksum of its own: a
flipped byte in a tensor would load as a silently different model. :func:`load_model` checks the sums
first and turns every failure into one :class:`ModelArtifactError` that names the file.
"""

from __future__ import annotations

import json
from pathlib import Path

from mmm_core.data.io import file_sha256
from mmm_core.model.estimator import MMM
from mmm_pipeline.storage.swap import remove_stale_temporaries, staged

CHECKSUMS = "checksums.json"
ARTIFACT_FILES = ("config.json", "weights.safetensors")


class ModelArtifactError(RuntimeError):
    """A saved model that cannot be loaded as written: missing, truncated, tampered with or incompatible."""

    def __init__(self, problem: str, file: Path):
        self.file = file
        super().__init__(f"model artefact {file}: {problem}")


def save_model_atomically(model: MMM, target: Path) -> Path:
    """Save to ``target`` (config.json + weights.safetensors + checksums.json), replacing any earlier
    artefact of that refresh. The training pool runs one fit at a time, so leftovers of this target's
    interrupted saves belong to a dead process and are removed first."""
    target = Path(target)
    remove_stale_temporaries(target.parent, target.name)
    with staged(target) as staging:
        model.save(staging)
        sums = {name: file_sha256(staging / name) for name in ARTIFACT_FILES}
        (staging / CHECKSUMS).write_text(json.dumps(sums, indent=2))
    return target


def load_model(directory: Path) -> MMM:
    """``MMM.load`` after checking the files against ``checksums.json``; any failure names the file."""
    directory = Path(directory)
    sums_path = directory / CHECKSUMS
    try:
        expected = json.loads(sums_path.read_text())
    except FileNotFoundError as exc:
        raise ModelArtifactError("checksums.json is missing; re-run the refresh's training", sums_path) from exc
    except (OSError, ValueError) as exc:
        raise ModelArtifactError(f"checksums.json is unreadable ({exc})", sums_path) from exc
    for name in ARTIFACT_FILES:
        path = directory / name
        if not path.is_file():
            raise ModelArtifactError("file is missing; re-run the refresh's training", path)
        if not isinstance(expected, dict) or file_sha256(path) != expected.get(name):
            raise ModelArtifactError("SHA-256 differs from checksums.json: the file was truncated or modified "
                                     "after it was saved; re-run the refresh's training", path)
    try:
        return MMM.load(directory)
    except Exception as exc:  # checksums matched: the artefact is as saved but this code cannot read it
        raise ModelArtifactError(f"cannot be loaded by this code version ({type(exc).__name__}: {exc})",
                                 directory) from exc
