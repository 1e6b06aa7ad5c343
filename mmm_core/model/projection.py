"""Variable projection: solve the model's linear scales exactly, given its curves.

The prediction is linear in a handful of scales once the curves (adstock, Hill, GRU modulation) are
held fixed: each region's baseline, trend slope and seasonal amplitude, one multiplier per control and
one per channel. Gradient descent finds those scales slowly where the data barely tell them apart
from each other (an always-on channel's level against the baseline: a long, flat valley for Adam; with
the true curves frozen it took ~4000 epochs to settle). ``project_linear`` jumps to the bottom of that
valley: one penalised least squares over the fit weeks, with the same fit term (Huber read as its
quadratic part), the same ROI prior and the same L1 as training, then writes the solution back into
the parameters exactly:

* baseline ``softplus(baseline_raw[r])`` and trend slope per region are replaced;
* the seasonal component (profile and holiday lifts) of region r is multiplied by ``s_r``;
* control k's coefficients (shared and per region) are multiplied by ``b_k``;
* channel c's coefficient bound ``softplus(media_max_raw[c])`` is multiplied by ``a_c`` (its
  contribution scales by ``a_c`` exactly, the curve and the GRU modulation untouched).

Channel multipliers are kept in ``[MIN_STEP, MAX_STEP]`` per solve (contributions stay positive and one
solve cannot blow up a channel the curves currently mute). Per-region columns are projected out region
by region (Frisch-Waugh-Lovell), so memory is O(rows x (controls + channels)).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from mmm_core.model.fwl import RegionProjection
from mmm_core.model.network import MMMNet, ModelInputs

MIN_STEP = 0.05
MAX_STEP = 20.0


def _inv_softplus(y: torch.Tensor) -> torch.Tensor:
    return y + torch.log(-torch.expm1(-y))


def _solve_box(gram: torch.Tensor, rhs: torch.Tensor, lower: torch.Tensor, upper: torch.Tensor) -> torch.Tensor:
    """argmin ``x'Gx/2 - rhs'x`` subject to ``lower <= x <= upper`` (±inf allowed), G positive definite:
    an active-set loop that fixes violated coordinates at their bound and re-solves the rest."""
    n = rhs.shape[0]
    fixed = torch.zeros(n, dtype=torch.bool, device=rhs.device)
    x = torch.zeros_like(rhs)
    for _ in range(n + 1):
        free = ~fixed
        b = rhs[free] - gram[free][:, fixed] @ x[fixed]
        x[free] = torch.linalg.solve(gram[free][:, free], b) if bool(free.any()) else x[free]
        low, high = free & (x < lower), free & (x > upper)
        if not bool((low | high).any()):
            break
        x = torch.where(low, lower, torch.where(high, upper, x))
        fixed |= low | high
    return x


@torch.no_grad()
def project_linear(net: MMMNet, inputs: ModelInputs, target: torch.Tensor, mask: torch.Tensor, *,
                   quadratic_weight: float, l1: float = 0.0, roi_pooling: float = 0.0,
                   region_weight: torch.Tensor | None = None, spend: torch.Tensor | None = None,
                   pooling_weight: torch.Tensor | None = None, pooling_floor: float = 0.01,
                   anchor_iterations: int = 3) -> dict[str, torch.Tensor]:
    """Set the linear scales of ``net`` to the minimiser of the training objective given its curves.

    ``quadratic_weight``: q in the fit term ``q * mean(e²)`` (0.5 for Huber inside its transition, 1 for
    MSE). ``l1``, ``roi_pooling``, ``pooling_floor`` as in ``TrainConfig``; ``region_weight`` ``[R]``,
    ``spend`` ``[R, T, C]``, ``pooling_weight`` ``[C]`` as in ``TrainingData`` (the ROI prior is skipped
    without them). target ``[R, T]`` scaled KPI, mask ``[R, T]`` bool (the weeks of the fit term).
    Returns the multipliers ``{"media": a [C], "controls": b [K], "season": s [R]}`` (float64).
    """
    dtype = torch.float64
    device = next(net.parameters()).device
    out = net(inputs)
    m = mask.to(dtype)
    n = m.sum().clamp_min(1.0)
    y = (target.to(dtype) * m)[..., None]  # [R, T, 1]
    media = out.media.to(dtype)  # [R, T, C] current contributions, scaled KPI
    shared = torch.cat([out.controls.to(dtype), media], dim=-1) * m[..., None]  # [R, T, K+C]
    columns = [m]
    if net.config.trend:
        columns.append(inputs.trend_time.to(dtype)[None, :].expand_as(m) * m)
    columns.append(out.seasonality.to(dtype) * m)
    projection = RegionProjection(torch.stack(columns, dim=-1))  # region columns [R, T, P]
    z, yr = projection.residual(shared), projection.residual(y)
    K, C = net.n_controls, net.n_channels
    scale = 2.0 * quadratic_weight / n
    gram = scale * torch.einsum("rtm,rtq->mq", z, z)
    rhs = scale * torch.einsum("rtm,rt->m", z, yr[..., 0])
    # A whisker of ridge toward "no change", so a channel the curves currently mute stays put.
    ridge = 1e-9 * gram.diagonal().mean().clamp_min(1e-12)
    gram = gram + ridge * torch.eye(K + C, dtype=dtype, device=device)
    rhs = rhs + ridge
    if l1 > 0:  # l1 * mean(media_coef) scales with a_c
        rhs[K:] -= l1 * (out.media_coef.to(dtype) * m[..., None]).sum((0, 1)) / n

    lower = torch.full((K + C,), -torch.inf, dtype=dtype, device=device)
    upper = torch.full((K + C,), torch.inf, dtype=dtype, device=device)
    lower[K:], upper[K:] = MIN_STEP, MAX_STEP
    prior = roi_pooling > 0 and spend is not None and region_weight is not None
    if prior:
        w = m * region_weight.to(dtype)[:, None]
        share = (media * w[..., None]).sum((0, 1)) / (target.to(dtype) * w).sum().clamp_min(1e-12)  # [C]
        spend_total = (spend.to(dtype) * m[..., None]).sum((0, 1))
        has_spend = spend_total > 0
        prior = bool(has_spend.any())
    if prior:
        present = has_spend.to(dtype)
        spend_share = spend_total / spend_total.sum()
        weight = present if pooling_weight is None else pooling_weight.to(dtype) * present
        measured = (1.0 - weight) * present
        if float(measured.sum()) < 1e-6:
            measured = present
        g = share / spend_share.clamp_min(1e-12)  # ROI per unit multiplier
        a = torch.ones(C, dtype=dtype, device=device)
        for _ in range(anchor_iterations):  # the anchor is held fixed in training; here it follows the solve
            anchor = (measured * share * a).sum() / (measured * spend_share).sum()
            d2 = anchor.clamp_min(pooling_floor) ** 2
            k = 2.0 * roi_pooling * weight / (has_spend.sum() * d2)
            hess, grad = gram.clone(), rhs.clone()
            hess[K:, K:] += torch.diag(k * g * g)
            grad[K:] += k * g * anchor
            coef = _solve_box(hess, grad, lower, upper)
            a = coef[K:]
    else:
        coef = _solve_box(gram, rhs, lower, upper)
    b, a = coef[:K], coef[K:]
    region = projection.coefficients(y - shared @ coef[:, None])[..., 0]  # [R, P]
    _write_back(net, region, b, a)
    return {"media": a, "controls": b, "season": region[:, -1]}


def _write_back(net: MMMNet, region: torch.Tensor, b: torch.Tensor, a: torch.Tensor) -> None:
    """Apply the solution: region ``[R, P]`` (baseline, [trend slope], seasonal multiplier)."""
    f32 = lambda t: t.to(net.baseline_raw.dtype)  # noqa: E731
    net.baseline_raw.copy_(f32(_inv_softplus(region[:, 0].clamp_min(0.01))))
    if net.config.trend:
        slope = region[:, 1]
        net.trend_slope.copy_(f32(slope.mean()))
        net.trend_slope_region.copy_(f32(slope - slope.mean()))
    s = f32(region[:, -1])
    net.season_coef_region.copy_(s * (net.season_coef + net.season_coef_region) - net.season_coef)
    net.holiday_region.copy_(s[:, None] * (net.holiday_coef + net.holiday_region) - net.holiday_coef)
    net.control_coef.mul_(f32(b))
    net.control_region.mul_(f32(b))
    bound = F.softplus(net.media_max_raw.double()) * a
    net.media_max_raw.copy_(f32(_inv_softplus(bound.clamp_min(1e-8))))


def projected_parameters(net: MMMNet) -> list[torch.nn.Parameter]:
    """The parameters ``project_linear`` writes (their optimiser state is stale after a projection)."""
    return [net.baseline_raw, net.trend_slope, net.trend_slope_region, net.season_coef_region, net.holiday_region,
            net.control_coef, net.control_region, net.media_max_raw]
