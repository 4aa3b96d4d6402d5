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
    # ||QA - QB (QB^T QA)||_F directly: sqrt(r1 - ||QB^T QA||_F^2) would resolve only sqrt(eps)
    return torch.linalg.matrix_norm(QA - QB @ (QB.transpose(-1, -2) @ QA))


def retrieval_accuracy(Zx, Zy, *, normalize: bool = True, chunk: int = 4096) -> torch.Tensor:
    """Top-1 retrieval accuracy: the fraction of i whose most similar Zy row is row i.

    Zx (..., m, r), Zy (..., m, r) are paired embeddings; similarity is cosine (``normalize``)
    or the inner product. Works in row blocks of ``chunk`` so an m x m matrix is never stored.
    """
    Zx, Zy = check_matrix(Zx, "Zx"), check_matrix(Zy, "Zy")
    check_same_device(Zx=Zx, Zy=Zy)
    if Zx.shape != Zy.shape:
        raise ValueError(f"Zx and Zy must have the same shape (..., m, r), got {tuple(Zx.shape)} and {tuple(Zy.shape)}")
    chunk = check_int(chunk, "chunk")
    if normalize:
        Zx, Zy = F.normalize(Zx, dim=-1), F.normalize(Zy, dim=-1)
    m = Zx.shape[-2]
    hits = torch.zeros(Zx.shape[:-2], dtype=torch.long, device=Zx.device)
    for start in range(0, m, chunk):
        sim = Zx[..., start:start + chunk, :] @ Zy.transpose(-1, -2)
        target = torch.arange(start, start + sim.shape[-2], device=Zx.device)
        hits += (sim.argmax(-1) == target).sum(-1)
    return hits.to(Zx.dtype) / m
