"""Truncated SVD by block subspace iteration, for ``svd_iteration``,
``linear_closed_form`` and ``truncated_svd`` (chapter 7).

For an operator T (d1 x d2) known only through the products (T Qv, T^T Qu), with k = r +
p orthonormal columns in Qu (d1 x k) and Qv (d2 x k), one step computes Z = T Qv and W =
T^T Qu (both from the same Qu, Qv, so one pass over the data serves both), the k x k
Rayleigh quotient B = Qu^T Z = Ub diag(s) Vb^T, the Ritz vectors U = Qu Ub, V = Qv Vb
and their residuals T V - U diag(s) = Z Vb - U diag(s), T^T U - V diag(s) = W Ub - V
diag(s) (no extra product), and restarts from Qu = orth(Z Vb), Qv = orth(W Ub). After
two steps Qv spans T^T T Qv: the error of the top r falls like (sigma_{k+1} / sigma_r)
per step. It stops once every residual is below ``tol * s_1``.
"""

from __future__ import annotations

import math

import torch

#: extra columns of the subspace iteration (k = r + _OVERSAMPLE, at most min(d1, d2))
_OVERSAMPLE = 5
#: inner residual target relative to the last outer change of M (0: solve to the
#: rounding floor)
_INNER_RTOL = 0.1
#: most subspace steps per truncated SVD (then the last Ritz vectors are used)
_INNER_STEPS = 60


def _floor(dtype, d: int) -> float:
    """Residual floor of the subspace iteration, relative to s_1: rounding of k-column
    products of length d is about eps sqrt(d); 8x that is reachable in practice."""
    return 8 * torch.finfo(dtype).eps * math.sqrt(d)


def _orth(A: torch.Tensor) -> torch.Tensor:
    return torch.linalg.qr(A).Q


def subspace_svd(apply, Qu, Qv, r: int, tol: float, max_steps=None, first=None):
    """Top-r SVD of the operator behind ``apply(Qu, Qv) -> (T Qv, T^T Qu)`` from the
    start (Qu, Qv).

    Returns (U_r, s_r, V_r, Uk, Vk, steps, converged): the top r Ritz triplets (signs
    not flipped), all k Ritz vectors (the warm start of the next call) and the number of
    products used. ``first`` is (T Qv, T^T Qu) if already known; ``max_steps`` None
    reads ``_INNER_STEPS`` when called."""
    max_steps = _INNER_STEPS if max_steps is None else max_steps
    for step in range(1, max_steps + 1):
        Z, W = first if (step == 1 and first is not None) else apply(Qu, Qv)
        Ub, s, Vbh = torch.linalg.svd(Qu.mT @ Z)  # (..., k, k)
        Vb = Vbh.mT
        ZV, WU = Z @ Vb, W @ Ub  # T V, T^T U for the Ritz vectors
        U, V = Qu @ Ub, Qv @ Vb
        top = s[..., :r].unsqueeze(-2)
        res = torch.maximum(
            torch.linalg.vector_norm(ZV[..., :r] - U[..., :r] * top, dim=-2),
            torch.linalg.vector_norm(WU[..., :r] - V[..., :r] * top, dim=-2),
        )
        done = bool(
            (res <= tol * s[..., :1].clamp_min(torch.finfo(s.dtype).tiny)).all()
        )
        if done or step == max_steps:
            return U[..., :r], s[..., :r], V[..., :r], U, V, step, done
        Qu, Qv = _orth(ZV), _orth(WU)


def start_bases(U, V, k: int):
    """(Qu, Qv) with k orthonormal columns, the first r spanning U, V; the rest from a
    seeded draw (on the CPU, then moved), so every device starts alike."""
    r = U.shape[-1]
    if k == r:
        return U, V
    g = torch.Generator().manual_seed(0)

    def extra(B):
        return torch.randn(*B.shape[:-1], k - r, generator=g, dtype=torch.float64).to(B)

    return _orth(torch.cat([U, extra(U)], -1)), _orth(torch.cat([V, extra(V)], -1))


def fast_truncated_svd(S: torch.Tensor, r: int):
    """Top-r SVD of a formed S (..., d1, d2) in O(d1 d2 k) per step, or None when a full
    SVD is the cheaper or safer choice (small matrices, k > min(d1, d2) / 4, or no
    convergence)."""
    d1, d2 = S.shape[-2:]
    k = r + _OVERSAMPLE
    if min(d1, d2) < 128 or 4 * k > min(d1, d2):
        return None
    g = torch.Generator().manual_seed(0)
    Qv = _orth(
        torch.randn(*S.shape[:-2], d2, k, generator=g, dtype=torch.float64).to(S)
    )
    Qu = _orth(S @ Qv)
    out = subspace_svd(
        lambda Qu, Qv: (S @ Qv, S.mT @ Qu),
        Qu,
        Qv,
        r,
        _floor(S.dtype, max(d1, d2)),
        max_steps=200,
    )
    return out[:3] if out[6] else None
