"""Chapter code for "Beyond the paper" (chapter 8), part 2: misaligned captions and
shared structure without pairs.

* ``misaligned_sample``, ``coordinate_recovery``: captions with selection and
  perturbation biases (Cai et al., 2025), and how much of each latent direction is
  learned.
* ``spectral_embedding``, ``align_embeddings``: a random-walk spectral embedding of each
  modality alone, aligned with a few pairs (in the spirit of Yacobi et al., 2025).

Part 1 (temperature, filtering) is :mod:`mmcl.experiments.beyond`. Every function
follows the device and dtype of its inputs and accepts leading replicate dimensions.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F

from .._validation import (
    check_fraction,
    check_int,
    check_matrix,
    check_pair,
    check_real,
    check_same_device,
)
from ..sampling import haar_orthonormal, make_generator

__all__ = [
    "MisalignedSample",
    "misaligned_sample",
    "coordinate_recovery",
    "spectral_embedding",
    "align_embeddings",
]


class MisalignedSample(NamedTuple):
    """What :func:`misaligned_sample` returns (a named tuple; its fields below)."""

    #: Modality 1, a tensor of shape (..., n, d1).
    X: torch.Tensor
    #: Modality 2 (the biased captions), a tensor of shape (..., n, d2).
    Y: torch.Tensor
    #: The subspace of modality 1, a tensor of shape (..., d1, r).
    U1: torch.Tensor
    #: The subspace of modality 2, a tensor of shape (..., d2, r).
    U2: torch.Tensor
    #: The latent coordinates that neither bias touches, a bool tensor of shape (r,).
    invariant: torch.Tensor


def _coordinate_mask(coords, r: int, name: str) -> torch.Tensor:
    mask = torch.zeros(r, dtype=torch.bool)
    for c in coords:
        c = check_int(c, f"{name} entry", low=0, high=r - 1)
        mask[c] = True
    return mask


def misaligned_sample(
    n: int,
    d1: int,
    d2: int,
    r: int,
    *,
    dropped=(),
    perturbed=(),
    perturb_prob: float = 1.0,
    signal_var: float = 2.0,
    noise: float = 0.5,
    replicates: int | None = None,
    seed=0,
    dtype=torch.float64,
) -> MisalignedSample:
    """Pairs x = U1 z + xi, y = U2 z~ + zeta with captions biased per coordinate.

    Selection: the caption omits the ``dropped`` latent coordinates (z~_k = 0).
    Perturbation: for each ``perturbed`` coordinate and each pair, with probability
    ``perturb_prob`` the caption states an independent value (z~_k drawn afresh) instead
    of z_k. z ~ N(0, signal_var I_r), noise standard deviation ``noise``; each replicate
    draws its own Haar U1, U2.

    Parameters
    ----------
    n : int
        The number of pairs, n >= 2.
    d1 : int
        The dimension of modality 1 (the images).
    d2 : int
        The dimension of modality 2 (the captions).
    r : int
        The latent dimension, 1 <= r <= min(d1, d2).
    dropped : iterable of int, default=()
        Latent coordinates in [0, r - 1] that the captions omit (selection bias).
    perturbed : iterable of int, default=()
        Latent coordinates in [0, r - 1] that the captions may misstate (perturbation
        bias).
    perturb_prob : float, default=1.0
        The probability, in [0, 1], that a pair's caption misstates a ``perturbed``
        coordinate.
    signal_var : float, default=2.0
        The variance of each latent coordinate (> 0).
    noise : float, default=0.5
        The noise standard deviation of both modalities (>= 0).
    replicates : int, optional
        Draw this many independent replicates, stacked in a leading dimension; default:
        a single draw without it.
    seed : int or torch.Generator, default=0
        Seed of the draws (subspaces, latents, perturbations and noise).
    dtype : torch.dtype, default=torch.float64
        The dtype of X, Y, U1, U2: torch.float32 or torch.float64 (drawn in float64).

    Returns
    -------
    MisalignedSample
        The pairs, the subspaces and the mask of invariant coordinates (neither dropped
        nor perturbed with probability 1).
    """
    n = check_int(n, "n", low=2)
    r = check_int(r, "r", low=1, high=min(check_int(d1, "d1"), check_int(d2, "d2")))
    p = check_fraction(perturb_prob, "perturb_prob")
    sv = check_real(signal_var, "signal_var", low=0.0, low_open=True)
    sd = check_real(noise, "noise", low=0.0)
    drop, pert = (
        _coordinate_mask(dropped, r, "dropped"),
        _coordinate_mask(perturbed, r, "perturbed"),
    )
    if dtype not in (torch.float32, torch.float64):
        raise TypeError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
    g = make_generator(seed)
    batch = () if replicates is None else (check_int(replicates, "replicates"),)
    U1 = haar_orthonormal(d1, r, batch=batch, generator=g)
    U2 = haar_orthonormal(d2, r, batch=batch, generator=g)
    z = sv**0.5 * torch.randn(*batch, n, r, generator=g, dtype=torch.float64)
    fresh = sv**0.5 * torch.randn(*batch, n, r, generator=g, dtype=torch.float64)
    swap = pert & (
        torch.rand(*batch, n, r, generator=g, dtype=torch.float64) < p
    )  # (..., n, r)
    zt = torch.where(swap, fresh, z).masked_fill(drop, 0.0)
    X = z @ U1.transpose(-1, -2) + sd * torch.randn(
        *batch, n, d1, generator=g, dtype=torch.float64
    )
    Y = zt @ U2.transpose(-1, -2) + sd * torch.randn(
        *batch, n, d2, generator=g, dtype=torch.float64
    )
    invariant = ~drop & ~(pert if p == 1.0 else torch.zeros_like(pert))
    return MisalignedSample(
        X.to(dtype), Y.to(dtype), U1.to(dtype), U2.to(dtype), invariant
    )


def coordinate_recovery(U_hat, U) -> torch.Tensor:
    """||P_hat u_k||^2 for each column u_k of U: the share of latent direction k in
    span U_hat (1 if learned, 0 if missed).

    Parameters
    ----------
    U_hat : torch.Tensor
        Shape (..., d, s).
    U : torch.Tensor
        Shape (..., d, r).

    Returns
    -------
    torch.Tensor
        Shape (..., r).
    """
    U_hat, U = check_matrix(U_hat, "U_hat"), check_matrix(U, "U")
    check_same_device(U_hat=U_hat, U=U)
    if U_hat.shape[-2] != U.shape[-2]:
        raise ValueError(
            f"U_hat and U must live in the same dimension, got {U_hat.shape[-2]} and "
            f"{U.shape[-2]}"
        )
    Q = torch.linalg.svd(U_hat, full_matrices=False)[0]
    return ((Q.transpose(-1, -2) @ U) ** 2).sum(-2)


def spectral_embedding(X, k: int, *, n_neighbors: int = 10) -> torch.Tensor:
    """The k leading non-trivial random-walk eigenvectors of a Gaussian k-NN graph.

    Affinities W_ij = exp(-||x_i - x_j||^2 / h^2) on the symmetrised
    ``n_neighbors``-nearest-neighbour graph of the rows of X, h^2 the (lower) median
    squared distance to the ``n_neighbors``-th neighbour. With D the degrees, the
    eigenvectors of P = D^{-1} W are D^{-1/2} v for the eigenvectors v of
    D^{-1/2} W D^{-1/2}.

    Parameters
    ----------
    X : torch.Tensor
        Shape (..., N, d).
    k : int
        Number of eigenvectors, 1 <= k <= N - 2.
    n_neighbors : int, default=10
        Neighbours per point.

    Returns
    -------
    torch.Tensor
        Shape (..., N, k), unit-norm columns, the constant eigenvector dropped.
    """
    X = check_matrix(X, "X", min_rows=3)
    N = X.shape[-2]
    k = check_int(k, "k", low=1, high=N - 2)
    nn = check_int(n_neighbors, "n_neighbors", low=1, high=N - 1)
    D2 = torch.cdist(X, X) ** 2  # (..., N, N)
    kth = D2.topk(nn + 1, dim=-1, largest=False).values[
        ..., -1
    ]  # (..., N), self excluded
    h2 = kth.median(-1).values[..., None, None]
    near = D2 <= kth.unsqueeze(-1)
    W = torch.where(
        near | near.transpose(-1, -2), torch.exp(-D2 / h2), torch.zeros_like(D2)
    )
    d = W.sum(-1).rsqrt()  # D^{-1/2}
    evals, V = torch.linalg.eigh(d.unsqueeze(-1) * W * d.unsqueeze(-2))
    psi = d.unsqueeze(-1) * V[..., -k - 1 : -1].flip(-1)  # skip the top (constant) one
    return F.normalize(psi, dim=-2)


def align_embeddings(Ex_pairs, Ey_pairs) -> torch.Tensor:
    """The map A minimising ||Ex_pairs A - Ey_pairs||_F (least squares).

    Parameters
    ----------
    Ex_pairs : torch.Tensor
        Tensor of shape (..., m, k), m >= k: the modality-1 embeddings of m known pairs.
    Ey_pairs : torch.Tensor
        Tensor of shape (..., m, k): the modality-2 embeddings of the same pairs, row i
        paired with row i of ``Ex_pairs``.

    Returns
    -------
    torch.Tensor
        Shape (..., k, k); map the rest with ``Ex @ A``.
    """
    Ex, Ey = check_pair(Ex_pairs, Ey_pairs, min_rows=1, names=("Ex_pairs", "Ey_pairs"))
    if Ex.shape[-2] < Ex.shape[-1]:
        raise ValueError(
            f"align_embeddings needs at least k = {Ex.shape[-1]} pairs, got "
            f"{Ex.shape[-2]}"
        )
    return torch.linalg.lstsq(Ex, Ey).solution
