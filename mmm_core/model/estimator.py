"""``MMM``: the sklearn-style facade over scaling, seasonality, the network, training and decomposition.

    mmm = MMM(overrides={"train": {"epochs": 300}}).fit(train_panel)
    mmm.predict(full_panel)            # [R, T] KPI units; weeks after training continue the state
    mmm.decompose(panel).to_frame()    # baseline, trend, seasonality, control:*, channel:*
    mmm.contributions(panel)           # direct and counterfactual total effect, share, ROI per channel

``__init__`` only stores settings; ``fit`` learns everything (attributes ending in ``_``). A panel given to
``predict`` and friends must have the training regions, channels and controls and start on a week of the
training calendar: normally the training panel itself or training + future weeks. Inference runs in
float64 on the CPU, so a saved and loaded model reproduces predictions bitwise.
"""

from __future__ import annotations

import copy
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
import torch

from mmm_core.model import training
from mmm_core.data.contract import Panel
from mmm_core.model.dag import prune_to_dag, remove_channel, within_covariance
from mmm_core.model.decomposition import Decomposition, build_decomposition, channel_table
from mmm_core.data.calendar import holiday_indicators
from mmm_core.model.network import MMMNet, ModelConfig, ModelInputs, ModelOutput, trend_time
from mmm_core.model.scaling import PanelScaler
from mmm_core.model.seasonality import POOLED_HARMONICS, YearlySeasonality, fourier_basis
from mmm_core.model.training import TrainConfig, TrainResult

DAG_THRESHOLD = 0.1
"""Default |weight| below which a learned edge is reported as absent (scaled activity units)."""
FORMAT_VERSION = 1


def forecast_report(train_panel: Panel, full_panel: Panel, prediction: np.ndarray) -> dict[str, Any]:
    """Scores of ``prediction`` ``[R, T]`` (over ``full_panel``'s weeks) against the naive baselines.

    The weeks of ``train_panel`` (a prefix of ``full_panel``) are the training split, the rest the holdout.
    Returns ``{"table": tidy frame from mmm_core.analysis.metrics.evaluate_forecast, "train_r2": {series: {view:
    r2}}, "holdout_r2": {...}}`` (holdout keys only when there are holdout weeks).
    """
    from mmm_core.analysis.metrics import evaluate_forecast

    table = evaluate_forecast(full_panel.kpi, prediction, full_panel.observed, train_end=train_panel.n_weeks)
    report: dict[str, Any] = {"table": table}
    for split in ("train", "holdout"):
        part = table[(table["split"] == split) & (table["metric"] == "r2")]
        if len(part):
            report[f"{split}_r2"] = {series: {row.view: round(float(row.value), 4) for row in grp.itertuples()}
                                     for series, grp in part.groupby("series", sort=False)}
    return report


class NotFittedError(RuntimeError):
    """A method that needs a fitted model was called before ``fit``."""


def _apply_overrides(config, overrides: dict[str, Any] | None):
    return config if not overrides else config.replace(**overrides)


class MMM:
    """Marketing mix model: fit on a ``Panel``, then predict, decompose and attribute.

    Args:
        model_config: architecture (``ModelConfig``); defaults when None.
        train_config: training (``TrainConfig``); defaults when None.
        overrides: nested ``{"model": {...}, "train": {...}}`` applied on top of both configs.
    """

    def __init__(self, model_config: ModelConfig | None = None, train_config: TrainConfig | None = None,
                 overrides: dict[str, dict[str, Any]] | None = None):
        self.model_config = model_config
        self.train_config = train_config
        self.overrides = overrides

    # -- configuration ------------------------------------------------------------------------
    def _resolved_configs(self) -> tuple[ModelConfig, TrainConfig]:
        overrides = dict(self.overrides or {})
        unknown = set(overrides) - {"model", "train"}
        if unknown:
            raise ValueError(f"overrides has unknown sections {sorted(unknown)}; use 'model' and 'train'")
        model_config = _apply_overrides(self.model_config or ModelConfig(), overrides.get("model"))
        train_config = _apply_overrides(self.train_config or TrainConfig(), overrides.get("train"))
        return model_config, train_config

    # -- fitting ------------------------------------------------------------------------------
    def fit(self, panel: Panel, callback: Callable[[training.TrainEvent], None] | None = None) -> "MMM":
        """Fit on every week of ``panel`` (slice a holdout off beforehand). Returns self."""
        model_config, train_config = self._resolved_configs()
        self.model_config_, self.train_config_ = model_config, train_config
        self.regions_, self.channels_ = panel.regions, panel.channels
        self.control_names_ = panel.control_names
        self.train_weeks_ = panel.weeks.copy()
        self.scaler_ = PanelScaler.fit(panel)
        kpi_scaled = self.scaler_.kpi.forward(panel.kpi)
        torch.manual_seed(train_config.seed)
        net = MMMNet(panel.n_regions, panel.n_channels, panel.n_controls, model_config)
        observed = torch.as_tensor(panel.observed)
        exog = self._seasonality_exog(panel, net) if model_config.seasonality_beside_media else None
        self.seasonality_ = YearlySeasonality(model_config.seasonality_harmonics).fit(
            panel.weeks, kpi_scaled, panel.observed, exog=exog)
        inputs = self._inputs(panel, dtype=torch.float32)
        net.initialise_from_data(inputs.media, observed)
        target = torch.as_tensor(kpi_scaled, dtype=torch.float32)
        if train_config.warm_start:
            net.warm_start(inputs, target, observed)
        activity_scaled = self.scaler_.media.forward(panel.activity)
        covariance = within_covariance(activity_scaled, panel.observed)
        # For the ROI prior: region scales turn scaled contributions into KPI units; spend only matters
        # in ratios, so it is divided by its largest value (float32-safe for any currency).
        region_weight = self.scaler_.kpi.scale / self.scaler_.kpi.scale.mean()
        spend = np.where(panel.observed[..., None], np.nan_to_num(panel.spend), 0.0)
        spend = spend / max(float(spend.max()), 1e-12)
        as_f32 = lambda a: torch.as_tensor(np.ascontiguousarray(a), dtype=torch.float32)  # noqa: E731
        pooling_weight = self._level_extrapolation(panel, activity_scaled)
        data = training.TrainingData(inputs, target, observed, as_f32(covariance),
                                     as_f32(activity_scaled[panel.observed]), as_f32(region_weight), as_f32(spend),
                                     pooling_weight)
        self.train_result_: TrainResult = training.fit(net, data, train_config, callback)
        self.net_ = net
        self._net64 = None
        return self

    def _level_extrapolation(self, panel: Panel, activity_scaled: np.ndarray | None = None) -> torch.Tensor:
        """``[C]`` float32: how far each channel's level lies outside its data (``training.level_extrapolation``
        of the scaled activity over observed region-weeks), the per-channel weight of the ROI prior."""
        if activity_scaled is None:
            activity_scaled = self.scaler_.media.forward(panel.activity)
        masked = np.ascontiguousarray(np.where(panel.observed[..., None], activity_scaled, 0.0))
        return training.level_extrapolation(torch.as_tensor(masked, dtype=torch.float32),
                                            torch.as_tensor(panel.observed))

    def _seasonality_exog(self, panel: Panel, net: MMMNet) -> np.ndarray:
        """``[R, T, K + C + H]`` what the seasonal shapes are fitted beside (``seasonality_beside_media``):
        scaled controls, the media response at the net's initial curves, holiday weeks."""
        self.seasonality_ = YearlySeasonality.flat(panel.n_regions, net.config.seasonality_harmonics)
        inputs = self._inputs(panel, dtype=torch.float32)  # the profile in it is flat and not used
        net.initialise_from_data(inputs.media, torch.as_tensor(panel.observed))
        with torch.no_grad():
            response = net.media_response(inputs.media.double()).numpy()
        holidays = np.broadcast_to(inputs.holidays.numpy()[None], (panel.n_regions,) + tuple(inputs.holidays.shape))
        return np.concatenate([inputs.controls.numpy(), response, holidays], axis=-1)

    def _check_fitted(self) -> None:
        if not hasattr(self, "net_"):
            raise NotFittedError("this MMM is not fitted yet; call fit(panel) first")

    # -- inputs -------------------------------------------------------------------------------
    def _week_offset(self, panel: Panel) -> int:
        """Weeks from the first training week to the panel's first week (must be a whole number)."""
        days = int((panel.weeks[0] - self.train_weeks_[0]).astype(int))
        if days % 7:
            raise ValueError(f"panel weeks start on {panel.weeks[0]}, not on the training calendar "
                             f"(first training week {self.train_weeks_[0]})")
        return days // 7

    def _check_names(self, panel: Panel) -> None:
        for what, mine, theirs in (("regions", self.regions_, panel.regions), ("channels", self.channels_, panel.channels),
                                   ("controls", self.control_names_, panel.control_names)):
            if tuple(mine) != tuple(theirs):
                raise ValueError(f"panel {what} {list(theirs)[:5]}... differ from the training {what} {list(mine)[:5]}...")

    def _inputs(self, panel: Panel, dtype=torch.float64) -> ModelInputs:
        self._check_names(panel)
        observed = panel.observed[..., None]
        media = np.where(observed, self.scaler_.media.forward(panel.activity), 0.0)
        controls = np.where(observed, self.scaler_.controls.forward(panel.controls), 0.0)
        tt = trend_time(self._week_offset(panel), panel.n_weeks, len(self.train_weeks_),
                        (self.model_config_ or ModelConfig()).trend_damping)
        as_t = lambda a: torch.as_tensor(np.ascontiguousarray(a), dtype=dtype)  # noqa: E731
        return ModelInputs(as_t(media), as_t(controls), as_t(self.seasonality_.profile(panel.weeks)),
                           as_t(fourier_basis(panel.weeks, POOLED_HARMONICS)),
                           torch.as_tensor(self.seasonality_.positions(panel.weeks), dtype=torch.int64), tt.to(dtype),
                           as_t(holiday_indicators(panel.weeks, (self.model_config_ or ModelConfig()).holidays)))

    def _inference_net(self) -> MMMNet:
        if getattr(self, "_net64", None) is None:
            self._net64 = copy.deepcopy(self.net_).to(torch.float64).eval()
        return self._net64

    @torch.no_grad()
    def _forward(self, panel: Panel, media_override: np.ndarray | None = None) -> ModelOutput:
        self._check_fitted()
        inputs = self._inputs(panel)
        override = None if media_override is None else torch.as_tensor(media_override, dtype=torch.float64)
        return self._inference_net()(inputs, override)

    # -- outputs ------------------------------------------------------------------------------
    def predict(self, panel: Panel) -> np.ndarray:
        """``[R, T]`` predicted KPI in KPI units for every week of ``panel``."""
        out = self._forward(panel)
        return self.scaler_.kpi.inverse(out.prediction.numpy())

    def decompose(self, panel: Panel) -> Decomposition:
        """Additive components (KPI units) of the prediction for ``panel``'s weeks."""
        out = self._forward(panel)
        to_np = lambda t: t.numpy()  # noqa: E731
        return build_decomposition(panel.regions, panel.weeks, panel.channels, panel.control_names,
                                   self.scaler_.kpi.scale, to_np(out.baseline), to_np(out.trend),
                                   to_np(out.seasonality), to_np(out.controls), to_np(out.media),
                                   to_np(out.prediction))

    def adjacency(self) -> np.ndarray:
        """``[C, C]`` learned adjacency pruned to an exact DAG at ``DAG_THRESHOLD`` (zeros without a DAG)."""
        self._check_fitted()
        adj = self.net_.adjacency()
        if adj is None:
            return np.zeros((len(self.channels_),) * 2)
        return prune_to_dag(adj.detach().double().numpy(), DAG_THRESHOLD)

    def counterfactual_media(self, panel: Panel, channel: int | str, multiplier: float = 0.0) -> np.ndarray:
        """Scaled media ``[R, T, C]`` with one channel's own activity × ``multiplier``, propagated along the DAG."""
        if isinstance(channel, str):
            channel = self.channels_.index(channel)
        media = torch.as_tensor(self._inputs(panel).media)
        adj = torch.as_tensor(self.adjacency())
        return remove_channel(media, adj, channel, multiplier).numpy()

    def predict_counterfactual(self, panel: Panel, channel: int | str, multiplier: float = 0.0) -> np.ndarray:
        """``[R, T]`` KPI when one channel's own activity is scaled by ``multiplier`` (0: switched off)."""
        media = self.counterfactual_media(panel, channel, multiplier)
        return self.scaler_.kpi.inverse(self._forward(panel, media).prediction.numpy())

    def contributions(self, panel: Panel) -> pd.DataFrame:
        """Per channel over all observed region-weeks of ``panel``: spend, direct_contribution (the
        decomposition's), total_contribution (prediction minus prediction with the channel's own activity
        removed, propagated to its DAG children), share (of direct), roi, direct_roi, roi_prior_weight (how
        much the channel's ROI leans on the exchangeable-ROI prior: 0 where the panel shows the channel at
        zero activity, so its level is measured; up to ~0.75 for an always-on channel whose level the data
        cannot measure, so its ROI is "consistent with the measured channels"; 0 when the prior is off)."""
        observed = panel.observed
        decomposition = self.decompose(panel)
        base = decomposition.prediction
        direct = np.array([decomposition.channel(c)[observed].sum() for c in panel.channels])
        total = np.array([(base - self.predict_counterfactual(panel, c))[observed].sum() for c in range(panel.n_channels)])
        spend = np.where(observed[..., None], panel.spend, 0.0).sum(axis=(0, 1))
        table = channel_table(panel.channels, spend, direct, total)
        prior_on = self.train_config_.roi_pooling > 0
        table["roi_prior_weight"] = self._level_extrapolation(panel).double().numpy() if prior_on else 0.0
        return table

    def dag(self, threshold: float = DAG_THRESHOLD) -> pd.DataFrame:
        """Edges with ``|weight| >= threshold`` of the learned (acyclic) graph: parent, child, weight."""
        self._check_fitted()
        adj = self.net_.adjacency()
        weights = np.zeros((len(self.channels_),) * 2) if adj is None else adj.detach().double().numpy()
        adj = prune_to_dag(weights, threshold)
        rows = [(self.channels_[p], self.channels_[c], float(adj[p, c])) for p, c in zip(*np.nonzero(adj))]
        frame = pd.DataFrame(rows, columns=["parent", "child", "weight"])
        return frame.sort_values("weight", key=np.abs, ascending=False, ignore_index=True)

    def channel_parameters(self) -> pd.DataFrame:
        """Per channel: adstock_decay, adstock_peak_lag (weeks), adstock_tail (q of ``decay**(|l - peak|**q)``:
        2 for the delayed kernel, 1 for geometric, in between when learned), hill_half_saturation (input activity units
        per region, averaged over regions; per capita when the panel has a population), hill_slope,
        coefficient_max (scaled KPI units: share of the region mean)."""
        self._check_fitted()
        net = self.net_
        with torch.no_grad():
            peak, tail = net.adstock_peak_lag(), net.adstock_tail()
            k_scaled = net.hill_half_saturation().double().numpy()
            per_unit = self.scaler_.media.scale.mean(axis=0)  # [C] activity (per capita) per scaled unit
            return pd.DataFrame({
                "channel": list(self.channels_),
                "adstock_decay": net.adstock_decay().double().numpy(),
                "adstock_peak_lag": np.zeros(len(self.channels_)) if peak is None else peak.double().numpy(),
                "adstock_tail": np.full(len(self.channels_), 1.0 if peak is None else 2.0) if tail is None
                else tail.double().numpy(),
                "hill_half_saturation": k_scaled * per_unit,
                "hill_slope": net.hill_slope().double().numpy(),
                "coefficient_max": net.media_coef_max().double().numpy(),
            })

    def evaluate(self, train_panel: Panel, full_panel: Panel) -> dict[str, Any]:
        """Metrics on the training weeks and on the weeks of ``full_panel`` after them (the holdout)."""
        prediction = self.predict(full_panel)
        return forecast_report(train_panel, full_panel, prediction)

    # -- persistence --------------------------------------------------------------------------
    def save(self, directory: str | Path) -> Path:
        """Write ``config.json`` and ``weights.safetensors`` (network, scalers, seasonality). No pickle."""
        from safetensors.torch import save_file

        self._check_fitted()
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        config = {
            "format_version": FORMAT_VERSION,
            "model_config": asdict(self.model_config_), "train_config": asdict(self.train_config_),
            "regions": list(self.regions_), "channels": list(self.channels_),
            "control_names": list(self.control_names_),
            "train_weeks": [str(w) for w in self.train_weeks_],
            "best_epoch": self.train_result_.best_epoch, "epochs_run": self.train_result_.epochs_run,
            "fit_seconds": self.train_result_.seconds,
        }
        (directory / "config.json").write_text(json.dumps(config, indent=2))
        tensors = {f"net.{k}": v.detach().contiguous() for k, v in self.net_.state_dict().items()}
        tensors.update({f"scaler.{k}": torch.as_tensor(v) for k, v in self.scaler_.state_dict().items()})
        tensors.update({f"seasonality.{k}": torch.as_tensor(v) for k, v in self.seasonality_.state_dict().items()})
        save_file(tensors, str(directory / "weights.safetensors"))
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> "MMM":
        """Rebuild a saved model (no pickle). A missing, truncated or mismatched file raises ``ValueError``
        naming the folder and the reason, never a bare library error."""
        directory = Path(directory)
        from safetensors import SafetensorError

        try:
            return cls._load(directory)
        except (OSError, ValueError, KeyError, TypeError, RuntimeError, SafetensorError) as exc:
            raise ValueError(f"{directory}: not a loadable model (config.json + weights.safetensors): "
                             f"{type(exc).__name__}: {exc}") from exc

    @classmethod
    def _load(cls, directory: Path) -> "MMM":
        from safetensors.torch import load_file

        config = json.loads((directory / "config.json").read_text())
        if config.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"unsupported model format {config.get('format_version')!r}")
        config["model_config"].setdefault("holidays", [])  # models saved before holiday terms existed
        config["model_config"].setdefault("adstock_learn_tail", False)  # ... and before the learned tail
        model_config, train_config = ModelConfig(**config["model_config"]), TrainConfig(**config["train_config"])
        self = cls(model_config, train_config)
        self.model_config_, self.train_config_ = model_config, train_config
        self.regions_, self.channels_ = tuple(config["regions"]), tuple(config["channels"])
        self.control_names_ = tuple(config["control_names"])
        self.train_weeks_ = np.array(config["train_weeks"], dtype="datetime64[D]")
        tensors = load_file(str(directory / "weights.safetensors"))
        part = lambda p: {k.split(".", 1)[1]: v for k, v in tensors.items() if k.startswith(p + ".")}  # noqa: E731
        self.scaler_ = PanelScaler.from_state({k: v.numpy() for k, v in part("scaler").items()})
        self.seasonality_ = YearlySeasonality.from_state({k: v.numpy() for k, v in part("seasonality").items()})
        net = MMMNet(len(self.regions_), len(self.channels_), len(self.control_names_), model_config)
        net.load_state_dict(part("net"))
        self.net_, self._net64 = net, None
        self.train_result_ = TrainResult([], config["best_epoch"], config["epochs_run"], config["fit_seconds"], "cpu")
        return self
