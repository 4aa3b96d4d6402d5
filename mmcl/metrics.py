"""Metrics: sinTheta distance between subspaces and top-1 cross-modal retrieval accuracy."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ._validation import check_bool, check_int, check_matrix, check_same_device

__all__ = ["orthonormal_basis", "sin_theta_distance", "retrieval_accuracy"]


def orthonormal_basis(A) -> torch.Tensor:
    """An orthonormal basis (..., d, k) of the column span of A (..., d, k), k <= d."""
    A = check_matrix(A, "A")
    if A.shape[-1] > A.shape[-2]:
        raise ValueError(
            f"A must have at most as many columns as rows, got shape {tuple(A.shape)}; "
            "pass G.T for a representation G of shape (r, d)"
        )
    U, sig, _ = torch.linalg.svd(A, full_matrices=False)
    tol = max(A.shape[-2:]) * torch.finfo(A.dtype).eps * sig[..., :1]
    if bool((sig[..., -1:] <= tol).any()):
        rank = int((sig > tol).sum(-1).min())
        raise ValueError(
            f"A has rank {rank} < its {A.shape[-1]} columns: its span is not the span of "
            "a basis; pass linearly independent columns"
        )
    return U


def _check_full_column_rank(R, name: str) -> None:
    """Raise unless the triangular QR factor R (..., k, k) has no (numerically) zero pivot."""
    diag = R.diagonal(dim1=-2, dim2=-1).abs()
    if diag.numel() == 0:
        return
    # Householder QR is backward stable: a pivot below k * eps * max|pivot| is rounding noise.
    tol = R.shape[-1] * torch.finfo(R.dtype).eps * diag.amax(-1, keepdim=True)
    if bool((diag <= tol).any()):
        raise ValueError(
            f"{name} must have full column rank (its columns span a subspace of "
            f"dimension {R.shape[-1]}); got a rank-deficient basis"
        )


def sin_theta_distance(A, B) -> torch.Tensor:
    """||sin Theta(span A, span B)||_F = ||(I - P_B) Q_A||_F for bases A (..., d, r1), B (..., d, r2).

    Zero for equal spans, invariant to a change of basis, at most sqrt(r1); equal to
    sqrt(sum_k sin^2 theta_k) over the principal angles theta_k. For a representation G1 of
    shape (r, d1), compare ``sin_theta_distance(G1.T, U1)``.

    Computed without cancellation: with A = Q_A R_A (QR), (I - P_B) Q_A = E R_A^{-1} where
    E = A - Q_B (Q_B^T A) is the part of A outside span B, formed from A itself (and projected out
    twice, as in classical Gram-Schmidt with re-orthogonalisation). Its absolute error is a few
    machine epsilons times cond(A), so small distances keep their relative accuracy, down to the
    rounding of the inputs themselves. The textbook form sqrt(r1 - ||Q_B^T Q_A||_F^2) cancels and
    cannot resolve distances below about sqrt(eps) (1e-8 in float64).
    """
    A, B = check_matrix(A, "A"), check_matrix(B, "B")
    check_same_device(A=A, B=B)
    if A.shape[-2] != B.shape[-2]:
        raise ValueError(
            f"A and B must live in the same dimension d, got {A.shape[-2]} and {B.shape[-2]}"
        )
    for name, M in (("A", A), ("B", B)):
        if M.shape[-1] > M.shape[-2]:
            raise ValueError(
                f"{name} must have at most as many columns as rows, got shape "
                f"{tuple(M.shape)}; pass G.T for a representation G of shape (r, d)"
            )
    QB, RB = torch.linalg.qr(B)  # (..., d, r2), (..., r2, r2)
    RA = torch.linalg.qr(A).R  # (..., r1, r1), A = Q_A R_A
    for name, R in (("A", RA), ("B", RB)):
        _check_full_column_rank(R, name)
    E = A - QB @ (QB.transpose(-1, -2) @ A)  # (I - P_B) A, (..., d, r1)
    E = E - QB @ (QB.transpose(-1, -2) @ E)  # second pass: E exactly outside B
    D = torch.linalg.solve_triangular(
        RA, E, upper=True, left=False
    )  # E R_A^{-1} = (I - P_B) Q_A
    return torch.linalg.matrix_norm(D)


def retrieval_accuracy(
    Zx, Zy, *, normalize: bool = True, chunk: int = 4096
) -> torch.Tensor:
    """Top-1 retrieval accuracy: the fraction of i whose most similar Zy row is row i.

    Zx (..., m, r), Zy (..., m, r) are paired embeddings; similarity is cosine (``normalize``)
    or the inner product. Works in row blocks of ``chunk`` so an m x m matrix is never stored.
    """
    Zx, Zy = check_matrix(Zx, "Zx"), check_matrix(Zy, "Zy")
    check_same_device(Zx=Zx, Zy=Zy)
    if Zx.shape != Zy.shape:
        raise ValueError(
            f"Zx and Zy must have the same shape (..., m, r), got {tuple(Zx.shape)} and {tuple(Zy.shape)}"
        )
    chunk = check_int(chunk, "chunk")
    if check_bool(normalize, "normalize"):
        Zx, Zy = F.normalize(Zx, dim=-1), F.normalize(Zy, dim=-1)
    m = Zx.shape[-2]
    hits = torch.zeros(Zx.shape[:-2], dtype=torch.long, device=Zx.device)
    for start in range(0, m, chunk):
        sim = Zx[..., start : start + chunk, :] @ Zy.transpose(-1, -2)
        target = torch.arange(start, start + sim.shape[-2], device=Zx.device)
        hits += (sim.argmax(-1) == target).sum(-1)
    return hits.to(Zx.dtype) / m
