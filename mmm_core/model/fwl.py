"""Frisch-Waugh-Lovell for panels: project per-region columns out, region by region.

Least squares with per-region terms (each region's level, trend, seasonal amplitude) and shared
coefficients splits into two: remove each region's projection on its own columns from every shared
column and from the target, then one least squares on the residuals gives the shared coefficients, and
the region terms follow region by region. Batched over regions with small ``P x P`` normal equations,
so memory stays O(rows x columns).
"""

from __future__ import annotations

import torch


class RegionProjection:
    """Least-squares projection of ``[R, T, M]`` series on each region's own columns.

    ``region_x`` ``[R, T, P]``: each region's columns, rows of unobserved weeks zeroed. ``ridge`` (times
    the identity) keeps the ``[R, P, P]`` normal equations solvable for a region whose columns are zero
    or collinear.
    """

    def __init__(self, region_x: torch.Tensor, ridge: float = 1e-9):
        self.region_x = region_x
        eye = torch.eye(region_x.shape[-1], dtype=region_x.dtype, device=region_x.device)
        self.gram = region_x.transpose(1, 2) @ region_x + ridge * eye

    def coefficients(self, z: torch.Tensor) -> torch.Tensor:
        """``[R, P, M]`` per-region least-squares coefficients of ``z`` ``[R, T, M]``."""
        return torch.linalg.solve(self.gram, self.region_x.transpose(1, 2) @ z)

    def residual(self, z: torch.Tensor) -> torch.Tensor:
        """``z`` ``[R, T, M]`` minus its projection on its region's columns."""
        return z - self.region_x @ self.coefficients(z)
