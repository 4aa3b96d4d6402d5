"""Experiment designs on real, labelled two-view data (book chapter 5).

* splits and scaling: :func:`stratified_split`, :func:`center_scale`;
* wrong pairs on real data: :func:`rematch` re-pairs a fraction of the rows at random;
* class-level designs (the paper's sections 5.2 and 5.3): :func:`class_pairs` pairs each
  item with a random item of the same class of the other modality;
  :func:`noisy_class_graph` flips the entries of the same-class edge matrix with
  probability p; :func:`cocluster_graph` denoises it by spectral co-clustering.

The solver for graph positives is :func:`mmcl.solvers.graph_closed_form`; the downstream
scores (linear probe, class retrieval, prototypes) are in :mod:`mmcl.metrics`. Labels
are long tensors of class indices 0..C-1. Randomness comes from a seed.
"""

from __future__ import annotations

import torch

from .._validation import check_fraction, check_int, check_labels, check_matrix, tiny
from ..sampling import make_generator, random_class_members

__all__ = [
    "stratified_split",
    "center_scale",
    "rematch",
    "class_pairs",
    "noisy_class_graph",
    "cocluster_graph",
]


def stratified_split(
    labels, n_per_class: int, *, seed=0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices (train, rest): ``n_per_class`` random rows of every class for training,
    the rest after.

    Both index tensors are sorted by class, then by random order within the class.

    Parameters
    ----------
    labels : torch.Tensor
        Long tensor of shape (n,): class indices.
    n_per_class : int
        Training rows per class (fewer than the smallest class).
    seed : int or torch.Generator, default=0
        The seed of the draw.

    Returns
    -------
    tuple of torch.Tensor
        Long index tensors (train, rest).
    """
    labels = check_labels(labels, "labels")
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
    """Centre every column on the training mean and divide by the training
    root-mean-square row norm, so that E||x||^2 = 1 on the training rows. Relative
    column scales are kept (unlike z-scoring), hence so is any heteroskedasticity.
    Returns ``(X_train, *others)`` transformed.

    Parameters
    ----------
    X_train : torch.Tensor
        Tensor of shape (n, d): the training rows.
    *others : torch.Tensor
        Tensors of shape (m, d) transformed the same way.

    Returns
    -------
    tuple of torch.Tensor
        ``(X_train, *others)`` centred and scaled.
    """
    X_train = check_matrix(X_train, "X_train", min_rows=2, batch=False)
    mean = X_train.mean(0)
    scale = (X_train - mean).pow(2).sum(1).mean().sqrt()
    if float(scale) <= tiny(X_train):
        raise ValueError(
            "X_train has zero variance (every column constant): it cannot be scaled"
        )
    out = [(X_train - mean) / scale]
    for k, other in enumerate(others):
        other = check_matrix(other, f"others[{k}]", batch=False)
        if other.shape[1] != X_train.shape[1]:
            raise ValueError(
                f"others[{k}] has {other.shape[1]} columns, X_train has "
                f"{X_train.shape[1]}"
            )
        out.append((other - mean) / scale)
    return tuple(out)


def rematch(Y, fraction: float, *, seed=0) -> tuple[torch.Tensor, torch.Tensor]:
    """Re-pair a random ``fraction`` of the rows of Y (n, d): the chosen rows are
    shifted cyclically in a random order, so every chosen row gets another row's
    partner. Returns (Y_rematched, is_true) with is_true (n,) bool marking the rows left
    untouched.

    Parameters
    ----------
    Y : torch.Tensor
        Tensor of shape (n, d).
    fraction : float
        The fraction of rows to re-pair, in [0, 1].
    seed : int or torch.Generator, default=0
        The seed of the draw.

    Returns
    -------
    tuple of torch.Tensor
        Y_rematched of shape (n, d) and the boolean is_true of shape (n,).
    """
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
    """For every row of modality 1, the index of a uniformly random row of modality 2
    with the same label (the class-paired design). Every label of ``labels_x`` must
    occur in ``labels_y``.

    Parameters
    ----------
    labels_x : torch.Tensor
        Long tensor of shape (n_x,): the classes of modality 1.
    labels_y : torch.Tensor
        Long tensor of shape (n_y,): the classes of modality 2.
    seed : int or torch.Generator, default=0
        The seed of the draw.

    Returns
    -------
    torch.Tensor
        Long tensor of shape (n_x,): indices into modality 2.
    """
    lx, ly = check_labels(labels_x, "labels_x"), check_labels(labels_y, "labels_y")
    C = int(max(lx.max(), ly.max())) + 1
    if bool((torch.bincount(ly, minlength=C)[lx] == 0).any()):
        raise ValueError("every class of labels_x must occur in labels_y")
    return random_class_members(ly, lx, generator=make_generator(seed))


def noisy_class_graph(
    labels_x, labels_y, p: float, *, seed=0
) -> tuple[torch.Tensor, torch.Tensor]:
    """The class-level bipartite graph A_ij = 1[label_x_i == label_y_j] with every entry
    flipped independently with probability p. Returns (A_noisy, A_true), float64 of
    shape (n_x, n_y).

    Parameters
    ----------
    labels_x : torch.Tensor
        Long tensor of shape (n_x,).
    labels_y : torch.Tensor
        Long tensor of shape (n_y,).
    p : float
        The flip probability, in [0, 1].
    seed : int or torch.Generator, default=0
        The seed of the draw.

    Returns
    -------
    tuple of torch.Tensor
        A_noisy and A_true, float64 tensors of shape (n_x, n_y).
    """
    lx, ly = check_labels(labels_x, "labels_x"), check_labels(labels_y, "labels_y")
    p = check_fraction(p, "p")
    A = (lx[:, None] == ly[None, :]).double()
    flip = torch.rand(A.shape, generator=make_generator(seed), dtype=torch.float64) < p
    return torch.where(flip, 1 - A, A), A


def cocluster_graph(A, n_clusters: int, *, seed=0) -> torch.Tensor:
    """Denoise a bipartite graph by spectral co-clustering (Dhillon, 2001;
    scikit-learn's ``SpectralCoclustering``): rows and columns are clustered jointly
    from the singular vectors of D1^{-1/2} A D2^{-1/2}, and the returned graph joins i
    and j when they share a co-cluster.

    Parameters
    ----------
    A : torch.Tensor
        Tensor of shape (n_x, n_y): a non-negative graph, no empty row or column.
    n_clusters : int
        The number of co-clusters (>= 2).
    seed : int, default=0
        scikit-learn's random_state.

    Returns
    -------
    torch.Tensor
        Tensor of shape (n_x, n_y) with entries 0 or 1.
    """
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
