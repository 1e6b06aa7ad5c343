"""The one atomic swap: a file or folder is written under a temporary name beside its target, then renamed over it.

A reader sees the previous version or the new one, never a half-written one. ``os.replace`` renames a file
atomically on POSIX; a folder cannot be renamed over a non-empty folder, so the previous folder is first
renamed aside (``.<name>.<hex>.old``) and deleted after the swap. Temporary names (``.<name>.<hex>.tmp`` and
``.old``) start with a dot and name their target, so :func:`stale_temporaries` finds what a killed writer
left behind.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

TMP_SUFFIX = ".tmp"
OLD_SUFFIX = ".old"


def _sibling(target: Path, suffix: str) -> Path:
    return target.parent / f".{target.name}.{uuid.uuid4().hex}{suffix}"


def remove(path: Path) -> None:
    """Delete a file or folder if it exists."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def swap_in(staging: Path, target: Path) -> Path:
    """Rename the finished ``staging`` file or folder over ``target`` (which may not exist yet)."""
    old = None
    if staging.is_dir() and target.exists():
        old = _sibling(target, OLD_SUFFIX)
        os.replace(target, old)
    os.replace(staging, target)
    if old is not None:
        remove(old)
    return target


@contextmanager
def staged(target: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target`` (not created) to write the new version into; it is swapped in
    when the block ends without error and deleted otherwise."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = _sibling(target, TMP_SUFFIX)
    try:
        yield staging
        swap_in(staging, target)
    finally:
        remove(staging)


def stale_temporaries(folder: Path, name: str = "*") -> list[Path]:
    """Temporary files and folders in ``folder`` that interrupted swaps of ``name`` (default: any) left behind,
    including what a writer created next to them (such as DuckDB's ``<file>.wal``)."""
    if not folder.is_dir():
        return []
    return sorted({*folder.glob(f".{name}.*{TMP_SUFFIX}"), *folder.glob(f".{name}.*{TMP_SUFFIX}.*"),
                   *folder.glob(f".{name}.*{OLD_SUFFIX}")})


def remove_stale_temporaries(folder: Path, name: str = "*") -> list[Path]:
    """Delete :func:`stale_temporaries`; call only while no live writer can own them. Returns what it removed."""
    stale = stale_temporaries(folder, name)
    for path in stale:
        remove(path)
    return stale


def write_text_atomically(target: Path, text: str) -> Path:
    """Write a text file (UTF-8) through :func:`staged`: a reader never sees half of it."""
    with staged(Path(target)) as staging:
        staging.write_text(text, encoding="utf-8")
    return Path(target)
