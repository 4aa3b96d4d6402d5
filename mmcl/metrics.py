"""Metrics: sinTheta distance between subspaces and top-1 cross-modal retrieval accuracy."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ._validation import check_int, check_matrix, check_same_device

__all__ = ["orthonormal_basis", "sin_theta_distance", "retrieval_accuracy"]


def orthonormal_basis(A) -> torch.Tensor:
    """An orthonormal basis (..., d, k) of the column span of A (..., d, k), k <= d."""
    A = check_matrix(A, "A")
    if A.shape[-1] > A.shape[-2]:
        raise ValueError(f"A must have at most as many columns as rows, got shape {tuple(A.shape)}; "
                         "pass G.T for a representation G of shape (r, d)")
    U, _, _ = torch.linalg.svd(A, full_matrices=False)
    return U


def sin_theta_distance(A, B) -> torch.Tensor:
    """||sin Theta(span A, span B)||_F = ||(I - P_B) Q_A||_F for bases A (..., d, r1), B (..., d, r2).

    Zero for equal spans, invariant to a change of basis, at most sqrt(r1). For a representation
    G1 of shape (r, d1), compare ``sin_theta_distance(G1.T, U1)``.
    """
    A, B = check_matrix(A, "A"), check_matrix(B, "B")
    check_same_device(A=A, B=B)
    if A.shape[-2] != B.shape[-2]:
        raise ValueError(f"A and B must live in the same dimension d, got {A.shape[-2]} and {B.shape[-2]}")
    QA, QB = orthonormal_basis(A), orthonormal_basis(B)
    proj = QB.transpose(-1, -2) @ QA
    sq = QA.shape[-1] - (proj ** 2).sum((-1, -2))
    return sq.clamp_min(0).sqrt()


def retrieval_accuracy(Zx, Zy, *, k: int = 1, normalize: bool = True,
                       chunk: int = 4096) -> torch.Tensor:
    """Top-k retrieval accuracy: the fraction of i for which row i of Zy is among the k rows most
    similar to row i of Zx.

    Zx (..., m, r), Zy (..., m, r) are paired embeddings; similarity is cosine (``normalize``)
    or the inner product. Ties count against the target: i is retrieved when fewer than k other
    rows are at least as similar as row i (so identical candidates cannot win by their order).
    Works in row blocks of ``chunk`` so an m x m matrix is never stored.
    """
    Zx, Zy = check_matrix(Zx, "Zx"), check_matrix(Zy, "Zy")
    check_same_device(Zx=Zx, Zy=Zy)
    if Zx.shape != Zy.shape:
        raise ValueError(f"Zx and Zy must have the same shape (..., m, r), got {tuple(Zx.shape)} and {tuple(Zy.shape)}")
    chunk = check_int(chunk, "chunk")
    m = Zx.shape[-2]
    k = check_int(k, "k", low=1, high=m)
    if normalize:
        Zx, Zy = F.normalize(Zx, dim=-1), F.normalize(Zy, dim=-1)
    # a tie is a difference below the rounding error of an r-term dot product of unit vectors
    # (at most about r * eps), with a factor 8 of headroom
    tol = 8 * Zx.shape[-1] * torch.finfo(Zx.dtype).eps
    hits = torch.zeros(Zx.shape[:-2], dtype=torch.long, device=Zx.device)
    for start in range(0, m, chunk):
        sim = Zx[..., start:start + chunk, :] @ Zy.transpose(-1, -2)       # (..., c, m)
        target = torch.arange(start, start + sim.shape[-2], device=Zx.device)
        own = sim.gather(-1, target.expand(*sim.shape[:-1]).unsqueeze(-1))  # (..., c, 1)
        scale = 1.0 if normalize else own.abs().clamp_min(1.0)
        rank = (sim >= own - tol * scale).sum(-1) - 1                       # others as similar
        hits += (rank < k).sum(-1)
    return hits.to(Zx.dtype) / m
