"""Media components: carry-over (``Adstock``) and diminishing returns (``HillSaturation``).

Each component owns its raw parameters, the bijection that keeps them valid (a sigmoid or an exp, never
a clamp), its initialisation and its shape prior, and calls a pure function of ``transforms.py`` for
the formula itself, so the simulator and the model share the formula while the network composes the
components (PyMC-Marketing's ``components/saturation.py`` pattern). Parameters are per channel, ``[C]``.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from mmm_core.model import transforms


def logit(p: float) -> float:
    """Inverse of the sigmoid, for initialising a parameter that a sigmoid maps into a range."""
    return math.log(p / (1.0 - p))


class Adstock(nn.Module):
    """Carry-over kernel ``decay**(|lag - peak|**q)`` per channel (``transforms.adstock_weights``).

    decay in ``(0, decay_max)`` (``decay_max * sigmoid(decay_raw)``); peak lag in ``(0, peak_lag_max_weeks)``
    weeks when ``peak_lag`` (delayed adstock), else geometric; tail shape q in ``(1, 2)`` when
    ``learn_tail`` (with a peak lag), else q = 2 (the delayed kernel). ``max_lag_weeks`` is the kernel's
    length in weeks.
    """

    def __init__(self, n_channels: int, max_lag_weeks: int, decay_max: float, decay_init: float,
                 peak_lag: bool, peak_lag_max_weeks: float, peak_lag_init_weeks: float, learn_tail: bool,
                 tail_init: float):
        super().__init__()
        self.max_lag_weeks, self.decay_max = max_lag_weeks, decay_max
        self.has_peak_lag, self.peak_lag_max_weeks = peak_lag, peak_lag_max_weeks
        self.decay_raw = nn.Parameter(torch.full((n_channels,), logit(decay_init / decay_max)))
        self.peak_raw = nn.Parameter(torch.full((n_channels,), logit(peak_lag_init_weeks / peak_lag_max_weeks)))
        if peak_lag and learn_tail:
            self.tail_raw = nn.Parameter(torch.full((n_channels,), logit(tail_init - 1.0)))

    def decay(self) -> torch.Tensor:
        """``[C]`` in (0, decay_max)."""
        return self.decay_max * torch.sigmoid(self.decay_raw)

    def peak_lag(self) -> torch.Tensor | None:
        """``[C]`` weeks in (0, peak_lag_max_weeks), or None for geometric adstock."""
        return self.peak_lag_max_weeks * torch.sigmoid(self.peak_raw) if self.has_peak_lag else None

    def tail(self) -> torch.Tensor | None:
        """``[C]`` tail shape q in (1, 2), or None (q = 2 fixed, or geometric)."""
        raw = getattr(self, "tail_raw", None)
        return None if raw is None else 1.0 + torch.sigmoid(raw)

    def tail_or_fixed(self) -> torch.Tensor:
        """``[C]`` the tail shape as reported: learned q, 2 for the delayed kernel, 1 for geometric."""
        tail = self.tail()
        if tail is not None:
            return tail
        return torch.full_like(self.decay_raw, 2.0 if self.has_peak_lag else 1.0)

    def kernel(self) -> torch.Tensor:
        """``[C, L]`` normalised carry-over weights."""
        return transforms.adstock_weights(self.decay(), self.peak_lag(), self.max_lag_weeks, tail=self.tail())

    def forward(self, padded: torch.Tensor, n_weeks: int, channels: torch.Tensor | None = None) -> torch.Tensor:
        """Adstocked activity ``[R, T, C]`` of the last ``n_weeks`` of ``padded`` ``[R, L - 1 + T, C]``
        (activity with its presample weeks prepended); with ``channels`` (indices ``[S]``) ``padded`` holds
        only those channels' columns, ``[R, L - 1 + T, S]``, and so does the result."""
        kernel = self.kernel() if channels is None else self.kernel()[channels]
        return transforms.adstock(padded, kernel.to(padded.dtype))[:, -n_weeks:]


class HillSaturation(nn.Module):
    """Hill curve ``x**s / (x**s + k**s)`` per channel (``transforms.hill``), on adstocked scaled activity.

    Half-saturation k > 0 (``exp(log_half_saturation)``, scaled activity units), initialised from the
    data (``initialise``); slope s in ``(slope_min, slope_max)`` (a sigmoid), so both concave (< 1) and
    S-shaped (> 1) curves are reachable. ``shape_penalty`` is the curve's shape prior.
    """

    def __init__(self, n_channels: int, slope_min: float, slope_max: float, slope_init: float,
                 half_saturation_quantile: float):
        super().__init__()
        self.slope_min, self.slope_max = slope_min, slope_max
        self.half_saturation_quantile = half_saturation_quantile
        self.log_half_saturation = nn.Parameter(torch.zeros(n_channels))
        # Where the data put the half-saturation at the start; the shape prior pulls toward it.
        self.register_buffer("log_half_saturation_prior", torch.zeros(n_channels))
        self.slope_raw = nn.Parameter(torch.full((n_channels,), logit((slope_init - slope_min) / (slope_max - slope_min))))

    def half_saturation(self) -> torch.Tensor:
        """``[C]`` in scaled activity units."""
        return torch.exp(self.log_half_saturation)

    def slope(self) -> torch.Tensor:
        """``[C]`` in (slope_min, slope_max)."""
        return self.slope_min + (self.slope_max - self.slope_min) * torch.sigmoid(self.slope_raw)

    @torch.no_grad()
    def initialise(self, adstocked: torch.Tensor, active: torch.Tensor) -> None:
        """Half-saturation (and its prior centre) at the ``half_saturation_quantile`` of each channel's
        adstocked activity ``[R, T, C]`` over the region-weeks where ``active`` ``[R, T, C]`` (1.0 where none)."""
        for c in range(adstocked.shape[-1]):
            values = adstocked[..., c][active[..., c]]
            k = torch.quantile(values.double(), self.half_saturation_quantile).item() if values.numel() else 1.0
            self.log_half_saturation[c] = math.log(max(k, 1e-6))
        self.log_half_saturation_prior.copy_(self.log_half_saturation)

    def shape_penalty(self) -> torch.Tensor:
        """Shape prior (not an answer prior): squared log slope (toward 1) plus squared log half-saturation
        minus its data-based start, summed over channels."""
        return (torch.log(self.slope()).square().sum()
                + (self.log_half_saturation - self.log_half_saturation_prior).square().sum())

    def forward(self, adstocked: torch.Tensor, channels: torch.Tensor | None = None) -> torch.Tensor:
        """Saturated response ``[R, T, C]`` in [0, 1) of adstocked activity ``[R, T, C]`` (with ``channels``,
        indices ``[S]``: those channels' columns only, ``[R, T, S]``)."""
        dtype = adstocked.dtype
        k, s = self.half_saturation(), self.slope()
        if channels is not None:
            k, s = k[channels], s[channels]
        return transforms.hill(adstocked, k.to(dtype), s.to(dtype))
