"""Rank-r algebra: the package's one sign convention, the truncated SVD, the
low-rank product U diag(w) V^T and balanced factors (chapter 2).

Every solver returns M = G1^T G2 = U diag(sigma / rho) V^T through these four functions;
the baselines and the image chapter use the same sign convention.
"""

from __future__ import annotations


import torch

from . import _subspace as _ss
from ._validation import (
    check_finite_output,
    check_matrix,
    check_rank,
    check_rho,
    check_vector,
)

__all__ = ["svd_flip", "truncated_svd", "low_rank", "factorize"]


def svd_flip(U: torch.Tensor, V: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The one sign convention of the package: the entry of largest absolute value in
    each column of U is positive; V (columns paired with U's) gets the same signs.

    Parameters
    ----------
    U : torch.Tensor
        Tensor of shape (..., d1, r).
    V : torch.Tensor
        Tensor of shape (..., d2, r).

    Returns
    -------
    tuple of torch.Tensor
        U and V with flipped column signs, of the same shapes.
    """
    U, V = check_matrix(U, "U"), check_matrix(V, "V")
    if U.shape[:-2] != V.shape[:-2] or U.shape[-1] != V.shape[-1]:
        raise ValueError(
            f"U (..., d1, k) and V (..., d2, k) must have the same leading shape and "
            f"number k of columns, got U {tuple(U.shape)} and V {tuple(V.shape)}"
        )
    idx = U.abs().argmax(dim=-2, keepdim=True)
    signs = torch.sign(torch.gather(U, -2, idx))
    signs = torch.where(signs == 0, torch.ones_like(signs), signs)
    return U * signs, V * signs


def truncated_svd(
    S: torch.Tensor, r: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The top-r SVD of S, signs by :func:`svd_flip`.

    Parameters
    ----------
    S : torch.Tensor
        Tensor of shape (..., d1, d2).
    r : int
        The number of singular triplets kept.

    Returns
    -------
    tuple of torch.Tensor
        U of shape (..., d1, r), sigma of shape (..., r), V of shape (..., d2, r).

    Notes
    -----
    For min(d1, d2) >= 128 and r + 5 <= min(d1, d2) / 4 a block subspace iteration on
    r + 5 vectors (O(d1 d2 (r + 5)) per step, stopped at the rounding floor of its
    residual) replaces the full SVD (O(d1 d2 min(d1, d2))); without convergence the full
    SVD is used after all.
    """
    S = check_matrix(S, "S")
    r = check_rank(r, S.shape[-2], S.shape[-1])
    fast = _ss.fast_truncated_svd(S, r)  # O(d1 d2 (r + 5)) per step when r << d
    if fast is not None:
        U, V = svd_flip(fast[0], fast[2])
        return U, fast[1], V
    U, sig, Vh = torch.linalg.svd(S, full_matrices=False)
    U, V = svd_flip(U[..., :r], Vh[..., :r, :].transpose(-1, -2))
    return U, sig[..., :r], V


def low_rank(U: torch.Tensor, w: torch.Tensor, V: torch.Tensor) -> torch.Tensor:
    """The low-rank product U diag(w) V^T: the one spelling of it in mmcl.

    Parameters
    ----------
    U : torch.Tensor
        Tensor of shape (..., d1, r).
    w : torch.Tensor
        Tensor of shape (..., r).
    V : torch.Tensor
        Tensor of shape (..., d2, r).

    Returns
    -------
    torch.Tensor
        Tensor of shape (..., d1, d2).
    """
    return (U * w.unsqueeze(-2)) @ V.transpose(-1, -2)


def factorize(U, sigma, V, rho: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Balanced factors (G1, G2) with G1^T G2 = U diag(sigma / rho) V^T.

    Parameters
    ----------
    U : torch.Tensor
        Tensor of shape (..., d1, r).
    sigma : torch.Tensor
        Tensor of shape (..., r): singular values (negative ones count as 0).
    V : torch.Tensor
        Tensor of shape (..., d2, r).
    rho : float, default=1.0
        The regularisation strength.

    Returns
    -------
    tuple of torch.Tensor
        G1 = diag(sqrt(sigma / rho)) U^T of shape (..., r, d1) and G2 of shape
        (..., r, d2).
    """
    U, V = check_matrix(U, "U"), check_matrix(V, "V")
    if V.shape[-1] != U.shape[-1]:
        raise ValueError(
            "U (..., d1, r) and V (..., d2, r) must have the same number r of "
            "columns, "
            f"got U {tuple(U.shape)} and V {tuple(V.shape)}"
        )
    sigma = check_vector(sigma, "sigma", length=U.shape[-1])
    rho = check_rho(rho)
    w = (sigma.clamp_min(0) / rho).sqrt().unsqueeze(-1)
    w = check_finite_output(
        w, "sqrt(sigma / rho)", "rho is too small for these singular values: raise rho"
    )
    return w * U.transpose(-1, -2), w * V.transpose(-1, -2)
