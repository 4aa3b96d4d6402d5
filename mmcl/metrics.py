"""Metrics: subspace distance, retrieval accuracy and downstream scores on labelled
data.

* ``sin_theta_distance`` (with ``orthonormal_basis``): how far a learned span is from
  the truth;
* ``retrieval_accuracy``: top-1 cross-modal retrieval of the true partner;
* ``linear_probe_accuracy``, ``class_retrieval_accuracy``, ``prototype_accuracy``:
  downstream scores of embeddings of labelled data (book chapter 5; the paper's sections
  5.2 and 5.3).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ._validation import (
    check_bool,
    check_int,
    check_labels,
    check_matrix,
    check_real,
    check_same_device,
)
from .sampling import make_generator, random_class_members

__all__ = [
    "orthonormal_basis",
    "sin_theta_distance",
    "retrieval_accuracy",
    "linear_probe_accuracy",
    "class_retrieval_accuracy",
    "prototype_accuracy",
]


def orthonormal_basis(A) -> torch.Tensor:
    """An orthonormal basis (..., d, k) of the column span of A (..., d, k), k <= d.

    Parameters
    ----------
    A : torch.Tensor
        Tensor of shape (..., d, k), k <= d (pass G.T for a representation G (r, d)).

    Returns
    -------
    torch.Tensor
        Tensor of shape (..., d, k) with orthonormal columns.
    """
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
            f"A has rank {rank} < its {A.shape[-1]} columns: its span is not the span "
            "of "
            "a basis; pass linearly independent columns"
        )
    return U


def _check_full_column_rank(R, name: str) -> None:
    """Raise unless the triangular QR factor R (..., k, k) has no (numerically) zero
    pivot."""
    diag = R.diagonal(dim1=-2, dim2=-1).abs()
    if diag.numel() == 0:
        return
    # Householder QR is backward stable: a pivot below k * eps * max|pivot| is rounding
    # noise.
    tol = R.shape[-1] * torch.finfo(R.dtype).eps * diag.amax(-1, keepdim=True)
    if bool((diag <= tol).any()):
        raise ValueError(
            f"{name} must have full column rank (its columns span a subspace of "
            f"dimension {R.shape[-1]}); got a rank-deficient basis"
        )


def sin_theta_distance(A, B) -> torch.Tensor:
    """||sin Theta(span A, span B)||_F = ||(I - P_B) Q_A||_F.

    Zero for equal spans, invariant to a change of basis, at most sqrt(r1); equal to
    sqrt(sum_k sin^2 theta_k) over the principal angles theta_k. For a representation
    G1 of shape (r, d1), compare ``sin_theta_distance(G1.T, U1)``.

    Computed without cancellation: with A = Q_A R_A (QR), (I - P_B) Q_A = E R_A^{-1}
    where E = A - Q_B (Q_B^T A) is the part of A outside span B, formed from A itself
    (and projected out twice, as in classical Gram-Schmidt with re-orthogonalisation).
    Its absolute error is a few machine epsilons times cond(A), so small distances keep
    their relative accuracy, down to the rounding of the inputs themselves. The textbook
    form sqrt(r1 - ||Q_B^T Q_A||_F^2) cancels and cannot resolve distances below about
    sqrt(eps) (1e-8 in float64).

    Parameters
    ----------
    A : torch.Tensor
        Tensor of shape (..., d, r1): a basis of full column rank (not necessarily
        orthonormal).
    B : torch.Tensor
        Tensor of shape (..., d, r2): another basis of full column rank.

    Returns
    -------
    torch.Tensor
        Tensor of shape (...,).
    """
    A, B = check_matrix(A, "A"), check_matrix(B, "B")
    check_same_device(A=A, B=B)
    if A.shape[-2] != B.shape[-2]:
        raise ValueError(
            "A and B must live in the same dimension d, got "
            f"{A.shape[-2]} and {B.shape[-2]}"
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
    D = torch.linalg.solve_triangular(RA, E, upper=True, left=False)  # E R_A^{-1}
    return torch.linalg.matrix_norm(D)


def retrieval_accuracy(
    Zx, Zy, *, k: int = 1, normalize: bool = True, chunk: int = 4096
) -> torch.Tensor:
    """Top-k retrieval accuracy: the fraction of i for which row i of Zy is among the k
    rows most similar to row i of Zx.

    Zx (..., m, r), Zy (..., m, r) are paired embeddings; similarity is cosine
    (``normalize``) or the inner product. Ties count against the target: i is retrieved
    when fewer than k other rows are at least as similar as row i (so identical
    candidates cannot win by their order, and the result does not depend on the CPU).
    Works in row blocks of ``chunk`` so an m x m matrix is never stored.

    Parameters
    ----------
    Zx : torch.Tensor
        Tensor of shape (..., m, r): the embeddings of modality 1.
    Zy : torch.Tensor
        Tensor of shape (..., m, r): the embeddings of modality 2 (row i pairs row i).
    k : int, default=1
        How many of the most similar rows count as a hit (1 <= k <= m).
    normalize : bool, default=True
        Cosine similarity instead of the inner product.
    chunk : int, default=4096
        Rows per block.

    Returns
    -------
    torch.Tensor
        Tensor of shape (...,): the accuracy.
    """
    Zx, Zy = check_matrix(Zx, "Zx"), check_matrix(Zy, "Zy")
    check_same_device(Zx=Zx, Zy=Zy)
    if Zx.shape != Zy.shape:
        raise ValueError(
            f"Zx and Zy must have the same shape (..., m, r), got {tuple(Zx.shape)} "
            f"and {tuple(Zy.shape)}"
        )
    chunk = check_int(chunk, "chunk")
    m = Zx.shape[-2]
    k = check_int(k, "k", low=1, high=m)
    if check_bool(normalize, "normalize"):
        Zx, Zy = F.normalize(Zx, dim=-1), F.normalize(Zy, dim=-1)
    # a tie is a difference below the rounding error of an r-term dot product of unit
    # vectors (at most about r * eps), with a factor 8 of headroom
    tol = 8 * Zx.shape[-1] * torch.finfo(Zx.dtype).eps
    hits = torch.zeros(Zx.shape[:-2], dtype=torch.long, device=Zx.device)
    for start in range(0, m, chunk):
        sim = Zx[..., start : start + chunk, :] @ Zy.transpose(-1, -2)  # (..., c, m)
        target = torch.arange(start, start + sim.shape[-2], device=Zx.device)
        own = sim.gather(
            -1, target.expand(*sim.shape[:-1]).unsqueeze(-1)
        )  # (..., c, 1)
        scale = 1.0 if normalize else own.abs().clamp_min(1.0)
        rank = (sim >= own - tol * scale).sum(-1) - 1  # others as similar
        hits += (rank < k).sum(-1)
    return hits.to(Zx.dtype) / m


def linear_probe_accuracy(
    Z_train, y_train, Z_test, y_test, *, ridge: float = 1e-3
) -> float:
    """Accuracy of a linear probe: ridge regression (with intercept) of one-hot labels
    on the embeddings Z_train (n, r), predicting the arg-max class on Z_test (m, r).

    Parameters
    ----------
    Z_train : torch.Tensor
        Tensor of shape (n, r): training embeddings.
    y_train : torch.Tensor
        Long tensor of shape (n,): their labels.
    Z_test : torch.Tensor
        Tensor of shape (m, r): test embeddings.
    y_test : torch.Tensor
        Long tensor of shape (m,): their labels.
    ridge : float, default=1e-3
        The ridge penalty, relative to n.

    Returns
    -------
    float
        The test accuracy.
    """
    Z_train = check_matrix(Z_train, "Z_train", min_rows=2, batch=False)
    Z_test = check_matrix(Z_test, "Z_test", batch=False)
    check_same_device(Z_train=Z_train, Z_test=Z_test)
    if Z_test.shape[1] != Z_train.shape[1]:
        raise ValueError(
            f"Z_test has {Z_test.shape[1]} columns, Z_train has {Z_train.shape[1]}"
        )
    y_train = check_labels(y_train, "y_train", Z_train.shape[0])
    y_test = check_labels(y_test, "y_test", Z_test.shape[0])
    ridge = check_real(ridge, "ridge", low=0.0, low_open=True)
    ones = lambda Z: torch.cat([Z, torch.ones_like(Z[:, :1])], 1)  # noqa: E731
    Zt = ones(Z_train)
    T = F.one_hot(y_train, int(max(y_train.max(), y_test.max())) + 1).to(Zt.dtype)
    eye = torch.eye(Zt.shape[1], dtype=Zt.dtype, device=Zt.device)
    W = torch.linalg.solve(Zt.T @ Zt + ridge * Zt.shape[0] * eye, Zt.T @ T)
    return float(((ones(Z_test) @ W).argmax(1) == y_test.to(Zt.device)).double().mean())


def class_retrieval_accuracy(Zx, Zy, labels_x, labels_y) -> float:
    """Fraction of rows of Zx (m, r) whose most cosine-similar row of Zy (m', r) has the
    same label.

    Parameters
    ----------
    Zx : torch.Tensor
        Tensor of shape (m, r): embeddings of modality 1.
    Zy : torch.Tensor
        Tensor of shape (m', r): embeddings of modality 2.
    labels_x : torch.Tensor
        Long tensor of shape (m,).
    labels_y : torch.Tensor
        Long tensor of shape (m',).

    Returns
    -------
    float
        The accuracy.
    """
    Zx, Zy = check_matrix(Zx, "Zx", batch=False), check_matrix(Zy, "Zy", batch=False)
    check_same_device(Zx=Zx, Zy=Zy)
    if Zy.shape[1] != Zx.shape[1]:
        raise ValueError(
            f"Zy has {Zy.shape[1]} columns, Zx has {Zx.shape[1]}: embed both in one "
            "space"
        )
    lx = check_labels(labels_x, "labels_x", Zx.shape[0]).to(Zx.device)
    ly = check_labels(labels_y, "labels_y", Zy.shape[0]).to(Zx.device)
    best = (F.normalize(Zx, dim=1) @ F.normalize(Zy, dim=1).T).argmax(1)
    return float((ly[best] == lx).double().mean())


def prototype_accuracy(
    Zx, labels_x, Zy, labels_y, *, draws: int = 20, seed=0
) -> torch.Tensor:
    """Classify each row of Zx by the most cosine-similar of C prototypes, one random
    row of Zy per class; repeated for ``draws`` independent draws of the prototypes.
    Returns the accuracy of every draw, shape (draws,) (the paper's section 5.3 metric;
    chance 1/C).

    Parameters
    ----------
    Zx : torch.Tensor
        Tensor of shape (m, r): the embeddings to classify.
    labels_x : torch.Tensor
        Long tensor of shape (m,): their labels.
    Zy : torch.Tensor
        Tensor of shape (m', r): the embeddings the prototypes come from.
    labels_y : torch.Tensor
        Long tensor of shape (m',): their labels, every class 0..C-1 present.
    draws : int, default=20
        Independent draws of the prototypes.
    seed : int or torch.Generator, default=0
        The seed of the draws.

    Returns
    -------
    torch.Tensor
        Tensor of shape (draws,): the accuracy of every draw.
    """
    Zx, Zy = check_matrix(Zx, "Zx", batch=False), check_matrix(Zy, "Zy", batch=False)
    check_same_device(Zx=Zx, Zy=Zy)
    if Zy.shape[1] != Zx.shape[1]:
        raise ValueError(
            f"Zy has {Zy.shape[1]} columns, Zx has {Zx.shape[1]}: embed both in one "
            "space"
        )
    lx = check_labels(labels_x, "labels_x", Zx.shape[0]).to(Zx.device)
    ly = check_labels(labels_y, "labels_y", Zy.shape[0])
    draws = check_int(draws, "draws")
    C = int(ly.max()) + 1
    if bool((torch.bincount(ly, minlength=C) == 0).any()):
        raise ValueError(f"labels_y must contain every class 0..{C - 1}")
    classes = torch.arange(C).expand(draws, C)
    protos = random_class_members(
        ly, classes, generator=make_generator(seed)
    )  # (draws, C)
    P = F.normalize(Zy, dim=1)[protos.to(Zy.device)]  # (draws, C, r)
    pred = (F.normalize(Zx, dim=1) @ P.transpose(1, 2)).argmax(-1)  # (draws, m)
    return (pred == lx).double().mean(1).cpu()
