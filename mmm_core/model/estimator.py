"""``MMM``: the sklearn-style facade over scaling, seasonality, the network, training and decomposition.

    mmm = MMM(overrides={"train": {"epochs": 300}}).fit(train_panel)
    mmm.predict(full_panel)            # [R, T] KPI units; weeks after training continue the state
    mmm.decompose(panel).to_frame()    # baseline, trend, seasonality, control:*, channel:*
    mmm.contributions(panel)           # direct and counterfactual total contribution, their parts, ROI

``__init__`` only stores settings; ``fit`` learns everything (attributes ending in ``_``). A panel given to
``predict`` and friends must have the training regions, channels and controls and start on a week of the
training calendar: normally the training panel itself or training + future weeks. Inference runs in
float64 on the CPU, so a saved and loaded model reproduces predictions bitwise.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
import torch

from mmm_core.model import calibration, training
from mmm_core.data.experiments import LiftTest
from mmm_core.data.contract import Panel
from mmm_core.model.dag import (MIN_SUPPORT, descendants, edge_support, lasso_rate, own_activity, prune_to_dag, structure_graph, supported,
                                within_covariance)
from mmm_core.model.decomposition import Decomposition, build_decomposition, channel_table
from mmm_core.data.calendar import fourier_basis, holiday_indicators
from mmm_core.model.network import MMMNet, ModelConfig, ModelInputs, ModelOutput, trend_time
from mmm_core.model.options import with_changes
from mmm_core.model.parallel import SEEDED
from mmm_core.model.persistence import load_model, save_model
from mmm_core.model.priors import channel_prior_weight, roi_prior_data
from mmm_core.model.scaling import PanelScaler, per_capita_region_scale
from mmm_core.model.seasonality import POOLED_HARMONICS, YearlySeasonality
from mmm_core.model.training import TrainConfig, TrainResult
from mmm_core.model.transforms import scale_own_activity

DAG_THRESHOLD = 0.1
"""Default |weight| below which a learned edge is reported as absent (scaled activity units)."""


class NotFittedError(RuntimeError):
    """A method that needs a fitted model was called before ``fit``."""


def _apply_overrides(config, overrides: dict[str, Any] | None):
    return config if not overrides else with_changes(config, overrides)


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
    def fit(self, panel: Panel, callback: Callable[[training.TrainEvent], None] | None = None,
            lift_tests: tuple[LiftTest, ...] | list[LiftTest] = (), dag_support: np.ndarray | None = None) -> "MMM":
        """Fit on every week of ``panel`` (slice a holdout off beforehand). Returns self.

        ``lift_tests`` (``data.experiments.LiftTest``) whose weeks lie in ``panel`` (``calibration.usable``;
        kept as ``lift_tests_``) enter the loss as a likelihood on the model's own counterfactual lift
        (``calibration``), beside the exchangeable-ROI prior and in its units.

        Before training, each graph edge's bootstrap support is measured (``dag.edge_support``, the structure
        problem alone on ``dag.SUPPORT_RESAMPLES`` resamples; ``dag_support_`` ``[C, C]``): only edges with support
        >= ``dag.MIN_SUPPORT`` are used and published (``adjacency``, ``dag``); the supported graph of the same
        problem (``dag.structure_graph``) gives the ROI prior each channel's own activity. ``dag_support`` ``[C, C]``:
        a support already measured on the same activity (another fit's ``dag_support_``; the structure problem
        never reads the KPI), used instead of measuring it again."""
        model_config, train_config = self._resolved_configs()
        self.model_config_, self.train_config_ = model_config, train_config
        self.regions_, self.channels_ = panel.regions, panel.channels
        self.control_names_ = panel.control_names
        self.train_weeks_ = panel.weeks.copy()
        self.lift_tests_ = calibration.usable(tuple(lift_tests), panel)
        self.scaler_ = PanelScaler.fit(panel)
        kpi_scaled = self.scaler_.kpi.forward(panel.kpi)
        with SEEDED:  # the GRU's starting weights come from torch's global generator (fits may run side by side)
            torch.manual_seed(train_config.seed)
            net = MMMNet(panel.n_regions, panel.n_channels, panel.n_controls, model_config)
        observed = torch.as_tensor(panel.observed)
        self.seasonality_ = YearlySeasonality(model_config.seasonality_harmonics).fit(
            panel.weeks, kpi_scaled, panel.observed)
        net.initialise_from_data(self._inputs(panel, dtype=torch.float32).media, observed)
        net.media_region_scale.copy_(torch.as_tensor(per_capita_region_scale(self.scaler_.kpi, panel.population)))
        activity_scaled = self.scaler_.media.forward(panel.activity)
        rows = activity_scaled[panel.observed]
        self.dag_support_, graph = None, None
        if net.dag is not None:
            structure = (net.dag.mask, train_config.dag_l1 * lasso_rate(*rows.shape), train_config.dag_acyclicity,
                         train_config.dag_nonnegativity, train_config.learning_rate, train_config.grad_clip)
            self.dag_support_ = (np.asarray(dag_support, dtype=np.float64) if dag_support is not None else
                                 edge_support(activity_scaled, panel.observed, *structure, DAG_THRESHOLD,
                                              seed=train_config.seed))
            graph = structure_graph(activity_scaled, panel.observed, *structure, DAG_THRESHOLD, self.dag_support_)
        data = self.training_data(panel, graph)
        self.train_result_: TrainResult = training.fit(net, data, train_config, callback)
        self.net_ = net
        self._net64 = None
        return self

    def training_data(self, panel: Panel, graph: np.ndarray | None) -> training.TrainingData:
        """What ``training.fit`` reads for ``panel`` (the training panel): scaled inputs and KPI, the DAG's
        activity covariance and rows, and the ROI prior's data with each channel's own activity under
        ``graph`` ``[C, C]`` (None: all activity is own). Needs the fitted scalers and seasonality."""
        as_f32 = lambda a: torch.as_tensor(np.ascontiguousarray(a), dtype=torch.float32)  # noqa: E731
        activity_scaled = self.scaler_.media.forward(panel.activity)
        tests = self.lift_tests_
        return training.TrainingData(self._inputs(panel, dtype=torch.float32),
                                     as_f32(self.scaler_.kpi.forward(panel.kpi)), torch.as_tensor(panel.observed),
                                     as_f32(within_covariance(activity_scaled, panel.observed)),
                                     as_f32(activity_scaled[panel.observed]),
                                     roi_prior_data(panel, self.scaler_.kpi.scale, activity_scaled, graph),
                                     lift_tests=calibration.lift_test_data(tests, panel, self.scaler_.kpi.scale, graph))

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
                           as_t(fourier_basis(panel.weeks, POOLED_HARMONICS)), tt.to(dtype),
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
        """``[C, C]`` the graph the counterfactuals use: the learned adjacency pruned to an exact DAG at
        ``DAG_THRESHOLD``, keeping only edges with support >= ``MIN_SUPPORT`` (``dag.supported``; zeros
        without a DAG)."""
        self._check_fitted()
        adj = self.net_.adjacency()
        if adj is None:
            return np.zeros((len(self.channels_),) * 2)
        return supported(prune_to_dag(adj.detach().double().numpy(), DAG_THRESHOLD), self.dag_support_)

    def own_multiplier(self, channel: int | str, multiplier: float = 0.0) -> np.ndarray:
        """``[C]`` factors for ``counterfactual``: one channel's own activity × ``multiplier``, the rest × 1."""
        index = self.channels_.index(channel) if isinstance(channel, str) else int(channel)
        factors = np.ones(len(self.channels_))
        factors[index] = multiplier
        return factors

    def counterfactual_media(self, panel: Panel, channel: int | str, multiplier: float = 0.0) -> np.ndarray:
        """Scaled media ``[R, T, C]`` with one channel's own activity × ``multiplier``, propagated along the DAG."""
        return self._scaled_media(panel, self.own_multiplier(channel, multiplier))

    def _scaled_media(self, panel: Panel, own_multiplier: np.ndarray) -> np.ndarray:
        """Scaled media ``[R, T, C]`` with each channel's own activity × ``own_multiplier`` (``[R, T, C]`` or
        broadcastable, e.g. ``[C]``; 0 switches the channel's own activity off), the change propagated along
        the DAG to its descendants, clipped at 0. Activity a channel's DAG parents caused is not its own and
        stays; channels that are neither scaled nor descendants keep their activity bit for bit."""
        media = torch.as_tensor(self._inputs(panel).media)
        adjacency = torch.as_tensor(self.adjacency())
        factor = torch.as_tensor(np.array(own_multiplier, dtype=np.float64))  # broadcasts against [R, T, C]
        return scale_own_activity(media, own_activity(media, adjacency), adjacency, factor).numpy()

    def counterfactual(self, panel: Panel, own_multiplier: np.ndarray) -> Decomposition:
        """The model's one counterfactual: components (KPI units) of the prediction for ``panel`` with each
        channel's own activity × ``own_multiplier`` (see ``_scaled_media``).

        The GRU's modulation (the time-varying coefficients) is read from the factual ``panel`` and held:
        a counterfactual changes the channels' activity and nothing else. So the components other than
        the scaled channels and their DAG descendants are unchanged, a channel without DAG edges loses
        exactly its decomposition term when switched off, and contributions, response curves and budget
        scenarios (``mmm_core.analysis.curves``) all read this one function. Letting the GRU react would
        move credit between unrelated channels and controls through the shared recurrent state.
        """
        out = self._forward(panel, self._scaled_media(panel, own_multiplier))
        to_np = lambda t: t.numpy()  # noqa: E731
        return build_decomposition(panel.regions, panel.weeks, panel.channels, panel.control_names,
                                   self.scaler_.kpi.scale, to_np(out.baseline), to_np(out.trend),
                                   to_np(out.seasonality), to_np(out.controls), to_np(out.media),
                                   to_np(out.prediction))

    def media_kpi(self, panel: Panel, multipliers: np.ndarray, weeks: np.ndarray | None = None,
                  chunk: int = 8) -> np.ndarray:
        """``[B, R, T]`` KPI units: the media part (the channels' terms summed) of B counterfactual predictions,
        run b with each channel's own activity × ``multipliers[b]`` (``[B, R, C]`` or ``[B, C]``) in the weeks
        ``weeks`` marks (``[T]`` bool; every week when None) and unchanged in the others, as in ``counterfactual``.

        A counterfactual holds the factual GRU modulation, so it changes only the terms of the channels it scales
        and of their DAG descendants: ``counterfactual(panel, m).prediction`` is ``predict(panel)`` minus the
        factual media part plus this one, up to rounding, and differences between counterfactuals (response
        curves, budgets) are differences of ``media_kpi``. One forward pass gives the modulation and the factual
        terms; each run then recomputes only the channels it changes (``_changed_terms``), ``chunk`` runs at a
        time, so a response curve's runs cost a fraction of as many forward passes."""
        terms, runs = self._changed_terms(panel, multipliers, weeks, chunk)
        R, T, _ = terms.shape
        scale = torch.as_tensor(self.scaler_.kpi.scale, dtype=torch.float64)[:, None]  # [R, 1]
        out = [((terms.sum(-1) + (changed - terms[..., channels]).sum(-1)) * scale).numpy()
               for channels, changed in runs]
        return np.concatenate(out) if out else np.zeros((0, R, T))

    def _changed_terms(self, panel: Panel, multipliers: np.ndarray, weeks: np.ndarray | None, chunk: int):
        """(factual media terms ``[R, T, C]``, an iterator over chunks of the runs of ``media_kpi``: (channels
        ``[S]``, their terms ``[n, R, T, S]`` in the chunk's n runs)), scaled KPI units: the channels a chunk's
        runs change (scaled, or a DAG descendant of a scaled one) recomputed with ``MMMNet.media_response`` on
        their columns at the factual modulation; every other channel's term is the factual one."""
        net = self._inference_net()
        factual = self._forward(panel)
        coef, terms = factual.media_coef, factual.media  # [R, T, C] scaled KPI units
        R, T, C = coef.shape
        multipliers = np.asarray(multipliers, dtype=np.float64)
        multipliers = np.broadcast_to(multipliers.reshape(len(multipliers), -1, C), (len(multipliers), R, C))
        weeks = torch.as_tensor(np.ones(T, dtype=bool) if weeks is None else np.asarray(weeks, dtype=bool))
        media = torch.as_tensor(self._inputs(panel).media)
        adjacency = self.adjacency()
        own = own_activity(media, torch.as_tensor(adjacency))
        reach = descendants(adjacency)  # [p, c]: c is p or a descendant of p

        def runs():
            with torch.no_grad():
                for start in range(0, len(multipliers), chunk):
                    mult = torch.tensor(multipliers[start:start + chunk])  # [n, R, C], a copy (the view is read-only)
                    n = mult.shape[0]
                    moved = torch.nonzero((mult != 1.0).any(dim=(0, 1))).flatten()  # the channels the runs scale
                    channels = torch.nonzero(torch.as_tensor(reach[moved.numpy()].any(axis=0))).flatten()
                    if not len(channels):
                        yield channels, terms[..., channels].expand(n, R, T, 0)
                        continue
                    factor = torch.where(weeks[None, None, :, None], mult[:, :, None, moved], 1.0)  # [n, R, T, P]
                    scaled = scale_own_activity(media, own, torch.as_tensor(adjacency), factor, moved, channels)
                    response = net.media_response(scaled.reshape(n * R, T, -1), channels).reshape(n, R, T, -1)
                    yield channels, coef[..., channels] * response

        return terms, runs()

    def predict_counterfactual(self, panel: Panel, channel: int | str, multiplier: float = 0.0) -> np.ndarray:
        """``[R, T]`` KPI when one channel's own activity is scaled by ``multiplier`` (0: switched off)."""
        return self.counterfactual(panel, self.own_multiplier(channel, multiplier)).prediction

    def contributions(self, panel: Panel) -> pd.DataFrame:
        """Per channel over all observed region-weeks of ``panel`` (KPI units; ``channel_table`` defines
        the columns): spend, direct_contribution (the channel's decomposition term), total_contribution
        (prediction minus the ``counterfactual`` with the channel's own activity switched off), their parts
        own_contribution, mediated_contribution (the term's share from activity the DAG parents caused),
        induced_contribution (what the channel causes in its DAG descendants' terms), share (of direct),
        roi, direct_roi, and roi_prior_weight (how much the channel's ROI comes from the exchangeable-ROI
        prior rather than the data: ``priors.level_extrapolation``, 0 where the panel shows the channel near
        zero activity, so its level is measured; 1 for an always-on channel whose level the data cannot
        measure; 0 when the prior is off)."""
        observed = panel.observed
        C = panel.n_channels
        # each run switches one channel's own activity off (run c: channel c); only the channels it reaches change
        terms, runs = self._changed_terms(panel, 1.0 - np.eye(C), None, chunk=1)
        to_kpi = torch.as_tensor(np.where(observed, self.scaler_.kpi.scale[:, None], 0.0))[..., None]  # [R, T, 1]
        per_channel = lambda t: (t * to_kpi).sum(dim=(-3, -2)).numpy()  # noqa: E731  [..., S] KPI units, observed
        direct = per_channel(terms)
        total, mediated, induced = np.zeros(C), np.zeros(C), np.zeros(C)
        for c, (channels, changed) in enumerate(runs):
            lost = direct[channels.numpy()] - per_channel(changed[0])  # [S] each reached channel's term lost
            is_c = channels.numpy() == c
            total[c], mediated[c], induced[c] = lost.sum(), per_channel(changed[0])[is_c].sum(), lost[~is_c].sum()
        spend = np.where(observed[..., None], panel.spend, 0.0).sum(axis=(0, 1))
        table = channel_table(panel.channels, spend, direct, total, mediated, induced)
        prior_on = self.train_config_.roi_pooling > 0
        weight = channel_prior_weight(self.scaler_.media.forward(panel.activity), panel.observed, self.adjacency())
        table.insert(table.columns.get_loc("direct_roi") + 1, "roi_prior_weight",
                     weight.double().numpy() if prior_on else 0.0)  # the published table's column order
        return table

    def lift_tests(self, panel: Panel, tests: tuple[LiftTest, ...] | list[LiftTest] | None = None) -> pd.DataFrame:
        """Per experiment (``tests``; the fit's ``lift_tests_`` when None) that lies in ``panel``: experiment,
        channel, lift and lift_se (measured, KPI units), model_lift (the model's counterfactual lift for the
        same cells and spend change, ``calibration.model_lifts``, with the graph ``adjacency`` the
        contributions use), z ((model_lift - lift) / lift_se) and used (the fit was trained on it)."""
        tests = tuple(getattr(self, "lift_tests_", ()) if tests is None else tests)
        inside = calibration.usable(tests, panel)
        used = {(t.experiment, t.channel) for t in getattr(self, "lift_tests_", ())}
        data = calibration.lift_test_data(inside, panel, self.scaler_.kpi.scale, self.adjacency())
        model_lift = np.zeros(0)
        if data is not None:
            out = self._forward(panel)
            with torch.no_grad():
                model_lift = calibration.model_lifts(self._inference_net(), self._inputs(panel).media,
                                                     out.modulation, data).numpy()
        lift = np.array([t.lift for t in inside])
        se = np.array([t.lift_se for t in inside])
        return pd.DataFrame({"experiment": pd.Series([t.experiment for t in inside], dtype=object),
                             "channel": pd.Series([t.channel for t in inside], dtype=object),
                             "lift": lift, "lift_se": se, "model_lift": model_lift, "z": (model_lift - lift) / se,
                             "used": np.array([(t.experiment, t.channel) in used for t in inside], dtype=bool)})

    def dag(self, threshold: float = DAG_THRESHOLD, min_support: float = MIN_SUPPORT) -> pd.DataFrame:
        """Edges with ``|weight| >= threshold`` and support >= ``min_support`` of the learned (acyclic)
        graph: parent, child, weight, support (share of bootstrap resamples whose structure fit keeps the
        edge at ``DAG_THRESHOLD`` in this direction, 0..1; ``dag.edge_support``; NaN for a model saved
        before support existed, whose edges are all kept). The defaults give the graph ``adjacency`` uses;
        ``min_support=0`` lists the edges the fit found that the data do not support as well."""
        self._check_fitted()
        adj = self.net_.adjacency()
        weights = np.zeros((len(self.channels_),) * 2) if adj is None else adj.detach().double().numpy()
        support = self.dag_support_ if self.dag_support_ is not None else np.full(weights.shape, np.nan)
        adj = supported(prune_to_dag(weights, threshold), support, min_support)
        rows = [(self.channels_[p], self.channels_[c], float(adj[p, c]), float(support[p, c]))
                for p, c in zip(*np.nonzero(adj))]
        frame = pd.DataFrame(rows, columns=["parent", "child", "weight", "support"])
        return frame.sort_values("weight", key=np.abs, ascending=False, ignore_index=True)

    def channel_parameters(self) -> pd.DataFrame:
        """Per channel: adstock_decay, adstock_peak_lag (weeks), adstock_tail (q of ``decay**(|l - peak|**q)``:
        2 for the delayed kernel, 1 for geometric, in between when learned), hill_half_saturation (input activity units
        per region, averaged over regions; per capita when the panel has a population), hill_slope,
        coefficient_max (scaled KPI units: share of the region mean, in a region selling the regions' average per
        person; a region's bound is this times its ``MMMNet.media_region_scale``)."""
        self._check_fitted()
        net = self.net_
        adstock, saturation = net.adstock, net.saturation
        with torch.no_grad():
            peak = adstock.peak_lag()
            k_scaled = saturation.half_saturation().double().numpy()
            per_unit = self.scaler_.media.scale.mean(axis=0)  # [C] activity (per capita) per scaled unit
            return pd.DataFrame({
                "channel": list(self.channels_),
                "adstock_decay": adstock.decay().double().numpy(),
                "adstock_peak_lag": np.zeros(len(self.channels_)) if peak is None else peak.double().numpy(),
                "adstock_tail": adstock.tail_or_fixed().double().numpy(),
                "hill_half_saturation": k_scaled * per_unit,
                "hill_slope": saturation.slope().double().numpy(),
                "coefficient_max": net.media_coef_max().double().numpy(),
            })

    # -- persistence ----------------------------------------------------------------------------
    def save(self, directory: str | Path) -> Path:
        """Write ``config.json`` and ``weights.safetensors`` (``persistence.save_model``). No pickle."""
        self._check_fitted()
        return save_model(self, Path(directory))

    @classmethod
    def load(cls, directory: str | Path) -> "MMM":
        """Rebuild a saved model (``persistence.load_model``; artefacts of every format version load). A
        missing, truncated or mismatched file raises ``ValueError`` naming the folder and the reason."""
        return load_model(cls, Path(directory))

