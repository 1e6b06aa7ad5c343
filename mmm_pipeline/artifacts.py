"""Model artefacts on disk: written to a temporary folder and renamed into place, never half-written.

Each artefact folder holds ``config.json`` and ``weights.safetensors`` (``MMM.save``; JSON and raw tensors,
never pickle) plus ``checksums.json``, the SHA-256 of both. Safetensors has no checksum of its own: a
flipped byte in a tensor would load as a silently different model. :func:`load_model` checks the sums
first and turns every failure into one :class:`ModelArtifactError` that names the file.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import subprocess
import uuid
from importlib.metadata import version
from pathlib import Path

from mmm_core.model.estimator import MMM
from mmm_core.data.io import file_sha256
from mmm_pipeline.resources import PROJECT_ROOT


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
    interrupted saves (``.<name>.*.tmp`` / ``.old``) belong to a dead process and are removed first."""
    target.parent.mkdir(parents=True, exist_ok=True)
    for leftover in [*target.parent.glob(f".{target.name}.*.tmp"), *target.parent.glob(f".{target.name}.*.old")]:
        shutil.rmtree(leftover, ignore_errors=True)
    staging = target.parent / f".{target.name}.{uuid.uuid4().hex}.tmp"
    model.save(staging)
    sums = {name: file_sha256(staging / name) for name in ARTIFACT_FILES}
    (staging / CHECKSUMS).write_text(json.dumps(sums, indent=2))
    old = None
    if target.exists():
        old = target.parent / f".{target.name}.{uuid.uuid4().hex}.old"
        os.replace(target, old)
    os.replace(staging, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
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


@functools.cache
def code_version() -> str:
    """Package version plus the git commit when running from a checkout (``0.1.0+g1a2b3c4``)."""
    base = version("mmm")
    try:
        sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=PROJECT_ROOT, capture_output=True,
                             text=True, timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=PROJECT_ROOT,
                               capture_output=True, text=True, timeout=5).stdout.strip()
        return f"{base}+g{sha}" + (".dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return base


def config_hash(config: dict) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:16]
