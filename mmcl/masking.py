"""Unimodal contrastive learning with random masking: the two masked views of a row,
their linear contrastive loss, its expected target (diagonal deletion up to O(1/n)) and
training by Adam (chapter 3).

Each row x is split into (A x, (I - A) x), A = diag(a), a_k ~ Bernoulli(p); the linear
contrastive loss of one representation G on the two views has, in expectation over the
masks, the target M = p(1-p) (n-1)/n [Delta(Sigma_hat) + Sigma_hat / (n-1)]
(Ji et al., JMLR 2023), so training lands on the diagonal-deletion subspace of
:mod:`mmcl.baselines`.
"""

from __future__ import annotations

import torch

from ._validation import (
    check_finite_output,
    check_int,
    check_matrix,
    check_real,
    check_subspace_data,
)
from .baselines import UnimodalEstimator, delete_diagonal, sample_covariance
from .sampling import make_generator
from .families import linear_loss_of_embeddings
from .losses import regularizer
from .lowrank import truncated_svd

__all__ = [
    "masked_views",
    "masked_contrastive_loss",
    "masked_contrastive_target",
    "masked_contrastive",
    "MaskedContrastive",
]


def _check_p(p) -> float:
    """The masking probability, 0 < p < 1."""
    return check_real(p, "p", low=0.0, high=1.0, low_open=True, high_open=True)


def _masked_views(X, p: float, g: torch.Generator):
    """Unchecked core of :func:`masked_views` (the training loop calls it each step)."""
    keep = (torch.rand(X.shape, generator=g, dtype=torch.float64) < p).to(X.device)
    return torch.where(keep, X, 0), torch.where(keep, 0, X)


def masked_views(
    X, p: float = 0.5, *, generator=None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random-masking augmentation: the two views (A x_i, (I - A) x_i) of every row of X
    (..., n, d), with A = diag(a), a_k ~ Bernoulli(p) independently per row and
    coordinate.

    Parameters
    ----------
    X : torch.Tensor
        Tensor of shape (..., n, d): one modality (replicates batched in front).
    p : float, default=0.5
        The keep probability, in (0, 1).
    generator : int or torch.Generator, optional
        The seed or generator of the masks.

    Returns
    -------
    tuple of torch.Tensor
        The two views, tensors of shape (..., n, d).
    """
    return _masked_views(check_matrix(X, "X"), _check_p(p), make_generator(generator))


def masked_contrastive_loss(G, A, B, *, rho: float = 1.0) -> torch.Tensor:
    """The linear contrastive loss of one representation G (..., r, d) on views A, B
    (..., n, d):

        L(G) = -(1/n) sum_i s_ii + 1/(n(n-1)) sum_{i != j} s_ij + (rho/2) ||G^T G||_F^2,

    s_ij = <G a_i, G b_j>; the linear loss of :mod:`mmcl.families` with G1 = G2 = G,
    computed in O(n d r) without the n x n similarity matrix. Shape A.shape[:-2].

    Parameters
    ----------
    G : torch.Tensor
        Tensor of shape (..., r, d).
    A : torch.Tensor
        Tensor of shape (..., n, d): the first views.
    B : torch.Tensor
        Tensor of shape (..., n, d): the second views.
    rho : float, default=1.0
        The regularisation strength.

    Returns
    -------
    torch.Tensor
        Tensor of shape (...,).
    """
    G, A, B = (
        check_matrix(G, "G"),
        check_matrix(A, "A", min_rows=2),
        check_matrix(B, "B", min_rows=2),
    )
    if A.shape != B.shape:
        raise ValueError(
            f"A and B must have the same shape (..., n, d), got {tuple(A.shape)} and "
            f"{tuple(B.shape)}"
        )
    if G.shape[-1] != A.shape[-1] or G.dtype != A.dtype or G.device != A.device:
        raise ValueError(
            f"G must be (..., r, d) with d = {A.shape[-1]}, dtype {A.dtype} on "
            f"{A.device} "
            f"like A; got {tuple(G.shape)}, {G.dtype} on {G.device}"
        )
    return _masked_contrastive_loss(G, A, B, check_real(rho, "rho", low=0.0))


def _masked_contrastive_loss(G, A, B, rho):
    """Unchecked core of :func:`masked_contrastive_loss` (the training loop calls it
    every step)."""
    Za, Zb = A @ G.transpose(-1, -2), B @ G.transpose(-1, -2)
    return linear_loss_of_embeddings(Za, Zb) + regularizer(G, G, rho)


def masked_contrastive_target(X, p: float = 0.5) -> torch.Tensor:
    """The matrix M (..., d, d) with E_A[L(G)] = -tr(G M G^T) + (rho/2)||G^T G||_F^2 for
    centred X: M = p(1-p) (n-1)/n [Delta(Sigma_hat) + Sigma_hat / (n-1)], so the
    minimisers span its top eigenvectors: diagonal deletion up to an O(1/n) term.

    Parameters
    ----------
    X : torch.Tensor
        Tensor of shape (..., n, d): one modality (replicates batched in front).
    p : float, default=0.5
        The keep probability, in (0, 1).

    Returns
    -------
    torch.Tensor
        Tensor of shape (..., d, d).
    """
    X = check_matrix(X, "X", min_rows=2)
    p = _check_p(p)
    n = X.shape[-2]
    S = sample_covariance(X)
    return p * (1 - p) * (n - 1) / n * (delete_diagonal(S) + S / (n - 1))


def _masked_contrastive(X, r, p, rho, lr, n_steps, generator):
    """Adam on the masked linear loss with fresh masks every step; returns (basis, G,
    losses)."""
    p = _check_p(p)
    rho = check_real(rho, "rho", low=0.0, low_open=True)
    lr = check_real(lr, "lr", low=0.0, low_open=True)
    n_steps = check_int(n_steps, "n_steps")
    g = make_generator(generator)
    Xc = X - X.mean(-2, keepdim=True)
    G = 0.1 * torch.randn(
        *X.shape[:-2], r, X.shape[-1], generator=g, dtype=torch.float64
    )
    G = G.to(X).requires_grad_(True)
    opt = torch.optim.Adam([G], lr=lr)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda t: 1.0 - t / n_steps
    )  # linear decay to 0
    losses = []
    for _ in range(n_steps):
        A, B = _masked_views(Xc, p, g)
        opt.zero_grad()
        loss = _masked_contrastive_loss(G, A, B, rho)
        loss.sum().backward()
        opt.step()
        sched.step()
        losses.append(loss.detach())
    G = check_finite_output(
        G.detach(),
        "masked contrastive learning's G",
        "lower lr (Adam's steps overshoot) or raise rho",
    )
    return truncated_svd(G.transpose(-1, -2), r)[0], G, torch.stack(losses)


def masked_contrastive(
    X,
    r: int,
    *,
    p: float = 0.5,
    rho: float = 1.0,
    lr: float = 0.05,
    n_steps: int = 400,
    seed=0,
) -> torch.Tensor:
    """Unimodal linear contrastive learning with random masking, trained by Adam with
    fresh masks at every step (learning rate decayed linearly to 0): the span of G^T,
    shape (..., d, r).

    In expectation over the masks the loss is -tr(G M G^T) + (rho/2)||G^T G||_F^2 with M
    from
    :func:`masked_contrastive_target`, so training lands on (nearly) the
    diagonal-deletion subspace.

    Parameters
    ----------
    X : torch.Tensor
        Tensor of shape (..., n, d): one modality (replicates batched in front).
    r : int
        The dimension of the subspace.
    p : float, default=0.5
        The keep probability, in (0, 1).
    rho : float, default=1.0
        The regularisation strength (> 0).
    lr : float, default=0.05
        Adam's initial learning rate.
    n_steps : int, default=400
        The number of steps.
    seed : int or torch.Generator, default=0
        The seed of the start and the masks.

    Returns
    -------
    torch.Tensor
        Tensor of shape (..., d, r) with orthonormal columns.
    """
    X, r = check_subspace_data(X, r)
    return _masked_contrastive(X, r, p, rho, lr, n_steps, seed)[0]


class MaskedContrastive(UnimodalEstimator):
    """Unimodal linear contrastive learning with random masking, trained by Adam.

    Parameters
    ----------
    n_components : int, default=2
        The dimension r of the subspace.
    p : float, default=0.5
        The masking probability, in (0, 1).
    rho : float, default=1.0
        The regularisation strength (> 0).
    lr : float, default=0.05
        Adam's learning rate (decayed linearly to 0).
    n_steps : int, default=400
        The number of Adam steps.
    seed : int, default=0
        The seed of the initialisation and the masks.

    Attributes
    ----------
    components_ : torch.Tensor
        Tensor of shape (d, r): an orthonormal basis of span G^T.
    G_ : torch.Tensor
        Tensor of shape (r, d): the learned map.
    mean_ : torch.Tensor
        Tensor of shape (d,): the column means removed before fitting.
    history_ : dict
        "loss": tensor of shape (n_steps, ...), the loss at every step.
    """

    def __init__(
        self,
        n_components: int = 2,
        *,
        p: float = 0.5,
        rho: float = 1.0,
        lr: float = 0.05,
        n_steps: int = 400,
        seed=0,
    ):
        super().__init__(n_components)
        self.p, self.rho, self.lr, self.n_steps, self.seed = p, rho, lr, n_steps, seed

    def _fit(self, X, r):
        self.components_, self.G_, losses = _masked_contrastive(
            X, r, self.p, self.rho, self.lr, self.n_steps, self.seed
        )
        self.history_ = {"loss": losses}
