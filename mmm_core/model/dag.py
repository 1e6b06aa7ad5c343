"""The channel graph: a learnable adjacency among channels, its acyclicity penalty, and nothing else.

Model: the scaled activities of the channels follow a linear structural equation model
``X = X A + E`` (``X`` ``[rows, channels]``, ``A[p, c]`` = units of channel c's activity caused by one
unit of channel p's, ``E`` the channels' own activity). ``A`` is learned by least squares with an L1
penalty (absent edges go to zero) and the NOTEARS acyclicity function ``h(A) = tr(exp(A ∘ A)) - d``
(Zheng et al. 2018), which is zero exactly when ``A`` is a DAG; nothing in it depends on column order.
An upper-triangular mask is an option for users who know a causal order.

Direction comes from a fact about media, not from column order or variances: own activity is
non-negative (``E = X - X A >= 0``: a channel cannot have negative spend of its own). Fitting ``c`` from
``p`` in the wrong direction leaves negative residuals wherever the child ran on its own (e.g. in the
parent's dark weeks), so a hinge on ``relu(X A - X)`` orients edges; least squares on standardised or
mean-scaled data alone cannot (its preferred direction follows the variables' scales).

Which edges are used is decided by their support (``edge_support``): the structure problem alone is refitted
on bootstrap resamples of the regions, and only edges that come back in the same direction in at least
``MIN_SUPPORT`` of them are kept (``supported``). A wrong edge changes every counterfactual through it, so
the graph says "no edge" where the data cannot tell.

The graph does work in counterfactuals: a channel's own activity is ``X (I - A)`` and removing it
re-propagates through :func:`mmm_core.model.transforms.propagate_dag`, so its children lose what it caused.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn


def acyclicity(adjacency: torch.Tensor) -> torch.Tensor:
    """NOTEARS ``h(A) = tr(exp(A ∘ A)) - d`` >= 0, zero iff ``A`` ``[C, C]`` is acyclic."""
    d = adjacency.shape[-1]
    return torch.linalg.matrix_exp(adjacency * adjacency).diagonal(dim1=-2, dim2=-1).sum(-1) - d


def sem_loss(adjacency: torch.Tensor, covariance: torch.Tensor) -> torch.Tensor:
    """Mean squared residual of ``X ≈ X A`` written with ``S = XᵀX / n`` ``[C, C]``:
    ``tr((I - A)ᵀ S (I - A)) / C`` (per row, averaged over channels)."""
    eye = torch.eye(adjacency.shape[-1], dtype=adjacency.dtype, device=adjacency.device)
    resid = eye - adjacency
    return torch.einsum("pc,pq,qc->", resid, covariance.to(adjacency.dtype), resid) / adjacency.shape[-1]


class ChannelDag(nn.Module):
    """Learnable masked adjacency ``[C, C]`` (zero diagonal; optionally strictly upper-triangular).

    Initialised at zero (no edges): evidence has to pull an edge in against the L1 penalty. Weights
    are kept non-negative (``project`` after each optimiser step): one channel's activity causes
    activity in another, it cannot remove it, and a negative edge would let the fit dodge the
    non-negativity of own activity (``X - X A`` grows when ``A`` < 0).
    """

    def __init__(self, n_channels: int, upper_triangular: bool = False):
        super().__init__()
        mask = torch.ones(n_channels, n_channels) - torch.eye(n_channels)
        if upper_triangular:
            mask = torch.triu(mask, diagonal=1)
        self.register_buffer("mask", mask)
        self.weight = nn.Parameter(torch.zeros(n_channels, n_channels))

    def adjacency(self) -> torch.Tensor:
        """``[C, C]`` adjacency (masked, possibly still slightly cyclic during training)."""
        return self.weight * self.mask

    @torch.no_grad()
    def project(self) -> None:
        """Clip the weights at 0 (projected gradient step onto non-negative adjacencies)."""
        self.weight.clamp_(min=0.0)

    def penalty(self, covariance: torch.Tensor, activity_rows: torch.Tensor, l1: float,
                acyclicity_weight: float, nonnegativity_weight: float) -> torch.Tensor:
        """Structure loss (scalar): SEM fit on the within-region ``covariance`` ``[C, C]``
        + ``nonnegativity_weight * mean(relu(X A - X)²)`` on ``activity_rows`` ``[n, C]`` (scaled, uncentred)
        + ``l1 * |A|₁`` + ``acyclicity_weight * (h + h²/2)``."""
        return structure_loss(self.adjacency(), covariance, activity_rows, None, l1, acyclicity_weight,
                              nonnegativity_weight)


def structure_loss(adjacency: torch.Tensor, covariance: torch.Tensor, activity_rows: torch.Tensor,
                   row_weights: torch.Tensor | None, l1: float, acyclicity_weight: float,
                   nonnegativity_weight: float) -> torch.Tensor:
    """The structure loss of ``ChannelDag.penalty`` for one adjacency ``[C, C]`` (scalar) or a batch
    ``[B, C, C]`` of them (``[B]``, each with its ``covariance`` ``[B, C, C]``). ``row_weights`` ``[B, n]``
    (None: all 1) weight the rows of ``activity_rows`` ``[n, C]`` in the non-negativity hinge: a bootstrap
    resample is the same rows counted 0, 1, 2... times."""
    h = acyclicity(adjacency)
    if adjacency.dim() == 2:
        negative_own = torch.relu(activity_rows @ adjacency - activity_rows).square().mean() * adjacency.shape[-1]
        fit = sem_loss(adjacency, covariance)
    else:
        squared = torch.relu(torch.matmul(activity_rows, adjacency) - activity_rows).square().sum(-1)  # [B, n]
        weights = torch.ones_like(squared) if row_weights is None else row_weights.to(squared.dtype)
        negative_own = (squared * weights).sum(-1) / weights.sum(-1).clamp_min(1.0)
        resid = torch.eye(adjacency.shape[-1], dtype=adjacency.dtype) - adjacency
        fit = torch.einsum("bpc,bpq,bqc->b", resid, covariance.to(adjacency.dtype), resid) / adjacency.shape[-1]
    return (fit + nonnegativity_weight * negative_own + l1 * adjacency.abs().sum((-2, -1))
            + acyclicity_weight * (h + 0.5 * h * h))


def lasso_rate(n_rows: int, n_channels: int) -> float:
    """``sqrt(log(C) / n)``: the rate at which a lasso's penalty should shrink with ``n`` rows of ``C``
    variables, so that noise edges stay out while true edges are not shrunk away on big panels."""
    return math.sqrt(math.log(max(n_channels, 2)) / max(n_rows, 1))


def within_covariance(activity_scaled: np.ndarray, observed: np.ndarray) -> np.ndarray:
    """``[C, C]`` covariance of scaled activity after removing each region-channel's mean over observed
    weeks (cross-region size differences are not evidence of an edge). activity ``[R, T, C]``."""
    mask = observed[..., None].astype(np.float64)  # [R, T, 1]
    count = np.maximum(mask.sum(axis=1, keepdims=True), 1.0)
    centred = (activity_scaled - (activity_scaled * mask).sum(axis=1, keepdims=True) / count) * mask
    rows = centred.reshape(-1, centred.shape[-1])
    return rows.T @ rows / max(float(mask.sum()), 1.0)


def prune_to_dag(adjacency: np.ndarray, threshold: float) -> np.ndarray:
    """Edges with ``|weight| < threshold`` set to 0; while a cycle remains, its weakest edge is removed.

    Returns an exactly acyclic ``[C, C]`` float64 array (a valid input to ``propagate_dag``).
    """
    adj = np.where(np.abs(adjacency) >= threshold, adjacency, 0.0).astype(np.float64)
    np.fill_diagonal(adj, 0.0)
    while True:
        cycle = _find_cycle(adj != 0)
        if cycle is None:
            return adj
        edges = list(zip(cycle, cycle[1:] + cycle[:1]))
        p, c = min(edges, key=lambda e: abs(adj[e]))
        adj[p, c] = 0.0


SUPPORT_RESAMPLES = 32
"""B: bootstrap resamples behind each edge's support (stability selection)."""
SUPPORT_STEPS = 200
"""Optimiser steps of each resample's structure fit (Adam at the training learning rate, from no edges)."""
MIN_SUPPORT = 0.8
"""An edge is used and published only when at least this share of the resamples finds it (same direction)."""
BLOCK_WEEKS = 13
"""Length of the moving blocks of weeks resampled where a panel has too few regions to resample them."""
MIN_BOOTSTRAP_REGIONS = 5
"""Regions needed to resample whole regions; with fewer, blocks of weeks are resampled within each region."""


def resample_weights(observed: np.ndarray, resamples: int, rng: np.random.Generator,
                     block_weeks: int = BLOCK_WEEKS) -> np.ndarray:
    """``[B, R, T]`` counts: how often each observed region-week enters each of ``resamples`` bootstrap
    resamples. Whole regions are drawn with replacement (a region's weeks are dependent, regions are the
    independent units); with fewer than ``MIN_BOOTSTRAP_REGIONS`` regions, moving blocks of ``block_weeks``
    weeks are drawn with replacement within each region (about ``T`` weeks per region), keeping the weekly
    dependence inside each block."""
    R, T = observed.shape
    if R >= MIN_BOOTSTRAP_REGIONS:
        counts = rng.multinomial(R, np.full(R, 1.0 / R), size=resamples).astype(np.float64)  # [B, R]
        return counts[:, :, None] * observed[None]
    length = max(1, min(block_weeks, T))
    weights = np.zeros((resamples, R, T))
    for b in range(resamples):
        for r in range(R):
            for start in rng.integers(0, T - length + 1, size=-(-T // length)):
                weights[b, r, start:start + length] += 1.0
    return weights * observed[None]


def weighted_within_covariance(activity_scaled: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``within_covariance`` with region-weeks counted ``weights`` ``[R, T]`` times (0 = left out); ``[C, C]``."""
    w = weights[..., None]
    count = np.maximum(w.sum(axis=1, keepdims=True), 1e-12)
    centred = activity_scaled - (activity_scaled * w).sum(axis=1, keepdims=True) / count
    rows, row_w = centred.reshape(-1, centred.shape[-1]), w.reshape(-1, 1)
    return (rows * row_w).T @ rows / max(float(weights.sum()), 1.0)


def fit_structures(covariances: torch.Tensor, activity_rows: torch.Tensor, row_weights: torch.Tensor | None,
                   mask: torch.Tensor, l1: float, acyclicity_weight: float, nonnegativity_weight: float,
                   steps: int, learning_rate: float, grad_clip: float,
                   start: torch.Tensor | None = None) -> torch.Tensor:
    """``B`` structure problems solved side by side, each as training solves the model's own: Adam on the
    ``[C, C]`` weights (``mask`` applied), each problem's gradient clipped to norm ``grad_clip``, weights
    clipped at 0 after each step. covariances ``[B, C, C]``, activity_rows ``[n, C]``, row_weights
    ``[B, n]`` (None: 1). Starts from ``start`` ``[B, C, C]`` (None: no edges). Returns ``[B, C, C]``.

    The gradient is ``structure_loss_gradient`` (closed form), not autograd's: the same gradient up to
    rounding at a fraction of the cost, since the problem runs thousands of steps before every fit.

    The KPI model never reads the graph while it trains (only counterfactuals do), so the graph a full fit
    learns is this problem's solution after the same steps: resamples need no KPI model."""
    B, C = covariances.shape[0], covariances.shape[-1]
    dtype = covariances.dtype
    weight = nn.Parameter(torch.zeros(B, C, C, dtype=dtype) if start is None else start.detach().clone().to(dtype))
    mask = mask.to(dtype)
    optimizer = torch.optim.Adam([weight], lr=learning_rate)
    for _ in range(steps):
        with torch.no_grad():
            grad = structure_loss_gradient(weight * mask, covariances, activity_rows, row_weights, l1,
                                           acyclicity_weight, nonnegativity_weight) * mask
            if grad_clip:  # as clip_grad_norm_ on the graph's parameter group, per problem
                norm = grad.norm(dim=(-2, -1), keepdim=True)
                grad.mul_((grad_clip / (norm + 1e-6)).clamp(max=1.0))
        weight.grad = grad
        optimizer.step()
        with torch.no_grad():
            weight.clamp_(min=0.0)
    return (weight * mask).detach()


def structure_loss_gradient(adjacency: torch.Tensor, covariance: torch.Tensor, activity_rows: torch.Tensor,
                            row_weights: torch.Tensor | None, l1: float, acyclicity_weight: float,
                            nonnegativity_weight: float) -> torch.Tensor:
    """``[B, C, C]`` gradient of the batched ``structure_loss`` (each problem's own) at ``adjacency`` ``[B, C, C]``,
    in closed form: SEM fit ``-2 S (I - A) / C``; hinge ``2 Xᵀ (w ∘ relu(X A - X)) / Σw``; L1 ``sign(A)``;
    acyclicity ``(1 + h) exp(A ∘ A)ᵀ ∘ 2A`` (``h`` as in ``acyclicity``). Arguments as in ``structure_loss``."""
    C = adjacency.shape[-1]
    eye = torch.eye(C, dtype=adjacency.dtype)
    fit = -2.0 * covariance.to(adjacency.dtype) @ (eye - adjacency) / C
    excess = torch.relu(torch.matmul(activity_rows, adjacency) - activity_rows)  # [B, n, C]
    if row_weights is None:
        hinge = 2.0 * activity_rows.T @ excess / max(activity_rows.shape[0], 1)
    else:
        w = row_weights.to(excess.dtype)
        hinge = 2.0 * activity_rows.T @ (excess * w[..., None]) / w.sum(-1).clamp_min(1.0)[:, None, None]
    exponential = torch.linalg.matrix_exp(adjacency * adjacency)
    h = exponential.diagonal(dim1=-2, dim2=-1).sum(-1) - C
    acyclic = (1.0 + h)[:, None, None] * exponential.transpose(-2, -1) * 2.0 * adjacency
    return fit + nonnegativity_weight * hinge + l1 * torch.sign(adjacency) + acyclicity_weight * acyclic


def edge_support(activity_scaled: np.ndarray, observed: np.ndarray, mask: torch.Tensor, l1: float,
                 acyclicity_weight: float, nonnegativity_weight: float, learning_rate: float, grad_clip: float,
                 threshold: float, resamples: int = SUPPORT_RESAMPLES, steps: int = SUPPORT_STEPS,
                 seed: int = 0) -> np.ndarray:
    """``[C, C]`` support of each edge ``p -> c``: the share of ``resamples`` bootstrap resamples
    (``resample_weights``) whose structure fit (``fit_structures`` from no edges, ``steps`` steps, the
    model's penalties ``l1`` etc.) keeps ``p -> c`` after ``prune_to_dag`` at ``threshold``, in that direction.

    Stability selection (Meinshausen & Bühlmann 2010): an edge the data support survives when the data
    change a little; an edge the lasso picked up from one panel's noise comes and goes. activity_scaled
    ``[R, T, C]`` (scaled, uncentred), observed ``[R, T]`` bool. Deterministic for a ``seed``."""
    R, T, C = activity_scaled.shape
    weights = resample_weights(observed, resamples, np.random.default_rng(seed))
    covariances = np.stack([weighted_within_covariance(activity_scaled, w) for w in weights])
    as_f32 = lambda a: torch.as_tensor(np.ascontiguousarray(a), dtype=torch.float32)  # noqa: E731
    rows, counts = activity_scaled[observed], weights[:, observed]  # [n, C], [B, n]
    chunk = int(np.clip(_BATCH_ELEMENTS // rows.size, 1, resamples))  # big panels: a few at a time, for memory
    kept = []
    for first in range(0, resamples, chunk):
        part = counts[first:first + chunk]
        drawn = part.sum(axis=0) > 0  # rows no resample of the chunk drew
        fitted = fit_structures(as_f32(covariances[first:first + chunk]), as_f32(rows[drawn]), as_f32(part[:, drawn]),
                                mask, l1, acyclicity_weight, nonnegativity_weight, steps, learning_rate, grad_clip)
        kept.extend(prune_to_dag(a, threshold) != 0 for a in fitted.double().numpy())
    return np.mean(kept, axis=0)


def structure_graph(activity_scaled: np.ndarray, observed: np.ndarray, mask: torch.Tensor, l1: float,
                    acyclicity_weight: float, nonnegativity_weight: float, learning_rate: float, grad_clip: float,
                    threshold: float, support: np.ndarray | None, steps: int = SUPPORT_STEPS) -> np.ndarray:
    """``[C, C]`` the graph the model's fit learns, before the fit: ``fit_structures`` on all observed rows
    (``steps`` steps), pruned to a DAG at ``threshold`` and to edges with ``support`` (``supported``). The KPI
    model never reads the graph while it trains, so what training needs of the graph (the ROI prior's
    own-activity weights) can be known up front."""
    as_f32 = lambda a: torch.as_tensor(np.ascontiguousarray(a), dtype=torch.float32)  # noqa: E731
    fitted = fit_structures(as_f32(within_covariance(activity_scaled, observed)[None]), as_f32(activity_scaled[observed]),
                            None, mask, l1, acyclicity_weight, nonnegativity_weight, steps, learning_rate, grad_clip)
    return supported(prune_to_dag(fitted[0].double().numpy(), threshold), support)


_BATCH_ELEMENTS = 250_000
"""Elements of ``[resamples, rows, channels]`` solved side by side in ``edge_support``: a chunk of resamples
works on every row any of them drew, so on a big panel small chunks do less work (190 regions x 109 weeks x 13
channels: one resample at a time ran 1.5x faster than three at a time, 32 at once 3x slower), while on a small
one the per-step overhead dominates and larger chunks win (40 regions: one at a time 2-3x slower than all 32)."""


def descendants(adjacency: np.ndarray) -> np.ndarray:
    """``[C, C]`` bool: ``[p, c]`` is True where c is p or one of p's descendants in the acyclic graph
    ``adjacency`` (the channels a change of p's own activity reaches)."""
    C = len(adjacency)
    return np.abs(np.linalg.inv(np.eye(C) - np.asarray(adjacency, dtype=np.float64))) > 1e-12


def supported(adjacency: np.ndarray, support: np.ndarray | None, min_support: float = MIN_SUPPORT) -> np.ndarray:
    """``adjacency`` ``[C, C]`` without the edges whose ``support`` is below ``min_support`` (a wrong edge
    changes every counterfactual through it: precision over recall). NaN support (unknown: a model saved
    before support existed) keeps the edge; so does ``support`` None. Removing edges keeps a DAG a DAG."""
    if support is None:
        return adjacency
    return np.where(np.isnan(support) | (support >= min_support), adjacency, 0.0)


def _find_cycle(edges: np.ndarray) -> list[int] | None:
    """A directed cycle as a node list, or None. edges ``[C, C]`` bool, ``edges[p, c]`` = p -> c."""
    n = edges.shape[0]
    state = [0] * n  # 0 unvisited, 1 on stack, 2 done
    stack: list[int] = []

    def visit(node: int) -> list[int] | None:
        state[node] = 1
        stack.append(node)
        for child in np.flatnonzero(edges[node]):
            if state[child] == 1:
                return stack[stack.index(child):]
            if state[child] == 0:
                found = visit(int(child))
                if found is not None:
                    return found
        state[node] = 2
        stack.pop()
        return None

    for start in range(n):
        if state[start] == 0:
            found = visit(start)
            if found is not None:
                return [int(x) for x in found]
    return None


def own_activity(activity_scaled: torch.Tensor, adjacency: torch.Tensor) -> torch.Tensor:
    """Each channel's own (exogenous) activity ``X (I - A)``, clipped to ``[0, X]``. ``[..., C]``."""
    induced = activity_scaled @ adjacency.to(activity_scaled.dtype)
    return torch.minimum(torch.clamp_min(activity_scaled - induced, 0.0), activity_scaled)

