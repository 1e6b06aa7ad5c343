"""Checks shared by the frozen config dataclasses (``ModelConfig``, ``TrainConfig``).

An enumerated option is a ``Literal`` type and is checked when the config is built, so a typo fails at
construction with the allowed values named, not on the first forward pass or at the end of a fit.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Any, TypeVar

Config = TypeVar("Config")


def check_choices(config: Any) -> None:
    """Raise ``ValueError`` naming the field and the allowed values when a ``Literal`` field holds
    anything else."""
    hints = typing.get_type_hints(type(config))
    for field in dataclasses.fields(config):
        hint = hints[field.name]
        if typing.get_origin(hint) is typing.Literal:
            value, allowed = getattr(config, field.name), typing.get_args(hint)
            if value not in allowed:
                raise ValueError(f"{type(config).__name__}.{field.name} must be one of {list(allowed)}, got {value!r}")


def with_changes(config: Config, changes: dict[str, Any]) -> Config:
    """``dataclasses.replace`` that names unknown fields in a ``ValueError`` (a nested override with a
    typo must not pass silently)."""
    unknown = set(changes) - {f.name for f in dataclasses.fields(config)}
    if unknown:
        raise ValueError(f"unknown {type(config).__name__} fields: {sorted(unknown)}")
    return dataclasses.replace(config, **changes)
