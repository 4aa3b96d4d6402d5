"""The contrastive cross-covariance S(beta) and the gradient it gives (book chapter 2).

    S(beta) = (1/n) [ sum_i beta_ii x_i y_i^T - sum_{i!=j} beta_ij x_i y_j^T ]
    = (1/n) X^T B Y,

with B = diag(beta_ii) - offdiag(beta). With beta frozen at its current value,
grad_{G1} L = -G2 S^T + rho G2 G2^T G1 and grad_{G2} L = -G1 S + rho G1 G1^T G2.
"""

from __future__ import annotations

import torch

from ._validation import check_matrix, check_pair, check_real
from .families import get_family
from .losses import check_representation, similarities

__all__ = [
    "cross_covariance",
    "centered_cross_covariance",
    "contrastive_cross_covariance",
    "contrastive_gradient",
    "gradient_from_cross_covariance",
]


# ------------------------------------------- the centred cross-covariance, fast
#: use X^T Y - n xbar ybar^T while the mean term inflates the rounding by at most this
#: factor
_CANCEL = 16.0


def centred_cross_covariance_fast(X, Y, chunk_entries: int = 2**22):
    """S_n = (X^T Y - n xbar ybar^T) / (n - 1) without copying X, Y, and the finiteness
    check of the inputs folded into the reductions it needs anyway.

    Rounding: X^T Y carries errors of about eps * n * ||rms(x)|| ||rms(y)|| (norms of
    the column root mean squares, ||rms(x)||^2 = ||X||_F^2 / n), the centred product eps
    * n * ||sd(x)|| ||sd(y)||. When the means make the first more than ``_CANCEL`` times
    the second (data far from centred), S_n is instead accumulated from centred chunks
    of rows, (X_I - xbar)^T (Y_I - ybar), copying ``chunk_entries`` at a time.
    """
    n = X.shape[-2]
    ones = torch.ones(n, dtype=X.dtype, device=X.device)
    xbar, ybar = (
        (ones @ X) / n,
        (ones @ Y) / n,
    )  # column means by a matrix-vector product
    fx = (
        torch.linalg.vector_norm(X, dim=(-2, -1)) ** 2 / n
    )  # ||rms(x)||^2, one contiguous pass
    fy = torch.linalg.vector_norm(Y, dim=(-2, -1)) ** 2 / n
    if not bool(torch.isfinite(torch.cat([xbar, fx.unsqueeze(-1)], -1)).all()):
        return None, "X"
    if not bool(torch.isfinite(torch.cat([ybar, fy.unsqueeze(-1)], -1)).all()):
        return None, "Y"
    # ||sd||^2 = ||rms||^2 - ||mean||^2 (an indicator: when it cancels, the chunks are
    # used)
    sdx = (fx - (xbar**2).sum(-1)).clamp_min(0)
    sdy = (fy - (ybar**2).sum(-1)).clamp_min(0)
    inflation = (fx * fy).sqrt() / (sdx * sdy).sqrt().clamp_min(
        torch.finfo(X.dtype).tiny
    )
    if bool((inflation <= _CANCEL).all()):
        S = X.mT @ Y - n * xbar.unsqueeze(-1) * ybar.unsqueeze(-2)
        return S / (n - 1), None
    return centred_product(X, Y, xbar, ybar, chunk_entries) / (n - 1), None


def checked_centred_cross_covariance(X, Y) -> torch.Tensor:
    """S_n of shape-checked X, Y (``centred_cross_covariance_fast``); non-finite
    inputs, or entries too large to square in their dtype, raise a ValueError naming
    the argument."""
    S, bad = centred_cross_covariance_fast(X, Y)
    if bad is not None:
        check_matrix(X if bad == "X" else Y, bad)  # names NaN / inf entries
        raise ValueError(
            f"{bad} has entries too large to square in {X.dtype}; rescale it"
        )
    return S


def centred_product(X, Y, xbar, ybar, chunk_entries: int = 2**22):
    """sum_i (x_i - xbar)(y_i - ybar)^T over the rows of X, Y (d1 x d2), from centred
    chunks of ``chunk_entries`` entries (xbar, ybar: any means, e.g. all ranks')."""
    S = torch.zeros(
        *X.shape[:-2], X.shape[-1], Y.shape[-1], dtype=X.dtype, device=X.device
    )
    n = X.shape[-2]
    step = max(1, chunk_entries // (X.shape[-1] + Y.shape[-1]))
    for start in range(0, n, step):
        rows = slice(start, min(start + step, n))
        S += (X[..., rows, :] - xbar.unsqueeze(-2)).mT @ (
            Y[..., rows, :] - ybar.unsqueeze(-2)
        )
    return S


def _signed(beta: torch.Tensor) -> torch.Tensor:
    eye = torch.eye(beta.shape[-1], dtype=torch.bool, device=beta.device)
    return torch.where(eye, beta, -beta)


def _describe(value) -> str:
    if isinstance(value, torch.Tensor):
        return str(tuple(value.shape))
    return type(value).__name__


def cross_covariance(X, Y, beta) -> torch.Tensor:
    """The contrastive cross-covariance S(beta) = (1/n) X^T B Y, B = diag(beta) -
    offdiag(beta).

    Parameters
    ----------
    X : torch.Tensor
        Tensor of shape (..., n, d1): modality 1.
    Y : torch.Tensor
        Tensor of shape (..., n, d2): modality 2, row i paired with row i of X.
    beta : torch.Tensor
        Tensor of shape (..., n, n): the contrastive weights.

    Returns
    -------
    torch.Tensor
        Tensor of shape (..., d1, d2).
    """
    X, Y = check_pair(X, Y)
    n = X.shape[-2]
    beta = check_matrix(beta, "beta")
    if beta.shape[-2:] != (n, n):
        raise ValueError(
            f"beta must be a tensor of shape (..., {n}, {n}), got {_describe(beta)}"
        )
    if beta.device != X.device:
        raise ValueError(f"beta is on {beta.device} but X is on {X.device}")
    return X.transpose(-1, -2) @ (_signed(beta.to(X.dtype)) @ Y) / n


def centered_cross_covariance(X, Y) -> torch.Tensor:
    """The unbiased centred cross-covariance S_n = 1/(n-1) sum_i (x_i - xbar)(y_i -
    ybar)^T.

    Parameters
    ----------
    X : torch.Tensor
        Tensor of shape (..., n, d1).
    Y : torch.Tensor
        Tensor of shape (..., n, d2).

    Returns
    -------
    torch.Tensor
        Tensor of shape (..., d1, d2).
    """
    X, Y = check_pair(X, Y)
    return checked_centred_cross_covariance(X, Y)  # X^T Y - n xbar ybar^T, or chunks


def contrastive_cross_covariance(
    G1, G2, X, Y, loss="clip", *, tau: float = 1.0, normalize: bool = False
) -> torch.Tensor:
    """S(beta(G)) with beta computed from the current representation.

    Parameters
    ----------
    G1 : torch.Tensor
        Tensor of shape (..., r, d1).
    G2 : torch.Tensor
        Tensor of shape (..., r, d2).
    X : torch.Tensor
        Tensor of shape (..., n, d1).
    Y : torch.Tensor
        Tensor of shape (..., n, d2).
    loss : {"clip", "linear"} or ContrastiveFamily, default="clip"
        The family member.
    tau : float, default=1.0
        The CLIP temperature.
    normalize : bool, default=False
        Cosine similarities instead of inner products.

    Returns
    -------
    torch.Tensor
        Tensor of shape (..., d1, d2).
    """
    family = get_family(loss, tau)
    s = similarities(G1, G2, X, Y, normalize=normalize)
    return cross_covariance(X, Y, family.weights(s))


def contrastive_gradient(
    G1, G2, X, Y, loss="clip", *, tau: float = 1.0, rho: float = 0.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """The gradient (grad_G1 L, grad_G2 L) by the S(beta) formula (inner products).

    Parameters
    ----------
    G1 : torch.Tensor
        Tensor of shape (..., r, d1).
    G2 : torch.Tensor
        Tensor of shape (..., r, d2).
    X : torch.Tensor
        Tensor of shape (..., n, d1).
    Y : torch.Tensor
        Tensor of shape (..., n, d2).
    loss : {"clip", "linear"} or ContrastiveFamily, default="clip"
        The family member.
    tau : float, default=1.0
        The CLIP temperature.
    rho : float, default=0.0
        The regularisation strength.

    Returns
    -------
    tuple of torch.Tensor
        The gradients, tensors of shape (..., r, d1) and (..., r, d2).
    """
    G1, G2, X, Y = check_representation(G1, G2, X, Y)
    rho = check_real(rho, "rho", low=0.0)
    return gradient_from_cross_covariance(
        G1, G2, contrastive_cross_covariance(G1, G2, X, Y, loss, tau=tau), rho
    )


def gradient_from_cross_covariance(
    G1, G2, S, rho: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """The gradient once S(beta) is known: (-G2 S^T + rho G2 G2^T G1, -G1 S + rho G1
    G1^T G2).

    Parameters
    ----------
    G1 : torch.Tensor
        Tensor of shape (..., r, d1).
    G2 : torch.Tensor
        Tensor of shape (..., r, d2).
    S : torch.Tensor
        Tensor of shape (..., d1, d2): S(beta) at (G1, G2).
    rho : float
        The regularisation strength.

    Returns
    -------
    tuple of torch.Tensor
        The gradients, tensors of shape (..., r, d1) and (..., r, d2).
    """
    t = lambda A: A.transpose(-1, -2)  # noqa: E731
    return -G2 @ t(S) + rho * G2 @ t(G2) @ G1, -G1 @ S + rho * G1 @ t(G1) @ G2
