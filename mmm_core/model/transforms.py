"""Media transforms: carry-over (adstock) and diminishing returns (Hill saturation).

Pure functions shared by the model (``network.py``, ``components.py``), the simulator and the planning
layer, so the simulator's ground truth, the model and the budget's curves live in the same function family. Every function works on any
leading dimensions; time is the second-to-last axis and channel the last: ``[..., weeks, channels]``.
Parameters are per channel, shape ``[channels]`` (or broadcastable to ``[..., channels]``).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from scipy.special import expit

DEFAULT_MAX_LAG = 13
"""Weeks of carry-over kept by the finite adstock kernel (one quarter)."""


ADSTOCK_BLOCK_WEEKS = 16
"""Output weeks per banded matrix product in ``adstock``: each costs ``block + max_lag - 1`` multiply-adds per
week, so small blocks waste little on the band's zeros while keeping the products large enough for BLAS."""

TAIL_SMOOTHING = 1e-4
"""Squared weeks added under the power in the tail-shaped kernel, so ``|l - peak|**q`` has a gradient
everywhere; at the peak the exponent is ``TAIL_SMOOTHING**(q / 2)`` (at most 0.01) instead of 0."""


def adstock_weights(decay: torch.Tensor, peak_lag: torch.Tensor | None = None,
                    max_lag: int = DEFAULT_MAX_LAG, normalize: bool = True,
                    tail: torch.Tensor | None = None) -> torch.Tensor:
    """Carry-over kernel per channel, shape ``[channels, max_lag]`` (lag 0 first).

    Geometric adstock when ``peak_lag`` is None: ``w_l = decay**l``. Delayed adstock otherwise:
    ``w_l = decay**((l - peak_lag)**2)`` (Jin et al. 2017), whose largest weight sits at ``peak_lag``.
    With ``tail`` q (per channel, in [1, 2]) and a peak lag: ``w_l = decay**(|l - peak_lag|**q)``, a
    family that holds both: q = 2 is the delayed kernel above, q = 1 falls geometrically on either side
    of the peak (geometric adstock at peak 0). ``decay`` in [0, 1); ``peak_lag`` in weeks, >= 0. With
    ``normalize`` the weights sum to 1, so an adstocked series keeps the units (and the long-run level)
    of its input: a constant weekly input x maps to x once the kernel is full.
    """
    decay = torch.as_tensor(decay)
    lags = torch.arange(max_lag, dtype=decay.dtype, device=decay.device)
    if peak_lag is None:
        exponent = lags
    else:
        offset = lags - torch.as_tensor(peak_lag, dtype=decay.dtype)[..., None]
        if tail is None:
            exponent = offset ** 2
        else:
            q = torch.as_tensor(tail, dtype=decay.dtype)[..., None]
            exponent = (offset ** 2 + TAIL_SMOOTHING) ** (q / 2)
    # decay ** exponent written through exp/log so decay == 0 gives [1, 0, 0, ...] without NaN gradients.
    log_decay = torch.log(decay.clamp_min(1e-12))[..., None]
    weights = torch.exp(exponent * log_decay)
    if normalize:
        weights = weights / weights.sum(dim=-1, keepdim=True)
    return weights


def adstock(x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Apply a carry-over kernel along time.

    x: ``[..., weeks, channels]`` non-negative activity. weights: ``[channels, max_lag]`` from
    :func:`adstock_weights`. Returns the adstocked series, same shape as ``x``:
    ``out[..., t, c] = sum_l weights[c, l] * x[..., t - l, c]`` with x = 0 before the first week.
    Causal: week t never sees weeks after t, so running over train + future weeks continues the
    carry-over state from the training weeks into the forecast.

    Computed as one batched matrix product per channel over blocks of ``ADSTOCK_BLOCK_WEEKS`` output weeks
    (each block reads its weeks and the ``max_lag - 1`` before them through a banded ``[block + max_lag - 1,
    block]`` matrix of the kernel): the same sums as a grouped ``conv1d``, whose backward pass on CPU is the
    slower one (figures: README, "Tests and benchmarks").
    """
    *lead, n_weeks, n_channels = x.shape
    max_lag = weights.shape[-1]
    block = min(ADSTOCK_BLOCK_WEEKS, n_weeks)
    n_blocks = -(-n_weeks // block)
    width = block + max_lag - 1
    series = x.reshape(-1, n_weeks, n_channels).permute(2, 0, 1)  # [C, B, T]
    batch = series.shape[1]
    padded = F.pad(series, (max_lag - 1, n_blocks * block - n_weeks))  # [C, B, L - 1 + n_blocks * block]
    windows = padded if n_blocks == 1 else padded.unfold(-1, width, block).reshape(n_channels, batch * n_blocks, width)
    lag = (torch.arange(block, device=x.device)[None, :] + (max_lag - 1)
           - torch.arange(width, device=x.device)[:, None])  # [width, block]: lag of input j for output s
    lag = torch.where((lag >= 0) & (lag < max_lag), lag, max_lag)  # outside the kernel: the appended 0
    band = F.pad(weights.to(x.dtype), (0, 1))[:, lag]  # [C, width, block]
    out = torch.bmm(windows, band).reshape(n_channels, batch, n_blocks * block)[..., :n_weeks]
    return out.permute(1, 2, 0).reshape(*lead, n_weeks, n_channels)


def hill(x, half_saturation, slope):
    """Hill saturation ``x**s / (x**s + k**s)`` in [0, 1): the one Hill formula, for torch tensors (the
    model, the simulator) and numpy arrays (response curves and the budget optimiser) alike.

    x: ``[..., channels]`` non-negative (adstocked activity, or spend). half_saturation k > 0 in x's units
    (the response is 1/2 at x = k); slope s > 0 (s <= 1 concave, s > 1 S-shaped). Written as
    ``sigmoid(s * (log x - log k))`` for numerical stability; x = 0 gives exactly 0.
    """
    if torch.is_tensor(x):
        log, where, sigmoid, floored = torch.log, torch.where, torch.sigmoid, x.clamp_min(1e-30)
        zero = torch.zeros_like(x)
    else:
        log, where, sigmoid, floored = np.log, np.where, expit, np.maximum(x, 1e-30)
        zero = 0.0
    return where(x > 0, sigmoid(slope * (log(floored) - log(half_saturation))), zero)


def soft_ceiling(x: torch.Tensor, ceiling: torch.Tensor, headroom: float) -> torch.Tensor:
    """Activity as the response curves see it beyond the highest activity training saw.

    x: ``[..., channels]`` non-negative activity; ceiling: ``[channels]`` (same units; ``inf`` for none).
    Identity up to the ceiling m; beyond it ``m + h m (1 - exp(-(x - m) / (h m)))`` with h = ``headroom``:
    continuous with slope 1 at m, then flattening, never above ``(1 + h) m``. Nothing in the data pins a
    curve above m, so whatever a fitted curve does there (a Hill curve with its half-saturation above the
    data keeps rising almost linearly) is at most the curve's value at ``(1 + h) m``; h = 0 is a flat cap.
    Where no element exceeds its ceiling (every training step: the ceiling is the training maximum) ``x`` comes
    back as it is, the same values and gradient without the capped branch's work.
    """
    ceiling = ceiling.to(x.dtype)
    if not bool((x > ceiling).any()):  # an infinite ceiling is never exceeded
        return x
    finite = torch.isfinite(ceiling)
    m = torch.where(finite, ceiling, torch.ones_like(ceiling))
    if headroom > 0:
        width = headroom * m
        above = m + width * -torch.expm1(-(x - m).clamp_min(0.0) / width)
    else:
        above = m.expand_as(x)
    return torch.where((x > m) & finite, above, x)


def inverse_softplus(y: float | torch.Tensor) -> float | torch.Tensor:
    """The x with ``softplus(x) = y`` (y > 0, a float or a tensor elementwise), for starting or moving a
    parameter that a softplus keeps positive."""
    if isinstance(y, torch.Tensor):
        return y + torch.log(-torch.expm1(-y))
    return y + math.log(-math.expm1(-y))


def total_effect(adjacency: torch.Tensor) -> torch.Tensor:
    """``[C, C]`` ``(I - A)^-1 = I + A + A^2 + ...`` of an acyclic ``adjacency`` ``[C, C]``: row p holds what one unit
    of channel p's own activity adds to each channel's total activity, along every path of the DAG."""
    n = adjacency.shape[-1]
    eye = torch.eye(n, dtype=adjacency.dtype, device=adjacency.device)
    return torch.linalg.inv(eye - adjacency)


def propagate_dag(x: torch.Tensor, adjacency: torch.Tensor) -> torch.Tensor:
    """Total activity after effects flow along a DAG among channels.

    x: ``[..., channels]`` exogenous (own) activity, already in a common scale. adjacency:
    ``[channels, channels]``, ``adjacency[p, c]`` = units of channel c's activity caused by one unit
    of channel p's activity; it must be acyclic (nilpotent). Returns ``x (I - A)^-1`` (``total_effect``), i.e.
    ``x + x A + x A^2 + ...``: a parent's activity reaches children and grandchildren, so setting a
    channel's own activity to zero also removes what it caused downstream.
    """
    return x @ total_effect(adjacency).to(x.dtype)


def scale_own_activity(media: torch.Tensor, own: torch.Tensor, adjacency: torch.Tensor, factor: torch.Tensor,
                       scaled: torch.Tensor | None = None, columns: torch.Tensor | None = None) -> torch.Tensor:
    """Scaled media ``[..., R, T, C]`` with each channel's own activity ``own`` ``[R, T, C]`` × ``factor``
    (broadcast), the change propagated along the DAG ``adjacency`` ``[C, C]`` to its descendants and the result
    clipped at 0: the one definition of a counterfactual's media (``MMM.counterfactual``, ``MMM.media_kpi``,
    the lift tests' term in ``calibration``).

    ``scaled`` (channel indices ``[P]``): ``factor`` holds only those channels' factors, ``[..., R, T, P]``, every
    other channel's being 1. ``columns`` (indices ``[S]``): only those channels' columns come back,
    ``[..., R, T, S]``. Either gives the full result's values for a fraction of its work (a response curve's
    run scales one channel and reads the few it reaches)."""
    effect = total_effect(adjacency).to(media.dtype)  # [C, C]
    if scaled is not None:
        own, effect = own[..., scaled], effect[scaled]
    if columns is not None:
        media, effect = media[..., columns], effect[:, columns]
    return torch.clamp_min(media + ((factor - 1.0) * own) @ effect, 0.0)
