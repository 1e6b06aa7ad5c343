"""Every Launchpad run-config field says what it does: the Dagster UI shows the description beside the field
(issue 15, item 22: the fields had none)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import dagster as dg
import pytest

import mmm_pipeline.defs


def _run_config_classes() -> list[type[dg.Config]]:
    """Every ``dg.Config`` subclass defined in a ``mmm_pipeline.defs`` module."""
    found = {}
    for info in pkgutil.walk_packages(mmm_pipeline.defs.__path__, "mmm_pipeline.defs."):
        module = importlib.import_module(info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, dg.Config) and cls.__module__ == module.__name__:
                found[cls.__qualname__] = cls
    return list(found.values())


def test_the_run_configs_are_found():
    names = {cls.__name__ for cls in _run_config_classes()}
    assert {"TrainingConfig", "FeaturesConfig", "BudgetPlanConfig"} <= names, names


@pytest.mark.parametrize("config_class", _run_config_classes(), ids=lambda cls: cls.__name__)
def test_every_launchpad_field_has_a_description(config_class):
    fields = config_class.to_config_schema().as_field().config_type.fields
    missing = [name for name, field in fields.items() if not (field.description or "").strip()]
    assert not missing, f"{config_class.__name__}: fields without a description: {missing}"


def test_every_resource_field_has_a_description(tmp_path):
    from mmm_pipeline.resources import resources_for
    from mmm_pipeline.storage.locations import Locations

    resources = resources_for(Locations(spec_path=tmp_path / "spec.yaml", warehouse_path=tmp_path / "w.duckdb",
                                        data_dir=tmp_path))
    missing = {name: [field for field, spec in type(resource).to_config_schema().as_field().config_type.fields.items()
                      if not (spec.description or "").strip()]
               for name, resource in resources.items()}
    assert {name: fields for name, fields in missing.items() if fields} == {}



def test_the_training_configs_prior_fields_reach_the_models_train_config():
    """Each prior a user can state in the Launchpad lands in the TrainConfig the run fits with; unset, the core's
    default stands."""
    from mmm_core.model.training import TrainConfig
    from mmm_pipeline.defs.training.config import TrainingConfig

    stated = TrainingConfig(roi_pooling=0.02, media_share_prior_mean=0.15, media_share_prior_sd=0.05).overrides({})
    train = TrainConfig(**stated["train"])
    assert (train.roi_pooling, train.media_share_prior_mean, train.media_share_prior_sd) == (0.02, 0.15, 0.05)
    unset = TrainConfig(**TrainingConfig().overrides({})["train"])
    assert (unset.media_share_prior_mean, unset.media_share_prior_sd) == (TrainConfig.media_share_prior_mean,
                                                                         TrainConfig.media_share_prior_sd)


def test_the_training_configs_ensemble_fields_reach_the_ensembles_config():
    """Members, level and bias refits set in the Launchpad are what the run's ensemble is fitted with; no members,
    no ensemble."""
    from mmm_core.model.ensemble import EnsembleConfig
    from mmm_pipeline.defs.training.config import TrainingConfig

    ensemble = TrainingConfig(ensemble_members=8, interval=0.8, bias_refits=3, seed=3).ensemble()
    assert (ensemble.members, ensemble.interval, ensemble.bias_refits, ensemble.seed) == (8, 0.8, 3, 3)
    assert TrainingConfig().ensemble().bias_refits == EnsembleConfig.bias_refits > 0
    assert TrainingConfig(bias_refits=0).ensemble().bias_refits == 0
    assert TrainingConfig(ensemble_members=0, bias_refits=2).ensemble() is None
