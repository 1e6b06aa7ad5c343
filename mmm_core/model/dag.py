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
        adj = self.adjacency()
        h = acyclicity(adj)
        negative_own = torch.relu(activity_rows @ adj - activity_rows)
        return (sem_loss(adj, covariance) + nonnegativity_weight * negative_own.square().mean() * adj.shape[-1]
                + l1 * adj.abs().sum() + acyclicity_weight * (h + 0.5 * h * h))


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


def remove_channel(activity_scaled: torch.Tensor, adjacency: torch.Tensor, channel: int,
                   multiplier: float = 0.0) -> torch.Tensor:
    """Activity ``[..., C]`` after the channel's own activity is scaled by ``multiplier`` (0 removes it),
    with the change propagated to its descendants along the acyclic ``adjacency``; clipped at 0.

    Channels that are not descendants keep their observed activity exactly.
    """
    from mmm_core.model.transforms import propagate_dag

    own = own_activity(activity_scaled, adjacency)
    delta = torch.zeros_like(own)
    delta[..., channel] = (multiplier - 1.0) * own[..., channel]
    return torch.clamp_min(activity_scaled + propagate_dag(delta, adjacency), 0.0)
