"""The ground truth of a simulated panel: the KPI equation, ``GroundTruth`` and ``Simulation``.

The equation and the units of every parameter are documented in ``simulator.py``; this module holds
the one implementation of that equation, used both to generate a panel and to recompute it
(counterfactuals, tests). It sees only ``contract`` and ``transforms``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from mmm_core.data.contract import Panel
from mmm_core.simulation.config import SimulationConfig
from mmm_core.simulation.drivers import MediaPattern
from mmm_core.model.transforms import adstock, adstock_weights, hill, propagate_dag


def adstock_kernel(decay: np.ndarray, peak_lag: np.ndarray, max_lag: int) -> torch.Tensor:
    """Kernel ``[C, max_lag]`` (float64): geometric rows where ``peak_lag == 0``, delayed elsewhere."""
    decay_t = torch.as_tensor(decay, dtype=torch.float64)
    geometric = adstock_weights(decay_t, None, max_lag)
    delayed = adstock_weights(decay_t, torch.as_tensor(peak_lag, dtype=torch.float64), max_lag)
    return torch.where(torch.as_tensor(peak_lag > 0)[:, None], delayed, geometric)


def _same_week_graph(edge_lag: np.ndarray | None, available: np.ndarray | None) -> bool:
    """True when every edge acts in the same week and every channel can run wherever any can: then the
    graph is ``transforms.propagate_dag`` exactly (a cell where no channel runs has no own activity)."""
    no_lag = edge_lag is None or not np.any(edge_lag)
    return no_lag and (available is None or bool((available == available[..., :1]).all()))


def graph_inflow(total: np.ndarray, adjacency: np.ndarray, edge_lag: np.ndarray | None = None,
                 available: np.ndarray | None = None) -> np.ndarray:
    """Activity ``[R, T, C]`` that the channel graph adds to each child: for every edge p -> c,
    ``adjacency[p, c] * total[r, t - edge_lag[p, c], p]`` (0 before the first week), kept only where the
    child can run (``available[r, t, c]``; a channel not bought in a region-week gets nothing from its
    parents either). ``total`` is the total activity index, ``edge_lag`` ``[C, C]`` whole weeks."""
    lag = np.zeros(adjacency.shape, dtype=int) if edge_lag is None else np.asarray(edge_lag, dtype=int)
    inflow = np.zeros_like(total, dtype=float)
    T = total.shape[-2]
    for p, c in zip(*np.nonzero(adjacency)):
        k = int(lag[p, c])
        if k < T:
            inflow[..., k:, c] += adjacency[p, c] * total[..., :T - k, p]
    return inflow if available is None else np.where(available, inflow, 0.0)


def propagate_graph(own_index: np.ndarray, adjacency: np.ndarray, edge_lag: np.ndarray | None = None,
                    available: np.ndarray | None = None) -> np.ndarray:
    """Total activity index ``[R, T, C]`` from own activity ``[R, T, C]`` along the channel graph:
    ``total = own + graph_inflow(total)``, solved channel by channel in the graph's order (it is acyclic).
    Same-week graphs without channel-specific dark cells go through ``transforms.propagate_dag``, the
    model's own function, so the presets built before lags existed compute exactly what they did."""
    if _same_week_graph(edge_lag, available):
        return propagate_dag(torch.as_tensor(own_index, dtype=torch.float64),
                             torch.as_tensor(adjacency, dtype=torch.float64)).numpy()
    total = np.array(own_index, dtype=float)
    for c in _topological_order(adjacency):
        parents = np.zeros_like(adjacency)
        parents[:, c] = adjacency[:, c]
        total[..., c] = own_index[..., c] + graph_inflow(total, parents, edge_lag, available)[..., c]
    return total


def own_from_total(total_index: np.ndarray, adjacency: np.ndarray, edge_lag: np.ndarray | None = None,
                   available: np.ndarray | None = None) -> np.ndarray:
    """Own activity index ``[R, T, C]`` whose propagation is ``total_index`` (the inverse of
    ``propagate_graph``), clipped at 0 (rounded file values can dip a hair below)."""
    if _same_week_graph(edge_lag, available):
        return np.maximum(total_index @ (np.eye(adjacency.shape[0]) - adjacency), 0.0)
    return np.maximum(total_index - graph_inflow(total_index, adjacency, edge_lag, available), 0.0)


def _topological_order(adjacency: np.ndarray) -> list[int]:
    """Channels with every parent before its children."""
    remaining, order = set(range(adjacency.shape[0])), []
    while remaining:
        ready = sorted(c for c in remaining if not any(adjacency[p, c] != 0 for p in remaining if p != c))
        if not ready:
            raise ValueError("the channel graph has a cycle")
        order += ready
        remaining -= set(ready)
    return order


def media_response(own_index: np.ndarray, adjacency: np.ndarray, kernel: torch.Tensor,
                   half_saturation: np.ndarray, slope: np.ndarray, edge_lag: np.ndarray | None = None,
                   available: np.ndarray | None = None) -> np.ndarray:
    """Hill response in [0, 1) ``[R, T, C]`` of own activity (index units) ``[R, T, C]``.

    Own activity is propagated along the channel graph (``propagate_graph``: edges may act weeks later,
    ``edge_lag`` ``[C, C]``; ``available`` ``[R, T, C]`` where each channel can run), adstocked along
    weeks, then saturated per channel."""
    x_total = torch.as_tensor(propagate_graph(own_index, adjacency, edge_lag, available))
    carried = adstock(x_total, kernel)  # [R, T, C]
    return hill(carried, torch.as_tensor(half_saturation, dtype=torch.float64),
                torch.as_tensor(slope, dtype=torch.float64)).numpy()


def direct_contributions(own_index: np.ndarray, size: np.ndarray, coefficient: np.ndarray,
                         adjacency: np.ndarray, kernel: torch.Tensor, half_saturation: np.ndarray,
                         slope: np.ndarray, edge_lag: np.ndarray | None = None,
                         available: np.ndarray | None = None) -> np.ndarray:
    """Direct media contributions ``[R, T, C]`` in KPI units.

    own_index ``[R, T, C]`` own activity index; size ``[R]`` population x region media multiplier;
    coefficient ``[C]`` KPI units per capita per week at saturation; the graph as in ``media_response``."""
    response = media_response(own_index, adjacency, kernel, half_saturation, slope, edge_lag, available)
    return size[:, None, None] * coefficient * response


def non_media_components(base_level: np.ndarray, trend_growth: np.ndarray, seasonality_amplitude: np.ndarray,
                         seasonal_shape: np.ndarray, holiday_lift: np.ndarray, holiday_indicator: np.ndarray,
                         controls: np.ndarray, control_coefficient: np.ndarray, control_center: np.ndarray,
                         control_names: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Baseline, trend, seasonality, holiday and ``control:<name>`` parts, each ``[R, T]`` KPI units."""
    base = base_level[:, None]  # [R, 1]
    t = np.arange(len(seasonal_shape), dtype=float)
    parts = {
        "baseline": np.broadcast_to(base, (len(base_level), len(t))).astype(float),
        "trend": base * trend_growth[:, None] * t[None, :] / 52.0,
        "seasonality": base * seasonality_amplitude[:, None] * seasonal_shape[None, :],
        "holiday": base * (holiday_lift @ holiday_indicator.T),
    }
    per_control = base[..., None] * control_coefficient * (controls - control_center)  # [R, T, K]
    parts.update({f"control:{n}": per_control[..., k] for k, n in enumerate(control_names)})
    return parts


@dataclass(frozen=True, eq=False)
class GroundTruth:
    """Everything that generated a simulated panel. Shapes: R regions, T weeks, C channels, K controls,
    H holidays. See the module docstring for the equation and the units."""

    regions: tuple[str, ...]
    weeks: np.ndarray                       # [T] datetime64[D], Mondays
    channels: tuple[str, ...]
    control_names: tuple[str, ...]
    holiday_names: tuple[str, ...]
    observed: np.ndarray                    # [R, T] bool
    population: np.ndarray                  # [R] people
    base_level: np.ndarray                  # [R] KPI units per week
    trend_growth: np.ndarray                # [R] share of base level per 52 weeks
    seasonality_amplitude: np.ndarray       # [R] share of base level (sd of the yearly term)
    seasonal_shape: np.ndarray              # [T] unit-sd yearly shape
    holiday_indicator: np.ndarray           # [T, H] 0/1
    holiday_lift: np.ndarray                # [R, H] share of base level
    controls: np.ndarray                    # [R, T, K] control values (also in unobserved cells)
    control_coefficient: np.ndarray         # [K] share of base level per control unit
    control_center: np.ndarray              # [K] control units
    has_activity_column: tuple[bool, ...]   # [C]
    activity_scale: np.ndarray              # [C] activity units per capita per week = index 1
    adstock_decay: np.ndarray               # [C]
    adstock_peak_lag: np.ndarray            # [C] weeks; 0 = geometric
    max_lag: int
    hill_half_saturation: np.ndarray        # [C] activity-index units
    hill_slope: np.ndarray                  # [C]
    channel_coefficient: np.ndarray         # [C] KPI units per capita per week at saturation
    region_media_multiplier: np.ndarray     # [R] mean 1
    dag_adjacency: np.ndarray               # [C, C] index units, acyclic; every edge, whatever its lag
    own_activity: np.ndarray                # [R, T, C] activity units, before the DAG
    kpi_noiseless: np.ndarray               # [R, T] KPI units
    direct_contribution_weekly: np.ndarray  # [R, T, C] KPI units
    noise: np.ndarray                       # [R, T] KPI units (before clipping at 0 and rounding)
    noise_sd: np.ndarray                    # [R] KPI units
    snr: float
    media_share: float                      # realised: direct media / noiseless KPI, observed weeks
    spend: np.ndarray                       # [C] currency, observed weeks
    direct_contribution: np.ndarray         # [C] KPI units
    total_contribution: np.ndarray          # [C] KPI units, counterfactual through the DAG
    direct_share: np.ndarray                # [C] sums to 1 (all 0 in a zero-media world)
    roi: np.ndarray                         # [C] total_contribution / spend
    direct_roi: np.ndarray                  # [C] direct_contribution / spend
    # Wider families (issue 16). dag_lag[p, c]: weeks after the parent's activity that edge p -> c adds
    # to the child's (0 = same week; None = every edge same week). media_available[r, t, c]: channel c is
    # bought in region-week (r, t) (False: unobserved, a dark region, a region sitting out a flight;
    # None = wherever observed); a channel that is not bought gets nothing from its parents either.
    dag_lag: np.ndarray | None = None       # [C, C] int weeks
    media_available: np.ndarray | None = None  # [R, T, C] bool
    media_patterns: tuple[MediaPattern, ...] | None = None  # [C] how each channel's own activity was drawn

    # -- units ------------------------------------------------------------------------------
    @property
    def hill_half_saturation_per_capita(self) -> np.ndarray:
        """``[C]`` half-saturation in activity units per capita per week (adstocked)."""
        return self.hill_half_saturation * self.activity_scale

    def activity_index(self, activity: np.ndarray) -> np.ndarray:
        """Activity ``[R, T, C]`` (activity units) -> activity index (per capita / activity_scale)."""
        return activity / (self.population[:, None, None] * self.activity_scale)

    def channel_index(self, channel: str) -> int:
        try:
            return self.channels.index(channel)
        except ValueError:
            raise KeyError(f"unknown channel {channel!r}; channels are {self.channels}") from None

    def adstock_kernel(self) -> torch.Tensor:
        """``[C, max_lag]`` normalised carry-over kernel of every channel."""
        return adstock_kernel(self.adstock_decay, self.adstock_peak_lag, self.max_lag)

    # -- the equation -----------------------------------------------------------------------
    def media_contribution(self, own_activity: np.ndarray | None = None) -> np.ndarray:
        """Direct contributions ``[R, T, C]`` (KPI units) of own activity ``[R, T, C]`` (activity units,
        the truth's ``own_activity`` when None). The code path that generated the panel."""
        own = self.own_activity if own_activity is None else own_activity
        return direct_contributions(self.activity_index(own), self.population * self.region_media_multiplier,
                                    self.channel_coefficient, self.dag_adjacency, self.adstock_kernel(),
                                    self.hill_half_saturation, self.hill_slope, self.dag_lag, self.media_available)

    def base_demand(self) -> np.ndarray:
        """``[R, T]`` KPI units: baseline + trend + seasonality + holiday, the demand that
        demand-following channels track (no controls, no media)."""
        parts = self.non_media_components()
        return parts["baseline"] + parts["trend"] + parts["seasonality"] + parts["holiday"]

    def components(self) -> dict[str, np.ndarray]:
        """Additive noiseless parts ``{name: [R, T]}`` in KPI units, summing to ``kpi_noiseless``:
        baseline, trend, seasonality, holiday, ``control:<name>``, ``channel:<name>``."""
        parts = self.non_media_components()
        media = self.direct_contribution_weekly
        parts.update({f"channel:{n}": media[..., c] for c, n in enumerate(self.channels)})
        return parts

    def non_media_components(self) -> dict[str, np.ndarray]:
        """The parts of ``components`` that are not media."""
        return non_media_components(self.base_level, self.trend_growth, self.seasonality_amplitude,
                                    self.seasonal_shape, self.holiday_lift, self.holiday_indicator, self.controls,
                                    self.control_coefficient, self.control_center, self.control_names)

    def non_media_kpi(self) -> np.ndarray:
        """``[R, T]`` baseline + trend + seasonality + holiday + controls, KPI units."""
        return sum(self.non_media_components().values())

    def kpi_noiseless_for(self, own_activity: np.ndarray) -> np.ndarray:
        """Noiseless KPI ``[R, T]`` for any own activity ``[R, T, C]`` (activity units)."""
        return self.non_media_kpi() + self.media_contribution(own_activity).sum(axis=-1)

    def without_channel(self, channel: str) -> np.ndarray:
        """Own activity ``[R, T, C]`` with ``channel``'s own activity (and so its spend) set to 0."""
        own = self.own_activity.copy()
        own[..., self.channel_index(channel)] = 0.0
        return own


@dataclass(frozen=True, eq=False)
class Simulation:
    """A simulated panel with its truth and the config and seed that produced it."""

    panel: Panel
    truth: GroundTruth
    config: SimulationConfig
    seed: int

    def kpi_noiseless(self, own_activity: np.ndarray | None = None) -> np.ndarray:
        """Noiseless KPI ``[R, T]`` for own activity ``[R, T, C]`` (the truth's when None)."""
        own = self.truth.own_activity if own_activity is None else own_activity
        return self.truth.kpi_noiseless_for(own)

    def counterfactual(self, channel: str) -> np.ndarray:
        """Noiseless KPI ``[R, T]`` had ``channel`` not run (its own activity 0; what it caused in
        other channels through the DAG disappears as well). Spend does not enter the KPI."""
        return self.truth.kpi_noiseless_for(self.truth.without_channel(channel))

    def total_contribution_weekly(self, channel: str) -> np.ndarray:
        """``[R, T]`` noiseless KPI minus its counterfactual without ``channel`` (KPI units)."""
        return self.truth.kpi_noiseless - self.counterfactual(channel)
