"""``gru_hidden``: an ``nn.GRU``'s hidden states over a sequence, with a hand-written backward for the CPU.

The modulation's GRU is small (16 units over ~120 weeks), so on a CPU its cost is the number of tensor
operations per week, not arithmetic: ``nn.GRU``'s CPU path records about 25 autograd nodes per week and
walks them one by one in the backward pass. This keeps torch's forward kernel (its loop over weeks
runs in C++, with the module's own parameters, so saved models are unchanged) but records no graph: the
gates are recomputed for all weeks at once from the hidden states it returns, and the backward pass runs
2 operations per week, since a week's gate derivatives are linear in the gradient reaching its hidden state
(their coefficients for every week are computed before the loop, the weights' gradients are two matrix
products over all weeks after it). Few Python-level operations matter too: fits run side by side on
threads (``parallel``), and Python's lock is held between operations. Same values (the forward is
torch's) and the same gradients up to rounding (a test compares them with ``nn.GRU``'s in float64); without a
gradient to record, and on CUDA (cuDNN), the module runs as it is.
"""

from __future__ import annotations

import torch
from torch import nn


def gru_hidden(gru: nn.GRU, features: torch.Tensor) -> torch.Tensor:
    """Hidden states ``[B, S, H]`` of the one-layer, batch-first ``gru`` over ``features`` ``[B, S, F]``, from a
    zero initial state."""
    weights = (gru.weight_ih_l0, gru.weight_hh_l0, gru.bias_ih_l0, gru.bias_hh_l0)
    needs_grad = torch.is_grad_enabled() and (features.requires_grad or any(w.requires_grad for w in weights))
    if features.is_cuda or not needs_grad:
        return gru(features)[0]
    steps = features.transpose(0, 1).contiguous()  # [S, B, F]: each week's rows contiguous
    return _GruSequence.apply(steps, *weights).transpose(0, 1)


class _GruSequence(torch.autograd.Function):
    """The recurrence, time-major: x ``[S, B, F]`` -> hidden ``[S, B, H]``, with PyTorch's gate layout (r, z, n):

        r, z = sigmoid(W_i{r,z} x + b_i{r,z} + W_h{r,z} h + b_h{r,z})
        n = tanh(W_in x + b_in + r * (W_hn h + b_hn))
        h' = n + z * (h - n)

    The forward pass is torch's own kernel without a graph (its loop over weeks runs in C++); the gates it
    went through are then recomputed for all weeks at once from the hidden states it returns.
    """

    @staticmethod
    def forward(ctx, x, w_ih, w_hh, b_ih, b_hh):
        S, B, _ = x.shape
        H = w_hh.shape[1]
        hidden = torch.gru(x, x.new_zeros(1, B, H), [w_ih, w_hh, b_ih, b_hh], True, 1, 0.0, False, False, False)[0]
        h_prev = torch.cat([x.new_zeros(1, B, H), hidden[:-1]]).view(S * B, H)
        gi = torch.addmm(b_ih, x.reshape(S * B, -1), w_ih.t())
        gh = torch.addmm(b_hh, h_prev, w_hh.t())
        gates = torch.sigmoid(gi[:, :2 * H] + gh[:, :2 * H])  # r, z
        cand = torch.tanh(torch.addcmul(gi[:, 2 * H:], gates[:, :H], gh[:, 2 * H:]))  # n
        ctx.save_for_backward(x, w_ih, w_hh, h_prev, gates, cand, gh[:, 2 * H:].contiguous())
        return hidden

    @staticmethod
    def backward(ctx, grad_out):
        x, w_ih, w_hh, h_prev, gates, cand, gh_n = ctx.saved_tensors
        S, B, _ = x.shape
        H = cand.shape[1]
        r, z = gates[:, :H], gates[:, H:]
        # Given g = dL/dh' of a week: d r_pre = g a gh_n r (1 - r), d z_pre = g (h - n) z (1 - z),
        # d(W_hn h + b_hn) = g a r, the direct path d h = g z and d n_pre = g a (a = (1 - z)(1 - n^2));
        # the first four as [S, B, 4, H]
        a = (1 - z) * (1 - cand * cand)
        coef = x.new_empty(S * B, 4, H)
        torch.mul(a * gh_n, r * (1 - r), out=coef[:, 0])
        torch.mul(h_prev - cand, z * (1 - z), out=coef[:, 1])
        torch.mul(a, r, out=coef[:, 2])
        coef[:, 3] = z
        coef = coef.view(S, B, 4, H)
        w4 = torch.cat([w_hh, torch.eye(H, dtype=w_hh.dtype, device=w_hh.device)])  # [4H, H]: gh's rows, then identity
        grad_out = grad_out.contiguous()
        total = torch.empty_like(grad_out)  # dL/dh of each week through every path
        total[S - 1] = grad_out[S - 1]
        dgh = torch.empty_like(coef)
        totals, coefs, dghs, incoming = total.unbind(0), coef.unbind(0), dgh.unbind(0), grad_out.unbind(0)
        rows = dgh.view(S, B, 4 * H).unbind(0)
        for t in range(S - 1, 0, -1):
            torch.mul(coefs[t], totals[t].unsqueeze(1), out=dghs[t])
            torch.addmm(incoming[t - 1], rows[t], w4, out=totals[t - 1])
        torch.mul(coefs[0], totals[0].unsqueeze(1), out=dghs[0])
        # the direct block is spent: it takes d n_pre, so d(W_hh h + b_hh) = columns [0, 3H) and
        # d(W_ih x + b_ih) = columns [0, 2H) and [3H, 4H), read in place
        grads = dgh.view(S * B, 4 * H)
        torch.mul(total.view(S * B, H), a, out=grads[:, 3 * H:])
        d_rz, d_hidden, d_n = grads[:, :2 * H], grads[:, :3 * H], grads[:, 3 * H:]
        flat_x = x.reshape(S * B, -1)
        grad_x = None
        if ctx.needs_input_grad[0]:
            grad_x = torch.addmm(d_n @ w_ih[2 * H:], d_rz, w_ih[:2 * H]).view(S, B, -1)
        sums = grads.sum(0)
        return (grad_x, torch.cat([d_rz.t() @ flat_x, d_n.t() @ flat_x]), d_hidden.t() @ h_prev,
                torch.cat([sums[:2 * H], sums[3 * H:]]), sums[:3 * H])
