"""The statistics chapter's detection bounds for cosine similarities and for the
optimal assignment (book/04b_statistics, Step 7).

Cosine similarities. Take Sigma_z = s I_r and eta = 1, so C = s U1 U2^T, and
eps = ||S_n - C||_op < s. The balanced factors G1 = D^(1/2) U_hat^T and
G2 = D^(1/2) V_hat^T of the linear closed form (rho = 1) are, for one orthogonal O,
within nu of sqrt(s) O^T U1^T and sqrt(s) O^T U2^T in operator norm, with

    nu = eps / (sqrt(s) + sqrt(s - eps)) + 2 sqrt(2 s) sin(theta / 2),
    theta = arcsin(min(1, eps / (s - eps)))

(:func:`factor_perturbation_bound`). With e_k = nu ||x_k|| and
u_k = sqrt(s) ||U1^T x_k||, the cosine of the embeddings of x_k moves by at most
h_k = 2 e_k / (2 u_k - e_k) when u_k > e_k (2 otherwise), and the cosine similarity
of (x_k, y_l) by at most min(2, h_k + h'_l) (:func:`cosine_tolerance`) from the oracle
cosine of U1^T x_k and U2^T y_l.

Assignment. With lo = s - tol and hi = s + tol, D_kl = hi_kl - lo_k,pi(k) off the true
pairs and 0 on them, the optimal assignment of any similarity matrix within tol of s
recovers at least N - min over mu >= 0 of max over permutations sigma of
sum_k [1(sigma(k) != pi(k)) + mu D_k,sigma(k)] true pairs
(:func:`certified_assignment`).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

from .._validation import (
    as_tensor,
    check_index,
    check_int,
    check_matrix,
    check_real,
    check_same_device,
)

__all__ = [
    "factor_perturbation_bound",
    "cosine_tolerance",
    "certified_assignment",
]


def _check_eps(eps) -> torch.Tensor:
    """eps: a finite real number or a float tensor of them, all >= 0."""
    if isinstance(eps, bool):
        raise TypeError(f"eps must be a real number or a tensor of them, got {eps!r}")
    t = as_tensor(eps, "eps") if not isinstance(eps, (int, float)) else None
    if t is None:
        return torch.tensor(check_real(eps, "eps", low=0.0), dtype=torch.float64)
    if t.is_complex() or not t.is_floating_point():
        raise TypeError(f"eps must hold real floating-point numbers, got {t.dtype}")
    if not bool(torch.isfinite(t).all()) or bool((t < 0).any()):
        raise ValueError("eps must be finite and >= 0 (an operator norm)")
    return t


def factor_perturbation_bound(eps, *, signal_var: float = 1.0) -> torch.Tensor:
    """The chapter's bound nu on the distance of the balanced factors to the
    population's, given eps = ||S_n - C||_op with C = s U1 U2^T.

    nu = eps / (sqrt(s) + sqrt(s - eps)) + 2 sqrt(2 s) sin(theta / 2) with
    theta = arcsin(min(1, eps / (s - eps))); infinite when eps >= s. For one orthogonal
    O, both ||G1^T - sqrt(s) U1 O||_op and ||G2^T - sqrt(s) U2 O||_op are at most nu
    (rho = 1).

    Parameters
    ----------
    eps : float or torch.Tensor
        The deviation ||S_n - C||_op (>= 0), one per replicate, shape (...,).
    signal_var : float, default=1.0
        s: Sigma_z = s I_r (> 0).

    Returns
    -------
    torch.Tensor
        nu, of the shape of eps (float64 for a Python float).

    See Also
    --------
    cosine_tolerance : the entrywise bound on the cosine similarities that follows.

    Examples
    --------
    >>> round(float(factor_perturbation_bound(0.04)), 4)
    0.0791
    """
    eps = _check_eps(eps)
    s = check_real(signal_var, "signal_var", low=0.0, low_open=True)
    gap = (s - eps).clamp_min(0.0)
    weyl = eps / (math.sqrt(s) + gap.sqrt())  # max_i |sqrt(sigma_i) - sqrt(s)|
    ratio = (eps / gap.clamp_min(torch.finfo(eps.dtype).tiny)).clamp_max(1.0)
    procrustes = 2 * math.sqrt(2 * s) * torch.sin(torch.asin(ratio) / 2)
    return torch.where(eps < s, weyl + procrustes, torch.full_like(eps, math.inf))


def cosine_tolerance(eps, X, Y, U1, U2, *, signal_var: float = 1.0) -> torch.Tensor:
    """The entrywise bound on how far the cosine similarities of the linear closed form
    are from the oracle cosines of the latent projections U1^T x_k and U2^T y_l.

    T_kl = min(2, h_k + h'_l) with h_k = 2 e_k / (2 u_k - e_k) when u_k > e_k and
    2 otherwise, where e_k = nu ||x_k||, u_k = sqrt(s) ||U1^T x_k|| and nu is
    :func:`factor_perturbation_bound` (h'_l alike with y_l and U2). The oracle cosines
    are ``pool_similarities(U1.mT, U2.mT, X, Y)``.

    Parameters
    ----------
    eps : float or torch.Tensor
        The deviation ||S_n - C||_op (>= 0), one per replicate, shape (...,).
    X : torch.Tensor
        Tensor of shape (..., N, d1): the pool of modality 1.
    Y : torch.Tensor
        Tensor of shape (..., N', d2): the pool of modality 2.
    U1 : torch.Tensor
        Tensor of shape (..., d1, r): orthonormal columns spanning modality 1's signal.
    U2 : torch.Tensor
        Tensor of shape (..., d2, r).
    signal_var : float, default=1.0
        s: Sigma_z = s I_r (> 0).

    Returns
    -------
    torch.Tensor
        Tensor of shape (..., N, N'), entries in (0, 2].

    See Also
    --------
    mmcl.experiments.statistics.detection_slack : the slacks from a tolerance.
    mmcl.experiments.statistics.certified_detection : the certificates from them.
    certified_assignment : the tighter certificate of the assignment.
    """
    X, Y = check_matrix(X, "X"), check_matrix(Y, "Y")
    U1, U2 = check_matrix(U1, "U1"), check_matrix(U2, "U2")
    check_same_device(X=X, Y=Y, U1=U1, U2=U2)
    if (
        U1.shape[-2] != X.shape[-1]
        or U2.shape[-2] != Y.shape[-1]
        or U1.shape[-1] != U2.shape[-1]
    ):
        raise ValueError(
            f"U1 must be (d1, r) and U2 (d2, r) with d1 = {X.shape[-1]} the columns of "
            f"X and d2 = {Y.shape[-1]} those of Y; got U1 {tuple(U1.shape)} and U2 "
            f"{tuple(U2.shape)}"
        )
    s = check_real(signal_var, "signal_var", low=0.0, low_open=True)
    nu = factor_perturbation_bound(eps, signal_var=s).to(X)[..., None]  # (..., 1)

    def side(Z, U):
        e = nu * Z.norm(dim=-1)  # (..., N)
        u = math.sqrt(s) * (Z @ U).norm(dim=-1)
        return torch.where(u > e, 2 * e / (2 * u - e).clamp_min(1e-300), 2.0)

    return (side(X, U1)[..., :, None] + side(Y, U2)[..., None, :]).clamp_max(2.0)


def _check_tolerance(tolerance, s) -> torch.Tensor:
    """tolerance: finite, >= 0, broadcastable to s; returned expanded, in s's dtype."""
    tol = as_tensor(tolerance, "tolerance")
    if tol.dtype not in (torch.float32, torch.float64):
        raise TypeError(f"tolerance must be float32 or float64, got {tol.dtype}")
    if tol.device != s.device:
        raise ValueError(
            f"tolerance is on {tol.device} but s_ideal is on {s.device}; move them to "
            "one device"
        )
    if not bool(torch.isfinite(tol).all()) or bool((tol < 0).any()):
        raise ValueError("tolerance must be finite and >= 0 entrywise")
    try:
        return tol.to(s.dtype).expand_as(s)
    except RuntimeError as err:
        raise ValueError(
            f"tolerance of shape {tuple(tol.shape)} does not broadcast to s_ideal of "
            f"shape {tuple(s.shape)}"
        ) from err


def _assignment_value(D, true, mu) -> float:
    """max over permutations sigma of sum_k [1(sigma(k) != pi(k)) + mu D_k,sigma(k)]."""
    B = np.where(true, 0.0, 1.0 + mu * D)
    rows, cols = linear_sum_assignment(B, maximize=True)
    return float(B[rows, cols].sum())


def certified_assignment(
    s_ideal, tolerance, match, *, n_multipliers: int = 10
) -> torch.Tensor:
    """A lower bound on the precision (= recall) of the optimal assignment of every
    similarity matrix within ``tolerance`` of ``s_ideal`` (the chapter's assignment
    certificate through the permutation's dual).

    1 - min_mu A(mu) / N, with A(mu) the maximum over permutations sigma of
    sum_k [1(sigma(k) != pi(k)) + mu D_k,sigma(k)] (one linear assignment per mu),
    D_kl = hi_kl - lo_k,pi(k) off the true pairs and 0 on them, lo = s - tol,
    hi = s + tol. Every mu >= 0 gives a valid bound; a golden-section search over
    log mu in [1e-3, 1e3] / scale (scale the median of the absolute D off the true
    pairs) with ``n_multipliers`` evaluations picks the best found.

    Parameters
    ----------
    s_ideal : torch.Tensor
        Tensor of shape (..., N, N): the reference similarities s.
    tolerance : torch.Tensor
        Tensor broadcastable to s_ideal: the entrywise tolerance (>= 0).
    match : torch.Tensor
        Long tensor of shape (..., N): the hidden pairing pi, a permutation.
    n_multipliers : int, default=10
        The number of multipliers mu tried (>= 2), one N x N assignment each.

    Returns
    -------
    torch.Tensor
        float64 tensor of shape (...,), in [0, 1].

    See Also
    --------
    mmcl.experiments.statistics.certified_detection : the sorted slacks' certificate.
    """
    s = check_matrix(s_ideal, "s_ideal", square=True)
    tol = _check_tolerance(tolerance, s)
    n = s.shape[-1]
    pi = check_index(
        match,
        "match",
        shape=s.shape[:-1],
        high=n,
        permutation=True,
        rows=" (one column index per row of s_ideal)",
        cols=" (the columns of s_ideal)",
    )
    k = check_int(n_multipliers, "n_multipliers", low=2)
    lo = (s - tol).gather(-1, pi[..., None])  # (..., N, 1): lo_k,pi(k)
    D = ((s + tol) - lo).detach().reshape(-1, n, n).to("cpu", torch.float64).numpy()
    true = np.zeros((n, n), dtype=bool)
    out = []
    for b, p in enumerate(pi.reshape(-1, n).cpu().numpy()):
        mask = true.copy()
        mask[np.arange(n), p] = True
        off = np.abs(D[b][~mask])
        scale = float(np.median(off)) if off.size and np.median(off) > 0 else 1.0
        out.append(1.0 - _golden_min(D[b], mask, scale, k) / n)
    out = torch.tensor(out, dtype=torch.float64, device=s.device)
    return out.clamp(0.0, 1.0).view(s.shape[:-2])


def _golden_min(D, mask, scale, k) -> float:
    """The smallest A(mu) found by a golden-section search over log10(mu scale) in
    [-3, 3] with k evaluations (A is convex in mu, so unimodal in log mu)."""

    def value(t):
        return _assignment_value(D, mask, 10.0**t / scale)

    g = (math.sqrt(5) - 1) / 2
    a, b = -3.0, 3.0
    c, d = b - g * (b - a), a + g * (b - a)
    fc, fd = value(c), value(d)
    best = min(fc, fd)
    for _ in range(k - 2):
        if fc <= fd:
            b, d, fd = d, c, fc
            c = b - g * (b - a)
            fc = value(c)
            best = min(best, fc)
        else:
            a, c, fc = c, d, fd
            d = a + g * (b - a)
            fd = value(d)
            best = min(best, fd)
    return best
