"""Run config of the training stage: a thin map onto mmm_core's TrainConfig / ModelConfig (one home per default)."""

import dagster as dg
from pydantic import ConfigDict

from mmm_core.analysis.backtest import DEFAULT_HOLDOUT_WEEKS
from mmm_core.model.ensemble import EnsembleConfig

GPU_POD = {"container_config": {"resources": {"limits": {"nvidia.com/gpu": "1"},
                                              "requests": {"cpu": "4", "memory": "8Gi"}}}}
"""Kubernetes pod spec for a training step (read by the k8s executor; inert on a local instance)."""


class TrainingConfig(dg.Config):
    """Launchpad-editable run settings; None keeps mmm_core's documented default."""

    model_config = ConfigDict(use_attribute_docstrings=True)  # the field docstrings are the Launchpad's descriptions

    holdout_weeks: int = DEFAULT_HOLDOUT_WEEKS
    """Last weeks of the window the holdout model forecasts; shortened (logged) where the holdout model would
    keep fewer than ``mmm_core.analysis.backtest.MIN_HOLDOUT_TRAINING_WEEKS`` (39) weeks to train on."""
    refit_full_window: bool = True
    """After the holdout fit is scored, refit on every week of the window and publish that model (False: publish
    the holdout fit)."""
    seed: int = 0
    """Training seed: the same seed, data and settings give the same model."""
    epochs: int | None = None
    """Most training epochs (early stopping may end sooner); None: ``TrainConfig.epochs``."""
    hidden_size: int | None = None
    """GRU hidden units of the coefficient modulation; None: ``ModelConfig.hidden_size``."""
    learning_rate: float | None = None
    """Adam learning rate; None: ``TrainConfig.learning_rate``."""
    roi_pooling: float | None = None
    """Weight of the exchangeable-ROI prior (``mmm_core.model.training.TrainConfig.roi_pooling``); 0 turns it off."""
    media_share_prior_mean: float | None = None
    """Mean of the stated prior on the share of the KPI all media add, used only where no channel's level is
    measured (``mmm_core.model.training.TrainConfig.media_share_prior_mean``, 0.4); 0 turns it off."""
    media_share_prior_sd: float | None = None
    """Sd of that prior (``TrainConfig.media_share_prior_sd``, 0.2)."""
    ensemble_members: int = EnsembleConfig.members
    """Members refitted from the published model for intervals (``mmm_core.model.ensemble``): channel_summary's
    ``*_lower`` / ``*_upper`` columns and channel_draws; 0: point estimates only (those columns NULL)."""
    ensemble_epochs: int | None = None
    """Epochs each member trains from the published model's weights; None: ``EnsembleConfig.epochs``."""
    interval: float = EnsembleConfig.interval
    """Central level of the published intervals (0.9: from the 5 % to the 95 % quantile of the members)."""
    bias_refits: int = EnsembleConfig.bias_refits
    """Refits of the whole model from scratch on bootstraps of the published fit that widen channel_summary's
    intervals by the model's own error on such data (``mmm_core.model.ensemble.EnsembleConfig.bias_refits``, 2);
    each costs about two thirds of a full fit. 0: none."""
    leave_one_out: bool = False
    """Fill the experiments table's loo_lift / loo_z: per experiment in the window, one extra fit on every other
    experiment, asked for this one's lift (``mmm_core.analysis.experiments.leave_one_out``); the experiments check
    then also flags a test the model fitted without it contradicts (a model that trained on a precise test matches
    it even where nothing else in the data supports it). Off by default: it costs one more full fit per
    experiment."""

    def overrides(self, compute_overrides: dict) -> dict[str, dict]:
        """``MMM(overrides=...)`` for this run: the seed, the compute settings, and the fields set here."""
        train = {"seed": self.seed, **compute_overrides}
        if self.epochs is not None:
            train["epochs"] = self.epochs
        if self.learning_rate is not None:
            train["learning_rate"] = self.learning_rate
        for field in ("roi_pooling", "media_share_prior_mean", "media_share_prior_sd"):
            if getattr(self, field) is not None:
                train[field] = getattr(self, field)
        model = {} if self.hidden_size is None else {"hidden_size": self.hidden_size}
        return {"model": model, "train": train}

    def ensemble(self) -> EnsembleConfig | None:
        """The members this run refits (seeded by ``seed``), or None when ``ensemble_members`` is 0."""
        if self.ensemble_members <= 0:
            return None
        epochs = {} if self.ensemble_epochs is None else {"epochs": self.ensemble_epochs}
        return EnsembleConfig(members=self.ensemble_members, seed=self.seed, interval=self.interval,
                              bias_refits=self.bias_refits, **epochs)
