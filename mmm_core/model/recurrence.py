"""``gru_hidden``: an ``nn.GRU``'s hidden states over a sequence, with a hand-written backward for the CPU.

The modulation's GRU is small (16 units over ~120 weeks), so on a CPU its cost is the number of tensor
operations per week, not arithmetic: ``nn.GRU``'s CPU path records about 25 autograd nodes per week and
walks them one by one in the backward pass. This computes the same recurrence (PyTorch's GRU equations,
the module's own parameters, so saved models and their state-dict keys are unchanged) in 5 operations per
week forward and 2 backward: the gate derivatives of a week are linear in the gradient reaching its hidden
state, so their coefficients for every week are computed at once before the backward loop, and the
weights' gradients are two matrix products over all weeks after it. Same values up to rounding (a test
compares outputs and gradients with ``nn.GRU`` in float64); on CUDA the module's own (cuDNN) kernel runs.
"""

from __future__ import annotations

import torch
from torch import nn


def gru_hidden(gru: nn.GRU, features: torch.Tensor) -> torch.Tensor:
    """Hidden states ``[B, S, H]`` of the one-layer, batch-first ``gru`` over ``features`` ``[B, S, F]``, from a
    zero initial state."""
    if features.is_cuda:
        return gru(features)[0]
    steps = features.transpose(0, 1).contiguous()  # [S, B, F]: each week's rows contiguous
    hidden = _GruSequence.apply(steps, gru.weight_ih_l0, gru.weight_hh_l0, gru.bias_ih_l0, gru.bias_hh_l0)
    return hidden.transpose(0, 1)


class _GruSequence(torch.autograd.Function):
    """The recurrence, time-major: x ``[S, B, F]`` -> hidden ``[S, B, H]``, with PyTorch's gate layout (r, z, n):

        r, z = sigmoid(W_i{r,z} x + b_i{r,z} + W_h{r,z} h + b_h{r,z})
        n = tanh(W_in x + b_in + r * (W_hn h + b_hn))
        h' = n + z * (h - n)
    """

    @staticmethod
    def forward(ctx, x, w_ih, w_hh, b_ih, b_hh):
        S, B, _ = x.shape
        H = w_hh.shape[1]
        gi = torch.addmm(b_ih, x.reshape(S * B, -1), w_ih.t()).view(S, B, 3 * H)  # input part, all weeks at once
        # gh[t] starts as what W_hh h is added to: the r, z pre-activations' input part plus b_h{r,z}, and b_hn
        # (kept apart, since r multiplies it), so one matrix product per week makes both
        gh = torch.cat([gi[..., :2 * H] + b_hh[:2 * H], b_hh[2 * H:].expand(S, B, H)], dim=-1)
        out = x.new_empty(S + 1, B, H)  # out[0] the initial state
        out[0].zero_()
        gates = x.new_empty(S, B, 2 * H)  # r, z
        cand = x.new_empty(S, B, H)  # n
        w_hh_t = w_hh.t()
        # per-week views made once: indexing inside the loop costs as much as the arithmetic
        weeks = zip(out.unbind(0)[:-1], out.unbind(0)[1:], gh.unbind(0), gh[..., :2 * H].unbind(0),
                    gh[..., 2 * H:].unbind(0), gi[..., 2 * H:].unbind(0), gates.unbind(0),
                    gates[..., :H].unbind(0), gates[..., H:].unbind(0), cand.unbind(0))
        for h, h_next, gh_t, pre_rz, gh_n, gi_n, rz, r, z, n in weeks:
            gh_t.addmm_(h, w_hh_t)
            torch.sigmoid(pre_rz, out=rz)
            torch.addcmul(gi_n, r, gh_n, out=n).tanh_()
            torch.lerp(n, h, z, out=h_next)
        ctx.save_for_backward(x, w_ih, w_hh, out, gates, cand, gh)
        return out[1:]

    @staticmethod
    def backward(ctx, grad_out):
        x, w_ih, w_hh, out, gates, cand, gh = ctx.saved_tensors
        S, B, H = cand.shape
        r, z = gates[..., :H], gates[..., H:]
        h_prev = out[:-1]
        # Given g = dL/dh' of a week: d n_pre = g a, d r_pre = g a gh_n r (1 - r), d z_pre = g (h - n) z (1 - z),
        # d(W_hn h + b_hn) = g a r and the direct path d h = g z (a = (1 - z)(1 - n^2)); stacked as [S, B, 4, H].
        a = (1 - z) * (1 - cand * cand)
        coef = torch.stack([a * gh[..., 2 * H:] * r * (1 - r), (h_prev - cand) * z * (1 - z), a * r, z], dim=2)
        w4 = torch.cat([w_hh, torch.eye(H, dtype=w_hh.dtype, device=w_hh.device)])  # [4H, H]: gh's rows, then identity
        grad_out = grad_out.contiguous()
        total = torch.empty_like(grad_out)  # dL/dh of each week through every path
        total[S - 1] = grad_out[S - 1]
        dgh = torch.empty_like(coef)  # [S, B, 4, H]: d r_pre, d z_pre, d(W_hn h + b_hn), direct
        totals, coefs, dghs, incoming = total.unbind(0), coef.unbind(0), dgh.unbind(0), grad_out.unbind(0)
        rows = dgh.view(S, B, 4 * H).unbind(0)
        for t in range(S - 1, 0, -1):
            torch.mul(coefs[t], totals[t].unsqueeze(1), out=dghs[t])
            torch.addmm(incoming[t - 1], rows[t], w4, out=totals[t - 1])
        torch.mul(coefs[0], totals[0].unsqueeze(1), out=dghs[0])
        d_hidden = dgh[:, :, :3].reshape(S * B, 3 * H)  # d(W_hh h + b_hh)
        d_input = torch.cat([dgh[:, :, :2].reshape(S, B, 2 * H), total * a], dim=-1).view(S * B, 3 * H)  # d(W_ih x + b_ih)
        grad_x = (d_input @ w_ih).view(S, B, -1) if ctx.needs_input_grad[0] else None
        return (grad_x, d_input.t() @ x.reshape(S * B, -1), d_hidden.t() @ h_prev.reshape(S * B, H),
                d_input.sum(0), d_hidden.sum(0))
