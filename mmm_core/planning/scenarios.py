"""Budget scenarios: optimise allocations on a refresh's response curves and re-run each through the model.

A scenario is a total budget (a multiple of the current one) or a target mROI. Each is optimised
nationally (one curve per channel) and, when the curve set has region curves, per region x channel;
the optimiser sees only the curves (``mmm_core.planning.budget``), and every allocation it returns is
evaluated again with the full model (``PlanningWindow.counted_media``, all allocations in one batch: the model's
one counterfactual, ``MMM.counterfactual``, as for the curves and the channel contributions), so the table shows
both.

With ensemble members (``members=ensemble.members()``) each scenario's allocation is also re-run through every
member: the central interval of its incremental response over the members and the share of members in which it
beats the current allocation (``prob_beats_current``). The allocation itself is optimised on the point model's
curves.

Every allocation row says whether it asks the model about activity beyond what it was trained on
(``ratio_to_observed_max``, ``beyond_observed_range``: ``ResponseCurveSet.ratio_to_observed_max`` at the
allocation's spend multipliers; a national row takes its largest region ratio), and each scenario row
carries its allocation's largest ratio and whether any row is beyond.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from mmm_core.analysis.curves import ResponseCurveSet
from mmm_core.analysis.observed_range import beyond_observed_range
from mmm_core.model.ensemble import EnsembleConfig, central_interval
from mmm_core.model.estimator import MMM
from mmm_core.model.parallel import parallel_map
from mmm_core.planning.budget import (NATIONAL, BudgetMethod, BudgetResult, allocate_to_target_mroi,
                                      optimise_budget, optimise_budget_under_risk, optimise_region_budget)
from mmm_core.planning.constraints import BudgetScenario, SpendBounds

DEFAULT_CHANNEL_BOUNDS = SpendBounds(0.5, 2.0)
"""Each channel between half and twice its current spend unless told otherwise."""


def allocation_multipliers(result: BudgetResult, spend: np.ndarray, regions: tuple[str, ...],
                           channels: tuple[str, ...]) -> np.ndarray:
    """``[R, C]`` spend multipliers that realise ``result`` on the panel: a national allocation scales a
    channel equally in every region; a region allocation scales each cell. Zero current spend stays 0."""
    frame = result.allocation
    if (frame.region == NATIONAL).all():
        optimal = frame.set_index("channel").optimal_spend.reindex(list(channels)).to_numpy()[None, :]
        current = spend.sum(axis=0, keepdims=True)
    else:
        optimal = frame.set_index(["region", "channel"]).optimal_spend.unstack().reindex(
            index=list(regions), columns=list(channels)).to_numpy()
        current = spend
    mult = np.divide(optimal, current, out=np.ones_like(optimal), where=current > 0)
    return np.broadcast_to(mult, spend.shape)


def allocation_ratio_to_observed_max(result: BudgetResult, curves: ResponseCurveSet) -> np.ndarray:
    """Per row of ``result.allocation``: ratio of the busiest planning week's activity at the allocation to
    the highest observed weekly activity (``ResponseCurveSet.ratio_to_observed_max``); a national row takes
    the largest over regions."""
    pts = curves.points
    ratio = curves.ratio_to_observed_max(allocation_multipliers(result, pts.spend, pts.regions, pts.channels))
    frame = result.allocation
    c = np.array([pts.channels.index(ch) for ch in frame.channel])
    if (frame.region == NATIONAL).all():
        return ratio.max(axis=0)[c]
    return ratio[np.array([pts.regions.index(r) for r in frame.region]), c]


def plan_scenarios(mmm: MMM, curves: ResponseCurveSet, scenarios: Sequence[BudgetScenario],
                   channel_bounds: SpendBounds | dict[str, SpendBounds] | None = DEFAULT_CHANNEL_BOUNDS,
                   region_bounds: SpendBounds | None = None, method: BudgetMethod = "slsqp",
                   seed: int = 0, members: Sequence[MMM] = (), interval: float | None = None,
                   risk_aversion: float | None = None, workers: int = 1) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Optimise every scenario nationally and (when the set has region curves) per region × channel, and
    re-evaluate each allocation with the full model and each of ``members`` (central ``interval`` intervals,
    ``EnsembleConfig.interval`` when None; NaN columns without members). These plans maximise the point
    model's curves (``objective`` ``point``). With ``risk_aversion`` λ (needs members, and ``curves`` built with
    them) each budget scenario also gets a national plan that maximises the members' mean response minus λ times
    its sd over the members (``optimise_budget_under_risk`` on ``ResponseCurveSet.member_national_curves``;
    ``objective`` ``mean_minus_<λ>_sd``), reported beside the point plan. Returns ``(scenarios, allocation)``
    frames; see ``README.md`` (tables ``budget_scenarios``, ``budget_allocation``) for the columns. The plans are
    optimised, and the members re-run, on ``workers`` threads (``parallel.parallel_map``)."""
    window, pts = curves.window, curves.points
    spend = pts.spend
    current_total = float(spend.sum())
    interval = EnsembleConfig.interval if interval is None else interval
    if risk_aversion is not None and not len(members):
        raise ValueError("risk_aversion needs ensemble members")
    member_curves = curves.member_national_curves() if risk_aversion is not None else None
    risk_objective = None if risk_aversion is None else f"mean_minus_{risk_aversion:g}_sd"
    plans = [("national", "point")] + ([("region", "point")] if curves.regional else [])
    def optimise(plan: tuple[BudgetScenario, str, str]) -> BudgetResult:
        scenario, scope, objective = plan
        scope_curves = curves.national if scope == "national" else curves.regional
        if objective != "point":
            return optimise_budget_under_risk(scenario.budget_for(current_total), member_curves, risk_aversion,
                                              channel_bounds)
        if scenario.target_mroi is not None:
            return allocate_to_target_mroi(scope_curves, scenario.target_mroi, channel_bounds)
        if scope == "national":
            return optimise_budget(scenario.budget_for(current_total), scope_curves, channel_bounds, method, seed)
        return optimise_region_budget(scenario.budget_for(current_total), scope_curves, channel_bounds, region_bounds,
                                      method, seed)

    to_solve = [(scenario, scope, objective) for scenario in scenarios
                for scope, objective in plans + ([("national", risk_objective)]
                                                 if risk_objective and scenario.target_mroi is None else [])]
    # (scenario, scope, objective, result, [R, C] spend multipliers); the plans are independent of each other
    solved = [(*plan, result, allocation_multipliers(result, spend, pts.regions, pts.channels))
              for plan, result in zip(to_solve, parallel_map(optimise, to_solve, workers))]
    # every allocation re-run through the model and each member in one batch per model: only the media part of a
    # counterfactual differs, so KPI(allocation) - KPI(no media) and - KPI(current) are differences of these runs
    runs = [np.zeros_like(spend), np.ones_like(spend), *(mult for *_, mult in solved)]
    point = window.counted_media(mmm, runs).sum(axis=1)  # [2 + P]
    response_model = point[1:] - point[0]  # current, then each plan
    current_model = float(response_model[0])
    member_gain = (np.stack(parallel_map(lambda member: window.counted_media(member, runs[1:]).sum(axis=1), members,
                                         workers)) if len(members) else np.zeros((0, 1 + len(solved))))
    member_gain = member_gain[:, 1:] - member_gain[:, :1]  # [K, P]
    scenario_rows, allocation_frames = [], []
    for i, (scenario, scope, objective, result, _) in enumerate(solved):
        optimal_model = float(response_model[1 + i])
        ratio = allocation_ratio_to_observed_max(result, curves)
        lower, upper = central_interval(member_gain[:, i], interval) if len(members) else (np.nan, np.nan)
        scenario_rows.append({
            "scenario": scenario.name, "scope": scope, "method": result.method,
            "budget_multiplier": scenario.budget_multiplier, "target_mroi": scenario.target_mroi,
            "budget_total": result.budget_total, "current_spend_total": current_total,
            "response_current_curve": result.response_current, "response_optimal_curve": result.response_optimal,
            "incremental_response_curve": result.incremental_response,
            "response_change_share_curve": result.response_change_share,
            "response_current_model": current_model, "response_optimal_model": optimal_model,
            "incremental_response_model": optimal_model - current_model,
            "response_change_share_model": (optimal_model - current_model) / current_model if current_model else np.nan,
            "converged": result.converged, "message": result.message, "n_iterations": result.n_iterations,
            "wall_time_s": result.wall_time_s, "ratio_to_observed_max": float(ratio.max()),
            "beyond_observed_range": bool(beyond_observed_range(ratio).any()),
            "incremental_response_model_lower": float(lower), "incremental_response_model_upper": float(upper),
            "prob_beats_current": float((member_gain[:, i] > 0).mean()) if len(members) else np.nan,
            "interval": interval if len(members) else np.nan, "objective": objective,
        })
        allocation_frames.append(result.allocation.assign(
            scenario=scenario.name, scope=scope, ratio_to_observed_max=ratio,
            beyond_observed_range=beyond_observed_range(ratio), objective=objective))
    return pd.DataFrame(scenario_rows), pd.concat(allocation_frames, ignore_index=True)
