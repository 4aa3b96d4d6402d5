"""Experiment designs on real, labelled two-view data (book chapter 5).

* splits and scaling: :func:`stratified_split`, :func:`center_scale`;
* wrong pairs on real data: :func:`rematch` re-pairs a fraction of the rows at random;
* class-level designs (the paper's sections 5.2 and 5.3): :func:`class_pairs` pairs each item
  with a random item of the same class of the other modality; :func:`noisy_class_graph` flips the
  entries of the same-class edge matrix with probability p; :func:`cocluster_graph` denoises it
  by spectral co-clustering; :func:`graph_closed_form` is the linear loss's global minimiser when
  the positives are the edges of a bipartite graph;
* downstream scores: :func:`linear_probe_accuracy`, :func:`class_retrieval_accuracy`,
  :func:`prototype_accuracy` (one example per class of the other modality).

Labels are long tensors of class indices 0..C-1. Randomness comes from a seed.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ._validation import (
    check_fraction,
    check_int,
    check_matrix,
    check_pair,
    check_rank,
    check_real,
    check_same_device,
    check_spectrum,
    tiny,
)
from .data import make_generator
from .solvers import SolverResult, factorize, truncated_svd

__all__ = [
    "stratified_split",
    "center_scale",
    "rematch",
    "class_pairs",
    "noisy_class_graph",
    "cocluster_graph",
    "graph_closed_form",
    "linear_probe_accuracy",
    "class_retrieval_accuracy",
    "prototype_accuracy",
]


def _check_labels(labels, name: str, n: int | None = None) -> torch.Tensor:
    if (
        not isinstance(labels, torch.Tensor)
        or labels.ndim != 1
        or labels.is_floating_point()
        or labels.is_complex()
        or labels.dtype == torch.bool
    ):
        raise TypeError(f"{name} must be a 1-d integer tensor of class indices")
    if n is not None and labels.shape[0] != n:
        raise ValueError(
            f"{name} must have {n} entries (one per row), got {labels.shape[0]}"
        )
    if labels.numel() and int(labels.min()) < 0:
        raise ValueError(f"{name} must hold class indices >= 0")
    return labels.long()


def stratified_split(
    labels, n_per_class: int, *, seed=0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices (train, rest): ``n_per_class`` random rows of every class for training, the rest after.

    Both index tensors are sorted by class, then by random order within the class.
    """
    labels = _check_labels(labels, "labels")
    counts = torch.bincount(labels)
    n_per_class = check_int(
        n_per_class, "n_per_class", low=1, high=int(counts[counts > 0].min()) - 1
    )
    order = torch.randperm(labels.shape[0], generator=make_generator(seed))
    order = order[
        torch.sort(labels[order], stable=True).indices
    ]  # by class, random within
    rank = torch.arange(order.shape[0]) - torch.repeat_interleave(
        torch.cumsum(counts, 0) - counts, counts
    )
    return order[rank < n_per_class], order[rank >= n_per_class]


def center_scale(X_train, *others) -> tuple[torch.Tensor, ...]:
    """Centre every column on the training mean and divide by the training root-mean-square row
    norm, so that E||x||^2 = 1 on the training rows. Relative column scales are kept (unlike
    z-scoring), hence so is any heteroskedasticity. Returns (X_train, *others) transformed."""
    X_train = check_matrix(X_train, "X_train", min_rows=2, batch=False)
    mean = X_train.mean(0)
    scale = (X_train - mean).pow(2).sum(1).mean().sqrt()
    if float(scale) <= tiny(X_train):
        raise ValueError(
            "X_train has zero variance (every column constant): it cannot be scaled"
        )
    out = [(X_train - mean) / scale]
    for k, O in enumerate(others):
        O = check_matrix(O, f"others[{k}]", batch=False)
        if O.shape[1] != X_train.shape[1]:
            raise ValueError(
                f"others[{k}] has {O.shape[1]} columns, X_train has {X_train.shape[1]}"
            )
        out.append((O - mean) / scale)
    return tuple(out)


def rematch(Y, fraction: float, *, seed=0) -> tuple[torch.Tensor, torch.Tensor]:
    """Re-pair a random ``fraction`` of the rows of Y (n, d): the chosen rows are shifted cyclically
    in a random order, so every chosen row gets another row's partner. Returns (Y_rematched,
    is_true) with is_true (n,) bool marking the rows left untouched."""
    Y = check_matrix(Y, "Y", min_rows=2, batch=False)
    fraction = check_fraction(fraction, "fraction")
    n = Y.shape[0]
    m = round(fraction * n)
    chosen = torch.randperm(n, generator=make_generator(seed))[:m]
    idx = torch.arange(n)
    if m >= 2:
        idx[chosen] = chosen.roll(1)
    return Y[idx.to(Y.device)], (idx == torch.arange(n)).to(Y.device)


def class_pairs(labels_x, labels_y, *, seed=0) -> torch.Tensor:
    """For every row of modality 1, the index of a uniformly random row of modality 2 with the
    same label (the class-paired design). Every label of ``labels_x`` must occur in ``labels_y``."""
    lx, ly = _check_labels(labels_x, "labels_x"), _check_labels(labels_y, "labels_y")
    C = int(max(lx.max(), ly.max())) + 1
    counts = torch.bincount(ly, minlength=C)
    if bool((counts[lx] == 0).any()):
        raise ValueError("every class of labels_x must occur in labels_y")
    g = make_generator(seed)
    order = torch.sort(ly, stable=True).indices  # rows of y grouped by class
    start = torch.cumsum(counts, 0) - counts
    u = torch.rand(lx.shape[0], generator=g, dtype=torch.float64)
    pick = (u * counts[lx]).long().clamp_max(counts[lx] - 1)
    return order[start[lx] + pick]


def noisy_class_graph(
    labels_x, labels_y, p: float, *, seed=0
) -> tuple[torch.Tensor, torch.Tensor]:
    """The class-level bipartite graph A_ij = 1[label_x_i == label_y_j] with every entry flipped
    independently with probability p. Returns (A_noisy, A_true), float64 of shape (n_x, n_y)."""
    lx, ly = _check_labels(labels_x, "labels_x"), _check_labels(labels_y, "labels_y")
    p = check_fraction(p, "p")
    A = (lx[:, None] == ly[None, :]).double()
    flip = torch.rand(A.shape, generator=make_generator(seed), dtype=torch.float64) < p
    return torch.where(flip, 1 - A, A), A


def cocluster_graph(A, n_clusters: int, *, seed=0) -> torch.Tensor:
    """Denoise a bipartite graph by spectral co-clustering (Dhillon, 2001; scikit-learn's
    ``SpectralCoclustering``): rows and columns are clustered jointly from the singular vectors of
    D1^{-1/2} A D2^{-1/2}, and the returned graph joins i and j when they share a co-cluster."""
    from sklearn.cluster import SpectralCoclustering

    A = check_matrix(A, "A", min_rows=2, batch=False)
    n_clusters = check_int(n_clusters, "n_clusters", low=2, high=min(A.shape))
    if (
        bool((A < 0).any())
        or bool((A.sum(0) == 0).any())
        or bool((A.sum(1) == 0).any())
    ):
        raise ValueError("A must be non-negative with no empty row or column")
    model = SpectralCoclustering(
        n_clusters=n_clusters, random_state=check_int(seed, "seed", low=0)
    )
    model.fit(A.double().cpu().numpy())
    rows = torch.as_tensor(model.row_labels_)
    cols = torch.as_tensor(model.column_labels_)
    return (rows[:, None] == cols[None, :]).to(A.dtype).to(A.device)


def graph_closed_form(X, Y, A, r: int, *, rho: float = 1.0) -> SolverResult:
    """Global minimiser of the linear loss when the positives are the edges of a bipartite graph.

    With edge weights A (n_x, n_y), the linear loss -mean_{edges} s_ij + mean_{all pairs} s_ij
    + (rho/2)||G1^T G2||_F^2 is minimised by G1^T G2 = SVD_r(S_A) / rho, where

        S_A = X^T A Y / sum(A) - xbar ybar^T

    (for A = I this is the centred cross-covariance up to the factor (n-1)/n).
    """
    X = check_matrix(X, "X", min_rows=2, batch=False)
    Y = check_matrix(Y, "Y", min_rows=2, batch=False)
    A = check_matrix(A, "A", batch=False)
    check_same_device(X=X, Y=Y)
    if A.shape != (X.shape[0], Y.shape[0]):
        raise ValueError(
            f"A must have shape (rows of X, rows of Y) = ({X.shape[0]}, {Y.shape[0]}), "
            f"got {tuple(A.shape)}"
        )
    if bool((A < 0).any()) or float(A.sum()) <= 0:
        raise ValueError("A must be non-negative with at least one edge")
    r = check_rank(r, X.shape[1], Y.shape[1])
    rho = check_real(rho, "rho", low=0.0, low_open=True)
    A = A.to(X.dtype)
    S = X.T @ A @ Y / A.sum() - X.mean(0)[:, None] * Y.mean(0)[None, :]
    U, sig, V = truncated_svd(S, r)
    check_spectrum(sig, r, "the graph cross-covariance S_A of X and Y", "X and Y")
    G1, G2 = factorize(U, sig, V, rho)
    return SolverResult(G1, G2, U, V, sig)


def linear_probe_accuracy(
    Z_train, y_train, Z_test, y_test, *, ridge: float = 1e-3
) -> float:
    """Accuracy of a linear probe: ridge regression (with intercept) of one-hot labels on the
    embeddings Z_train (n, r), predicting the arg-max class on Z_test (m, r)."""
    Z_train = check_matrix(Z_train, "Z_train", min_rows=2, batch=False)
    Z_test = check_matrix(Z_test, "Z_test", batch=False)
    check_same_device(Z_train=Z_train, Z_test=Z_test)
    if Z_test.shape[1] != Z_train.shape[1]:
        raise ValueError(
            f"Z_test has {Z_test.shape[1]} columns, Z_train has {Z_train.shape[1]}"
        )
    y_train = _check_labels(y_train, "y_train", Z_train.shape[0])
    y_test = _check_labels(y_test, "y_test", Z_test.shape[0])
    ridge = check_real(ridge, "ridge", low=0.0, low_open=True)
    ones = lambda Z: torch.cat([Z, torch.ones_like(Z[:, :1])], 1)  # noqa: E731
    Zt = ones(Z_train)
    T = F.one_hot(y_train, int(max(y_train.max(), y_test.max())) + 1).to(Zt.dtype)
    eye = torch.eye(Zt.shape[1], dtype=Zt.dtype, device=Zt.device)
    W = torch.linalg.solve(Zt.T @ Zt + ridge * Zt.shape[0] * eye, Zt.T @ T)
    return float(((ones(Z_test) @ W).argmax(1) == y_test.to(Zt.device)).double().mean())


def class_retrieval_accuracy(Zx, Zy, labels_x, labels_y) -> float:
    """Fraction of rows of Zx (m, r) whose most cosine-similar row of Zy (m', r) has the same label."""
    Zx, Zy = check_matrix(Zx, "Zx", batch=False), check_matrix(Zy, "Zy", batch=False)
    check_same_device(Zx=Zx, Zy=Zy)
    if Zy.shape[1] != Zx.shape[1]:
        raise ValueError(
            f"Zy has {Zy.shape[1]} columns, Zx has {Zx.shape[1]}: embed both in one space"
        )
    lx = _check_labels(labels_x, "labels_x", Zx.shape[0]).to(Zx.device)
    ly = _check_labels(labels_y, "labels_y", Zy.shape[0]).to(Zx.device)
    best = (F.normalize(Zx, dim=1) @ F.normalize(Zy, dim=1).T).argmax(1)
    return float((ly[best] == lx).double().mean())


def prototype_accuracy(
    Zx, labels_x, Zy, labels_y, *, draws: int = 20, seed=0
) -> torch.Tensor:
    """Classify each row of Zx by the most cosine-similar of C prototypes, one random row of Zy per
    class; repeated for ``draws`` independent draws of the prototypes. Returns the accuracy of
    every draw, shape (draws,) (the paper's section 5.3 metric; chance 1/C)."""
    Zx, Zy = check_matrix(Zx, "Zx", batch=False), check_matrix(Zy, "Zy", batch=False)
    check_same_device(Zx=Zx, Zy=Zy)
    if Zy.shape[1] != Zx.shape[1]:
        raise ValueError(
            f"Zy has {Zy.shape[1]} columns, Zx has {Zx.shape[1]}: embed both in one space"
        )
    lx = _check_labels(labels_x, "labels_x", Zx.shape[0]).to(Zx.device)
    ly = _check_labels(labels_y, "labels_y", Zy.shape[0])
    draws = check_int(draws, "draws")
    C = int(ly.max()) + 1
    counts = torch.bincount(ly, minlength=C)
    if bool((counts == 0).any()):
        raise ValueError(f"labels_y must contain every class 0..{C - 1}")
    order = torch.sort(ly, stable=True).indices
    start = torch.cumsum(counts, 0) - counts
    u = torch.rand(draws, C, generator=make_generator(seed), dtype=torch.float64)
    protos = order[start + (u * counts).long().clamp_max(counts - 1)]  # (draws, C)
    P = F.normalize(Zy, dim=1)[protos.to(Zy.device)]  # (draws, C, r)
    pred = (F.normalize(Zx, dim=1) @ P.transpose(1, 2)).argmax(-1)  # (draws, m)
    return (pred == lx).double().mean(1).cpu()
