"""Saving and loading a fitted ``MMM``: ``config.json`` + ``weights.safetensors``, no pickle.

``config.json`` holds the format version, both configs, the names (regions, channels, controls), the
training weeks and the fit summary; ``weights.safetensors`` the network's state, the scalers and the
seasonality, under the prefixes ``net.``, ``scaler.`` and ``seasonality.``. Inference runs in float64
from these tensors, so a loaded model reproduces predictions bitwise.

Format versions (every one still loads):
  1. network parameters named flat on the network (``adstock_decay_raw``, ``hill_slope_raw``, ...); configs
     may hold options since removed (``warm_start``, ``projection_every``, ``seasonality_beside_media``, ...)
     and may lack ``holidays`` / ``adstock_learn_tail`` (saved before those existed).
  2. the adstock and saturation components own their parameters (``adstock.decay_raw``, ``saturation.slope_raw``).
     Later artefacts also hold ``dag.support`` ``[C, C]`` float64 (each edge's bootstrap support,
     ``dag.edge_support``); an artefact without it loads with support unknown (NaN), its edges all kept.
     Later ``config.json`` files also list the lift tests the fit used (``lift_tests``; none when absent).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from mmm_core.data.experiments import LiftTest
from mmm_core.model.network import MMMNet, ModelConfig
from mmm_core.model.scaling import PanelScaler
from mmm_core.model.seasonality import YearlySeasonality
from mmm_core.model.training import TrainConfig, TrainResult

if TYPE_CHECKING:
    from mmm_core.model.estimator import MMM

FORMAT_VERSION = 2

RENAMED_PARAMETERS_V1 = {
    "adstock_decay_raw": "adstock.decay_raw", "adstock_peak_raw": "adstock.peak_raw",
    "adstock_tail_raw": "adstock.tail_raw", "hill_log_half_saturation": "saturation.log_half_saturation",
    "hill_log_half_saturation_prior": "saturation.log_half_saturation_prior", "hill_slope_raw": "saturation.slope_raw",
}
"""Format 1 network parameter name -> format 2 name."""
REMOVED_PARAMETERS_V1 = ("season_week_effect",)
"""Format 1 parameters of options since removed (always zero unless the option was on)."""
MODEL_DEFAULTS_BEFORE_OPTIONS = {"holidays": [], "adstock_learn_tail": False}
"""What a model saved before an option existed was fitted with."""
REMOVED_OPTIONS = {
    "model_config": ("seasonality_beside_media", "season_week_effects"),
    "train_config": ("warm_start", "holdout_weeks", "dag_weight", "attribution_prior_share",
                     "attribution_prior_weight", "projection_every"),
}
"""Options deleted after they measured as noise (``benchmarks/RESULTS.md``); saved at their defaults, which
the model now always uses, so an artefact that holds them loads without them. Any other unknown option
(a newer version's) is refused."""


def save_model(model: "MMM", directory: Path) -> Path:
    """Write a fitted ``model`` to ``directory`` (created if needed); returns ``directory``."""
    from safetensors.torch import save_file

    directory.mkdir(parents=True, exist_ok=True)
    result = model.train_result_
    config = {
        "format_version": FORMAT_VERSION,
        "model_config": asdict(model.model_config_), "train_config": asdict(model.train_config_),
        "regions": list(model.regions_), "channels": list(model.channels_),
        "control_names": list(model.control_names_),
        "train_weeks": [str(w) for w in model.train_weeks_],
        "best_epoch": result.best_epoch, "epochs_run": result.epochs_run, "fit_seconds": result.seconds,
        "lift_tests": [_lift_test_dict(t) for t in getattr(model, "lift_tests_", ())],
    }
    (directory / "config.json").write_text(json.dumps(config, indent=2))
    tensors = {f"net.{k}": v.detach().contiguous() for k, v in model.net_.state_dict().items()}
    tensors.update({f"scaler.{k}": torch.as_tensor(v) for k, v in model.scaler_.state_dict().items()})
    tensors.update({f"seasonality.{k}": torch.as_tensor(v) for k, v in model.seasonality_.state_dict().items()})
    if model.dag_support_ is not None:
        tensors["dag.support"] = torch.as_tensor(model.dag_support_, dtype=torch.float64)
    save_file(tensors, str(directory / "weights.safetensors"))
    return directory


def load_model(cls: type["MMM"], directory: Path) -> "MMM":
    """Rebuild a model of class ``cls`` saved in ``directory``. A missing, truncated or mismatched file
    raises ``ValueError`` naming the folder and the reason, never a bare library error."""
    from safetensors import SafetensorError

    try:
        return _load(cls, directory)
    except (OSError, ValueError, KeyError, TypeError, RuntimeError, SafetensorError) as exc:
        raise ValueError(f"{directory}: not a loadable model (config.json + weights.safetensors): "
                         f"{type(exc).__name__}: {exc}") from exc


def _without_removed(section: str, values: dict) -> dict:
    """``values`` of config ``section`` without the options that no longer exist."""
    return {k: v for k, v in values.items() if k not in REMOVED_OPTIONS[section]}


def _network_state(tensors: dict[str, torch.Tensor], version: int) -> dict[str, torch.Tensor]:
    state = {k.split(".", 1)[1]: v for k, v in tensors.items() if k.startswith("net.")}
    if version == 1:
        state = {RENAMED_PARAMETERS_V1.get(k, k): v for k, v in state.items() if k not in REMOVED_PARAMETERS_V1}
    # Saved before the observed range was kept: no ceiling, the response as it was fitted.
    state.setdefault("observed_activity_max", torch.full_like(state["media_max_raw"], float("inf")))
    state.setdefault("media_region_scale", torch.ones_like(state["baseline_raw"]))
    return state


def _load(cls: type["MMM"], directory: Path) -> "MMM":
    from safetensors.torch import load_file

    config = json.loads((directory / "config.json").read_text())
    version = config.get("format_version")
    if version not in (1, FORMAT_VERSION):
        raise ValueError(f"unsupported model format {version!r}")
    model_values = {**MODEL_DEFAULTS_BEFORE_OPTIONS, **config["model_config"]}
    model_config = ModelConfig(**_without_removed("model_config", model_values))
    train_config = TrainConfig(**_without_removed("train_config", config["train_config"]))
    model = cls(model_config, train_config)
    model.model_config_, model.train_config_ = model_config, train_config
    model.regions_, model.channels_ = tuple(config["regions"]), tuple(config["channels"])
    model.control_names_ = tuple(config["control_names"])
    model.train_weeks_ = np.array(config["train_weeks"], dtype="datetime64[D]")
    model.lift_tests_ = tuple(_lift_test(d) for d in config.get("lift_tests", ()))  # none before experiments
    tensors = load_file(str(directory / "weights.safetensors"))
    part = lambda p: {k.split(".", 1)[1]: v.numpy() for k, v in tensors.items() if k.startswith(p + ".")}  # noqa: E731
    model.scaler_ = PanelScaler.from_state(part("scaler"))
    model.seasonality_ = YearlySeasonality.from_state(part("seasonality"))
    net = MMMNet(len(model.regions_), len(model.channels_), len(model.control_names_), model_config)
    net.load_state_dict(_network_state(tensors, version))
    model.net_, model._net64 = net, None
    support = tensors.get("dag.support")
    model.dag_support_ = (support.double().numpy() if support is not None
                          else None if net.dag is None else np.full((len(model.channels_),) * 2, np.nan))
    model.train_result_ = TrainResult([], config["best_epoch"], config["epochs_run"], config["fit_seconds"], "cpu")
    return model


def _lift_test_dict(test: LiftTest) -> dict:
    values = asdict(test)
    values.update(regions=list(test.regions), first_week=str(test.first_week), last_week=str(test.last_week))
    return values


def _lift_test(values: dict) -> LiftTest:
    return LiftTest(**{**values, "regions": tuple(values["regions"]),
                       "first_week": np.datetime64(values["first_week"], "D"),
                       "last_week": np.datetime64(values["last_week"], "D")})
